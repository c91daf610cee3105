"""Every runtime dependency declared in pyproject.toml is imported somewhere in kcost."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Declared but never imported by name, on purpose.
NOT_IMPORTED = {
    # Drivers SQLAlchemy loads from the database URL (sqlite+aiosqlite, postgresql+asyncpg).
    "aiosqlite",
    "asyncpg",
    # SQLAlchemy's asyncio support needs it but no longer installs it.
    "greenlet",
}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared_runtime() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    names = (re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0] for requirement in project["dependencies"])
    return {_normalized(name) for name in names}


def _imported_names() -> set[str]:
    """Dotted names imported anywhere in kcost (``from a.b import c`` gives ``a.b.c``)."""
    names = set()
    # kcost.operator, kcost.analyzers and kcost.webhooks are symlinks into the top-level folders.
    for folder, _, files in os.walk(REPO_ROOT / "kcost", followlinks=True):
        for file in files:
            if not file.endswith(".py"):
                continue
            for node in ast.walk(ast.parse(Path(folder, file).read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _modules_of(distribution: str) -> set[str]:
    """The dotted module names a distribution installs (``google.cloud.billing_v1``, …)."""
    modules = set()
    for file in importlib.metadata.distribution(distribution).files or []:
        parts = file.parts
        if file.suffix == ".py" and ".." not in parts and not parts[0].endswith(".dist-info"):
            modules.add(".".join(parts[:-1] if file.name == "__init__.py" else (*parts[:-1], file.stem)))
    return modules


def _is_imported(distribution: str, imported: set[str]) -> bool:
    # Top-level names are not enough: several distributions share the `google` and `azure` namespaces.
    return any(
        name == module or name.startswith(module + ".") or module.startswith(name + ".")
        for module in _modules_of(distribution)
        for name in imported
    )


def test_every_declared_runtime_dependency_is_imported() -> None:
    imported = _imported_names()
    unused = {name for name in _declared_runtime() - NOT_IMPORTED if not _is_imported(name, imported)}
    assert not unused, f"pyproject.toml declares {sorted(unused)} but nothing in kcost/ imports it: remove it"


def test_the_allow_list_names_declared_dependencies() -> None:
    assert not NOT_IMPORTED - _declared_runtime(), "NOT_IMPORTED names a dependency pyproject.toml no longer declares"
