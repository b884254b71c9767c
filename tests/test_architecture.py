"""The layering of docs/architecture.md, checked on the source: no import cycles, and the
bottom layers import nothing from the layers above them.

Every import statement counts, including those inside functions (a lazy import still ties two
modules together) and relative ones. A package's `__init__.py` is a module of its own: importing
`dancegen.motion.io` is an edge to `dancegen.motion.io`, not to `dancegen.motion`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "dancegen"

# docs/architecture.md: the models, the sampler and the pipelines sit below training.
BELOW_TRAINING = ("dancegen.pipelines", "dancegen.sampling", "dancegen.models")
# The bottom of the stack, and what it must never reach up to.
BOTTOM_LAYERS = ("dancegen.motion", "dancegen.skeleton")
ABOVE_THE_BOTTOM = (
    "dancegen.export", "dancegen.viewer", "dancegen.cli", "dancegen.train", "dancegen.pipelines",
    "dancegen.models", "dancegen.sampling",
)

# The whole stack, bottom first, as docs/architecture.md draws it: a package may import only
# from its own package and from the layers below its own (names relative to dancegen).
LAYERS = (
    ("errors",),
    ("fileio", "lazy", "console"),
    ("", "safe_pickle", "config", "cache"),  # "" is dancegen/__init__
    ("limits",),
    ("skeleton",),
    ("motion",),
    ("audio", "text"),
    ("data", "sampling", "metrics", "viewer"),
    ("export",),
    ("bundle", "families"),
    ("catalog",),
    ("models",),
    ("pipelines", "train"),
    ("serve",),
    ("recipes", "cli"),
    ("demo", "__main__"),
)

Graph = dict[str, set[str]]


# --- reading the imports --------------------------------------------------------------------


def find_modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under `package_dir` (`__init__` named as its package)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _nearest_module(name: str, modules: dict[str, Path]) -> str | None:
    """The module `name` refers to: itself, else its longest dotted prefix that is a module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _runtime_nodes(tree: ast.AST):
    """Every node, except what sits under `if TYPE_CHECKING:` (annotations only, never run)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                pending.extend(child.orelse)
                continue
            pending.append(child)


def imports_of(module: str, modules: dict[str, Path]) -> set[str]:
    """The modules of `modules` that `module` imports anywhere in its source (at run time)."""
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(filter(None, (_nearest_module(alias.name, modules) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # `from . import x` in a.b.c means a.b; each extra dot climbs one package.
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            for alias in node.names:
                # `from pkg import sub` imports the submodule; `from pkg import name` the package.
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else _nearest_module(base, modules)
                if target is not None:
                    found.add(target)
    found.discard(module)
    return found


def import_graph(package_dir: Path) -> Graph:
    modules = find_modules(package_dir)
    return {module: imports_of(module, modules) for module in modules}


# --- cycles -----------------------------------------------------------------------------------


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                lowest[module] = min(lowest[module], lowest[target])
            elif target in on_stack:
                lowest[module] = min(lowest[module], index[target])
        if lowest[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(components)


def shortest_cycle(graph: Graph, component: list[str]) -> list[str]:
    """One shortest cycle through the component's first module, as a closed path."""
    start, inside = component[0], set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module] & inside):
                if target == start:
                    path = [module]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in came_from:
                    came_from[target] = module
                    following.append(target)
        frontier = following
    raise AssertionError(f"{component} is not strongly connected")


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def offenders(graph: Graph, importers: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    """'a imports b' for each module under `importers` importing a module under `forbidden`."""
    return [
        f"{module} imports {target}"
        for module in sorted(graph) if within(module, importers)
        for target in sorted(graph[module]) if within(target, forbidden)
    ]


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(PACKAGE_DIR)


# --- the checker itself, on a package made up for it ------------------------------------------


def test_the_checker_sees_every_kind_of_import(tmp_path):
    files = {
        "pkg/__init__.py": "from pkg.core import thing\n",
        "pkg/core.py": "def thing():\n    from .sub import leaf  # lazy, relative\n    return leaf\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/leaf.py": "from .. import core\nimport pkg.sub\nimport json\n",
        "pkg/sub/other.py": "from . import leaf\nfrom pkg import thing\nimport pkg.sub.leaf as alias\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path / "pkg")
    assert graph == {
        "pkg": {"pkg.core"},
        "pkg.core": {"pkg.sub.leaf"},
        "pkg.sub": set(),
        "pkg.sub.leaf": {"pkg.core", "pkg.sub"},
        "pkg.sub.other": {"pkg", "pkg.sub.leaf"},
    }
    assert strongly_connected(graph) == [["pkg.core", "pkg.sub.leaf"]]
    assert shortest_cycle(graph, ["pkg.core", "pkg.sub.leaf"]) == ["pkg.core", "pkg.sub.leaf", "pkg.core"]
    assert offenders(graph, ("pkg.sub",), ("pkg.core",)) == ["pkg.sub.leaf imports pkg.core"]


# --- dancegen ---------------------------------------------------------------------------------


def test_the_graph_covers_the_package(graph):
    assert len(graph) == len(list(PACKAGE_DIR.rglob("*.py")))
    assert "dancegen.motion.motion" in graph["dancegen.motion.io"]


def test_no_import_cycles(graph):
    cycles = [" -> ".join(shortest_cycle(graph, component)) for component in strongly_connected(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_models_sampling_and_pipelines_do_not_import_training(graph):
    found = offenders(graph, BELOW_TRAINING, ("dancegen.train",))
    assert not found, "imports of dancegen.train from below it:\n" + "\n".join(found)


def test_motion_and_skeleton_import_only_what_is_below_them(graph):
    found = offenders(graph, BOTTOM_LAYERS, ABOVE_THE_BOTTOM)
    assert not found, "motion/ and skeleton/ reaching up:\n" + "\n".join(found)


def top_package(module: str) -> str:
    """`dancegen.motion.io` → "motion"; top-level modules are their own "package"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_import_points_down_the_layers(graph):
    layer_of = {name: level for level, names in enumerate(LAYERS) for name in names}
    unknown = sorted({top_package(m) for m in graph} - set(layer_of))
    assert not unknown, f"packages missing from LAYERS (and from docs/architecture.md): {unknown}"
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if top_package(module) != top_package(target) and layer_of[top_package(target)] >= layer_of[top_package(module)]
    )
    assert not upward, "imports that point up (or sideways) the layers:\n" + "\n".join(upward)
