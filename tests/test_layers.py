"""The import graph of align/ and rewards/ follows the layers the folders show, and has no cycle.

A module may import its own layer and the layers below it, never one above. Every import counts, including those
inside functions: a function-local import that only hides an upward dependency is still one. A scorer spec such as
`align.world.gold_judge:score` is a string, imported by the factory only when used: it is not an import here.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("align", "rewards")

# Lowest first. A module belongs to the first layer with a prefix of its dotted name.
LAYERS = [
    ("vocabulary", ("align.errors", "align.refs")),  # shared by every layer: user errors, `${...}` references
    ("runtime", ("align.runtime",)),  # this process: rank, threads, seed, progress bars, console
    ("data", ("align.data",)),  # rows in TRL's formats and the pure rules over them
    ("world", ("align.world",)),  # the embedded world as names and data
    ("loading", ("align.loading",)),  # names -> datasets and models
    ("generation", ("align.generation",)),  # sampling from a policy
    ("rewards", ("rewards",)),  # scorers
    ("training", ("align.training",)),  # trainer glue, losses, teacher targets
    ("stages", ("align.stages",)),  # the stage contract and one module per stage
    ("engine", ("align.engine",)),  # recipes, resume, run records, reports
    ("api", ("align.api",)),  # `align.run(...)` from Python
    ("bench", ("align.bench",)),  # experiments and their reports
    ("entry", ("align.cli", "align")),  # the command line (and the package's lazy `align.run`)
]


def module_files() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """Internal modules `name` imports anywhere in its file (`from a import b` counts a.b when b is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                out.add(target if target in modules else base)
    return {m for m in out if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a module from a higher layer, as 'importer (layer) -> imported (layer)'."""
    return sorted(
        f"{name} ({LAYERS[layer_of(name)][0]}) -> {dep} ({LAYERS[layer_of(dep)][0]})"
        for name, deps in graph.items()
        for dep in deps
        if layer_of(dep) > layer_of(name)
    )


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_module_imports_only_its_own_layer_and_those_below():
    assert upward_imports(import_graph()) == []


def test_a_deliberate_upward_import_is_caught():
    graph = import_graph()
    graph["align.world.tasks"] = graph["align.world.tasks"] | {"align.stages.sft"}
    graph["align.stages.sft"] = graph["align.stages.sft"] | {"align.bench.learning"}
    assert upward_imports(graph) == [
        "align.stages.sft (stages) -> align.bench.learning (bench)",
        "align.world.tasks (world) -> align.stages.sft (stages)",
    ]


def test_the_parser_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from align.engine.runner import Engine\n    import align.bench.learning\n")
    assert imports_of("align.world.m", module, {"align.engine.runner", "align.bench.learning"}) == {
        "align.engine.runner",
        "align.bench.learning",
    }


@pytest.mark.parametrize(
    "package",
    [
        "align.world",
        "align.data",
        "align.loading",
        "align.generation",
        "align.training",
        "align.stages",
        "align.engine",
        "rewards",
    ],
)
def test_only_the_entry_points_import_bench(package):
    graph = import_graph()
    assert not {
        dep for name, deps in graph.items() if name.startswith(package) for dep in deps if dep.startswith("align.bench")
    }


def test_the_world_imports_nothing_that_trains_or_runs():
    graph = import_graph()
    found = {dep for name, deps in graph.items() if name.startswith("align.world") for dep in deps}
    assert not {d for d in found if d.startswith(("align.engine", "align.stages", "align.training"))}


def test_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
