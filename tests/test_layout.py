"""The layout DESIGN.md "Shape" states, read from the code's imports: apps depend one way,
shared infrastructure depends on no app, the cache layer wraps the apps (they never import
it), the site's and ops' modules import one way, no module imports itself back through
others, imports sit at the top of their module unless a listed reason keeps one in a
function, and the maths modules import no Django."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "core",
    "portfolio",
    "risk",
    "trading",
    "attribution",
    "briefing",
    "ops",
    "pms_site",
    "demo",
)

# What each app may import (pms_site by module: ops uses only its cache layer). The domain
# apps import neither ops nor pms_site: those two wire the apps together.
ALLOWED = {
    "core": set(),
    "portfolio": {"core"},
    "risk": {"core", "portfolio"},
    "trading": {"core", "portfolio", "risk"},
    "attribution": {"core", "portfolio"},
    "briefing": {"core", "portfolio", "risk", "trading", "attribution"},
    "ops": {"core", "portfolio", "risk", "trading", "attribution", "briefing", "pms_site.cache"},
    "pms_site": {"core", "portfolio", "risk", "trading", "attribution", "briefing", "ops"},
    "demo": {"core", "portfolio", "risk", "trading", "briefing", "ops", "pms_site"},
}

# The site's and ops' modules, one way: the ops modules over the pipelines over the cache.
SITE_LAYERS = {
    "pms_site.cache": set(),
    "pms_site.datasets": {"pms_site.cache"},
    "ops.pipelines": {"pms_site.cache", "ops.models"},
    "ops.health": {"ops.models", "ops.pipelines"},
    "ops.backups": set(),
    "ops.restores": {"pms_site.cache", "ops.backups"},
    "ops.metrics": {"ops.health", "ops.pipelines", "ops.backups", "ops.models"},
    "ops.verification": {
        "pms_site.cache",
        "ops.health",
        "ops.pipelines",
        "ops.backups",
        "ops.models",
    },
}

# The imports kept inside a function, each for a reason other than a cycle: (file, function).
LOCAL_IMPORTS = {
    # An AppConfig's module is imported while Django fills its app registry, before any
    # model can be: what reads models is imported in ready(), or when a view runs.
    ("pms_site/apps.py", "ready"): "the app registry is not ready when apps.py is imported",
    ("ops/apps.py", "ready"): "the app registry is not ready when apps.py is imported",
    ("pms_site/admin_site.py", "index"): "admin_site.py holds the admin's AppConfig",
    ("pms_site/admin_site.py", "analytics"): "admin_site.py holds the admin's AppConfig",
    ("briefing/render.py", "email"): "matplotlib loads in most of a second: only to email",
}

PURE = (
    "portfolio/ledger.py",
    "portfolio/di1.py",
    "portfolio/accounts.py",
    "portfolio/di1.py",
    "risk/engine.py",
    "attribution/engine.py",
    "trading/sizing.py",
)


def _package(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module `from … import` names, relative imports resolved against `package`."""
    if not node.level:
        return node.module or ""
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at its top or inside a function."""
    package = _package(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def sources(app: str) -> Iterator[Path]:
    return (p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def imported_apps(app: str) -> set[str]:
    found = set()
    for path in sources(app):
        for module in imports(path):
            top = module.split(".")[0]
            if top in APPS and top != app and module != "pms_site":  # pms_site: by module
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
        if app not in ("ops", "pms_site", "demo"):
            assert "briefing" not in names, app


@pytest.mark.parametrize("module", SITE_LAYERS)
def test_site_and_ops_modules_import_one_way(module):
    path = ROOT / (module.replace(".", "/") + ".py")
    site = {
        ".".join(name.split(".")[:2])
        for name in imports(path)
        if name.split(".")[0] in ("pms_site", "ops") and name.count(".") >= 1
    }
    site -= {module}
    site = {name for name in site if (ROOT / (name.replace(".", "/") + ".py")).exists()}
    assert site <= SITE_LAYERS[module], f"{module} imports {sorted(site - SITE_LAYERS[module])}"


# --- Import cycles --------------------------------------------------------------------------


def application_modules() -> dict[str, Path]:
    """Every module of the applications by dotted name (a package by its __init__)."""
    modules = {}
    for app in APPS:
        for path in sources(app):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "." in parts[-1]:
                continue  # not importable (gunicorn.conf.py)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported: outside functions, classes' bodies
    included, blocks under `if TYPE_CHECKING:` left out."""
    body = list(tree.body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            checking = ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
            body += ([] if checking else node.body) + node.orelse
        elif isinstance(node, ast.Try | ast.With | ast.ClassDef):
            body += node.body
            if isinstance(node, ast.Try):
                body += [n for handler in node.handlers for n in handler.body]
                body += node.orelse + node.finalbody


def module_imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The application modules that importing `name` imports first: each one named, and
    the packages above it (their __init__ runs first), but not the packages above `name`
    itself, which are already being imported when it is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    found = set()
    for node in _top_level_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            named = [alias.name for alias in node.names]
        else:
            base = _absolute(node, package)
            named = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        for module in named:
            parts = module.split(".")
            found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {module for module in found if module in modules and module not in own | {name}}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that import one another (Tarjan's strongly
    connected components, then a path round each)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def test_no_import_cycles():
    modules = application_modules()
    graph = {name: module_imports(name, path, modules) for name, path in modules.items()}
    cycles = [" → ".join(cycle) for cycle in import_cycles(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_cycle_finder_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert import_cycles(graph) == [["a", "b", "c", "a"]]


# --- Imports inside functions ---------------------------------------------------------------


class _LocalImports(ast.NodeVisitor):
    """The imports inside functions, each with the innermost function holding it."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.found: list[tuple[str, int]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        if self.functions:
            self.found.append((self.functions[-1], node.lineno))

    visit_ImportFrom = visit_Import


def function_local_imports() -> Iterator[tuple[str, str, int]]:
    """(file, function, line) of each import inside a function of the applications."""
    for app in APPS:
        for path in sources(app):
            visitor = _LocalImports()
            visitor.visit(ast.parse(path.read_text()))
            file = path.relative_to(ROOT).as_posix()
            yield from ((file, function, line) for function, line in visitor.found)


def test_imports_sit_at_the_top_unless_a_reason_is_listed():
    found = sorted(set(function_local_imports()))
    unlisted = [
        f"{file}:{line} in {name}()"
        for file, name, line in found
        if (file, name) not in LOCAL_IMPORTS
    ]
    assert not unlisted, (
        "imports inside functions (move them to the module's top, or list the reason in "
        "LOCAL_IMPORTS):\n" + "\n".join(unlisted)
    )
    stale = set(LOCAL_IMPORTS) - {(file, name) for file, name, _ in found}
    assert not stale, f"LOCAL_IMPORTS lists functions without an import: {sorted(stale)}"


@pytest.mark.parametrize("path", PURE)
def test_the_maths_modules_import_no_django(path):
    modules = set(imports(ROOT / path))
    assert not {m for m in modules if m.split(".")[0] in ("django", "rest_framework")}, path
    for module in modules:  # and what they import of the apps is pure too
        if module.split(".")[0] in APPS:
            target = ROOT / (module.replace(".", "/") + ".py")
            if target.exists() and target.relative_to(ROOT).as_posix() not in PURE:
                pytest.fail(f"{path} imports {module}, which is not one of the pure modules")
