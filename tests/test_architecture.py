"""The package's shape: layers import downwards only, stages talk through files, user errors share one base."""

import ast
import inspect
from pathlib import Path

import alttrain
from alttrain import errors

PACKAGE = Path(alttrain.__file__).parent
STAGE_PACKAGES = {"synthesis", "curation", "training", "datasheets", "evaluation"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the alttrain modules it imports anywhere in its source (functions and TYPE_CHECKING included)."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}

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


def test_the_graph_walker_finds_what_it_should() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph()
    assert "alttrain.llm.client" in graph["alttrain.synthesis.engine"]
    assert "alttrain.errors" in graph["alttrain.config"]


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


def test_the_llm_layer_imports_no_stage() -> None:
    graph = import_graph()
    upward = sorted((m, t) for m, ts in graph.items() if m.startswith("alttrain.llm") for t in ts if stage_of(t))
    assert upward == []


def test_every_user_error_derives_from_one_base_and_lives_in_errors() -> None:
    defined = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if cls.__module__ == "alttrain.errors"]
    assert len(defined) > 10
    assert all(issubclass(cls, errors.AlttrainError) for cls in defined)
    names = {cls.__name__ for cls in defined}
    elsewhere = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}
                if bases & names:
                    elsewhere.append(f"{module_name(path)}.{node.name}")
    assert elsewhere == []
