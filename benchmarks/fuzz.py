"""Hostile input: mutated study files and generated spaces must each give a clear error or a working result.

Run: ``python -m benchmarks.fuzz [--mutations 1000] [--spaces 3000] [--seed 0]``

Every mutation of ``examples/quickstart.yaml`` must load as a StudyFile or be refused with a
StudyFileError; every generated space (from data as YAML gives it, or from the Python API)
must build and then sample, encode, decode, validate and round-trip, or be refused with a
SpaceError. Anything else is a traceback; a case past ``--seconds`` is a hang. Each case's
time and peak memory (tracemalloc) is measured; the table gives the counts and the worst case.
The same strategies drive the seeded, bounded fuzz tests in ``tests/``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import tempfile
import time
import traceback
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from metaml.errors import SpaceError, StudyFileError
from metaml.space import Categorical, Constant, Fidelity, Float, Int, Space
from metaml.studyfile import load_study_file

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"

# ------------------------------------------------------------------ study-file mutations

#: Values a user (or an attacker) may put where the quickstart has a value.
TOKENS = (
    "-1", "0", "-0", "4294967296", "1" + "0" * 39, "9" * 400, "9" * 5000, "1e400", "1.0e400", ".inf", "-.inf",
    ".nan", "null", "~", "[]", "{}", "[float]", "'False'", "yes", "off", "true", "2001-13-45", "!!int abc",
    "!!float x", "!!bool maybe", "!!binary AAA", "!!python/object:os.system x", "!foo 1", "*nope", "&a [*a]",
    "'[/] bad'", '"\\x00"', '"\\ud800"', "|\n  x", ">-", "? [a]", "[[[[1]]]]", "{a: {b: {c: 1}}}", "0x1F", "0o17",
    "1_000", "1:20", "abc:def", "'a: b'", "{lowr: 1}", "{type: float, lowr: 0, upper: 1}", "[1, 2", "{a: 1",
    "'unclosed", "- x", "%", "@x", "`x", "\t1", "=", "<<: *x", "!!set {a}", "!!omap [a: 1]", "\x00", "\u202e",
)
#: Characters that mean something to YAML, and some that no YAML allows.
SPECIALS = ":-?[]{},#&*!|>'\"%@` \t\n\r\x00\x07\x85\u2028\ufeff\ud7ff"

OPERATIONS = (
    "value", "delete_line", "duplicate_line", "swap_lines", "indent", "insert", "delete_span", "truncate",
    "bytes", "laughs", "nest",
)


@dataclass(frozen=True)
class Mutation:
    """One edit of a study file's bytes; positions are taken modulo the current length."""

    operation: str
    at: int
    other: int
    token: str
    raw: bytes = b""


def mutations() -> st.SearchStrategy[list[Mutation]]:
    """One to four edits of the quickstart file."""
    one = st.builds(
        Mutation,
        operation=st.sampled_from(OPERATIONS),
        at=st.integers(0, 2**20),
        other=st.integers(0, 2**20),
        token=st.one_of(st.sampled_from(TOKENS), st.text(alphabet=SPECIALS, max_size=12), st.text(max_size=8)),
        raw=st.binary(max_size=8),
    )
    return st.lists(one, min_size=1, max_size=4)


def mutate(text: bytes, edits: list[Mutation]) -> bytes:
    """``text`` with the edits applied in turn."""
    for edit in edits:
        text = _apply(text, edit)
    return text


