"""Every hostile or mistaken study file gets a StudyFileError that names the field and line, in bounded time and memory."""

from __future__ import annotations

import re
import time
import tracemalloc
from pathlib import Path

import pytest

from metaml.errors import StudyFileError
from metaml.studyfile import MAX_SEED, load_study_file

QUICKSTART = (Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml").read_text()


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "q.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _edit(old: str, new: str) -> str:
    assert old in QUICKSTART
    return QUICKSTART.replace(old, new, 1)


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [i for i, row in enumerate(text.splitlines(), 1) if needle in row]
    return hits[occurrence - 1]


def _refused(tmp_path: Path, text: str | bytes) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    message = str(info.value)
    assert "\n" not in message  # one line
    assert message.startswith(str(path))  # says which file
    return message.replace(str(path), "q.yaml")  # (the test's folder name must not match what is asserted)


def test_the_quickstart_file_loads(tmp_path: Path) -> None:
    spec = load_study_file(_write(tmp_path, QUICKSTART))
    assert spec.name == "quickstart" and "optimizer.sgd.momentum" in spec.space.parameters


# ------------------------------------------------------------------ misspelt settings


def test_a_misspelt_setting_names_the_field_its_line_and_the_close_match(tmp_path: Path) -> None:
    text = _edit("width: {type: int, lower: 16", "width: {type: int, lowr: 16")
    message = _refused(tmp_path, text)
    assert f"q.yaml:{_line_of(text, 'lowr')}:" in message
    assert "space.width.lowr" in message and "'lower'" in message
    assert "__init__" not in message


def test_a_misspelt_setting_of_a_nested_parameter(tmp_path: Path) -> None:
    text = _edit("momentum: {type: float, lower: 0.0, upper: 0.99}", "momentum: {type: float, lower: 0.0, uper: 0.99}")
    message = _refused(tmp_path, text)
    assert f"q.yaml:{_line_of(text, 'uper')}:" in message and "'upper'" in message


def test_a_missing_bound_is_named(tmp_path: Path) -> None:
    text = _edit("depth: {type: int, lower: 1, upper: 3}", "depth: {type: int, upper: 3}")
    message = _refused(tmp_path, text)
    assert f"q.yaml:{_line_of(text, 'depth:')}:" in message and "'lower'" in message
    assert "positional argument" not in message


# ------------------------------------------------------------------ indentation


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("  depth: {type", "   depth: {type", "depth:"),  # one space too many
        ("      sgd:\n", "     sgd:\n", "sgd:"),  # one space too few, in a nested block
        ("  lr: {type", "\tlr: {type", "lr:"),  # a tab
    ],
)
def test_bad_indentation_gives_one_line_with_its_line_number(tmp_path: Path, old: str, new: str, needle: str) -> None:
    text = _edit(old, new)
    message = _refused(tmp_path, text)
    line = _line_of(text, needle)
    # PyYAML notices some mistakes only lines later; the message then names the line where the block began
    named = {int(n) for n in re.findall(r"(?:q\.yaml:|line )(\d+)", message)}
    assert named & {line - 1, line, line + 1}, message
    assert "indent" in message
    assert "<block" not in message  # PyYAML's token names mean nothing to a user


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("old", "new", "field", "needle"),
    [
        ("budget: {trials: 30}", "budget: {trials: 1" + "0" * 39 + "}", "budget", "budget:"),
        ("budget: {trials: 30}", "budget: 1" + "0" * 39, "budget", "budget:"),
        ("budget: {trials: 30}", "budget: {fte: 1" + "0" * 400 + "}", "budget", "budget:"),
        ("upper: 256", "upper: " + "9" * 4000, "space.width", "width:"),
        ("lower: 0.0, upper: 0.5", "lower: -1" + "0" * 400 + ", upper: 0.5", "space.dropout", "dropout:"),
    ],
)
def test_huge_numbers_are_refused_with_their_field(tmp_path: Path, old: str, new: str, field: str, needle: str) -> None:
    text = _edit(old, new)
    message = _refused(tmp_path, text)
    assert f"field '{field}" in message and f"q.yaml:{_line_of(text, needle)}:" in message, message
    assert len(message) < 400  # the number is shortened, not printed in full


