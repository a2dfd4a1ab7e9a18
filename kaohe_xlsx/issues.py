"""Problems found in returned workbooks, and errors that reach the user.

Every message starts with the place (file › sheet!cell) and ends with the fix.
Data problems are collected into a list of :class:`Issue`; :class:`KaoheError`
is raised only when a run cannot go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning", "info"]
LEVEL_LABELS: dict[str, str] = {"error": "错误", "warning": "警告", "info": "提示"}


class KaoheError(Exception):
    """A problem the user can act on; the CLI prints its message without a traceback."""


@dataclass(frozen=True)
class Issue:
    """One finding: how serious, what kind (a stable code), where, and what to do."""

    level: Level
    code: str
    file: str
    message: str
    sheet: str = ""
    cell: str = ""

    @property
    def place(self) -> str:
        where = self.file
        if self.sheet:
            where += f" › {self.sheet}"
            if self.cell:
                where += f"!{self.cell}"
        return where

    def line(self) -> str:
        return f"{LEVEL_LABELS[self.level]} [{self.place}] {self.message}"

