"""Every cell of a generated scoring workbook, computed once.

The generator writes the cells listed here and the ingest reads them back from
the same lists, so the two cannot drift apart. A unit sheet's layout depends
only on the rubric and the items assigned to the sheet, so it is built once
and reused for every unit; only the title cells name the unit.

The Excel formulas mirror :mod:`kaohe_xlsx.scoring` rule by rule. Every derived
number is wrapped in ``ROUND(…, decimals)``: the engine's values have at most
``decimals`` places, so rounding the spreadsheet's binary floating point result
recovers them exactly (``10-0.1-0.2`` is 9.7, not 9.699999999999999).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Literal

from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

from .model import (
    NO,
    NOT_PARTICIPATING,
    UNIT_SCOPE,
    YES,
    Award,
    Converted,
    CountBonus,
    CountDeduction,
    FixedBonus,
    FixedDeduction,
    InputSpec,
    Item,
    LevelBonus,
    RangeDeduction,
    Rubric,
    Rule,
    ShortfallDeduction,
    StepDeduction,
    Veto,
    WeightedPart,
    ZeroItem,
    fmt,
)
from .scoring import ZERO, score_item

# Bumped whenever a generated cell changes (a label, formula or validation), so that a
# campaign is never checked against cells it was not issued with.
LAYOUT_VERSION = 1

# Columns of a unit sheet (0-based).
COL_ID, COL_TEXT, COL_POINTS, COL_INPUT, COL_AMOUNT, COL_SCORE, COL_BONUS, COL_REASON, COL_SELF = range(9)
HEADER_ROW = 4
FIRST_BODY_ROW = 5
DONE_CELL = (2, COL_INPUT)

Role = Literal["label", "number", "formula", "input", "blank"]
Field = Literal["value", "reason", "self", "done"]


@dataclass(frozen=True)
class Cell:
    """One written cell: a locked label, number or formula, or an unlocked input."""

    row: int
    col: int
    role: Role
    style: str
    value: str | Decimal | None = None
    formula: str | None = None
    merge_to: int | None = None  # last column of a merged label

    @cached_property
    def address(self) -> str:
        return xl_rowcol_to_cell(self.row, self.col)

    @property
    def locked_content(self) -> str | None:
        """What the manifest fingerprints: the label, number or formula text."""
        if self.role == "formula":
            return self.formula
        if self.role in ("label", "number"):
            return fmt(self.value) if isinstance(self.value, Decimal) else self.value
        return None


@dataclass(frozen=True)
class InputCell:
    """An unlocked cell and what it means: (unit scope, item, rule, field)."""

    row: int
    col: int
    item_id: str
    rule_id: str
    field: Field
    spec: InputSpec | None
    label: str
    message: str = ""  # the input message: how the rule scores and what it accepts

    @cached_property
    def address(self) -> str:
        return xl_rowcol_to_cell(self.row, self.col)

    @property
    def key(self) -> tuple[str, str]:
        """The scoring engine's input key."""
        return (self.item_id, self.rule_id if self.field == "value" else self.field)


@dataclass(frozen=True)
class SheetLayout:
    """The layout shared by every unit sheet of one assignment."""

    cells: tuple[Cell, ...]
    inputs: tuple[InputCell, ...]
    item_rows: dict[str, int]
    section_rows: dict[str, int]
    subtotal_cell: str
    bonus_cell: str
    total_cell: str
    last_column: int
    last_row: int
    reason_rows: tuple[int, ...]  # item rows whose reason must be given when they deduct or add
    section_ids: tuple[str, ...] = field(default=())

    def cell_of(self, key: tuple[str, str]) -> InputCell:
        for cell in self.inputs:
            if cell.key == key:
                return cell
        raise KeyError(key)


def missing_reason_formula(row: int) -> str:
    """TRUE when the item on ``row`` deducts or adds points and its reason cell is empty."""
    reason, score, points, bonus = (ref(row, col) for col in (COL_REASON, COL_SCORE, COL_POINTS, COL_BONUS))
    return f'AND({reason}="",OR(AND(ISNUMBER({points}),{score}<{points}),{score}<0,N({bonus})>0))'


def ref(row: int, col: int) -> str:
    return xl_rowcol_to_cell(row, col)


def num(value: Decimal | int) -> str:
    """A number as formula text."""
    return fmt(Decimal(value))


def text(value: str) -> str:
    """A string literal in a formula."""
    return '"' + value.replace('"', '""') + '"'


