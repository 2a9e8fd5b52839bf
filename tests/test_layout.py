"""The layout DESIGN.md "Shape" states, read from the code's imports: apps depend one way,
shared infrastructure depends on no app, the cache layer wraps the apps (they never import
it), pms_site's modules import one way, and the maths modules import no Django."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "portfolio", "risk", "trading", "attribution", "briefing", "pms_site", "demo")

# What each app may import.
ALLOWED = {
    "core": set(),
    "portfolio": {"core"},
    "risk": {"core", "portfolio"},
    "trading": {"core", "portfolio", "risk"},
    "attribution": {"core", "portfolio"},
    "briefing": {"core", "portfolio", "risk", "trading", "attribution"},
    "pms_site": {"core", "portfolio", "risk", "trading", "attribution", "briefing"},
    "demo": {"core", "portfolio", "risk", "trading", "briefing", "pms_site"},
}

# pms_site's modules, one way: the ops modules over the pipelines over the cache.
SITE_LAYERS = {
    "pms_site.cache": set(),
    "pms_site.datasets": {"pms_site.cache"},
    "ops.pipelines": {"pms_site.cache", "ops.models"},
    "ops.health": {"ops.models", "ops.pipelines"},
    "ops.backups": {"pms_site.cache"},
}

PURE = ("portfolio/ledger.py", "risk/engine.py", "attribution/engine.py", "trading/sizing.py")


def imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at its top or inside a function."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the file's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def sources(app: str) -> Iterator[Path]:
    return (p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def imported_apps(app: str) -> set[str]:
    found = set()
    for path in sources(app):
        for module in imports(path):
            top = module.split(".")[0]
            if top in APPS and top != app:
                found.add(".".join(module.split(".")[:2]) if top == "pms_site" else top)
    return found


@pytest.mark.parametrize("app", APPS)
def test_apps_depend_one_way(app):
    allowed = ALLOWED[app]
    extra = {
        name
        for name in imported_apps(app)
        if name not in allowed and name.split(".")[0] not in allowed
    }
    assert not extra, f"{app} imports {sorted(extra)}; it may import {sorted(allowed)}"


def test_nothing_imports_the_demo_or_the_briefing_from_below():
    for app in APPS:
        names = {name.split(".")[0] for name in imported_apps(app)}
        if app != "demo":
            assert "demo" not in names, app
        if app not in ("pms_site", "demo"):
            assert "briefing" not in names, app


@pytest.mark.parametrize("module", SITE_LAYERS)
def test_pms_site_modules_import_one_way(module):
    path = ROOT / (module.replace(".", "/") + ".py")
    site = {
        ".".join(name.split(".")[:2])
        for name in imports(path)
        if name.startswith("pms_site.") and name.count(".") >= 1
    }
    site -= {module}
    site = {name for name in site if (ROOT / (name.replace(".", "/") + ".py")).exists()}
    assert site <= SITE_LAYERS[module], f"{module} imports {sorted(site - SITE_LAYERS[module])}"


@pytest.mark.parametrize("path", PURE)
def test_the_maths_modules_import_no_django(path):
    modules = set(imports(ROOT / path))
    assert not {m for m in modules if m.split(".")[0] in ("django", "rest_framework")}, path
    for module in modules:  # and what they import of the apps is pure too
        if module.split(".")[0] in APPS:
            target = ROOT / (module.replace(".", "/") + ".py")
            if target.exists() and target.relative_to(ROOT).as_posix() not in PURE:
                pytest.fail(f"{path} imports {module}, which is not one of the pure modules")
