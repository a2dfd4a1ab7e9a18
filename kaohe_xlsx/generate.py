"""Write the scoring workbooks of a campaign with xlsxwriter, and the campaign manifest.

One workbook per assignment (an inspection group's units with the whole rubric,
or an assessing department's items for every unit), each with a cover sheet
(说明), one protected sheet per unit, a summary (汇总) and a very hidden
metadata sheet that identifies it. The manifest that the office keeps records
every workbook's id, file, sha256 and a digest of every sheet's locked cells.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.workbook import Format, Workbook
from xlsxwriter.worksheet import Worksheet

from . import __version__
from .click_zh import display_width
from .issues import KaoheError
from .layout import (
    COL_REASON,
    COVER_SHEET,
    DONE_CELL,
    HEADER_ROW,
    LAYOUT_VERSION,
    META_SHEET,
    SUMMARY_SHEET,
    Cell,
    InputCell,
    SheetLayout,
    build_sheet_layout,
    missing_reason_formula,
    ref,
    safe_file_name,
    sheet_names,
    summary_cells,
    unit_title_rows,
)
from .model import NOT_PARTICIPATING, InputSpec, Item, Rubric, fmt
from .resources import resource_path
from .roster import Group, Roster
from .rubrics import content_hash, rubric_to_dict

MANIFEST_NAME = "考核清单.kaohe.json"
MANIFEST_FORMAT = 1
WORKBOOK_FORMAT = 1
MESSAGE_LIMIT = 255
TITLE_LIMIT = 32

Split = Literal["group", "assessor"]
Progress = Callable[[int, int, str], None]


class GenerateError(KaoheError):
    """The campaign cannot be written (existing files, bad template, a writer refusal)."""


@dataclass(frozen=True)
class Campaign:
    rubric: Rubric
    roster: Roster
    title: str
    year: int | None
    deadline: str
    office: str
    split: Split = "group"


@dataclass(frozen=True)
class Assignment:
    """Who scores what: an assessor (group or department), its units and its items."""

    assessor: str
    units: tuple[str, ...]
    item_ids: tuple[str, ...]
    unit_rules: bool
    group: Group | None = None


@dataclass
class Manifest:
    data: dict[str, Any]
    path: Path
    workbooks: list[dict[str, Any]] = field(default_factory=list)


def assignments(campaign: Campaign) -> list[Assignment]:
    """The (unit, item) cells each assessor scores: by group, or by assessing department."""
    rubric = campaign.rubric
    all_items = tuple(item.id for item in rubric.items)
    if campaign.split == "group":
        return [Assignment(g.name, g.units, all_items, True, g) for g in campaign.roster.groups if g.units]
    by_assessor: dict[str, list[str]] = {}
    for section in rubric.sections:
        for item in section.items:
            assessor = item.assessor or section.assessor or "考核办"
            by_assessor.setdefault(assessor, []).append(item.id)
    units = campaign.roster.units
    result = [Assignment(name, units, tuple(items), False) for name, items in by_assessor.items()]
    if rubric.unit_rules:
        result.append(Assignment("否决和降档认定", units, (), True))
    return result


def load_template(path: Path | None = None) -> dict[str, Any]:
    """The look of the workbooks (fonts, colours, widths, instructions, print setup)."""
    path = path or resource_path("templates/default.json")
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GenerateError(f"无法读取样式模板 {path}：{exc}") from exc
    for key in ("fonts", "colours", "columns", "print", "instructions"):
        if key not in data:
            raise GenerateError(f"[{path.name}] 样式模板缺少“{key}”")
    return data


def close(workbook: Workbook, path: Path) -> None:
    """Write the workbook to disk, in Chinese when the file cannot be written."""
    try:
        workbook.close()
    except (FileCreateError, OSError) as exc:
        raise GenerateError(f"无法写入 {path}（文件可能正在 Excel 或 WPS 中打开，或没有写入权限）：{exc}") from exc


def checked(result: int | None, what: str) -> None:
    """xlsxwriter returns -1/-2 instead of raising: turn that into an error."""
    if result not in (None, 0):
        raise GenerateError(f"写入工作簿时出错（{what}，返回 {result}）")


class _Styles:
    """The workbook's cell formats, built once from the template."""

    def __init__(self, workbook: Workbook, template: dict[str, Any]):
        fonts, colours = template["fonts"], template["colours"]
        body = {"font_name": fonts["body"], "font_size": fonts["body_size"], "valign": "vcenter"}
        boxed = {**body, "border": 1, "border_color": colours["border"]}
        self.formats: dict[str, Format] = {}

        def add(name: str, **props: Any) -> None:
            self.formats[name] = workbook.add_format(props)

        add(
            "title",
            font_name=fonts["title"],
            font_size=fonts["title_size"],
            bold=True,
            align="center",
            valign="vcenter",
        )
        add("subtitle", font_name=fonts["title"], font_size=fonts["subtitle_size"], bold=True, valign="vcenter")
        add("note", **{**body, "font_size": fonts["small_size"], "text_wrap": True})
        add("done_label", **{**body, "bold": True, "text_wrap": True})
        add("header", **{**boxed, "bold": True, "align": "center", "text_wrap": True, "bg_color": colours["header"]})
        add("section", **{**boxed, "bold": True, "bg_color": colours["section"]})
        add("section_points", **{**boxed, "bold": True, "align": "center", "bg_color": colours["section"]})
        add("section_score", **{**boxed, "bold": True, "align": "center", "bg_color": colours["section"]})
        add("item_id", **{**boxed, "align": "center", "valign": "top"})
        add("item_text", **{**boxed, "text_wrap": True, "valign": "top"})
        add("rule_text", **{**boxed, "text_wrap": True, "font_size": fonts["small_size"], "indent": 1})
        add("points", **{**boxed, "align": "center", "valign": "top"})
        add("amount", **{**boxed, "align": "center", "font_size": fonts["small_size"]})
        add("score", **{**boxed, "align": "center", "valign": "top", "bold": True})
        add("total_label", **{**boxed, "bold": True, "align": "right", "bg_color": colours["total"]})
        add("total", **{**boxed, "bold": True, "align": "center", "bg_color": colours["total"]})
        add("input", **{**boxed, "align": "center", "locked": False, "bg_color": colours["input"]})
        add("reason", **{**boxed, "text_wrap": True, "locked": False, "bg_color": colours["input"], "valign": "top"})
        add("signature", **{**body, "bold": True})
        add("cell", **boxed)
        add("cell_wrap", **{**boxed, "text_wrap": True})
        add("cell_center", **{**boxed, "align": "center"})
        add("missing", bg_color=colours["missing"])
        add("invalid", bg_color=colours["invalid"], font_color="#FFFFFF")

    def __getitem__(self, name: str) -> Format:
        return self.formats[name]