def rounded(expression: str, decimals: int) -> str:
    return f"ROUND({expression},{decimals})"


def amount_formula(rule: Rule, item: Item, cell: str, decimals: int) -> str | None:
    """The formula for what one rule deducts, adds, earns or converts (None: no amount)."""
    blank = f'{cell}=""'
    if isinstance(rule, CountDeduction | CountBonus):
        expression = rounded(f"{cell}*{num(rule.per)}", decimals)
        return f"MIN({num(rule.cap)},{expression})" if rule.cap is not None else expression
    if isinstance(rule, ShortfallDeduction):
        return f"IF({blank},0,{rounded(f'MAX(0,{rule.target}-{cell})*{num(rule.per)}', decimals)})"
    if isinstance(rule, StepDeduction):
        gap = f"{num(rule.threshold)}-{cell}" if rule.direction == "below" else f"{cell}-{num(rule.threshold)}"
        steps = f"INT(ROUND(MAX(0,{gap})/{num(rule.step)},9))"
        return f"IF({blank},0,{rounded(f'{steps}*{num(rule.per)}', decimals)})"
    if isinstance(rule, FixedDeduction | FixedBonus | Award):
        return f"IF({cell}={text(YES)},{num(rule.amount)},0)"
    if isinstance(rule, RangeDeduction):
        return f"IF({blank},0,{rounded(cell, decimals)})"
    if isinstance(rule, LevelBonus):
        expression = "0"
        for level in reversed(rule.levels):
            expression = f"IF({cell}={text(level.label)},{num(level.points)},{expression})"
        return expression
    if isinstance(rule, Converted):
        absent = f"OR({blank},{cell}={text(NOT_PARTICIPATING)})"
        if item.kind == "penalty":
            assert item.penalty_max is not None
            scaled = f"{num(item.penalty_max)}*({num(rule.source_max)}-{cell})/{num(rule.source_max)}"
            return f"IF({absent},0,-{rounded(rounded(scaled, 10), decimals)})"
        scaled = f"{num(item.max_points)}*{cell}/{num(rule.source_max)}"
        return f"IF({absent},0,{rounded(rounded(scaled, 10), decimals)})"
    if isinstance(rule, WeightedPart):
        return f"IF({blank},0,{rounded(f'{num(rule.weight)}*{cell}', 10)})"
    if isinstance(rule, ZeroItem):
        return f'IF({cell}={text(YES)},{text("此项不得分")},"")'
    if isinstance(rule, Veto):
        outcome = f"定为{rule.grade}" if rule.effect == "force_grade" else "取消评先资格"
        return f'IF({cell}={text(YES)},{text(outcome)},"")'
    return None


def _sum(cells: Sequence[str]) -> str:
    return "+".join(cells) if cells else "0"


def item_formulas(item: Item, rule_cells: dict[str, tuple[str, str]], decimals: int) -> tuple[str, str | None]:
    """Formulas for the item's score and bonus, from its rules' (input, amount) cells."""
    deductions = [rule_cells[r.id][1] for r in item.rules if r.is_deduction]
    bonuses = [rule_cells[r.id][1] for r in item.rules if r.is_bonus]
    zero = next((r for r in item.rules if isinstance(r, ZeroItem)), None)
    converted = next((r for r in item.rules if isinstance(r, Converted)), None)
    if item.kind == "penalty":
        if converted is not None:
            score = rule_cells[converted.id][1]
        else:
            score = f"-MIN({num(item.penalty_max or 0)},{rounded(_sum(deductions), decimals)})"
    elif item.kind == "convert":
        score = rule_cells[converted.id][1] if converted else "0"
    elif item.kind == "weighted":
        parts = [rule_cells[r.id][1] for r in item.rules if isinstance(r, WeightedPart)]
        score = rounded(_sum(parts), decimals)
    elif item.kind == "earn":
        groups: dict[str, list[str]] = {}
        for rule in item.rules:
            if isinstance(rule, Award):
                groups.setdefault(rule.group, []).append(rule_cells[rule.id][1])
        earned = [_sum(cells) for cells in groups.values()] or ["0"]
        best = earned[0] if len(earned) == 1 else f"MAX({','.join(earned)})"
        score = f"MAX(0,{rounded(f'MIN({num(item.max_points)},{best})-({_sum(deductions)})', decimals)})"
    else:
        score = f"MAX(0,{rounded(f'{num(item.max_points)}-({_sum(deductions)})', decimals)})"
    bonus = rounded(_sum(bonuses), decimals) if bonuses else None
    if zero is not None:
        zero_cell = rule_cells[zero.id][0]
        score = f"IF({zero_cell}={text(YES)},0,{score})"
        if bonus is not None and not zero.bonus_survives:
            bonus = f"IF({zero_cell}={text(YES)},0,{bonus})"
    return score, bonus


