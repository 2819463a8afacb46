"""Analysis glue: library calls combined into the tables and numbers of one figure group (one module per notebook)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Findings"]


@dataclass
class Findings:
    """The headline numbers of one figure or table and the sentences that read them.

    `numbers` holds the keyword arguments of `cdt.report.Numbers.add` (key, value, file, note); a notebook records
    them and shows `text` as Markdown with ``nums.report(findings)``, so the wording, thresholds and published values
    behind the sentences live in the library (tested), not in the notebook.
    """

    text: str = ""
    numbers: list[dict[str, Any]] = field(default_factory=list)

    def add(self, key: tuple[str, str, str], value: Any, file: str = "", note: str = "") -> None:
        """Append one headline row (`key` = (paper, item, quantity))."""
        self.numbers.append({"key": key, "value": value, "file": file, "note": note})