def validity_formula(spec: InputSpec, cell: str) -> str:
    """TRUE when ``cell`` holds an acceptable entry (blank included), as an Excel formula.

    Numbers are tested inside IF(ISNUMBER(…)): OR and AND evaluate every argument, and
    text divided by a step is #VALUE!, which would refuse "不参加" and hide bad text.
    """
    if spec.kind in ("flag", "choice"):
        options = ",".join(f'{cell}="{choice}"' for choice in spec.choices)
        return f'OR({cell}="",{options})'
    checks = [f"{cell}>={fmt(spec.minimum)}", f"{cell}<={fmt(spec.maximum)}"]
    if spec.kind == "count":
        checks.append(f"{cell}=INT({cell})")
    else:
        step = fmt(spec.step)
        checks.append(f"ROUND({cell}/{step},9)=INT(ROUND({cell}/{step},9))")
    if spec.nonzero_minimum:
        checks.append(f"OR({cell}=0,{cell}>={fmt(spec.nonzero_minimum)})")
    text = f'OR({cell}="",{cell}="{NOT_PARTICIPATING}")' if spec.allow_not_participating else f'{cell}=""'
    return f"IF(ISNUMBER({cell}),AND({','.join(checks)}),{text})"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validation_options(spec: InputSpec, anchor: str, message: str) -> dict[str, Any]:
    """xlsxwriter data_validation options mirroring one input rule."""
    options: dict[str, Any] = {
        "input_title": "填写说明",
        "input_message": _clip(message, MESSAGE_LIMIT),
        "error_title": "输入有误",
        "error_message": _clip(spec.describe() + "。", MESSAGE_LIMIT),
        "error_type": "stop",
        "ignore_blank": True,
    }
    if spec.kind in ("flag", "choice"):
        options.update(validate="list", source=list(spec.choices))
    elif spec.kind == "count" and not spec.allow_not_participating:
        options.update(validate="integer", criteria="between", minimum=int(spec.minimum), maximum=int(spec.maximum))
    else:
        options.update(validate="custom", value="=" + validity_formula(spec, anchor))
    return options


