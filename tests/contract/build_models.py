"""Write ``external_contacts_models.json``: the External Contacts models of the official Genesys SDK.

For each model the pipeline sends or the sandbox answers (and every model they refer to), the JSON keeps
its fields (JSON name -> SDK type) and the enums its setters allow. It reads the SDK's source files with
``ast`` (nothing of the SDK is imported or run), from the directory given, or else the installed package
``PureCloudPlatformClientV2`` when there is one. The SDK is not a project dependency; run this by hand
when a newer SDK should be the reference:

    python tests/contract/build_models.py [/path/to/PureCloudPlatformClientV2]
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

PACKAGE = "PureCloudPlatformClientV2"
OUT = Path(__file__).with_name("external_contacts_models.json")
ROOTS = (
    "BulkContactsEnrichRequest", "BulkOrganizationsEnrichRequest", "ContactEnrichRequest",
    "ExternalOrganizationEnrichRequest", "BulkContactsEnrichResponse", "BulkOrganizationsEnrichResponse",
    "ExternalContact", "ExternalOrganization", "CursorContactListing", "CursorOrganizationListing",
    "ContactIdentifier", "ExternalOrganizationIdentifier", "IdentifierClaimRequest",
    "ExternalOrganizationIdentifierClaimRequest", "ContactIdentifierListing", "ExternalSource",
    "CursorExternalSourceListing", "DataSchema", "DataSchemaListing", "MergeContactsRequest",
)  # fmt: skip
PRIMITIVES = {"str", "int", "float", "bool", "datetime", "date", "object"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _dict_literal(node: ast.AST) -> dict[str, str]:
    value = ast.literal_eval(node)
    return value if isinstance(value, dict) else {}


def read_model(path: Path) -> dict[str, Any]:
    """``{"fields": {json name: type}, "enums": {json name: [values]}}`` of one model file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    types: dict[str, str] = {}
    names: dict[str, str] = {}
    enums: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute):
            attr = node.targets[0].attr
            if attr == "swagger_types":
                types = _dict_literal(node.value)
            elif attr == "attribute_map":
                names = _dict_literal(node.value)
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Attribute) and d.attr == "setter" for d in node.decorator_list
        ):
            for inner in ast.walk(node):
                target = inner.targets[0] if isinstance(inner, ast.Assign) else None
                if isinstance(target, ast.Name) and target.id == "allowed_values":
                    enums[names.get(node.name, node.name)] = list(ast.literal_eval(inner.value))
    return {"fields": {names[k]: t for k, t in types.items()}, "enums": enums}


def referenced(type_name: str) -> list[str]:
    """The model names inside an SDK type such as ``list[ContactIdentifier]`` or ``dict(str, Foo)``."""
    return [
        t for t in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", type_name) if t not in PRIMITIVES | {"list", "dict"}
    ]


def build(package_dir: Path) -> dict[str, Any]:
    models: dict[str, Any] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in models:
            continue
        path = package_dir / "models" / f"{snake(name)}.py"
        if not path.exists():
            raise SystemExit(f"{path} not found: is {package_dir} the {PACKAGE} package?")
        models[name] = read_model(path)
        todo.extend(t for type_name in models[name]["fields"].values() for t in referenced(type_name))
    version = _version(package_dir)
    return {
        "sdk": {
            "package": PACKAGE,
            "version": version,
            "origin": f"https://pypi.org/project/{PACKAGE}/{version}/ (models/*.py: swagger_types, "
            "attribute_map, allowed_values of the setters)",
            "generated_by": "tests/contract/build_models.py",
        },
        "roots": list(ROOTS),
        "models": dict(sorted(models.items())),
    }


def _version(package_dir: Path) -> str:
    for info in package_dir.parent.glob(f"{PACKAGE.lower()}-*.dist-info"):
        return info.name.removeprefix(f"{PACKAGE.lower()}-").removesuffix(".dist-info")
    match = re.search(
        r"VERSION = ['\"]([^'\"]+)", (package_dir / "configuration.py").read_text(encoding="utf-8")
    )
    return match.group(1) if match else "unknown"


def main(argv: list[str]) -> None:
    if argv:
        package_dir = Path(argv[0])
    else:
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{PACKAGE} is not installed: pass the path of its unpacked package directory")
        package_dir = Path(spec.origin).parent
    OUT.write_text(json.dumps(build(package_dir), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
