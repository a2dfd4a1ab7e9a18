"""Read returned scoring workbooks back and check every cell against what was sent.

A workbook is identified by its hidden metadata, never by its file name, and
checked against the campaign manifest the office kept: identity, sheets, every
locked cell (labels, maxima, formulas), protection, validation, and every input.
Scores are never read from the workbook: the inputs are returned as records for
the scoring engine. Nothing here writes to a returned file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from xlsxwriter.utility import xl_cell_to_rowcol

from . import __version__
from .generate import layout_digest, sheet_digest, validation_plan
from .issues import Issue, KaoheError, Level
from .layout import (
    COL_SCORE,
    COVER_SHEET,
    DONE_CELL,
    LAYOUT_VERSION,
    META_SHEET,
    SUMMARY_FIRST_ROW,
    SUMMARY_SHEET,
    SheetLayout,
    build_sheet_layout,
    ref,
    summary_cells,
    unit_title_rows,
)
from .model import NOT_PARTICIPATING, YES, InputSpec, Rubric, fmt
from .rubrics import RubricError, content_hash, parse_rubrics
from .safety import inspect_file
from .scoring import ItemScore, Value, score_item
from .xlsxread import RawCell, RawSheet, XlsxPackage, XlsxReadError

Status = Literal["accepted", "rejected"]
META_ROWS = 20
MAX_LISTED = 5  # changed cells listed one by one per sheet before summarising
TAMPERING = ("formula-changed", "value-typed-over", "label-changed")


@dataclass(frozen=True)
class CampaignManifest:
    """What the office issued: the campaign, its rubric and its workbooks."""

    path: Path
    data: dict[str, Any]
    rubric: Rubric

    @property
    def campaign(self) -> dict[str, Any]:
        return self.data["campaign"]

    @property
    def workbooks(self) -> dict[str, dict[str, Any]]:
        return {w["id"]: w for w in self.data["workbooks"]}

    @property
    def units(self) -> list[str]:
        return [unit for group in self.data["roster"] for unit in group["units"]]


def load_manifest(path: Path) -> CampaignManifest:
    """Read a campaign manifest and the rubric stored in it (checked against its hash)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, json.JSONDecodeError) as exc:
        raise KaoheError(f"无法读取考核清单 {path}：{exc}") from exc
    try:
        rubric = parse_rubrics({"format": 1, "rubrics": [data["rubric"]]}, path.name)[data["campaign"]["rubric_id"]]
    except (KeyError, TypeError, RubricError) as exc:
        raise KaoheError(f"考核清单 {path.name} 不完整或已损坏（{exc}），请使用生成考核表时保存的原文件") from exc
    issued_with = data["campaign"].get("layout_version")
    if issued_with != LAYOUT_VERSION:
        raise KaoheError(
            f"考核清单 {path.name} 的考核表由 kaohe {data['campaign'].get('tool_version', '旧版')}（表格格式 {issued_with}）"
            f"生成，当前 kaohe {__version__} 的表格格式为 {LAYOUT_VERSION}；请用生成考核表时的 kaohe 版本核对"
        )
    if content_hash(rubric) != data["campaign"]["rubric_hash"]:
        raise KaoheError(f"考核清单 {path.name} 中的考评细则与其指纹不符，清单可能被改动过，请使用原文件")
    return CampaignManifest(path, data, rubric)


