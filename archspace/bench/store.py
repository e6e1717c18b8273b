"""A table's folder: protocol.json (what decides its numbers) and rows.jsonl (one line per trained (architecture, seed)).

Rows are appended and fsynced one at a time, so a build killed at any moment loses at most the line it was writing;
a torn last line is skipped on reading and the job it held is trained again.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from archspace import atomic
from archspace.bench.protocol import PROTOCOL_FILE, TableProtocol, protocol_json
from archspace.errors import ArchspaceError
from archspace.evaluate.table import ROWS_FILE, read_rows


class TableStore:
    """The folder of one trained-architecture table."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def rows_path(self) -> Path:
        return self.path / ROWS_FILE

    def protocol(self) -> TableProtocol | None:
        """The protocol the table was built with (None for a new folder)."""
        file = self.path / PROTOCOL_FILE
        if not file.exists():
            return None
        try:
            return TableProtocol.model_validate_json(file.read_text(encoding="utf-8"))
        except ValueError as err:
            raise ArchspaceError(f"{file}: not a table protocol ({str(err).splitlines()[0]})") from None

    def claim(self, protocol: TableProtocol) -> TableProtocol:
        """Start or resume a table with `protocol`; refuse a folder built with another one (one line naming the field).

        Only `n` may differ: a larger `n` extends the table, a smaller one trains nothing new.
        """
        have = self.protocol()
        if have is not None:
            old, new = have.identity(), protocol.identity()
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            if changed:
                field = changed[0]
                raise ArchspaceError(
                    f"{self.path}: built with another protocol ({field}: {old.get(field)!r} there, {new.get(field)!r} now); "
                    "use a new --out or the same settings"
                )
            protocol = protocol.model_copy(update={"n": max(have.n, protocol.n)})
        self.path.mkdir(parents=True, exist_ok=True)
        atomic.write_text(self.path / PROTOCOL_FILE, protocol_json(protocol))
        return protocol

    def rows(self) -> list[dict[str, Any]]:
        """Every complete row (a torn or damaged line is skipped)."""
        return read_rows(self.path)

    def done(self) -> set[tuple[str, int]]:
        return {(r["arch_id"], int(r["seed"])) for r in self.rows()}

    def append(self, row: dict[str, Any]) -> None:
        """Add one row durably (a torn line left by a kill is closed off first)."""
        self.path.mkdir(parents=True, exist_ok=True)
        line = json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n"
        with open(self.rows_path, "ab") as f:
            if f.tell() > 0 and not _ends_with_newline(self.rows_path):
                line = "\n" + line
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