def cached_item_values(item: Item, decimals: int) -> tuple[Decimal, Decimal]:
    """What the item's formulas evaluate to on a blank sheet, from the engine."""
    result = score_item(item, {}, decimals)
    return result.score, result.bonus


def blank_amount(rule: Rule) -> Decimal | str:
    """A rule's amount cell on a blank sheet: 0, or an empty status text."""
    return "" if isinstance(rule, ZeroItem | Veto) else ZERO


def build_sheet_layout(rubric: Rubric, items: Iterable[Item], *, unit_rules: bool = True) -> SheetLayout:
    """Lay out one unit sheet for ``items`` (in rubric order)."""
    wanted = {item.id for item in items}
    decimals = rubric.decimals
    self_column = rubric.self_assessment
    last_col = COL_SELF if self_column else COL_REASON
    cells: list[Cell] = []
    inputs: list[InputCell] = []
    item_rows: dict[str, int] = {}
    section_rows: dict[str, int] = {}
    reason_rows: list[int] = []

    def label(row: int, col: int, value: str, style: str, merge_to: int | None = None) -> None:
        cells.append(Cell(row, col, "label", style, value, merge_to=merge_to))

    def add_input(
        row: int,
        col: int,
        item_id: str,
        rule_id: str,
        fld: Field,
        spec: InputSpec | None,
        what: str,
        rule: Rule | None = None,
    ) -> None:
        style = "reason" if fld == "reason" else "input"
        cells.append(Cell(row, col, "input", style))
        message = spec.describe() if spec else ""
        if rule is not None and spec is not None:
            message = f"{rule.summary()}。{message}。原文：{rule.label}"
        inputs.append(InputCell(row, col, item_id, rule_id, fld, spec, what, message))

    # Title rows: the unit name is written per sheet by the generator (row 0/1 placeholders).
    label(2, COL_ID, "本单位考核已完成（选“是”后本单位才计入汇总；未选视为未考核）", "done_label", merge_to=COL_POINTS)
    add_input(*DONE_CELL, UNIT_SCOPE, "", "done", InputSpec("flag", choices=(YES, NO)), "本单位考核已完成")
    label(2, COL_AMOUNT, "扣分、加分须在右列写明理由；黄色格为填写格。", "note", merge_to=last_col)
    headers = ["序号", "考核内容及标准 / 评分规则", "分值", "填写", "加（扣）分", "得分", "加分", "扣分、加分说明"]
    if self_column:
        headers.append("自查分")
    for col, header in enumerate(headers):
        label(HEADER_ROW, col, header, "header")

    row = FIRST_BODY_ROW
    section_score_cells: list[str] = []
    section_ids: list[str] = []
    first_item_row = row
    for section in rubric.sections:
        section_items = [item for item in section.items if item.id in wanted]
        if not section_items:
            continue
        section_row = row
        section_rows[section.id] = row
        section_ids.append(section.id)
        title = section.title + (
            f"（{section.assessor}考核）" if section.assessor and rubric.split == "assessor" else ""
        )
        label(row, COL_ID, title, "section", merge_to=COL_TEXT)
        if section.points:
            cells.append(Cell(row, COL_POINTS, "number", "section_points", section.points))
        row += 1
        for item in section_items:
            item_row = row
            item_rows[item.id] = row
            label(row, COL_ID, item.id, "item_id")
            label(row, COL_TEXT, item.text, "item_text")
            if item.kind == "penalty":
                label(row, COL_POINTS, f"倒扣≤{fmt(item.penalty_max)}", "points")
            else:
                cells.append(Cell(row, COL_POINTS, "number", "points", item.max_points))
            add_input(row, COL_REASON, item.id, "", "reason", None, f"{item.id} 扣分、加分说明")
            if self_column:
                add_input(
                    row,
                    COL_SELF,
                    item.id,
                    "",
                    "self",
                    InputSpec("number", ZERO, item.max_points, Decimal("0.1")),
                    f"{item.id} 自查分",
                )
            row += 1
            rule_cells: dict[str, tuple[str, str]] = {}
            for rule in item.rules:
                spec = rule.input_spec(item.max_points)
                label(row, COL_TEXT, f"{rule.label}——{rule.summary()}", "rule_text")
                add_input(row, COL_INPUT, item.id, rule.id, "value", spec, f"{item.id} {rule.label}", rule)
                formula = amount_formula(rule, item, ref(row, COL_INPUT), decimals)
                if formula is not None:
                    cells.append(Cell(row, COL_AMOUNT, "formula", "amount", blank_amount(rule), "=" + formula))
                rule_cells[rule.id] = (ref(row, COL_INPUT), ref(row, COL_AMOUNT))
                row += 1
            score_formula, bonus_formula = item_formulas(item, rule_cells, decimals)
            score, bonus = cached_item_values(item, decimals)
            cells.append(Cell(item_row, COL_SCORE, "formula", "score", score, "=" + score_formula))
            if bonus_formula is not None:
                cells.append(Cell(item_row, COL_BONUS, "formula", "score", bonus, "=" + bonus_formula))
            if item.needs_reason:
                reason_rows.append(item_row)
        section_score = rounded(f"SUM({ref(section_row + 1, COL_SCORE)}:{ref(row - 1, COL_SCORE)})", decimals)
        subtotal_value = sum((cached_item_values(i, decimals)[0] for i in section_items), ZERO)
        cells.append(Cell(section_row, COL_SCORE, "formula", "section_score", subtotal_value, "=" + section_score))
        section_score_cells.append(ref(section_row, COL_SCORE))
    last_item_row = row - 1

    if unit_rules and rubric.unit_rules:
        label(row, COL_ID, "否决和降低档次认定（分数照计）", "section", merge_to=COL_TEXT)
        row += 1
        for veto in rubric.unit_rules:
            label(row, COL_TEXT, f"{veto.label}——{veto.summary()}", "rule_text")
            add_input(row, COL_INPUT, UNIT_SCOPE, veto.id, "value", veto.input_spec(ZERO), veto.label, veto)
            formula = amount_formula(veto, Item("", "", "", None), ref(row, COL_INPUT), decimals)
            cells.append(Cell(row, COL_AMOUNT, "formula", "amount", "", "=" + (formula or '""')))
            row += 1

    all_items = [item for item in rubric.items if item.id in wanted]
    blank_scores = [cached_item_values(item, decimals) for item in all_items]
    subtotal_value = sum((s for s, _ in blank_scores), ZERO)
    bonus_value = sum((b for _, b in blank_scores), ZERO)
    subtotal_row, bonus_row, total_row = row, row + 1, row + 2
    label(subtotal_row, COL_ID, "得分小计", "total_label", merge_to=COL_AMOUNT)
    cells.append(
        Cell(
            subtotal_row,
            COL_SCORE,
            "formula",
            "total",
            subtotal_value,
            "=" + rounded(_sum(section_score_cells), decimals),
        )
    )
    label(bonus_row, COL_ID, "加分合计", "total_label", merge_to=COL_AMOUNT)
    bonus_sum = rounded(f"SUM({ref(first_item_row, COL_BONUS)}:{ref(last_item_row, COL_BONUS)})", decimals)
    cells.append(Cell(bonus_row, COL_SCORE, "formula", "total", bonus_value, "=" + bonus_sum))
    workbook_part = next((c.title for c in rubric.components if c.source == "workbook"), "")
    label(
        total_row, COL_ID, f"总分（{workbook_part}）" if workbook_part else "总分", "total_label", merge_to=COL_AMOUNT
    )
    total_formula = rounded(f"{ref(subtotal_row, COL_SCORE)}+{ref(bonus_row, COL_SCORE)}", decimals)
    cells.append(Cell(total_row, COL_SCORE, "formula", "total", subtotal_value + bonus_value, "=" + total_formula))
    row = total_row + 1
    for component in rubric.components:
        if component.source == "import":
            label(
                row,
                COL_ID,
                f"{component.title}占 {fmt(component.weight * 100)}%，由办公室导入，不在本表填写。",
                "note",
                merge_to=last_col,
            )
            row += 1
    row += 1
    label(row, COL_ID, "考核组长签字：", "signature", merge_to=COL_TEXT)
    label(row, COL_SCORE, "日期：", "signature", merge_to=last_col)
    return SheetLayout(
        cells=tuple(cells),
        inputs=tuple(inputs),
        item_rows=item_rows,
        section_rows=section_rows,
        subtotal_cell=ref(subtotal_row, COL_SCORE),
        bonus_cell=ref(bonus_row, COL_SCORE),
        total_cell=ref(total_row, COL_SCORE),
        last_column=last_col,
        last_row=row,
        reason_rows=tuple(reason_rows),
        section_ids=tuple(section_ids),
    )