@dataclass
class UnitRecord:
    """One unit's entries from one workbook: the scoring engine's inputs and where they came from."""

    unit: str
    workbook_id: str
    file: str
    sheet: str
    assessor: str
    item_ids: tuple[str, ...]
    inputs: dict[tuple[str, str], Value] = field(default_factory=dict)
    addresses: dict[tuple[str, str], str] = field(default_factory=dict)
    entries: dict[tuple[str, str], str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    self_scores: dict[str, Decimal] = field(default_factory=dict)
    remarks: dict[str, str] = field(default_factory=dict)
    done: bool = False


@dataclass
class FileResult:
    """One file read: its identity, what was accepted from it and every finding."""

    path: Path
    sha256: str
    size: int
    saved_at: str = ""
    application: str = ""
    workbook_id: str = ""
    assessor: str = ""
    status: Status = "accepted"
    reason: str = ""
    tampered: bool = False
    units: list[UnitRecord] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def add(self, level: Level, code: str, message: str, sheet: str = "", cell: str = "") -> None:
        self.issues.append(Issue(level, code, self.name, message, sheet, cell))

    def reject(self, code: str, message: str, sheet: str = "", cell: str = "") -> None:
        self.add("error", code, message, sheet, cell)
        if self.status != "rejected":
            self.status, self.reason = "rejected", message


# --- entries -------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def _significant(text: str) -> Decimal:
    """A stored number as people meant it: binary noise beyond 15 significant digits dropped."""
    value = Decimal(text)
    if value == 0:
        return Decimal(0)
    return Decimal(format(float(value), ".15g")).normalize()


@dataclass(frozen=True)
class Entry:
    """An input cell read and judged: the value to score, and what to tell the user."""

    value: Value
    display: str = ""
    level: Level | None = None
    code: str = ""
    message: str = ""


def _clean_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def read_entry(raw: RawCell | None, spec: InputSpec, percent: bool = False, date: bool = False) -> Entry:
    """Judge one input cell against its rule: normalise what is unambiguous, refuse the rest."""
    if raw is None or (raw.formula is None and (raw.text is None or raw.text == "")):
        return Entry(None)
    if raw.formula is not None:
        return Entry(None, raw.formula, "error", "formula-in-input", f"填写格里是公式 {raw.formula}，请直接填写数值")
    text = raw.text or ""
    if raw.type == "e":
        return Entry(None, text, "error", "not-a-number", f"填写格里是错误值 {text}，{spec.describe()}")
    if raw.type == "b":
        return Entry(
            None, "TRUE" if text == "1" else "FALSE", "error", "not-a-number", f"填写格里是逻辑值，{spec.describe()}"
        )
    if spec.kind in ("flag", "choice"):
        cleaned = _clean_text(text)
        if cleaned not in spec.choices:
            return Entry(None, text, "error", "out-of-range", f"“{text}”不是可选项，{spec.describe()}")
        if cleaned != text:
            return Entry(cleaned, text, "warning", "number-as-text", f"“{text}”含多余空格或全角字符，已按“{cleaned}”计")
        return Entry(cleaned, text)
    note = ""
    if raw.type in ("s", "str"):
        cleaned = _clean_text(text)
        if spec.allow_not_participating and cleaned == NOT_PARTICIPATING:
            return Entry(NOT_PARTICIPATING, text)
        if not _NUMBER.fullmatch(cleaned):
            return Entry(None, text, "error", "not-a-number", f"“{text}”不是数字，{spec.describe()}")
        number = Decimal(cleaned)
        note = f"“{text}”是文本格式的数字，已按 {fmt(number)} 计"
    else:
        try:
            number = _significant(text)
        except (InvalidOperation, ValueError):
            return Entry(None, text, "error", "not-a-number", f"“{text}”不是数字，{spec.describe()}")
        if date:
            return Entry(
                None,
                text,
                "error",
                "not-a-number",
                f"填写格被识别成了日期（{text}），请把单元格格式改为常规后重新填写数字",
            )
        if percent:
            if spec.maximum == 100:
                number = (number * 100).normalize()
                note = f"填写的是百分数，已按 {fmt(number)} 计"
            else:
                return Entry(None, text, "error", "not-a-number", f"填写的是百分数（{text}），{spec.describe()}")
    display = fmt(number)
    problem = _check_number(number, spec)
    if problem:
        return Entry(None, display, "error", problem[0], problem[1])
    value: Value = int(number) if spec.kind == "count" else number
    if note:
        return Entry(value, text, "warning", "number-as-text", note)
    return Entry(value, display)


def _check_number(number: Decimal, spec: InputSpec) -> tuple[str, str] | None:
    limits = f"{fmt(spec.minimum)}–{fmt(spec.maximum)}"
    if number < spec.minimum or number > spec.maximum:
        return "out-of-range", f"{fmt(number)} 超出范围，{spec.describe()}"
    if spec.kind == "count" and number != number.to_integral_value():
        return "not-whole", f"{fmt(number)} 不是整数，{spec.describe()}"
    if spec.kind == "number" and (number / spec.step) % 1:
        return "off-step", f"{fmt(number)} 不是 {fmt(spec.step)} 的整数倍（范围 {limits}），{spec.describe()}"
    if spec.nonzero_minimum and 0 < number < spec.nonzero_minimum:
        return "out-of-range", f"{fmt(number)} 不在扣分幅度内，{spec.describe()}"
    return None


# --- locked content ------------------------------------------------------------------------

_STRING_LITERAL = re.compile(r'"[^"]*"|\'[^\']*\'')  # text, and quoted sheet names


@functools.lru_cache(maxsize=65536)
def normalise_formula(formula: str) -> str:
    """Formula text compared loosely: no "=", no spaces and upper case outside string literals."""
    text = formula.lstrip("=")
    parts = []
    position = 0
    for match in _STRING_LITERAL.finditer(text):
        parts.append(text[position : match.start()].replace(" ", "").upper())
        parts.append(match.group())
        position = match.end()
    parts.append(text[position:].replace(" ", "").upper())
    return "".join(parts)


@dataclass(frozen=True)
class Expected:
    """The locked content of one cell as issued."""

    address: str
    formula: str | None = None
    text: str | None = None
    number: Decimal | None = None


def expected_cells(cells: Iterable[Any]) -> list[Expected]:
    expected = []
    for cell in cells:
        if cell.role == "formula":
            expected.append(Expected(cell.address, formula=normalise_formula(cell.formula)))
        elif cell.role == "number":
            expected.append(Expected(cell.address, number=Decimal(cell.value)))
        elif cell.role == "label":
            expected.append(Expected(cell.address, text=cell.value))
    return expected


def _number_of(raw: RawCell) -> Decimal | None:
    try:
        return _significant(raw.text) if raw.text not in (None, "") and raw.type == "n" else None  # type: ignore[arg-type]
    except (InvalidOperation, ValueError):
        return None


def compare_locked(
    result: FileResult, package: XlsxPackage, sheet: RawSheet, expected: Sequence[Expected]
) -> tuple[int, int]:
    """Report every locked cell that differs from what was issued.

    Returns (changed cells, changed labels): a changed label (text, maximum, unit name) puts
    the meaning of the sheet's inputs in doubt; a changed formula or typed-over total does not.
    """
    changed = labels = 0
    unlocked = []
    for want in expected:
        raw = sheet.cells.get(want.address)
        problem = _locked_problem(want, raw)
        if problem is not None:
            changed += 1
            labels += problem[0] == "label-changed"
            if changed <= MAX_LISTED:
                result.add("error", problem[0], problem[1], sheet.name, want.address)
        elif want.formula is not None and raw is not None and not package.style(raw.style).locked:
            unlocked.append(want.address)
    if changed > MAX_LISTED:
        result.add(
            "error",
            "label-changed",
            f"另有 {changed - MAX_LISTED} 处锁定内容被改动（可能插入、删除或移动了行），请用原表重新填写",
            sheet.name,
        )
    if unlocked:
        result.add(
            "warning",
            "formula-unlocked",
            f"{len(unlocked)} 个公式格被取消锁定（如 {unlocked[0]}），公式本身未变",
            sheet.name,
            unlocked[0],
        )
    return changed, labels


def _locked_problem(want: Expected, raw: RawCell | None) -> tuple[str, str] | None:
    if want.formula is not None:
        if raw is None or raw.formula is None:
            if raw is not None and raw.text not in (None, ""):
                return "value-typed-over", f"公式被改成了数值 {raw.text}（原公式 ={want.formula}），请恢复原表的公式"
            return "formula-changed", f"公式被删除（原公式 ={want.formula}），请恢复原表的公式"
        if normalise_formula(raw.formula) != want.formula:
            return "formula-changed", f"公式被改动：现为 {raw.formula}，原为 ={want.formula}；请恢复原表的公式"
        return None
    if want.number is not None:
        got = _number_of(raw) if raw is not None else None
        if got != want.number:
            shown = raw.text if raw is not None else "空"
            return "label-changed", f"分值被改动：现为 {shown}，原为 {fmt(want.number)}；请恢复原表"
        return None
    got_text = raw.text if raw is not None else None
    if got_text != want.text:
        return "label-changed", f"锁定文字被改动：现为“{_short(got_text)}”，原为“{_short(want.text)}”；请恢复原表"
    return None


def _short(text: str | None, limit: int = 24) -> str:
    if not text:
        return "空"
    return text if len(text) <= limit else text[:limit] + "…"


# --- reading one workbook --------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedSheet:
    """What every unit sheet of one workbook was issued with: layout, locked cells, validations,
    and the digest state of its locked cells (the manifest's fingerprint, without the titles)."""

    layout: SheetLayout
    locked: list[Expected]
    validations: dict[str, tuple[str, str, str]]
    digest: Any


class LayoutCache:
    """Issued sheets by (items, unit rules), worked out once per run."""

    def __init__(self, rubric: Rubric):
        self.rubric = rubric
        self.sheets: dict[tuple[tuple[str, ...], bool], IssuedSheet] = {}

    def get(self, record: dict[str, Any]) -> IssuedSheet:
        key = (tuple(record["items"]), bool(record["unit_rules"]))
        if key not in self.sheets:
            wanted = set(key[0])
            layout = build_sheet_layout(
                self.rubric, [i for i in self.rubric.items if i.id in wanted], unit_rules=key[1]
            )
            self.sheets[key] = IssuedSheet(
                layout, expected_cells(layout.cells), issued_validations(layout), layout_digest(layout)
            )
        return self.sheets[key]


def _metadata(package: XlsxPackage) -> tuple[RawSheet | None, dict[str, str], dict[str, str]]:
    """The metadata sheet, its key/value pairs and the cell of each value."""
    sheet = next((s for s in package.sheets if s.name == META_SHEET), None)
    if sheet is None:
        return None, {}, {}
    head = package.head(sheet, META_ROWS)
    values, cells = {}, {}
    for row in range(3, META_ROWS + 1):
        key, value = head.cells.get(f"A{row}"), head.cells.get(f"B{row}")
        if key is not None and key.text:
            values[key.text] = value.text if value is not None and value.text is not None else ""
            cells[key.text] = f"B{row}"
    return sheet, values, cells


def _identify(result: FileResult, package: XlsxPackage, manifest: CampaignManifest) -> dict[str, Any] | None:
    """The manifest's record of this workbook, or None (rejected) when it cannot be identified."""
    sheet, meta, rows = _metadata(package)
    if sheet is None or "workbook_id" not in meta:
        message = "找不到隐藏的考核表标识（_kaohe 工作表被删除），无法确认是哪一份考核表；请用下发的原表重新填写"
        result.reject("no-metadata", message, META_SHEET)
        return None
    campaign = manifest.campaign
    if meta.get("campaign_id") != campaign["id"]:
        result.reject(
            "unknown-campaign", f"这份考核表不属于本次考核（属于“{meta.get('campaign_title', '未知')}”），请确认文件"
        )
        return None
    record = manifest.workbooks.get(meta["workbook_id"])
    if record is None:
        message = f"考核清单中没有编号为 {meta['workbook_id']} 的考核表，请确认是否为下发的文件"
        result.reject("unknown-workbook", message, META_SHEET, rows.get("workbook_id", ""))
        return None
    result.workbook_id, result.assessor = record["id"], record["assessor"]
    issued = {
        "campaign_title": campaign["title"],
        "assessor": record["assessor"],
        "split": campaign["split"],
        "rubric_id": campaign["rubric_id"],
        "rubric_version": campaign["rubric_version"],
        "rubric_hash": campaign["rubric_hash"],
        "units": str(len(record["units"])),
        "layout_version": str(LAYOUT_VERSION),
    }
    for key, want in issued.items():
        if meta.get(key) != want:
            message = f"隐藏标识“{key}”被改动：现为“{meta.get(key, '')}”，原为“{want}”；请用下发的原表重新填写"
            result.reject("metadata-edited", message, META_SHEET, rows.get(key, ""))
    if sheet.state == "visible":
        result.add("warning", "metadata-visible", "隐藏的考核表标识工作表被取消隐藏，内容未变，可以接受", META_SHEET)
    elif sheet.state == "hidden":
        result.add(
            "info",
            "metadata-visible",
            "考核表标识工作表由“非常隐藏”变为“隐藏”（LibreOffice 或 WPS 保存时会这样），内容未变",
            META_SHEET,
        )
    return record


def _find_sheets(
    result: FileResult, package: XlsxPackage, record: dict[str, Any], titles: dict[str, str]
) -> dict[str, RawSheet]:
    """Unit sheets by unit: by name, or a renamed sheet recognised by its title row."""
    by_name = {sheet.name: sheet for sheet in package.sheets}
    found: dict[str, RawSheet] = {}
    expected_names = {s["name"] for s in record["sheets"]}
    spare = [s for s in package.sheets if s.name not in expected_names | {COVER_SHEET, SUMMARY_SHEET, META_SHEET}]
    for entry in record["sheets"]:
        sheet = by_name.get(entry["name"])
        if sheet is None:
            match = next(
                (s for s in spare if (package.load(s).cells.get("A2") or RawCell(None)).text == titles[entry["unit"]]),
                None,
            )
            if match is not None:
                spare.remove(match)
                result.add(
                    "warning",
                    "sheet-renamed",
                    f"工作表“{entry['name']}”被改名为“{match.name}”，已按表内单位名识别；下次请勿改名",
                    match.name,
                )
                sheet = match
        if sheet is None:
            result.add(
                "error",
                "sheet-missing",
                f"找不到单位“{entry['unit']}”的工作表“{entry['name']}”（被删除），该单位没有成绩；请补交",
                entry["name"],
            )
            continue
        found[entry["unit"]] = package.load(sheet)
    for sheet in spare:
        result.add("warning", "sheet-extra", f"多出工作表“{sheet.name}”，已忽略", sheet.name)
    for name in (COVER_SHEET, SUMMARY_SHEET):
        if name not in by_name:
            result.add("warning", "sheet-missing", f"“{name}”工作表被删除（不影响成绩）", name)
    return found


def _validation_meaning(kind: str, formula1: str | None, formula2: str | None) -> tuple[str, str, str]:
    """What a validation allows, compared loosely (LibreOffice rewrites attributes on save)."""
    if kind == "list":
        return kind, formula1 or "", ""
    if kind == "custom":
        return kind, normalise_formula(formula1 or ""), ""
    return kind, formula1 or "", formula2 or ""


def issued_validations(layout: SheetLayout) -> dict[str, tuple[str, str, str]]:
    """The validation each input cell was issued with, by address."""
    issued: dict[str, tuple[str, str, str]] = {}
    for row, col, options in validation_plan(layout)[0]:
        kind = {"integer": "whole"}.get(options["validate"], options["validate"])
        if kind == "list":
            meaning = (kind, '"' + ",".join(options["source"]) + '"', "")
        elif kind == "whole":
            meaning = (kind, str(options["minimum"]), str(options["maximum"]))
        else:
            meaning = _validation_meaning(kind, options["value"], None)
        for address in options.get("multi_range", ref(row, col)).split():
            issued[address] = meaning
    return issued


def _cells_of_range(part: str) -> list[str]:
    if ":" not in part:
        return [part]
    (first_row, first_col), (last_row, last_col) = (xl_cell_to_rowcol(end) for end in part.split(":"))
    return [ref(row, col) for row in range(first_row, last_row + 1) for col in range(first_col, last_col + 1)]


def _check_validations(result: FileResult, sheet: RawSheet, issued: dict[str, tuple[str, str, str]]) -> None:
    found: dict[str, tuple[str, str, str]] = {}
    for validation in sheet.validations:
        meaning = _validation_meaning(validation.type, validation.formula1, validation.formula2)
        for part in validation.sqref.replace("$", "").split():
            for address in _cells_of_range(part):  # LibreOffice joins adjacent cells into ranges
                found[address] = meaning
    changed = [address for address, meaning in issued.items() if found.get(address) != meaning]
    if changed:
        result.add(
            "warning",
            "validation-changed",
            f"{len(changed)} 个填写格的数据验证被删除或改动（如 {changed[0]}）；填写值仍按细则逐一核对",
            sheet.name,
            changed[0],
        )


def _read_unit(
    result: FileResult,
    package: XlsxPackage,
    sheet: RawSheet,
    unit: str,
    record: dict[str, Any],
    layout: SheetLayout,
    rubric: Rubric,
) -> UnitRecord:
    """The unit's entries, each judged; reasons, self scores, remarks, completion."""
    unit_record = UnitRecord(unit, record["id"], result.name, sheet.name, record["assessor"], tuple(record["items"]))
    for cell in layout.inputs:
        raw = sheet.cells.get(cell.address)
        if cell.field == "reason":
            text = (raw.text or "").strip() if raw is not None else ""
            if text:
                unit_record.reasons[cell.item_id] = text
            continue
        assert cell.spec is not None
        style = package.style(raw.style) if raw is not None else None
        entry = read_entry(
            raw,
            cell.spec,
            percent=style is not None and style.kind == "percent",
            date=style is not None and style.kind == "date",
        )
        if entry.level is not None:
            result.add(entry.level, entry.code, f"{cell.label}：{entry.message}", sheet.name, cell.address)
        if entry.value is None:
            continue
        if cell.field == "done":
            unit_record.done = entry.value == YES
        elif cell.field == "self":
            unit_record.self_scores[cell.item_id] = Decimal(entry.value)  # type: ignore[arg-type]
        else:
            unit_record.inputs[cell.key] = True if entry.value == YES else False if entry.value == "否" else entry.value
            unit_record.addresses[cell.key] = cell.address
            unit_record.entries[cell.key] = entry.display
    unit_record.remarks = dict(sheet.comments)
    for address, text in sheet.comments.items():
        result.add("info", "cell-comment", f"单元格批注已作为备注保留：{_short(text, 40)}", sheet.name, address)
    scores = {
        item_id: score_item(rubric.item(item_id), unit_record.inputs, rubric.decimals) for item_id in layout.item_rows
    }
    _check_reasons(result, sheet, layout, rubric, unit_record, scores)
    _check_caches(result, sheet, layout, scores)
    return unit_record


def _check_reasons(
    result: FileResult,
    sheet: RawSheet,
    layout: SheetLayout,
    rubric: Rubric,
    unit: UnitRecord,
    scores: dict[str, ItemScore],
) -> None:
    for item_id in layout.item_rows:
        item = rubric.item(item_id)
        if not item.needs_reason:
            continue
        scored = scores[item_id]
        if (scored.score < item.max_points or scored.bonus > 0) and item_id not in unit.reasons:
            reason_cell = next(c.address for c in layout.inputs if c.item_id == item_id and c.field == "reason")
            result.add(
                "warning",
                "reason-missing",
                f"第 {item_id} 项有扣分或加分，但没有写明理由，请补充说明",
                sheet.name,
                reason_cell,
            )


def _check_caches(result: FileResult, sheet: RawSheet, layout: SheetLayout, scores: dict[str, ItemScore]) -> None:
    """Cached formula results are never used; say where they disagree with the recomputation."""
    stale = []
    for item_id, row in layout.item_rows.items():
        raw = sheet.cells.get(ref(row, COL_SCORE))
        if raw is None or raw.formula is None:
            continue
        if raw.type == "e" or (_number_of(raw) is not None and _number_of(raw) != scores[item_id].score):
            stale.append(ref(row, COL_SCORE))
    total = sheet.cells.get(layout.total_cell)
    if total is not None and total.formula is not None:
        expected_total = sum((s.score + s.bonus for s in scores.values()), Decimal(0))
        cached = _number_of(total)
        if total.type == "e" or (cached is not None and cached != expected_total):
            stale.append(layout.total_cell)
    if stale:
        result.add(
            "info",
            "cache-stale",
            f"{len(stale)} 个公式格保存的结果与重新计算不同（如 {stale[0]}），以重新计算为准",
            sheet.name,
            stale[0],
        )


def _saved_at(package: XlsxPackage, path: Path) -> str:
    modified = package.properties.get("modified", "")
    if modified:
        return modified
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).isoformat(timespec="seconds")