def _apply(text: bytes, m: Mutation) -> bytes:
    lines = text.split(b"\n")
    i, j = m.at % max(1, len(lines)), m.other % max(1, len(lines))
    token = m.token.encode("utf-8", "surrogatepass")
    if m.operation == "value":
        head, sep, _ = lines[i].partition(b": ")
        lines[i] = head + (sep or b": ") + token
    elif m.operation == "delete_line":
        del lines[i]
    elif m.operation == "duplicate_line":
        lines.insert(j, lines[i])
    elif m.operation == "swap_lines":
        lines[i], lines[j] = lines[j], lines[i]
    elif m.operation == "indent":
        lines[i] = (b"\t" if m.other % 5 == 0 else b" " * (m.other % 7)) + lines[i].lstrip(b" ")
    elif m.operation == "laughs":
        width, depth = 2 + m.at % 9, 2 + m.other % 12
        bomb = [b"l0: &l0 [" + b", ".join([b"lol"] * width) + b"]"]
        bomb += [f"l{k}: &l{k} [".encode() + b", ".join([f"*l{k - 1}".encode()] * width) + b"]" for k in range(1, depth)]
        return b"\n".join(bomb) + b"\n" + text
    elif m.operation == "nest":
        depth = 1 + m.other % 2000
        head, sep, _ = lines[i].partition(b": ")
        lines[i] = head + b": " + b"[" * depth + b"1" + b"]" * depth
    else:
        k, n = m.at % max(1, len(text)), m.other % 64
        if m.operation == "insert":
            return text[:k] + token + text[k:]
        if m.operation == "delete_span":
            return text[:k] + text[k + n :]
        if m.operation == "truncate":
            return text[:k]
        return text[:k] + m.raw + text[k:]  # "bytes": anything, invalid UTF-8 included
    return b"\n".join(lines)


def check_study_bytes(raw: bytes, folder: Path) -> str:
    """'study' or 'refused' for the two answers allowed; any other exception propagates."""
    path = folder / "fuzz.yaml"
    path.write_bytes(raw)
    try:
        spec = load_study_file(path)
    except StudyFileError:
        return "refused"
    spec.space.validate(spec.space.sample(np.random.default_rng(spec.seed)))  # what it gave is usable
    return "study"


# ------------------------------------------------------------------ generated spaces

def _mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], tenths: int = 8) -> st.SearchStrategy[Any]:
    """``usual`` in ``tenths`` of ten draws, ``rare`` in the others (hypothesis's one_of weighs its branches alike)."""
    return st.integers(0, 9).flatmap(lambda k: usual if k < tenths else rare)


