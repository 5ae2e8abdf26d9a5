"""The layers of metaml: a module imports only from its own layer and those below it, and no import cycles.

Every module of ``metaml/`` is parsed (nothing is imported) and each of its imports is
sorted by where it stands: at module level, under ``if TYPE_CHECKING:`` (still a
dependency: a type names what a module relies on), or inside a function (a lazy import).
A lower layer that needs something of a higher one names what it needs as a Protocol
instead (``TrialContext`` for the pipelines, ``TrialHost`` for the trial, ``StudyHandle``
for the executors, ``EvaluatedStudy`` for the final evaluation), which ``metaml.Study``
satisfies. docs/concepts.md ("Architecture") shows the same table; a test keeps the two equal.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "metaml"

#: Bottom up. A name is that module and, for a package, everything in it (``metaml`` alone is
#: the package's own ``__init__``: its public exports).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("metaml.core", "metaml.errors", "metaml._version")),
    ("building blocks", ("metaml.space", "metaml.objectives", "metaml.budget", "metaml.spending",
                         "metaml.results", "metaml.lineage", "metaml.checkpoint", "metaml.safe_yaml", "metaml.data",
                         "metaml.metrics")),
    ("store", ("metaml.store",)),
    ("optimizers", ("metaml.optimizers",)),
    ("pipelines", ("metaml.pipelines",)),
    ("trial", ("metaml.trial",)),
    ("execution", ("metaml.execution",)),
    ("final evaluation", ("metaml.final_evaluation",)),
    ("study", ("metaml.study", "metaml.interventions", "metaml.studyfile", "metaml.progress", "metaml.imports",
               "metaml.warm_start")),
    ("report", ("metaml.report",)),
    ("integrations", ("metaml.integrations",)),
    ("faces", ("metaml.cli", "metaml.dashboard", "metaml.testing", "metaml.__main__", "metaml")),
)

#: Lazy imports (inside a function) allowed to point upwards, each with why. None today: keep it so.
LAZY_UPWARD: dict[tuple[str, str], str] = {}

#: Lazy imports allowed to close an import cycle inside one package, each with why.
LAZY_CYCLES: dict[tuple[str, str], str] = {
    ("metaml.space.space", "metaml.space.configspace"): (
        "Space.to_configspace / from_configspace are the space's own methods, written in the module that "
        "imports the space (and ConfigSpace, an optional extra, only when called)"
    ),
    ("metaml.space.parameters", "metaml.space.space"): (
        "a categorical's sub-spaces are written out by the space's own parameters_to_dict, whose module "
        "imports the parameters"
    ),
    ("metaml.optimizers.auto", "metaml.optimizers.registry"): (
        "auto builds the optimizer it picks by name through the registry, which lists auto among the built-ins"
    ),
    ("metaml.optimizers.oneshot", "metaml.optimizers.registry"): (
        "oneshot builds its black-box optimizers (then, fallback) by name through the registry, which lists oneshot"
    ),
    ("metaml.optimizers.transfer", "metaml.optimizers.registry"): (
        "transfer builds its base optimizer by name through the registry, which lists transfer among the built-ins"
    ),
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    #: ``module`` (at import time), ``typing`` (under TYPE_CHECKING) or ``function`` (lazy).
    where: str


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(source: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> list[str]:
    """The metaml modules an import statement loads (a submodule named in ``from pkg import sub`` stands alone)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parent = source.split(".") if is_package else source.split(".")[:-1]
            parent = parent[: len(parent) - (node.level - 1)]
            base = ".".join([*parent, *([base] if base else [])])
        submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules()]
        names = submodules if len(submodules) == len(node.names) else [base, *submodules]
    return [n for n in names if n == "metaml" or n.startswith("metaml.")]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(source: str, node: ast.AST, where: str, is_package: bool) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            for target in _targets(source, child, is_package):
                yield Import(source, target, child.lineno, where)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(source, child, "function", is_package)
        elif isinstance(child, ast.If) and _is_type_checking(child.test) and where == "module":
            for stmt in child.body:
                yield from _walk(source, ast.Module(body=[stmt], type_ignores=[]), "typing", is_package)
            for stmt in child.orelse:
                yield from _walk(source, ast.Module(body=[stmt], type_ignores=[]), where, is_package)
        else:
            yield from _walk(source, child, where, is_package)


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), filename=str(path))
        found += _walk(name, tree, "module", path.name == "__init__.py")
    return tuple(found)


def layer_of(module: str) -> int | None:
    """The index in ``LAYERS`` of the layer that holds ``module`` (its longest matching name), or None."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if module == name or (name != "metaml" and module.startswith(name + ".")):
                if best is None or len(name) > best[1]:
                    best = (index, len(name))
    return None if best is None else best[0]


def _show(imp: Import) -> str:
    return f"{modules()[imp.source].relative_to(ROOT)}:{imp.line}: {imp.source} imports {imp.target} ({imp.where})"


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in modules() if layer_of(m) is None)
    assert not missing, f"put each new module in a layer of tests/test_layers.py (and docs/concepts.md): {missing}"


def test_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for imp in imports():
        source, target = layer_of(imp.source), layer_of(imp.target)
        if source is None or target is None or target <= source:
            continue
        if imp.where == "function" and (imp.source, imp.target) in LAZY_UPWARD:
            continue
        wrong.append(f"{_show(imp)}: layer '{LAYERS[source][0]}' is below '{LAYERS[target][0]}'")
    assert not wrong, "a lower layer imports a higher one (name what it needs as a Protocol instead):\n" + "\n".join(
        wrong
    )


def test_the_core_imports_only_the_standard_library_and_itself() -> None:
    core = LAYERS[0][1]
    wrong = []
    for name, path in modules().items():
        if layer_of(name) != 0:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops = [node.module]
            else:
                continue
            for full in tops:
                top = full.split(".")[0]
                if top == "metaml":
                    if not any(full == c or full.startswith(c + ".") for c in core):
                        wrong.append(f"{name}:{node.lineno}: {full}")
                elif top not in sys.stdlib_module_names and top != "__future__":
                    wrong.append(f"{name}:{node.lineno}: {full}")
    assert not wrong, f"the core is standard library only: {wrong}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {}
    for imp in imports():
        if imp.target == imp.source or imp.target not in modules():
            continue
        if imp.where == "function" and (imp.source, imp.target) in LAZY_CYCLES:
            continue
        edges.setdefault(imp.source, set()).add(imp.target)
    assert not _cycles(edges), f"import cycles (counting lazy and TYPE_CHECKING imports): {_cycles(edges)}"


def test_every_documented_exception_is_still_needed() -> None:
    lazy = {(i.source, i.target) for i in imports() if i.where == "function"}
    stale = sorted((set(LAZY_UPWARD) | set(LAZY_CYCLES)) - lazy)
    assert not stale, f"these exceptions no longer match a lazy import: remove them from tests/test_layers.py: {stale}"
    assert all(layer_of(s) == layer_of(t) for s, t in LAZY_CYCLES), "a lazy cycle stays inside one layer"


def test_the_architecture_section_of_the_docs_shows_these_layers() -> None:
    section = (ROOT / "docs" / "concepts.md").read_text().split("## Architecture", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    shown = []
    for line in filter(str.strip, block.splitlines()):  # "layer name   module, module" (2+ spaces between)
        layer, names = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        shown.append((layer, tuple(n.strip() for n in names.split(","))))
    assert shown == list(reversed(LAYERS)), "docs/concepts.md's layer table (top down) differs from tests/test_layers.py"
