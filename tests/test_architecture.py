"""The package's shape: a layer table (imports go to the same layer or down), stages talk through files."""

import ast
import inspect
import re
from pathlib import Path

import alttrain
from alttrain import errors

PACKAGE = Path(alttrain.__file__).parent
ROOT = PACKAGE.parent

#: every alttrain module by its first name below ``alttrain`` ("" is ``alttrain/__init__.py``), in one layer;
#: a module imports only from its own layer or below. ARCHITECTURE.md shows the same table. A name not on disk
#: is allowed (``execution/`` arrives from another branch).
LAYERS: dict[int, tuple[str, ...]] = {
    1: ("errors", "layout", "sections", "records", "languages", "structure", "refusal", "measures", "neardup",
        "wrapped", "models", "processes", "console", "quiet", "hub_revision", "stage", "policy"),
    2: ("llm", "execution", "scaleout", "services", "prompt_sets"),
    3: ("sources", "synthesis", "curation", "datasheets", "training", "evaluation"),
    4: ("config", "pipeline", "cli", "__main__", ""),
    5: ("testing",),  # helpers for tests and benches: nothing in the product imports them
}
LAYER_NAMES = {1: "spine", 2: "infrastructure", 3: "stages", 4: "assembly", 5: "test support"}
STAGE_PACKAGES = set(LAYERS[3])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_paths() -> dict[str, Path]:
    """Every alttrain module by name; a ``.py`` file in a folder without ``__init__.py`` is package data.

    (``services/argilla/plugin/`` runs inside argilla-server's venv, never inside alttrain's.)
    """
    return {module_name(path): path for path in PACKAGE.rglob("*.py") if (path.parent / "__init__.py").is_file()}


def import_graph() -> dict[str, set[str]]:
    """Module -> the alttrain modules it imports anywhere in its source (functions and TYPE_CHECKING included)."""
    modules = module_paths()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
                imported = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            targets |= {t for n in imported if n.startswith("alttrain") and (t := resolve(n)) and t != name}
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGE_PACKAGES else None


def layer_of(module: str) -> int | None:
    """The layer of ``alttrain.<name>...`` by its first name below ``alttrain``; None when the table lacks it."""
    first = module.split(".")[1] if "." in module else ""
    return next((layer for layer, names in LAYERS.items() if first in names), None)


def upward_edges(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The imports that reach a higher layer than the importing module's (modules the table lacks aside)."""
    layers = {module: layer_of(module) or 0 for module in graph.keys() | set().union(*graph.values())}
    return {(m, t) for m, targets in graph.items() for t in targets if layers[m] and layers[t] > layers[m]}


def test_the_graph_walker_finds_what_it_should() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph()
    assert "alttrain.llm.client" in graph["alttrain.synthesis.engine"]
    assert "alttrain.sections" in graph["alttrain.config"]
    assert "alttrain.evaluation.report" in graph["alttrain.evaluation.stage"]  # an import under TYPE_CHECKING counts
    assert "alttrain.services.argilla.plugin.alttrain_sql_search" not in graph  # package data, not a module
    assert (PACKAGE / "services" / "argilla" / "plugin" / "alttrain_sql_search.py").is_file()
    assert upward_edges({"alttrain.llm.client": {"alttrain.curation.judge"}}) == {
        ("alttrain.llm.client", "alttrain.curation.judge")
    }
    assert upward_edges({"alttrain.curation.judge": {"alttrain.llm.client", "alttrain.records"}}) == set()
    assert layer_of("alttrain") == 4 and layer_of("alttrain.sources.stage") == 3 and layer_of("alttrain.foo") is None


def test_every_module_is_in_exactly_one_layer() -> None:
    names = [name for layer in LAYERS.values() for name in layer]
    assert len(names) == len(set(names))
    assert sorted(m for m in import_graph() if layer_of(m) is None) == []


def test_every_module_imports_only_its_own_layer_or_below() -> None:
    assert sorted(upward_edges(import_graph())) == []


def test_architecture_md_shows_the_layer_table() -> None:
    """ARCHITECTURE.md's rows ``| n | name | `module` `package/` ... |`` hold exactly the names of ``LAYERS``."""
    shown: dict[int, set[str]] = {}
    for line in (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        if row := re.match(r"\|\s*(\d)\s*\|\s*([^|]+?)\s*\|([^|]*)\|", line):
            assert row[2] == LAYER_NAMES[int(row[1])]
            names = re.findall(r"`([^`]+)`", row[3])
            shown[int(row[1])] = {name.removesuffix("/").removesuffix(".py") for name in names}
    expected = {layer: {name or "__init__" for name in names} for layer, names in LAYERS.items()}
    assert shown == expected


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_no_stage_package_imports_another() -> None:
    crossing = sorted(
        (module, target)
        for module, targets in import_graph().items()
        for target in targets
        if stage_of(module) and stage_of(target) and stage_of(module) != stage_of(target)
    )
    assert crossing == []


def test_every_user_error_derives_from_one_base_and_lives_in_errors() -> None:
    defined = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if cls.__module__ == "alttrain.errors"]
    assert len(defined) > 10
    assert all(issubclass(cls, errors.AlttrainError) for cls in defined)
    names = {cls.__name__ for cls in defined}
    elsewhere = []
    for path in module_paths().values():
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}
                if bases & names:
                    elsewhere.append(f"{module_name(path)}.{node.name}")
    assert elsewhere == []