def _fingerprint(path: Path) -> tuple[str, int]:
    """sha256 and size, streamed (a returned file may be huge); empty when unreadable."""
    try:
        with path.open("rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest(), path.stat().st_size
    except OSError:
        return "", 0


def read_workbook(path: Path, manifest: CampaignManifest, layouts: LayoutCache | None = None) -> FileResult:
    """Read and check one returned file. Never raises for a bad file: problems become issues."""
    result = FileResult(path, *_fingerprint(path))
    verdict = inspect_file(path)
    if not verdict.ok:
        result.reject(verdict.code, verdict.message)
        return result
    if verdict.macros:
        result.add("warning", "macros", verdict.message)
    layouts = layouts or LayoutCache(manifest.rubric)
    try:
        with XlsxPackage(path) as package:
            result.saved_at = _saved_at(package, path)
            result.application = package.properties.get("Application", "")
            _read_package(result, package, manifest, layouts)
    except XlsxReadError as exc:
        result.reject("damaged", f"文件内容无法读取（{exc}），请重新保存后发送")
    return result


def _read_package(result: FileResult, package: XlsxPackage, manifest: CampaignManifest, layouts: LayoutCache) -> None:
    record = _identify(result, package, manifest)
    if record is None:
        return
    rubric = manifest.rubric
    issued = layouts.get(record)
    layout = issued.layout
    campaign = manifest.campaign
    rows = {
        unit: unit_title_rows(campaign["title"], campaign["split"], record["assessor"], unit)
        for unit in record["units"]
    }
    fingerprints = {entry["unit"]: entry["digest"] for entry in record["sheets"]}
    if any(sheet_digest(issued.digest, rows[unit]) != fingerprints[unit] for unit in record["units"]):
        raise KaoheError(
            f"考核清单中“{record['assessor']}”考核表的指纹与本版 kaohe 重建的表格不符，无法逐格核对；"
            "请用生成考核表时的 kaohe 版本核对"
        )
    sheets = _find_sheets(result, package, record, {unit: titles[1][1] for unit, titles in rows.items()})
    for unit, sheet in sheets.items():
        title_cells = [Expected(ref(row, 0), text=text) for row, text, _ in rows[unit]]
        changed, labels = compare_locked(result, package, sheet, [*title_cells, *issued.locked])
        if labels or changed > MAX_LISTED:
            result.add(
                "error",
                "label-changed",
                f"单位“{unit}”的表内容与下发的不一致，本表的填写值无法确认，不计分；请用原表重新填写",
                sheet.name,
            )
            continue
        if not sheet.protected:
            unchanged = "锁定内容未变，可以接受" if not changed else "另见上面的改动"
            result.add("warning", "protection-removed", f"工作表保护被取消，{unchanged}", sheet.name)
        _check_validations(result, sheet, issued.validations)
        result.units.append(_read_unit(result, package, sheet, unit, record, layout, rubric))
    summary = package.sheet(SUMMARY_SHEET)
    if summary is not None:
        # a renamed sheet is referred to by its new name (Excel rewrites the formulas);
        # the row of a deleted sheet cannot be checked
        names = [
            sheets[unit].name if unit in sheets else entry["name"]
            for unit, entry in zip(record["units"], record["sheets"], strict=True)
        ]
        cells = summary_cells(rubric, layout, record["assessor"], record["units"], names)
        missing_rows = {row for row, unit in enumerate(record["units"], start=SUMMARY_FIRST_ROW) if unit not in sheets}
        compare_locked(result, package, summary, expected_cells(c for c in cells if c.row not in missing_rows))
    result.tampered = any(issue.code in TAMPERING for issue in result.issues)
    entered = [u for u in result.units if u.done or u.inputs]
    if result.units and not entered:
        result.reject("no-scores", "没有任何单位填写了成绩（空白表），请填写后再发送")
    for unit in result.units:
        if not unit.done:
            level: Level = "warning" if unit.inputs else "info"
            hint = "已填写但" if unit.inputs else ""
            result.add(
                level,
                "not-assessed",
                f"单位“{unit.unit}”{hint}未选“本单位考核已完成”，视为尚未考核，不计入排名",
                unit.sheet,
                ref(*DONE_CELL),
            )


def collect_files(targets: Iterable[Path]) -> list[Path]:
    """Files from files and folders (folders: every file inside, sorted; manifests and lock files skipped)."""
    files: list[Path] = []
    for target in targets:
        if target.is_dir():
            files += sorted(p for p in target.rglob("*") if p.is_file() and not _skipped(p))
        else:
            files.append(target)
    return files


def _skipped(path: Path) -> bool:
    return path.name.endswith(".kaohe.json") or path.name.startswith(("~$", ".~lock"))


def find_manifest(targets: Sequence[Path]) -> Path:
    """The campaign manifest among or beside the given files and folders."""
    candidates: list[Path] = []
    for target in targets:
        folder = target if target.is_dir() else target.parent
        candidates += sorted(folder.glob("*.kaohe.json"))
    unique = sorted(set(candidates))
    if len(unique) == 1:
        return unique[0]
    if not unique:
        raise KaoheError("找不到考核清单（*.kaohe.json）。请用 --manifest 指定生成考核表时保存的考核清单")
    raise KaoheError(f"找到多个考核清单（{'、'.join(p.name for p in unique)}），请用 --manifest 指定一个")