def test_a_5000_digit_integer_is_refused_with_its_line(tmp_path: Path) -> None:
    text = _edit("upper: 3}", "upper: " + "9" * 5000 + "}")
    message = _refused(tmp_path, text)
    assert f"q.yaml:{_line_of(text, 'depth:')}:" in message and len(message) < 400


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 10**23, 1.5, "abc"])
def test_seeds_outside_0_to_2_32_are_refused(tmp_path: Path, seed: object) -> None:
    message = _refused(tmp_path, _edit("seed: 0", f"seed: {seed}"))
    assert "field 'seed'" in message and f"q.yaml:{_line_of(QUICKSTART, 'seed:')}:" in message


@pytest.mark.parametrize("seed", [0, MAX_SEED])
def test_seeds_at_the_ends_of_the_range_are_fine(tmp_path: Path, seed: int) -> None:
    assert load_study_file(_write(tmp_path, _edit("seed: 0", f"seed: {seed}"))).seed == seed


# ------------------------------------------------------------------ shapes


def test_a_type_that_is_a_list_is_refused(tmp_path: Path) -> None:
    text = _edit("depth: {type: int, lower: 1, upper: 3}", "depth: {type: [float], lower: 1, upper: 3}")
    message = _refused(tmp_path, text)
    assert "space.depth" in message and f"q.yaml:{_line_of(text, 'depth:')}:" in message


@pytest.mark.parametrize(
    ("old", "new", "key", "where"),
    [
        ("seed: 0", "seed: 0\nseed: 1", "seed", "seed: 1"),
        ("depth: {type: int, lower: 1, upper: 3}", "depth: {type: int, lower: 1, upper: 3, lower: 2}", "lower", "depth:"),
        ("  dropout:", "  lr: {type: float, lower: 0.1, upper: 0.2}\n  dropout:", "lr", "lr: {type: float, lower: 0.1"),
    ],
)
def test_a_duplicate_key_is_refused_with_its_name_and_line(tmp_path: Path, old: str, new: str, key: str, where: str) -> None:
    text = _edit(old, new)
    message = _refused(tmp_path, text)
    assert f"'{key}'" in message and f"q.yaml:{_line_of(text, where)}:" in message


# ------------------------------------------------------------------ hostile files


def _laughs(levels: int = 9) -> str:
    rows = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        rows.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(rows) + "\n"


def test_a_billion_laughs_file_is_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    text = _laughs() + QUICKSTART
    assert len(text) < 3000
    path = _write(tmp_path, text)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(StudyFileError) as info:
            load_study_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 10
    assert peak < 50e6
    assert "alias" in str(info.value)


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    text = _edit("  dropout: {type: float, lower: 0.0, upper: 0.5}", "  dropout: &unit {type: float, lower: 0.0, upper: 0.5}")
    text = text.replace("  batch_size:", "  label_smoothing: *unit\n  batch_size:", 1)
    spec = load_study_file(_write(tmp_path, text))
    assert spec.space.parameters["label_smoothing"] == spec.space.parameters["dropout"]


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, _edit("description: ", "description: &d [*d] #"))
    assert "alias" in message


@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_nesting_900_deep_is_refused(tmp_path: Path, opener: str) -> None:
    closer = {"[": "]", "{a: ": "}", "- ": ""}[opener]
    if opener == "- ":
        body = "\n" + "".join("  " * (i + 1) + "-\n" for i in range(900))
    else:
        body = opener * 900 + "1" + closer * 900 + "\n"
    message = _refused(tmp_path, "name: q\ndescription: " + body)
    assert "deep" in message


def test_a_very_large_file_is_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, QUICKSTART + "# " + "x" * 2_000_000 + "\n")
    assert "MB" in message or "bytes" in message


@pytest.mark.parametrize(
    "raw",
    [
        QUICKSTART.encode().replace(b"quickstart", b"quick\xffstart", 1),  # invalid UTF-8
        bytes(range(256)) * 4,  # binary
        b"\x00\x00\x00\x00",
        QUICKSTART.encode().replace(b"seed: 0", b"seed: 0\x07"),  # a control character
    ],
)
def test_binary_and_invalid_utf8_are_refused(tmp_path: Path, raw: bytes) -> None:
    message = _refused(tmp_path, raw)
    assert "q.yaml" in message


def test_invalid_utf8_names_its_line(tmp_path: Path) -> None:
    raw = QUICKSTART.encode().replace(b"seed: 0", b"seed: \xc3\x28", 1)
    message = _refused(tmp_path, raw)
    assert f"q.yaml:{_line_of(QUICKSTART, 'seed:')}:" in message and "UTF-8" in message


def test_a_folder_is_not_a_study_file(tmp_path: Path) -> None:
    with pytest.raises(StudyFileError):
        load_study_file(tmp_path)
