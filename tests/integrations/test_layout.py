"""The shape of integrations/: one package per helpdesk with the same module names, and its imports.

Read with ``ast`` (nothing is imported), so a broken rule names the file and the line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from integrations.base import DESTINATIONS, destination_class

ROOT = Path(__file__).resolve().parents[2]
INTEGRATIONS = ROOT / "integrations"
MODULES = {"__init__", "destination", "build", "webhooks", "doctor", "client"}
VENDORS = sorted(p.name for p in INTEGRATIONS.iterdir() if (p / "__init__.py").is_file())
# what a helpdesk package may import from this project, besides its own modules (``limits``: the
# bounded JSON parser every webhook body goes through)
ALLOWED = (
    "connector.errors",
    "connector.schemas",
    "connector.clock",
    "connector.limits",
    "integrations.base",
)
FIRST_PARTY = ("connector", "integrations", "sidebar_widget", "channels", "tests")
# no I/O in the pure halves: neither a vendor SDK nor an HTTP client
NOT_PURE = (
    "requests",
    "httpx",
    "zenpy",
    "simple_salesforce",
    "intercom",
    "socket",
    "urllib.request",
)


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in ``path``, relative imports made absolute."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{module}".rstrip(".")
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_there_are_helpdesk_packages():
    assert {"zendesk", "salesforce", "intercom"} <= set(VENDORS)


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_helpdesk_package_has_the_same_module_names(vendor):
    names = {p.stem for p in (INTEGRATIONS / vendor).glob("*.py")}
    assert names == MODULES, (
        f"integrations/{vendor}/ has {sorted(names)}; expected {sorted(MODULES)}"
    )


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_registry_names_the_package_destination(vendor):
    assert DESTINATIONS[vendor].startswith(f"integrations.{vendor}.destination:")
    assert destination_class(vendor).name == vendor


@pytest.mark.parametrize(
    "path", sorted(INTEGRATIONS.rglob("*.py")), ids=lambda p: str(p.relative_to(INTEGRATIONS))
)
def test_no_module_imports_a_private_name(path):
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}: {name}"
        for line, module, names in _imports(path)
        for name in [*names, *module.split(".")]
        if _private(name) and module != "__future__"
    ]
    assert not bad, bad


@pytest.mark.parametrize(
    "path",
    sorted(p for v in VENDORS for p in (INTEGRATIONS / v).glob("*.py")),
    ids=lambda p: str(p.relative_to(INTEGRATIONS)),
)
def test_a_helpdesk_package_imports_only_the_allowed_project_modules(path):
    own = f"integrations.{path.parent.name}"
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for line, module, names in _imports(path)
        if module.split(".")[0] in FIRST_PARTY
        and not module.startswith(ALLOWED)
        and not (module == own or module.startswith(own + "."))
    ]
    assert not bad, bad


@pytest.mark.parametrize(
    "path",
    sorted(INTEGRATIONS / v / f"{m}.py" for v in VENDORS for m in ("build", "webhooks")),
    ids=lambda p: str(p.relative_to(INTEGRATIONS)),
)
def test_build_and_webhooks_are_pure(path):
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for line, module, names in _imports(path)
        if any(module == m or module.startswith(m + ".") for m in NOT_PURE)
    ]
    assert not bad, bad
