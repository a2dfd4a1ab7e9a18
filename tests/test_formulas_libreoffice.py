"""The workbook's formulas against the scoring engine, evaluated by a real spreadsheet engine.

Generated workbooks are filled with many input patterns (openpyxl, as an inspector's Excel
would store them), LibreOffice recalculates every formula, and every item score, bonus,
section subtotal and total it computed must equal the engine's to the last digit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from filling import Entry, engine_inputs, fill, random_entries
from libreoffice import cell_values, recalculate_many, require_soffice

from kaohe_xlsx.generate import Campaign, generate_campaign
from kaohe_xlsx.layout import COL_BONUS, COL_SCORE, SheetLayout, build_sheet_layout, ref
from kaohe_xlsx.model import NO, YES, Rubric
from kaohe_xlsx.resources import resource_path
from kaohe_xlsx.roster import Group, Member, Roster
from kaohe_xlsx.rubrics import load_allocation, load_rubrics
from kaohe_xlsx.scoring import ZERO, score_item

UNITS_PER_GROUP = 6


@dataclass
class Case:
    rubric: Rubric
    manifest: dict
    filled: list[Path]
    entries: dict[tuple[str, str], dict[str, Entry]]  # (workbook file, sheet) -> entries
    layouts: dict[str, SheetLayout]  # workbook file -> layout


def extreme_entries(layout: SheetLayout, pick: str) -> dict[str, Entry]:
    """Every input at its maximum (or minimum): the worst cases for sums and floors."""
    entries: dict[str, Entry] = {}
    for cell in layout.inputs:
        spec = cell.spec
        if cell.field == "done":
            entries[cell.address] = YES
        if spec is None or cell.field == "done":
            continue
        if spec.kind == "flag":
            entries[cell.address] = YES if pick == "max" else NO
        elif spec.kind == "choice":
            entries[cell.address] = spec.choices[-1] if pick == "max" else spec.choices[0]
        else:
            value = spec.maximum if pick == "max" else spec.minimum
            entries[cell.address] = int(value) if value == value.to_integral_value() else float(value)
    return entries


def build_case(rubric: Rubric, split: str, out: Path, groups: int, seed: int) -> Case:
    units = [f"单位{index:02d}" for index in range(groups * UNITS_PER_GROUP)]
    roster = Roster(
        tuple(
            Group(
                f"第{g + 1}组",
                (Member("组长", "组长", ""),),
                "",
                tuple(units[g * UNITS_PER_GROUP : (g + 1) * UNITS_PER_GROUP]),
            )
            for g in range(groups)
        )
    )
    campaign = Campaign(rubric, roster, rubric.title, rubric.year, "", rubric.issuer, split=split)  # type: ignore[arg-type]
    manifest = generate_campaign(campaign, out / "blank")
    rng = random.Random(seed)
    (out / "filled").mkdir()
    case = Case(rubric, manifest.data, [], {}, {})
    for workbook in manifest.workbooks:
        layout = build_sheet_layout(
            rubric, [i for i in rubric.items if i.id in set(workbook["items"])], unit_rules=workbook["unit_rules"]
        )
        by_sheet = {}
        for index, sheet in enumerate(workbook["sheets"]):
            if index == 0:
                entries = extreme_entries(layout, "max")
            elif index == 1:
                entries = extreme_entries(layout, "min")
            else:
                entries = random_entries(layout, rng, busy=rng.choice((0.2, 0.5, 0.9)))
            by_sheet[sheet["name"]] = entries
            case.entries[(f"{rubric.id}-{workbook['file']}", sheet["name"])] = entries
        filled = out / "filled" / f"{rubric.id}-{workbook['file']}"  # one LibreOffice run needs distinct names
        case.layouts[filled.name] = layout
        case.filled.append(fill(out / "blank" / workbook["file"], filled, by_sheet))
    return case


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Every case built, then recalculated by LibreOffice in one run."""
    require_soffice()
    rubrics = load_rubrics()
    jiaozuo_2020 = load_allocation(resource_path("samples/jiaozuo-2020-allocation.example.json"), rubrics)
    plans = {
        "jiaozuo-2016": (rubrics["jiaozuo-2016"], "group", 2),
        "wenzhou": (rubrics["wenzhou"], "group", 1),
        "luoyang-2016": (rubrics["luoyang-2016"], "group", 1),
        "dongyang-2013": (rubrics["dongyang-2013"], "assessor", 1),
        "jiaozuo-2020": (jiaozuo_2020, "group", 1),
    }
    cases = {}
    for seed, (name, (rubric, split, groups)) in enumerate(plans.items()):
        cases[name] = build_case(rubric, split, tmp_path_factory.mktemp(name), groups, seed)
    files = [path for case in cases.values() for path in case.filled]
    recalculated = recalculate_many(files, tmp_path_factory.mktemp("recalculated"))
    values = {path: cell_values(out) for path, out in zip(files, recalculated, strict=True)}
    return cases, values


def as_decimal(value: object) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


@pytest.mark.parametrize("rubric_id", ["jiaozuo-2016", "wenzhou", "luoyang-2016", "dongyang-2013", "jiaozuo-2020"])
def test_spreadsheet_agrees_with_engine(evaluated, rubric_id):
    cases, values = evaluated
    case = cases[rubric_id]
    rubric = case.rubric
    checked = 0
    mismatches = []
    for path in case.filled:
        layout = case.layouts[path.name]
        items = [rubric.item(item_id) for item_id in layout.item_rows]
        for (file, sheet), entries in case.entries.items():
            if file != path.name:
                continue
            got = values[path][sheet]
            inputs = engine_inputs(layout, entries)
            scores = {item.id: score_item(item, inputs, rubric.decimals) for item in items}
            expected: dict[str, Decimal] = {}
            for item in items:
                row = layout.item_rows[item.id]
                expected[ref(row, COL_SCORE)] = scores[item.id].score
                if any(rule.is_bonus for rule in item.rules):
                    expected[ref(row, COL_BONUS)] = scores[item.id].bonus
            for section_id, row in layout.section_rows.items():
                section_items = [i for i in rubric.section(section_id).items if i.id in scores]
                expected[ref(row, COL_SCORE)] = sum((scores[i.id].score for i in section_items), ZERO)
            subtotal = sum((s.score for s in scores.values()), ZERO)
            bonus = sum((s.bonus for s in scores.values()), ZERO)
            expected[layout.subtotal_cell] = subtotal
            expected[layout.bonus_cell] = bonus
            expected[layout.total_cell] = subtotal + bonus
            for address, want in expected.items():
                checked += 1
                if as_decimal(got.get(address)) != want:
                    mismatches.append(f"{file} {sheet}!{address}: LibreOffice {got.get(address)!r}, engine {want}")
    assert not mismatches, "\n".join(mismatches[:20])
    assert checked > 100


def test_summary_sheet_totals(evaluated):
    cases, values = evaluated
    case = cases["jiaozuo-2016"]
    path = case.filled[0]
    layout = case.layouts[path.name]
    summary = values[path]["汇总"]
    sheets = [(s, e) for (f, s), e in case.entries.items() if f == path.name]
    for row, (sheet, _) in enumerate(sheets, start=4):
        assert summary[f"J{row}"] == values[path][sheet][layout.total_cell]
        assert summary[f"L{row}"] == "已完成"
    totals = [values[path][sheet][layout.total_cell] for sheet, _ in sheets]
    ranks = [summary[f"K{row}"] for row in range(4, 4 + len(sheets))]
    assert ranks == [1 + sum(t > total for t in totals) for total in totals]
