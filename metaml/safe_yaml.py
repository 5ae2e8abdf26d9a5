"""Reading a YAML file that may be hostile: bounded size, depth, aliases and numbers; every problem with its line.

PyYAML's ``safe_load`` runs no code, but it still lets a 1.5 KB file of nested aliases
("billion laughs") expand to hundreds of millions of values, recurses once per level of
nesting (900 levels raise RecursionError), turns a 5,000-digit integer into a ValueError,
keeps the last of two equal keys silently, and answers bad indentation in its own terms
("expected <block end>"). :func:`read_yaml` refuses each of these with a
:class:`~metaml.errors.StudyFileError` that names the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.reader import ReaderError

from metaml.errors import StudyFileError, shown

#: The largest file read (a study file is a few KB; this leaves room for big generated spaces).
MAX_FILE_BYTES = 1_000_000
#: How deep lists and mappings may nest, counting what aliases stand for.
MAX_DEPTH = 64
#: How many values (scalars, lists, mappings) a file may hold, counting what aliases stand for.
MAX_VALUES = 20_000
#: The most digits a number may have (a float ends at 1.8e308: 309 digits).
MAX_DIGITS = 400

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class YamlDocument:
    """A YAML file read within the limits: its text, its node tree (for lines) and its data."""

    text: str
    node: yaml.Node | None
    data: Any


class _Refused(Exception):
    """A limit the file crossed, at a place in it."""

    def __init__(self, message: str, mark: Any, node: yaml.Node | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = None if mark is None else mark.line + 1
        self.node = node


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that stops at ``MAX_DEPTH`` nesting and ``MAX_VALUES`` values while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._composed = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        self._composed += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"lists and mappings nest more than {MAX_DEPTH} deep here", self.peek_event().start_mark)
            if self._composed > MAX_VALUES:
                raise _Refused(f"the file holds more than {MAX_VALUES:,} values", self.peek_event().start_mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # PyYAML lets Python's own errors through for some scalars: !!int abc, a date 2001-13-45, !!bool x
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise _Refused(f"cannot read {shown(node.value)} as {_tag(node)}: {exc}", node.start_mark, node) from None


def _construct_int(loader: _BoundedLoader, node: yaml.ScalarNode) -> Any:
    digits = sum(c.isalnum() for c in str(node.value))
    if digits > MAX_DIGITS:
        raise _Refused(f"a number of {digits} digits (a number may have at most {MAX_DIGITS})", node.start_mark, node)
    return SafeConstructor.construct_yaml_int(loader, node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def read_yaml(path: Path) -> YamlDocument:
    """The file at ``path`` read as one YAML document, or a StudyFileError that says what and where."""
    text = _read_text(path)
    try:
        loader = _BoundedLoader(text)
    except ReaderError as exc:
        raise _reader_error(path, text, exc) from None
    node: yaml.Node | None = None
    try:
        node = loader.get_single_node()
        data = None
        if node is not None:
            _check_expansion(node)
            duplicate = _duplicate_key(node, (), set())
            if duplicate is not None:
                key, line, first = duplicate
                last = key.rsplit(".", 1)[-1]
                raise StudyFileError(
                    f"{path}:{line}: field '{key}': the key '{last}' appears twice (first on line {first}); "
                    "YAML would keep only the last one silently: remove one"
                )
            data = loader.construct_document(node)
    except _Refused as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        field = _field_of(node, exc.node) if node is not None and exc.node is not None else None
        raise StudyFileError(f"{where}: {f'field {field!r}: ' if field else ''}{exc.message}") from None
    except ReaderError as exc:
        raise _reader_error(path, text, exc) from None
    except yaml.YAMLError as exc:
        raise StudyFileError(_yaml_message(path, exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. an unhashable key that PyYAML's check lets through
        raise StudyFileError(f"{path}: not valid YAML: {type(exc).__name__}: {shown(str(exc))}") from None
    finally:
        loader.dispose()
    return YamlDocument(text=text, node=node, data=data)


def _read_text(path: Path) -> str:
    if not path.exists():
        raise StudyFileError(f"no study file at {path}")
    if path.is_dir():
        raise StudyFileError(f"{path} is a folder: give the study's YAML file, e.g. {path / 'study.yaml'}")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # never more, whatever the file claims to be
    except OSError as exc:
        raise StudyFileError(f"cannot read the study file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise StudyFileError(
            f"{path} is larger than {MAX_FILE_BYTES / 1e6:g} MB, the most a study file may be: is it the right file?"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StudyFileError(
            f"{path}:{line}: not UTF-8 text (the byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
            "a study file is YAML text saved as UTF-8; is it a binary file?"
        ) from None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse aliases that expand past ``MAX_VALUES`` values or ``MAX_DEPTH`` levels, or that contain themselves.

    Each distinct node is measured once (aliases share their node), so this costs the size of
    the file, not of its expansion.
    """
    measured: dict[int, tuple[int, int]] = {}  # id -> (values, height)
    open_nodes: set[int] = set()

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key not in measured:
            if key in open_nodes:
                raise _Refused("an alias stands for the value that holds it (a recursive alias)", node.start_mark)
            if depth > MAX_DEPTH:
                raise _Refused(f"aliases nest lists and mappings more than {MAX_DEPTH} deep", node.start_mark)
            open_nodes.add(key)
            size, height = 1, 1
            for child in _children(node):
                child_size, child_height = measure(child, depth + 1)
                size, height = size + child_size, max(height, child_height + 1)
                if size > MAX_VALUES:
                    raise _Refused(f"aliases expand the file to more than {MAX_VALUES:,} values", node.start_mark)
            open_nodes.discard(key)
            measured[key] = (size, height)
        size, height = measured[key]
        if depth + height - 1 > MAX_DEPTH:
            raise _Refused(f"aliases nest lists and mappings more than {MAX_DEPTH} deep", node.start_mark)
        return size, height

    measure(root, 1)


