"""Checks a JSON body against the SDK models vendored in ``external_contacts_models.json``.

A field the model does not have, a value of the wrong type, or a value outside the setter's enum is a
problem; ``None`` is accepted anywhere (every SDK field is optional and nullable).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

MODELS_FILE = Path(__file__).with_name("external_contacts_models.json")
_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(str, (.+)\)$")


def load() -> dict[str, Any]:
    return json.loads(MODELS_FILE.read_text(encoding="utf-8"))


def problems(models: dict[str, Any], model: str, body: Any, path: str = "$") -> list[str]:
    """Every way ``body`` breaks ``model``, as ``path: why`` lines."""
    if model not in models:
        return [f"{path}: model {model} is not vendored (run tests/contract/build_models.py)"]
    if not isinstance(body, dict):
        return [f"{path}: {model} must be an object, got {type(body).__name__}"]
    spec = models[model]
    found: list[str] = []
    for name, value in body.items():
        where = f"{path}.{name}"
        if name not in spec["fields"]:
            found.append(f"{where}: {model} has no field {name!r}")
            continue
        found.extend(_check(models, spec["fields"][name], value, where))
        allowed = spec["enums"].get(name)
        if allowed and value is not None:
            for item in value if isinstance(value, list) else [value]:
                if item not in allowed:
                    found.append(f"{where}: {item!r} is not one of {allowed}")
    return found


def _check(models: dict[str, Any], type_name: str, value: Any, path: str) -> list[str]:
    if value is None or type_name == "object":
        return []
    if match := _LIST.match(type_name):
        if not isinstance(value, list):
            return [f"{path}: must be a list ({type_name})"]
        return [p for i, item in enumerate(value) for p in _check(models, match[1], item, f"{path}[{i}]")]
    if match := _DICT.match(type_name):
        if not isinstance(value, dict):
            return [f"{path}: must be an object ({type_name})"]
        return [p for k, item in value.items() for p in _check(models, match[1], item, f"{path}.{k}")]
    if type_name in ("str", "datetime", "date"):
        if not isinstance(value, str):
            return [f"{path}: must be text ({type_name}), got {value!r}"]
        return _check_date(type_name, value, path)
    if type_name == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: must be an integer, got {value!r}"]
    if type_name == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: must be a number, got {value!r}"]
    if type_name == "bool":
        return [] if isinstance(value, bool) else [f"{path}: must be true or false, got {value!r}"]
    return problems(models, type_name, value, path)


def _check_date(type_name: str, value: str, path: str) -> list[str]:
    if type_name == "str":
        return []
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return [f"{path}: {value!r} is not an ISO 8601 {type_name}"]
    return []