SUMMARY_FIRST_ROW = 3


def unit_title_rows(title: str, split: str, assessor: str, unit: str) -> list[tuple[int, str, str]]:
    """A unit sheet's first two rows (row, text, style): the campaign title, then unit and assessor."""
    who = "考核组" if split == "group" else "考核部门"
    return [(0, f"{title}评分表", "title"), (1, f"被考核单位：{unit}　　{who}：{assessor}", "subtitle")]


def summary_cells(
    rubric: Rubric, layout: SheetLayout, assessor: str, units: Sequence[str], names: Sequence[str]
) -> list[Cell]:
    """The 汇总 sheet: one row per unit, formulas over the unit sheets, internal rank, status."""
    cached = {cell.address: cell.value for cell in layout.cells if cell.role == "formula"}
    sections = [s for s in rubric.sections if s.id in layout.section_rows]
    headers = ["序号", "单位", *(s.title for s in sections), "加分", "总分", "组内名次", "考核状态"]
    last_col = len(headers) - 1
    cells = [Cell(0, 0, "label", "title", f"{assessor} 考核汇总", merge_to=last_col)]
    cells += [Cell(2, col, "label", "header", header) for col, header in enumerate(headers)]
    first, last = SUMMARY_FIRST_ROW, SUMMARY_FIRST_ROW + len(units) - 1
    total_col = 3 + len(sections)
    column = f"{xl_rowcol_to_cell(first, total_col, True, True)}:{xl_rowcol_to_cell(last, total_col, True, True)}"
    for index, (unit, name) in enumerate(zip(units, names, strict=True)):
        row = first + index
        cells.append(Cell(row, 0, "number", "cell_center", Decimal(index + 1)))
        cells.append(Cell(row, 1, "label", "cell", unit))
        sources = [ref(layout.section_rows[s.id], COL_SCORE) for s in sections] + [layout.bonus_cell, layout.total_cell]
        for col, source in enumerate(sources, start=2):
            style = "total" if col == total_col else "cell_center"
            cells.append(Cell(row, col, "formula", style, cached[source], f"={sheet_ref(name, source)}"))
        cells.append(
            Cell(
                row,
                total_col + 1,
                "formula",
                "cell_center",
                Decimal(1),
                f"=_xlfn.RANK.EQ({ref(row, total_col)},{column})",
            )
        )
        status = f'=IF({sheet_ref(name, ref(*DONE_CELL))}="{YES}","已完成","未完成")'
        cells.append(Cell(row, total_col + 2, "formula", "cell_center", "未完成", status))
    return cells


