"""Read a JSON or YAML document from a user's file, refusing hostile input cheaply and with one line.

Before parsing: the file must be a regular file of at most `MAX_FILE_BYTES` and valid UTF-8.
Parsing uses libyaml's safe loader when present (Python's otherwise) and Python's JSON parser.
After parsing, one bounded walk checks that the document is plain data: mappings with string keys,
lists, strings, booleans, null, integers and finite floats, nested at most `MAX_NESTING` deep, with at
most `MAX_NODES` nodes counted as if every YAML alias were expanded (so an alias bomb, whose
parsed form shares its lists, is refused without ever being expanded). Nothing here imports torch.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from archspace.errors import GenotypeError, join_path

MAX_FILE_BYTES = 4 * 2**20
MAX_NESTING = 64
MAX_NODES = 50_000

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LEAVES = (str, bool, int, type(None))


def _size_text(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def read_text(path: str | Path, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of `path`; a folder, a missing, unreadable, oversized or non-UTF-8 file is one GenotypeError."""
    path = Path(path)
    try:
        if path.is_dir():
            raise GenotypeError("", f"{path}: is a folder; give {what}s (e.g. {path}/*.json)")
        if not path.is_file():
            raise GenotypeError("", f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise GenotypeError("", f"{path}: {_size_text(size)} is too large for a {what} (limit {_size_text(max_bytes)})")
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as err:
        raise GenotypeError("", f"{path}: cannot read: {err.strerror or err}") from None
    if len(data) > max_bytes:
        raise GenotypeError("", f"{path}: larger than the {_size_text(max_bytes)} limit for a {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise GenotypeError("", f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})") from None


def _yaml_reason(err: yaml.YAMLError) -> str:
    problem = getattr(err, "problem", None)
    mark = getattr(err, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(err).splitlines()[0] if str(err) else type(err).__name__


_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _scan_yaml(text: str, name: str) -> None:
    """Refuse YAML nested deeper than MAX_NESTING or with more than MAX_NODES events, reading only its
    events (building the objects of a deep or huge document is what is slow, and deep nesting crashes libyaml's composer)."""
    depth = events = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        events += 1
        if events > MAX_NODES:
            raise GenotypeError("", f"{name}: more than {MAX_NODES:,} values; refused")
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_NESTING:
                raise GenotypeError("", f"{name}: nested more than {MAX_NESTING} levels deep; refused")
        elif isinstance(event, _CLOSE):
            depth -= 1


def parse_text(text: str, fmt: str, name: str = "<text>") -> Any:
    """Parse JSON or YAML text (fmt 'json' or 'yaml') and check it is plain, bounded data."""
    try:
        if fmt == "yaml":
            _scan_yaml(text, name)
        data = yaml.load(text, Loader=_YAML_LOADER) if fmt == "yaml" else json.loads(text)
    except GenotypeError:
        raise
    except json.JSONDecodeError as err:
        raise GenotypeError("", f"{name}: not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None
    except yaml.YAMLError as err:
        raise GenotypeError("", f"{name}: not valid YAML: {_yaml_reason(err)}") from None
    except RecursionError:
        raise GenotypeError("", f"{name}: nested more than {MAX_NESTING} levels deep; refused") from None
    except (ValueError, TypeError) as err:  # e.g. an integer literal of more than 4300 digits, an unhashable YAML key
        raise GenotypeError("", f"{name}: not valid {fmt.upper()}: {str(err).splitlines()[0]}") from None
    try:
        check_plain(data)
    except GenotypeError as err:
        raise GenotypeError(f"{name}: {err.path}" if err.path else name, err.reason) from None
    return data


def check_plain(data: Any, max_nesting: int = MAX_NESTING, max_nodes: int = MAX_NODES) -> None:
    """Refuse anything but bounded plain data (see the module docstring); the error names the field path."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    nodes = 0
    while stack:
        value, path, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise GenotypeError("", f"more than {max_nodes:,} values (a YAML alias counts each time it is used); refused")
        if depth > max_nesting:
            raise GenotypeError(path if len(path) <= 60 else path[:57] + "...", f"nested more than {max_nesting} levels deep; refused")
        if isinstance(value, (dict, list, tuple)) and nodes + len(stack) + len(value) > max_nodes:
            raise GenotypeError("", f"more than {max_nodes:,} values (a YAML alias counts each time it is used); refused")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise GenotypeError(path, f"must be a finite number, got {value}")
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise GenotypeError(path, f"keys must be strings, got {type(key).__name__} {key!r:.40}")
                stack.append((item, join_path(path, key), depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif not isinstance(value, _LEAVES):
            raise GenotypeError(path, f"must be a number, string, boolean, null, list or mapping, got {type(value).__name__}")


def load_document(path: str | Path, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read and parse `path` (YAML for .yaml/.yml, JSON otherwise) with every check above."""
    path = Path(path)
    text = read_text(path, what, max_bytes)
    return parse_text(text, "yaml" if path.suffix.lower() in (".yaml", ".yml") else "json", str(path))