WRAPPED_STYLES = {"item_text": "body_size", "rule_text": "small_size", "note": "small_size", "done_label": "body_size"}


def text_height(text: str, width: float, size: float) -> float:
    """The row height (points) that fits ``text`` wrapped in ``width`` column units.

    LibreOffice does not grow rows for wrapped text in an .xlsx it opens, so the
    heights are estimated here: a CJK character is about two column-width units.
    """
    units = display_width(text) * size / 11
    lines = max(1, math.ceil(units / max(width - 1.5, 1)))
    return lines * size * 1.3 + 3


def row_heights(layout: SheetLayout, template: dict[str, Any]) -> dict[int, float]:
    """Row heights for the unit sheet's wrapped texts."""
    widths = template["columns"]["unit_sheet"]
    fonts = template["fonts"]
    heights: dict[int, float] = {}
    for cell in layout.cells:
        size_key = WRAPPED_STYLES.get(cell.style)
        if size_key is None or not isinstance(cell.value, str):
            continue
        span = sum(widths[cell.col : (cell.merge_to or cell.col) + 1]) - (2 if cell.style == "rule_text" else 0)
        heights[cell.row] = max(heights.get(cell.row, 0), text_height(cell.value, span, fonts[size_key]))
    return heights


def _cached(value: str | Decimal | None) -> str | float | int:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value or ""


def _header_text(text: str) -> str:
    return text.replace("&", "&&")


Highlight = tuple[int, int, dict[str, Any], str]


def validation_plan(layout: SheetLayout) -> tuple[list[tuple[int, int, dict[str, Any]]], list[Highlight]]:
    """The data validations and highlights of a unit sheet, worked out once per layout.

    One validation per group of cells sharing a rule's limits and message; one red
    "invalid entry" highlight per group sharing limits (pasting bypasses validation);
    the unanswered completion cell and deductions without a reason in orange.
    """
    by_message: dict[tuple[InputSpec, str], list[InputCell]] = {}
    by_spec: dict[InputSpec, list[InputCell]] = {}
    for cell in layout.inputs:
        if cell.spec is not None:
            by_message.setdefault((cell.spec, cell.message), []).append(cell)
            by_spec.setdefault(cell.spec, []).append(cell)
    validations = []
    for (spec, message), cells in by_message.items():
        anchor = cells[0]
        options = validation_options(spec, anchor.address, message)
        if len(cells) > 1:
            options["multi_range"] = " ".join(c.address for c in cells)
        validations.append((anchor.row, anchor.col, options))
    highlights: list[Highlight] = []
    for spec, cells in by_spec.items():
        anchor = cells[0]
        invalid: dict[str, Any] = {"type": "formula", "criteria": f"=NOT({validity_formula(spec, anchor.address)})"}
        if len(cells) > 1:
            invalid["multi_range"] = " ".join(c.address for c in cells)
        highlights.append((anchor.row, anchor.col, invalid, "invalid"))
    highlights.append((*DONE_CELL, {"type": "blanks"}, "missing"))
    if layout.reason_rows:
        first = layout.reason_rows[0]
        missing = {
            "type": "formula",
            "criteria": "=" + missing_reason_formula(first),
            "multi_range": " ".join(ref(row, COL_REASON) for row in layout.reason_rows),
        }
        highlights.append((first, COL_REASON, missing, "missing"))
    return validations, highlights


def print_setup(ws: Worksheet, template: dict[str, Any], *, landscape: bool, header: str = "") -> None:
    """A4 (or the template's paper), fitted to the page width, centred, page numbers in the footer."""
    printing = template["print"]
    ws.set_paper(printing["paper"])
    ws.set_landscape() if landscape else ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    margins = printing["margins"]
    ws.set_margins(margins["left"], margins["right"], margins["top"], margins["bottom"])
    if header:
        checked(ws.set_header(header), "页眉")
    checked(ws.set_footer(printing["footer"]), "页脚")