# --- sheet and file names -----------------------------------------------------------------

_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FILE_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
SUMMARY_SHEET = "汇总"
COVER_SHEET = "说明"
META_SHEET = "_kaohe"


def sheet_names(units: Sequence[str]) -> list[str]:
    """A valid, unique Excel sheet name per unit: "01 市委办公室" (31 characters at most)."""
    width = max(2, len(str(len(units))))
    taken = {SUMMARY_SHEET, COVER_SHEET, META_SHEET}
    names = []
    for index, unit in enumerate(units, start=1):
        cleaned = _SHEET_FORBIDDEN.sub("_", unit).strip().strip("'") or "单位"
        name = f"{index:0{width}d} {cleaned}"[:31].rstrip().rstrip("'")
        while name in taken:
            name = name[:-1] + "_"
        taken.add(name)
        names.append(name)
    return names


def safe_file_name(stem: str, suffix: str = ".xlsx") -> str:
    """A Windows-safe file name with no folder parts (a group called "../x" stays inside)."""
    cleaned = _FILE_FORBIDDEN.sub("_", stem).strip(" .") or "考核表"
    if cleaned.split(".")[0].upper() in _WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned[:120] + suffix


def sheet_ref(sheet: str, cell: str) -> str:
    """A reference to ``cell`` on another sheet, quoted as Excel needs."""
    return f"{quote_sheetname(sheet)}!{cell}"
