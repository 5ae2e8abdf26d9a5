"""Study YAML files: parse, check every field with its line, and import the training function."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metaml.budget import Budget, parse_budget
from metaml.core.schedule import Schedule
from metaml.core.trial_context import RunSettings
from metaml.errors import MetamlError, StudyFileError, did_you_mean, shown
from metaml.execution.functions import FunctionRef, import_function
from metaml.execution.settings import ExecutionSettings
from metaml.objectives import Objective, parse_objectives
from metaml.optimizers import make_optimizer
from metaml.safe_yaml import read_yaml
from metaml.space import Constant, Space
from metaml.warm_start import WarmStartSource, parse_sources

#: The largest seed: numpy's and torch's generators take 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1

#: Top-level fields a study file may have, with what each is for (shown when one is unknown).
FIELDS: dict[str, str] = {
    "name": "the study's name in the store",
    "function": "the training function, as module:function",
    "space": "the search space",
    "objectives": "the metrics to minimise or maximise, with limits",
    "optimizer": "a name, or a mapping with name and settings",
    "budget": "trials, fte and/or seconds",
    "store": "a SQLAlchemy URL or a SQLite file path",
    "seed": "the study's seed",
    "artifacts": "where trial checkpoints are kept",
    "description": "free text for the report",
    "warm_start": "earlier studies to learn from: a list of {study: NAME, store: URL}",
    "schedule": "a fixed hyperparameter schedule every trial replays: {name: [[step, value], ...]} or an exported schedule.json",
    "execution": (
        "workers, executor, timeout, memory_mb, retries, heartbeat, stale_after, cpus, gpus, device, threads, "
        "ray_address, max_failures, fail_fast"
    ),
}
#: Run settings (how a trial trains here, not what): under ``execution:``, no longer in the space.
RUN_SETTINGS = tuple(RunSettings.__dataclass_fields__)


@dataclass(frozen=True)
class StudyFile:
    """A checked study YAML file."""

    path: Path
    text: str
    name: str
    function: str
    space: Space
    objectives: tuple[Objective, ...]
    optimizer: Any
    budget: Budget | None
    store: str | None
    seed: int
    artifacts: str | None
    description: str = ""
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    #: The earlier studies to learn from (``metaml.warm_start``); a store path is relative to the file.
    warm_start: tuple[WarmStartSource, ...] = ()
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    #: What the file still does the old way, with what to write instead (``metaml run`` shows them).
    deprecations: tuple[str, ...] = ()
    #: The fixed schedule every trial replays (``schedule:``), or None.
    schedule: Schedule | None = None

    def resolve_store(self, cli_store: str | None = None) -> str:
        """The store to use: command line, then METAML_STORE, then the file, then runs/<name>/study.db.

        The file's own paths (its ``store:`` and the default) are relative to the file, like its
        module and artifacts, so that every command finds the same study from any folder; a
        path given on the command line or in METAML_STORE is relative to the working folder.
        """
        chosen = cli_store or os.environ.get("METAML_STORE")
        if chosen:
            return chosen
        if self.store and "://" in self.store:
            return self.store
        path = Path(self.store).expanduser() if self.store else Path("runs") / self.name / "study.db"
        return str(path if path.is_absolute() else (self.path.parent / path).resolve())

    def legacy_store(self) -> Path | None:
        """The old default store (runs/<name>/study.db in the working folder) when it exists and differs."""
        old = (Path("runs") / self.name / "study.db").resolve()
        if self.store or not old.exists() or str(old) == self.resolve_store():
            return None
        return old

    def function_ref(self) -> FunctionRef:
        """How worker processes find the training function."""
        self.load_function()  # fail here, with the field's line, rather than in every worker
        return FunctionRef(spec=self.function, base_dir=str(self.path.parent.resolve()))

    def load_function(self) -> Callable[..., Mapping[str, Any]]:
        """Import the training function named by ``function``."""
        return import_function(self.function, self.path.parent, where=self._where("function"))

    def _where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


def load_study_file(path: str | Path) -> StudyFile:
    """Read and check a study file; every problem names the field (and its line)."""
    path = Path(path)
    document = read_yaml(path)  # within bounded size, depth and aliases, or a StudyFileError with the line
    text, node, data = document.text, document.node, document.data
    lines: dict[str, int] = {}
    if node is not None:
        _collect_lines(node, (), lines)
        ambiguous = _yaml11_boolean(node, ())
        if ambiguous is not None:
            key, line, word = ambiguous
            raise StudyFileError(
                f"{path}:{line}: field '{key}': unquoted {word!r} is a boolean in YAML 1.1 (PyYAML reads it as "
                f"{word.lower() in _YAML11_TRUE}) but a word in YAML 1.2: write true or false for a boolean, "
                f"or quote it ('{word}') for the word (the built-in pipelines' switches are enabled/disabled)"
            )

    def fail(key: str, message: str) -> StudyFileError:
        line = _line_for(lines, key)
        where = f"{path}:{line}" if line else str(path)
        return StudyFileError(f"{where}: field '{key}': {message}")

    if not isinstance(data, Mapping):
        raise StudyFileError(f"{path}: a study file is a mapping of fields ({', '.join(FIELDS)})")
    unknown = [k for k in data if k not in FIELDS]
    if unknown:
        hint = did_you_mean(str(unknown[0]), FIELDS)
        raise fail(str(unknown[0]), f"unknown field{hint}; a study file has {', '.join(FIELDS)}")
    for required in ("name", "function", "space", "objectives"):
        if required not in data:
            raise StudyFileError(f"{path}: the field '{required}' ({FIELDS[required]}) is missing")

    name = data["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name) or name in (".", ".."):
        raise fail("name", f"use letters, digits, '_', '-' or '.', got {shown(name)}")
    function = data["function"]
    if not isinstance(function, str) or ":" not in function:
        raise fail("function", f"write it as module:function (e.g. quickstart:train), got {shown(function)}")
    try:
        space = Space.from_dict(data["space"] or {})
    except MetamlError as exc:
        message = str(exc)
        match = re.match(r"space\.([^:]+):", message)
        key = f"space.{match.group(1)}" if match else "space"
        raise fail(key, message.split(": ", 1)[1] if match else message) from None
    try:
        objectives = parse_objectives(data["objectives"])
    except MetamlError as exc:
        raise fail("objectives", str(exc)) from None
    try:
        check_pipeline_schedulable(function, space)
    except MetamlError as exc:
        message = str(exc)
        match = re.match(r"space\.([^:]+): ", message)
        raise fail(f"space.{match.group(1)}" if match else "space", message[match.end():] if match else message) from None
    schedule = None
    if data.get("schedule") is not None:
        try:
            schedule = read_schedule(data["schedule"], path.parent, function, space)
        except MetamlError as exc:
            raise fail("schedule", str(exc)) from None
    optimizer = data.get("optimizer", "random")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise fail("seed", f"must be a whole number from 0 to 2**32 - 1 ({MAX_SEED}), got {shown(seed)}")
    try:
        make_optimizer(optimizer, space, objectives, seed)
    except MetamlError as exc:
        raise fail("optimizer", str(exc)) from None
    budget = None
    if data.get("budget") is not None:
        try:
            budget = parse_budget(data["budget"])
        except MetamlError as exc:
            raise fail("budget", str(exc)) from None
    store = data.get("store")
    if store is not None and not isinstance(store, str):
        raise fail("store", f"must be a URL or a path, got {shown(store)}")
    try:
        execution = ExecutionSettings.from_dict(data.get("execution"))
    except MetamlError as exc:
        raise fail("execution", str(exc)) from None
    try:
        warm_start = tuple(_relative_to(path, s) for s in parse_sources(data.get("warm_start")))
    except MetamlError as exc:
        raise fail("warm_start", str(exc)) from None
    artifacts = data.get("artifacts")
    if artifacts is not None:
        artifacts = str((path.parent / str(artifacts)) if not Path(str(artifacts)).is_absolute() else artifacts)
    return StudyFile(
        path=path,
        text=text,
        name=name,
        function=function,
        space=space,
        objectives=objectives,
        optimizer=optimizer,
        budget=budget,
        store=store,
        seed=seed,
        artifacts=artifacts,
        description=str(data.get("description", "")),
        execution=execution,
        warm_start=warm_start,
        lines=lines,
        deprecations=_run_settings_in_space(path, lines, function, space, execution),
        schedule=schedule,
    )


def _relative_to(path: Path, source: WarmStartSource) -> WarmStartSource:
    """An earlier study's store path read relative to the study file, like the file's own ``store:``."""
    store = source.store
    if not isinstance(store, str) or "://" in store or Path(store).expanduser().is_absolute():
        return source
    return WarmStartSource(source.study, str((path.parent / Path(store).expanduser()).resolve()), source.objectives)


def _pipeline_space(function: str) -> tuple[str, Space] | None:
    """(name, whole space) of the built-in pipeline ``function`` names, or None for a user's function."""
    from metaml.pipelines.baseline import builtin_pipeline

    spec = builtin_pipeline(function)
    return None if spec is None else (spec.name, Space(spec.space()))