def _write_cells(ws: Worksheet, styles: _Styles, cells: Iterable[Cell]) -> None:
    """Write laid-out cells: formulas with the engine's value cached, inputs blank and unlocked."""
    for cell in cells:
        style = styles[cell.style]
        if cell.role == "formula":
            checked(ws.write_formula(cell.row, cell.col, cell.formula, style, _cached(cell.value)), cell.address)
        elif cell.role == "input":
            checked(ws.write_blank(cell.row, cell.col, None, style), cell.address)
        elif cell.role == "number":
            checked(ws.write_number(cell.row, cell.col, float(cell.value), style), cell.address)  # type: ignore[arg-type]
        elif cell.merge_to is not None:
            checked(ws.merge_range(cell.row, cell.col, cell.row, cell.merge_to, "", style), cell.address)
            checked(ws.write_string(cell.row, cell.col, str(cell.value), style), cell.address)
        else:
            checked(ws.write_string(cell.row, cell.col, str(cell.value), style), cell.address)


class _WorkbookWriter:
    """Writes one workbook of the campaign."""

    def __init__(self, campaign: Campaign, template: dict[str, Any], layout: SheetLayout, assignment: Assignment):
        self.campaign = campaign
        self.template = template
        self.layout = layout
        self.assignment = assignment
        self.heights = row_heights(layout, template)
        self.base_digest = layout_digest(layout)
        self.validations, self.highlights = validation_plan(layout)

    def write(self, path: Path, meta: dict[str, str], created: datetime) -> list[dict[str, str]]:
        workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
        workbook.set_properties({"title": self.campaign.title, "author": self.campaign.office, "created": created})
        workbook.set_size(1400, 900)
        styles = _Styles(workbook, self.template)
        names = sheet_names(self.assignment.units)
        cover = workbook.add_worksheet(COVER_SHEET)
        summary = workbook.add_worksheet(SUMMARY_SHEET)
        sheets = []
        for unit, name in zip(self.assignment.units, names, strict=True):
            worksheet = workbook.add_worksheet(name)
            self._unit_sheet(worksheet, styles, unit)
            titles = unit_title_rows(self.campaign.title, self.campaign.split, self.assignment.assessor, unit)
            digest = sheet_digest(self.base_digest, titles)
            sheets.append({"name": name, "unit": unit, "digest": digest})
        self._cover(cover, styles, meta)
        self._summary(summary, styles, names)
        self._metadata(workbook.add_worksheet(META_SHEET), meta, names)
        close(workbook, path)
        return sheets

    # --- unit sheets ---

    def _unit_sheet(self, ws: Worksheet, styles: _Styles, unit: str) -> None:
        layout, template = self.layout, self.template
        last_col = layout.last_column
        for col, width in enumerate(template["columns"]["unit_sheet"][: last_col + 1]):
            ws.set_column(col, col, width)
        for row, height in self.heights.items():
            ws.set_row(row, height)
        for row, value, style in unit_title_rows(
            self.campaign.title, self.campaign.split, self.assignment.assessor, unit
        ):
            checked(ws.merge_range(row, 0, row, last_col, "", styles[style]), "标题")
            checked(ws.write_string(row, 0, value, styles[style]), "标题")
        _write_cells(ws, styles, layout.cells)
        for row, col, options in self.validations:
            checked(ws.data_validation(row, col, row, col, dict(options)), "数据验证")
        for row, col, options, style_name in self.highlights:
            checked(ws.conditional_format(row, col, row, col, {**options, "format": styles[style_name]}), "条件格式")
        ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True, "format_rows": True})
        ws.freeze_panes(HEADER_ROW + 1, 0)
        self._print_setup(ws, unit, landscape=self.template["print"]["unit_sheet_landscape"])
        ws.print_area(0, 0, layout.last_row, last_col)
        ws.repeat_rows(HEADER_ROW)

    def _print_setup(self, ws: Worksheet, unit: str, *, landscape: bool) -> None:
        font = self.template["fonts"]["title"]
        header = f'&C&"{font},Bold"&12 {_header_text(self.campaign.title)}'
        if unit:
            header += f'&R&"{font},Regular"&10 {_header_text(unit)}'
        print_setup(ws, self.template, landscape=landscape, header=header)

    # --- cover, summary, metadata ---

    def _cover(self, ws: Worksheet, styles: _Styles, meta: dict[str, str]) -> None:
        campaign, assignment = self.campaign, self.assignment
        widths = self.template["columns"]["cover"]
        ws.set_column(0, 0, widths[0])
        ws.set_column(1, 1, widths[1])
        checked(ws.merge_range(0, 0, 0, 1, "", styles["title"]), "标题")
        checked(ws.write_string(0, 0, campaign.title, styles["title"]), "标题")
        rows: list[tuple[str, str]] = [("考核组" if campaign.split == "group" else "考核部门", assignment.assessor)]
        group = assignment.group
        if group is not None:
            for member in group.members:
                rows.append((member.role, f"{member.name}（{member.title}）" if member.title else member.name))
            if group.phone:
                rows.append(("联系电话", group.phone))
        rows += [
            ("被考核单位", f"{len(assignment.units)} 个：" + "、".join(assignment.units)),
            ("报送截止", campaign.deadline or "按通知要求"),
            ("组织单位", campaign.office),
            ("考评细则", f"{campaign.rubric.title}（编号 {campaign.rubric.id}，版本 {campaign.rubric.version}）"),
            ("工作簿编号", meta["workbook_id"]),
        ]
        row = 2
        size = self.template["fonts"]["body_size"]
        for key, value in rows:
            checked(ws.write_string(row, 0, key, styles["cell"]), "说明")
            checked(ws.write_string(row, 1, value, styles["cell_wrap"]), "说明")
            ws.set_row(row, text_height(value, widths[1], size))
            row += 1
        row += 1
        checked(ws.write_string(row, 0, "填写方法", styles["subtitle"]), "说明")
        row += 1
        for index, line in enumerate(self.template["instructions"], start=1):
            checked(ws.write_string(row, 0, f"{index}.", styles["cell_center"]), "说明")
            checked(ws.write_string(row, 1, line, styles["cell_wrap"]), "说明")
            ws.set_row(row, text_height(line, widths[1], size))
            row += 1
        ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True})
        self._print_setup(ws, "", landscape=False)
        ws.activate()

    def _summary(self, ws: Worksheet, styles: _Styles, names: Sequence[str]) -> None:
        cells = summary_cells(self.campaign.rubric, self.layout, self.assignment.assessor, self.assignment.units, names)
        widths = self.template["columns"]["summary"]
        last_col = max(cell.col for cell in cells)
        ws.set_column(0, 0, widths[0])
        ws.set_column(1, 1, widths[1])
        ws.set_column(2, last_col - 4, widths[2])
        ws.set_column(last_col - 3, last_col, widths[3])
        _write_cells(ws, styles, cells)
        ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True})
        ws.freeze_panes(3, 2)
        self._print_setup(ws, "", landscape=self.template["print"]["summary_landscape"])
        ws.repeat_rows(2)

    def _metadata(self, ws: Worksheet, meta: dict[str, str], names: Sequence[str]) -> None:
        checked(ws.write_string(0, 0, "kaohe_xlsx 考核表标识（隐藏，请勿修改）"), "元数据")
        row = 2
        for key, value in meta.items():
            checked(ws.write_string(row, 0, key), "元数据")
            checked(ws.write_string(row, 1, value), "元数据")
            row += 1
        row += 1
        checked(ws.write_string(row, 0, "input_cells"), "元数据")
        row += 1
        for col, header in enumerate(INPUT_TABLE_HEADER):
            checked(ws.write_string(row, col, header), "元数据")
        for unit, name in zip(self.assignment.units, names, strict=True):
            for cell in self.layout.inputs:
                row += 1
                for col, value in enumerate((name, cell.address, unit, cell.item_id, cell.rule_id, cell.field)):
                    checked(ws.write_string(row, col, value), "元数据")
        ws.protect("", {"select_locked_cells": True})
        ws.very_hidden()


