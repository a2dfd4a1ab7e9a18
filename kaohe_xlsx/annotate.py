"""An annotated copy of a returned workbook: every problem cell marked and commented in Chinese.

The returned file is only read; the copy is a new file the office can send back to the group.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from .ingest import FileResult
from .issues import LEVEL_LABELS

FILLS = {"error": PatternFill("solid", fgColor="FFFF7C80"), "warning": PatternFill("solid", fgColor="FFF8CBAD")}


def annotated_copy(result: FileResult, out_dir: Path) -> Path | None:
    """Write ``<name>-核对意见.xlsx`` into ``out_dir``; None when the file has no cell to mark
    or cannot be opened as a workbook."""
    marked = [i for i in result.issues if i.sheet and i.cell and i.level in FILLS]
    if not marked:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(result.path)
    except Exception:  # a file that passed the checks but openpyxl cannot open: nothing to mark
        return None
    notes: dict[tuple[str, str], list[str]] = {}
    for issue in marked:
        notes.setdefault((issue.sheet, issue.cell), []).append(f"{LEVEL_LABELS[issue.level]}：{issue.message}")
    for (sheet, cell), lines in notes.items():
        if sheet not in workbook.sheetnames:
            continue
        worksheet = workbook[sheet]
        target = worksheet[cell]
        level = "error" if any(line.startswith(LEVEL_LABELS["error"]) for line in lines) else "warning"
        target.fill = FILLS[level]
        comment = Comment("\n".join(lines), "kaohe 核对")
        comment.width, comment.height = 300, 40 + 40 * len(lines)
        target.comment = comment
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result.path.stem}-核对意见.xlsx"
    workbook.save(path)
    return path