def _duplicate_key(node: yaml.Node, path: tuple[str, ...], seen: set[int]) -> tuple[str, int, int] | None:
    """(field, line, first line) of the first key that a mapping gives twice, or None."""
    if id(node) in seen:
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            key = path + (str(key_node.value),)
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                line = key_node.start_mark.line + 1
                if (key_node.tag, key_node.value) in first:
                    return ".".join(key), line, first[(key_node.tag, key_node.value)]
                first[(key_node.tag, key_node.value)] = line
            found = _duplicate_key(value_node, key, seen)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, path + (str(i),), seen)
            if found is not None:
                return found
    return None


def _field_of(root: yaml.Node, target: yaml.Node) -> str | None:
    """The dotted field at which ``target`` sits under ``root`` (e.g. space.width.upper), or None."""
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node is target:
            return ".".join(path) or None
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend((value, path + (str(key.value),)) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, path + (str(i),)) for i, item in enumerate(node.value))
    return None


def _tag(node: Any) -> str:
    tag = str(getattr(node, "tag", ""))
    return tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag


def _reader_error(path: Path, text: str, exc: ReaderError) -> StudyFileError:
    position = max(0, min(int(getattr(exc, "position", 0) or 0), len(text)))
    line = text[:position].count("\n") + 1
    character = exc.character if isinstance(exc.character, int) else None
    what = f"the character U+{character:04X}" if character is not None else "a character"
    return StudyFileError(f"{path}:{line}: {what} is not allowed in YAML text: is it a binary file?")


#: PyYAML's problems, in a user's words: (pattern, what to say); {context_line} is where the block began.
_PROBLEMS: tuple[tuple[str, str], ...] = (
    (r"expected <block end>",
     "this line is indented differently from the block that starts on line {context_line}: the fields of one "
     "mapping, and the items of one list, start in the same column (check the indentation here and above)"),
    (r"mapping values are not allowed here",
     "a ':' where no field can start: check this line's indentation against the line above, "
     "or quote a value that holds ': '"),
    (r"found character '\\t'", "a tab: YAML indents with spaces only (check the indentation of this line)"),
    (r"could not find expected ':'",
     "a line in a mapping without 'key: value': check its indentation, or add the missing ':'"),
    (r"did not find expected key",
     "a field at a column where the mapping (from line {context_line}) has none: check the indentation"),
    (r"did not find expected '-' indicator",
     "a list item at a column where the list (from line {context_line}) has none: check the indentation"),
    (r"sequence entries are not allowed here",
     "a '- ' list item where a value of a field was expected: check the indentation, or start the list on its own line"),
    (r"expected ',' or '\]'", "the list '[' opened on line {context_line} is not closed with ']'"),
    (r"expected ',' or '}'", "the mapping '{{' opened on line {context_line} is not closed with '}}'"),
    (r"found undefined alias", "an alias (*name) that no anchor (&name) before it defines"),
    (r"found unexpected end of stream", "a quote opened on line {context_line} is never closed"),
    (r"but found another document", "a study file is one YAML document: remove the '---' on this line"),
    (r"found character '(.)' that cannot start any token", "'{0}' cannot start a value: quote the value"),
)


def _yaml_message(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    problem = str(getattr(exc, "problem", None) or exc)
    context_line = context_mark.line + 1 if context_mark is not None else "?"
    for pattern, words in _PROBLEMS:
        match = re.search(pattern, problem)
        if match:
            return f"{where}: not valid YAML: {words.format(*match.groups(), context_line=context_line)}"
    # anything else: PyYAML's words on one line, without its <token> names
    plain = re.sub(r"<([a-z ]+)>", r"\1", " ".join(problem.split()))
    return f"{where}: not valid YAML: {plain}"