_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e308, 1e308),
    st.integers(-(10**6), 10**6),
    st.sampled_from([0, 1, -1, 10**39, 10**400, -(10**400), 5e-324, 1e-300, 1e300, 1.7976931348623157e308]),
)
_JUNK = st.one_of(
    _NUMBERS, st.booleans(), st.none(), st.text(max_size=6),
    st.sampled_from(["False", "true", "low", "medium", "high", "1e-3", "nan", "", " "]),
    st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_KINDS = ["float", "int", "integer", "categorical", "constant", "fidelity", "flaot", "", None, ["float"]]
_SETTINGS = ["lower", "upper", "log", "prior", "confidence", "when", "value", "lowr", "choices", "upper"]
_GOOD_NAMES = st.sampled_from(["x", "y", "lr", "depth", "opt", "width", "dropout", "act"])
_NAMES = _mostly(_GOOD_NAMES, st.one_of(st.sampled_from(["a.b", "", " ", "epochs"]), st.text(max_size=5)), 9)


def _choices(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    scalar = st.one_of(st.text(max_size=4), st.integers(-3, 3), st.booleans(), st.none(), _NUMBERS)
    return st.one_of(
        st.lists(scalar, max_size=5),
        st.dictionaries(st.text(max_size=4), st.one_of(st.none(), st.just({}), children), max_size=3),
        _JUNK,
    )


def _range(draw: Any, whole: bool) -> tuple[Any, Any]:
    """Two valid bounds, from the everyday to the extreme (-1e308 to 1e308, 5e-324 to 1)."""
    if whole:
        lower = draw(st.one_of(st.integers(-(10**6), 10**6), st.sampled_from([-(2**53), 0, 1, 2**52])))
        return lower, lower + draw(st.one_of(st.integers(1, 10**6), st.sampled_from([2**52, 2**53 + 1])))
    lower = draw(st.floats(-1e308, 1e308))
    upper = draw(st.floats(lower, 1.7976931348623157e308).filter(lambda u: u > lower))
    return lower, upper


@st.composite
def _sensible_parameter(draw: Any, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    """A parameter as a careful user writes it (valid, with priors, logs and conditions now and then)."""
    kind = draw(st.sampled_from(["float", "float", "int", "int", "categorical", "categorical", "constant", "fidelity"]))
    if kind in ("float", "int"):
        lower, upper = _range(draw, kind == "int")
        out: dict[str, Any] = {"type": kind, "lower": lower, "upper": upper}
        if lower > 0 and draw(st.booleans()):
            out["log"] = True
        if draw(st.booleans()):
            out["prior"] = draw(st.sampled_from([lower, upper]))
            out["confidence"] = draw(st.sampled_from(["low", "medium", "high"]))
        return out
    if kind == "categorical":
        if draw(st.booleans()):
            names = draw(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=3, unique=True))
            return {"type": kind, "choices": {n: draw(st.one_of(st.just({}), children)) for n in names}}
        choices = draw(st.lists(st.one_of(st.text(max_size=4), st.integers(-3, 3)), min_size=1, max_size=4,
                                unique_by=lambda c: (type(c), c)))  # fmt: skip
        return {"type": kind, "choices": choices}
    if kind == "constant":
        return {"type": kind, "value": draw(st.one_of(st.text(max_size=5), st.integers(), st.lists(st.booleans())))}
    lower = draw(st.sampled_from([1, 1e-6, 0.5, 3]))
    return {"type": kind, "lower": lower, "upper": lower * draw(st.sampled_from([1, 9, 27, 1e6]))}


def _parameter_data(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return _mostly(_sensible_parameter(children), _hostile_parameter(children))


def _hostile_parameter(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda kind, settings_, choices, use_choices: {
            **({"type": kind} if kind is not None or use_choices % 2 else {}),
            **settings_,
            **({"choices": choices} if use_choices else {}),
        },
        st.sampled_from(_KINDS),
        st.dictionaries(st.sampled_from(_SETTINGS), _JUNK, max_size=5),
        _choices(children),
        st.integers(0, 2),
    )


def space_data() -> st.SearchStrategy[Any]:
    """Spaces as YAML would give them: mappings of names to parameter settings, nested through choices."""
    tree = st.recursive(
        st.dictionaries(_NAMES, _parameter_data(st.just({})), min_size=1, max_size=4),
        lambda children: st.dictionaries(_NAMES, _parameter_data(children), min_size=1, max_size=4),
        max_leaves=12,
    )
    return _mostly(tree, st.one_of(_JUNK, st.just({})), 9)


def _api_parameter() -> st.SearchStrategy[Callable[[], Any]]:
    numeric_kwargs = st.dictionaries(st.sampled_from(["log", "prior", "confidence", "when"]), _JUNK, max_size=3)
    choice_kwargs = st.dictionaries(st.sampled_from(["prior", "confidence", "when"]), _JUNK, max_size=2)
    numeric = st.builds(
        lambda cls, lower, upper, kw: lambda: cls(lower, upper, **kw),
        st.sampled_from([Float, Int]), _NUMBERS, _NUMBERS, numeric_kwargs,
    )
    sensible = _sensible_parameter(st.just({})).map(lambda data: lambda: Space.from_dict({"p": data}).parameters["p"])
    return _mostly(sensible, st.one_of(
        numeric,
        st.builds(lambda a, b: lambda: Fidelity(a, b), _NUMBERS, _NUMBERS),
        st.builds(lambda c, kw: lambda: Categorical(c, **kw), _choices(st.just({})), choice_kwargs),
        st.builds(lambda v: lambda: Constant(v), _JUNK),
    ), 7)


def api_space() -> st.SearchStrategy[Callable[[], Space]]:
    """Spaces built from the Python API with arbitrary arguments, names included."""
    return st.builds(
        lambda items: lambda: Space({name: make() for name, make in items}),
        st.lists(st.tuples(_mostly(_NAMES, st.integers(0, 3), 9), _api_parameter()), min_size=1, max_size=4),
    )


def check_space(build: Callable[[], Space], rng_seed: int = 0) -> str:
    """'space' (built and every operation worked) or 'refused' (a SpaceError); anything else propagates."""
    try:
        space = build()
    except SpaceError:
        return "refused"
    rng = np.random.default_rng(rng_seed)
    for use_prior in (False, True):
        config = space.sample(rng, use_prior=use_prior)
        assert space.validate(config) == config
        x = space.encode(config)
        assert x.shape == (space.n_dims,) and np.all((x >= 0) & (x <= 1))
        space.validate(space.decode(x))
    space.validate(space.default())
    assert Space.from_dict(space.to_dict()) == space
    with contextlib.suppress(SpaceError):
        space.validate({"x": "junk", "": None})
    return "space"


def space_builders() -> st.SearchStrategy[Callable[[], Space]]:
    """Both kinds of generated space, half each."""
    from_data = space_data().map(lambda data: lambda: Space.from_dict(data))  # type: ignore[arg-type]
    return st.one_of(from_data, api_space())


# ------------------------------------------------------------------ the benchmark


class Hang(Exception):
    """A case ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread after ``seconds`` (SIGALRM; POSIX only)."""

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Tally:
    """Outcomes of one kind of case, with the slowest and the most memory-hungry."""

    outcomes: Counter[str] = field(default_factory=Counter)
    worst_seconds: float = 0.0
    worst_bytes: int = 0
    examples: list[str] = field(default_factory=list)

    def record(self, run: Callable[[], str], seconds: float, describe: Callable[[], str]) -> None:
        tracemalloc.start()
        started = time.perf_counter()
        try:
            with time_limit(seconds):
                outcome = run()
        except Hang:
            outcome = "hang"
        except Exception:
            outcome = "traceback"
            if len(self.examples) < 5:
                self.examples.append(describe() + "\n" + traceback.format_exc(limit=-3))
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        self.outcomes[outcome] += 1
        self.worst_seconds = max(self.worst_seconds, time.perf_counter() - started)
        self.worst_bytes = max(self.worst_bytes, peak)


def fuzz_study_files(count: int, seed: int, seconds: float) -> Tally:
    tally = Tally()
    original = QUICKSTART.read_bytes()
    with tempfile.TemporaryDirectory() as folder:

        @hypothesis_seed(seed)
        @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(mutations())
        def case(edits: list[Mutation]) -> None:
            raw = mutate(original, edits)
            tally.record(lambda: check_study_bytes(raw, Path(folder)), seconds, lambda: f"mutations {edits!r}")

        case()
    return tally


def fuzz_spaces(count: int, seed: int, seconds: float) -> Tally:
    tally = Tally()

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(space_builders(), st.integers(0, 2**32 - 1))
    def case(build: Callable[[], Space], rng_seed: int) -> None:
        tally.record(lambda: check_space(build, rng_seed), seconds, lambda: f"space seed {rng_seed}")

    case()
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=1000, help="mutated study files to load")
    parser.add_argument("--spaces", type=int, default=3000, help="generated spaces to build and use")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of one case")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"hostile input (seed {args.seed}, limit {args.seconds:g} s a case)")
    for column in ("input", "cases", "accepted", "refused", "tracebacks", "hangs", "slowest (s)", "peak memory (MB)"):
        table.add_column(column, justify="right")
    failures: list[str] = []
    for label, tally in (
        ("study-file mutations", fuzz_study_files(args.mutations, args.seed, args.seconds)),
        ("generated spaces", fuzz_spaces(args.spaces, args.seed, args.seconds)),
    ):
        o = tally.outcomes
        accepted = o["study"] + o["space"]
        table.add_row(label, str(sum(o.values())), str(accepted), str(o["refused"]), str(o["traceback"]),
                      str(o["hang"]), f"{tally.worst_seconds:.2f}", f"{tally.worst_bytes / 1e6:.2f}")  # fmt: skip
        failures += tally.examples
    console = Console(width=140)
    console.print(table)
    for example in failures:
        console.print(example, markup=False, highlight=False)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
