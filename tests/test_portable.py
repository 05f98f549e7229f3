"""The tool imports without POSIX-only modules, so the CLI can run on Windows."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pipeline

PACKAGE = Path(pipeline.__file__).parent
# Standard-library modules that exist on POSIX only.
POSIX_ONLY = ("fcntl", "resource", "pwd", "grp", "termios")
# Imports every pipeline module with the POSIX-only modules made unimportable, as on Windows, and prints
# the modules that failed (one per line) before exiting 1.
IMPORT_ALL = f"""
import importlib, pkgutil, sys, traceback, warnings
for name in {POSIX_ONLY!r}:
    sys.modules[name] = None
warnings.simplefilter("ignore")
import pipeline
failed = []
for module in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
    try:
        importlib.import_module(module.name)
    except Exception:
        failed.append(module.name + ": " + traceback.format_exc(limit=-1).strip().splitlines()[-1])
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_without_posix_only_modules() -> None:
    """With the POSIX-only modules unimportable (as on Windows) every pipeline module imports."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_imports_a_posix_only_module() -> None:
    """No source file of the package imports a POSIX-only module, even lazily inside a function."""
    offenders = []
    for source in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{source.relative_to(PACKAGE)}: {n}" for n in names if n.split(".")[0] in POSIX_ONLY
            ]
    assert offenders == []
