"""Benchmark problems by family name, as the command line names them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from benchmarks.problems.base import Problem, ProblemUnavailable, data_dir
from benchmarks.problems.synthetic import ZDT1, Branin, Hartmann6

_CORRELATIONS = ("good", "moderate", "bad", "terrible")


def _lcbench(multi_objective: bool) -> Callable[[str], Problem]:
    def make(task: str) -> Problem:
        from benchmarks.problems.lcbench import LCBench  # onnxruntime only when asked for

        return LCBench(task, multi_objective=multi_objective)

    return make


def _tabular(dataset: str) -> Problem:
    from benchmarks.problems.tabular import TabularPipeline  # torch only when asked for

    return TabularPipeline(dataset)


#: family -> (build one instance from its task string, the default tasks)
FAMILIES: dict[str, tuple[Callable[[str], Problem], tuple[str, ...]]] = {
    "lcbench": (_lcbench(False), ("3945", "34539", "146212", "167104", "168330", "189862", "189909", "126029")),
    "lcbench-mo": (_lcbench(True), ("3945", "34539", "146212", "167104", "168330", "189862", "189909", "126029")),
    "branin": (Branin, _CORRELATIONS),
    "hartmann6": (Hartmann6, _CORRELATIONS),
    "zdt1": (ZDT1, _CORRELATIONS),
    "tabular": (_tabular, ("digits",)),
}


def make_problems(family: str, tasks: Sequence[str] | None = None) -> list[Problem]:
    """One problem per task: an OpenML task id for LCBench, a correlation preset for synthetic ones,
    a bundled dataset for the tabular pipeline."""
    if family not in FAMILIES:
        raise ProblemUnavailable(f"unknown problem {family!r}; choose one of {', '.join(FAMILIES)}")
    make, defaults = FAMILIES[family]
    chosen = list(tasks) if tasks else list(defaults)
    problems = []
    for task in chosen:
        try:
            problems.append(make(str(task).strip()))
        except ValueError as exc:
            raise ProblemUnavailable(f"{family}: {exc}") from None
    return problems


def default_tasks(family: str) -> tuple[str, ...]:
    if family not in FAMILIES:
        raise ProblemUnavailable(f"unknown problem {family!r}; choose one of {', '.join(FAMILIES)}")
    return FAMILIES[family][1]


__all__ = ["FAMILIES", "Problem", "ProblemUnavailable", "data_dir", "default_tasks", "make_problems"]