def check_pipeline_schedulable(function: str, space: Space, names: tuple[str, ...] | None = None) -> None:
    """Refuse a schedulable parameter a built-in pipeline cannot change during a run (a shape, the batch size, ...)."""
    names = space.schedulable if names is None else names
    if not names:
        return
    found = _pipeline_space(function)
    if found is None:
        return
    pipeline, whole = found
    allowed = whole.schedulable
    for name in names:
        if name in allowed or name not in whole.parameters:
            continue
        param = whole.parameters[name]
        why = ("it is structural: it fixes the model's shape or the steps of a run" if getattr(param, "structural", False)
               else "the pipeline applies it once, when the run starts")  # fmt: skip
        raise StudyFileError(
            f"space.{name}: the {pipeline} pipeline cannot change {name!r} during a run ({why}); schedulable are "
            f"{', '.join(allowed)}"
        )


def read_schedule(value: Any, base: Path, function: str, space: Space) -> Schedule:
    """The ``schedule:`` field: a mapping, or the path of a ``schedule.json`` that ``metaml export`` wrote."""
    import json

    if isinstance(value, str):
        file = Path(value) if Path(value).is_absolute() else base / value
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise StudyFileError(f"cannot read the schedule file {file}: {exc}") from None
        value = data.get("schedule", data) if isinstance(data, dict) else data
    schedule = Schedule.from_dict(value)
    for name in schedule.names:
        param = space.parameters.get(name)
        if param is not None and not isinstance(param, Constant):
            raise StudyFileError(
                f"{name!r} is searched in the space, and the schedule fixes it: remove it from the space, or make it "
                f"a constant (its value at step 0, {schedule.value(name, 0)!r})"
            )
        if isinstance(param, Constant) and param.value != schedule.value(name, 0):
            raise StudyFileError(
                f"{name!r} is the constant {param.value!r} in the space, and the schedule starts it at "
                f"{schedule.value(name, 0)!r}: make them agree"
            )
    found = _pipeline_space(function)
    if found is not None:
        pipeline, whole = found
        for name in schedule.names:
            if name not in whole.schedulable:
                raise StudyFileError(
                    f"the {pipeline} pipeline cannot change {name!r} during a run; a schedule may set "
                    f"{', '.join(whole.schedulable)}"
                )
            param = whole.parameters[name]
            for _, v in schedule.segments[name]:
                reason = param.contains(v)  # type: ignore[union-attr]
                if reason is not None:
                    raise StudyFileError(f"schedule of {name!r}: {reason}")
    return schedule