INPUT_TABLE_HEADER = ("sheet", "cell", "unit", "item", "rule", "field")


def layout_digest(layout: SheetLayout) -> Any:
    """sha256 state over the locked content every unit sheet of a layout shares."""
    digest = hashlib.sha256()
    for cell in layout.cells:
        content = cell.locked_content
        if content is not None:
            digest.update(f"{cell.address}\t{content}\n".encode())
    return digest


def sheet_digest(base: Any, title_rows: Iterable[tuple[int, str, str]]) -> str:
    """sha256 over a unit sheet's locked content: labels, maxima and formulas, then its titles."""
    digest = base.copy()
    for row, value, _ in title_rows:
        digest.update(f"{ref(row, 0)}\t{value}\n".encode())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _items(rubric: Rubric, item_ids: Iterable[str]) -> list[Item]:
    wanted = set(item_ids)
    return [item for item in rubric.items if item.id in wanted]


def generate_campaign(
    campaign: Campaign,
    out_dir: Path,
    *,
    force: bool = False,
    template: dict[str, Any] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Write every workbook of the campaign and its manifest into ``out_dir``."""
    rubric = campaign.rubric
    if not rubric.scorable:
        raise GenerateError(f"规则库 {rubric.id} 还没有分值，请先用 --allocation 指定分值分配文件")
    template = template or load_template()
    now = now or datetime.now(UTC).replace(microsecond=0)
    plan = assignments(campaign)
    if not plan:
        raise GenerateError("名单中没有任何单位，无法生成考核表")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenerateError(f"无法创建输出文件夹 {out_dir}：{exc.strerror or exc}") from exc
    files = [safe_file_name(f"{index:02d}-{a.assessor}-考核表") for index, a in enumerate(plan, start=1)]
    manifest_path = out_dir / MANIFEST_NAME
    existing = [name for name in [*files, MANIFEST_NAME] if (out_dir / name).exists()]
    if existing and not force:
        raise GenerateError(
            f"输出文件夹 {out_dir} 中已有同名文件（{'、'.join(existing[:3])} 等 {len(existing)} 个）。确需覆盖请加 --force。"
        )
    campaign_id = uuid.uuid4().hex[:16]
    rubric_hash = content_hash(rubric)
    workbooks: list[dict[str, Any]] = []
    layouts: dict[tuple[tuple[str, ...], bool], SheetLayout] = {}
    for index, (assignment, file_name) in enumerate(zip(plan, files, strict=True), start=1):
        path = (out_dir / file_name).resolve()
        if path.parent != out_dir.resolve():
            raise GenerateError(f"文件名 {file_name} 不在输出文件夹内")
        key = (assignment.item_ids, assignment.unit_rules)
        if key not in layouts:
            layouts[key] = build_sheet_layout(
                rubric, _items(rubric, assignment.item_ids), unit_rules=assignment.unit_rules
            )
        workbook_id = f"{campaign_id}-{index:03d}"
        meta = {
            "format": str(WORKBOOK_FORMAT),
            "campaign_id": campaign_id,
            "campaign_title": campaign.title,
            "workbook_id": workbook_id,
            "assessor": assignment.assessor,
            "split": campaign.split,
            "rubric_id": rubric.id,
            "rubric_version": rubric.version,
            "rubric_hash": rubric_hash,
            "tool_version": __version__,
            "generated_at": now.isoformat(),
            "units": str(len(assignment.units)),
            "layout_version": str(LAYOUT_VERSION),
        }
        writer = _WorkbookWriter(campaign, template, layouts[key], assignment)
        sheets = writer.write(path, meta, now)
        workbooks.append(
            {
                "id": workbook_id,
                "file": file_name,
                "sha256": _sha256(path),
                "assessor": assignment.assessor,
                "units": list(assignment.units),
                "items": list(assignment.item_ids),
                "unit_rules": assignment.unit_rules,
                "sheets": sheets,
            }
        )
        if progress:
            progress(index, len(plan), file_name)
    data = {
        "format": MANIFEST_FORMAT,
        "campaign": {
            "id": campaign_id,
            "title": campaign.title,
            "year": campaign.year,
            "deadline": campaign.deadline,
            "office": campaign.office,
            "split": campaign.split,
            "rubric_id": rubric.id,
            "rubric_version": rubric.version,
            "rubric_hash": rubric_hash,
            "allocation": rubric.allocation,
            "tool_version": __version__,
            "layout_version": LAYOUT_VERSION,
            "generated_at": now.isoformat(),
        },
        "roster": [{"group": g.name, "units": list(g.units)} for g in campaign.roster.groups],
        "rubric": rubric_to_dict(rubric),
        "workbooks": workbooks,
    }
    manifest_path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return Manifest(data, manifest_path, workbooks)