def _run_settings_in_space(
    path: Path, lines: Mapping[str, int], function: str, space: Space, execution: ExecutionSettings
) -> tuple[str, ...]:
    """A note for each run setting (device, threads) a built-in pipeline's space still holds as a constant.

    They still work (a built-in pipeline reads them while ``execution:`` leaves them unset), so
    an older file runs and resumes as before; but as part of the space, changing one on resume
    makes it "a different space".
    """
    if not function.startswith("metaml.pipelines."):
        return ()  # a user's function reads its own constants: they are its business
    notes = []
    for name in RUN_SETTINGS:
        param = space.parameters.get(name)
        if not isinstance(param, Constant):
            continue
        line = _line_for(lines, f"space.{name}")
        where = f"{path}:{line}" if line else str(path)
        chosen = getattr(execution, name)
        now = (f"execution.{name} ({chosen!r}) overrides it" if chosen is not None
               else f"it applies while execution.{name} is unset")  # fmt: skip
        notes.append(
            f"{where}: field 'space.{name}': {name} is a run setting, not something to search; in the space, "
            f"changing it on resume counts as a different space. Write it under execution: ({name}: "
            f"{param.value!r}) for a new study; a study already started keeps it in its space, and {now}"
        )
    return tuple(notes)


#: Plain scalars that YAML 1.1 (PyYAML) reads as booleans but YAML 1.2 and most readers as words.
_YAML11_TRUE = {"yes", "on"}
_YAML11_FALSE = {"no", "off"}  # (PyYAML reads y and n as the words they are)
_BOOL_TAG = "tag:yaml.org,2002:bool"


def _yaml11_boolean(node: yaml.Node, path: tuple[str, ...]) -> tuple[str, int, str] | None:
    """(field, line, word) of the first unquoted on/off/yes/no, key or value, or None.

    PyYAML turns them into booleans silently: ``choices: [off, on]`` becomes
    ``[False, True]`` and a key ``on:`` becomes ``True``, which then fails far from the
    cause (or matches no pipeline choice); a study file says plainly what it means instead.
    """
    if isinstance(node, yaml.ScalarNode):
        plain = node.style is None and node.tag == _BOOL_TAG
        if plain and node.value.lower() in _YAML11_TRUE | _YAML11_FALSE:
            return ".".join(path) or "(top)", node.start_mark.line + 1, str(node.value)
        return None
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = path + (str(key_node.value),)
            found = _yaml11_boolean(key_node, key) or _yaml11_boolean(value_node, key)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _yaml11_boolean(item, path + (str(i),))
            if found is not None:
                return found
    return None


def _collect_lines(node: yaml.Node, path: tuple[str, ...], out: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = path + (str(key_node.value),)
            out[".".join(key)] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = path + (str(i),)
            out[".".join(key)] = item.start_mark.line + 1
            _collect_lines(item, key, out)


def _line_for(lines: Mapping[str, int], key: str) -> int | None:
    """The line of a field; nested space names (a.b.c) skip the 'choices' level of the YAML."""
    if key in lines:
        return lines[key]
    simplified = {re.sub(r"\.choices(?=\.)", "", k): v for k, v in lines.items()}
    parts = key.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in simplified:
            return simplified[candidate]
        parts.pop()
    return None
