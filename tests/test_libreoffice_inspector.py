"""A real spreadsheet application as the inspector: LibreOffice fills the workbooks, kaohe ranks them.

Generated workbooks are opened in LibreOffice (headless, driven through UNO by tests/lo_inspector.py),
the entries are typed into the input cells through its API (numbers with setValue, 是/否, levels,
不参加 and reasons with setString), LibreOffice recalculates and saves them as .xlsx with its own
export filter, and:

- check_campaign and ``kaohe rank`` accept the LibreOffice files with at most informational notes
  (LibreOffice turns the very hidden _kaohe sheet into a hidden one, drops workbook-level settings,
  rewrites the validation attributes and the protection element), and the totals, sections and ranks
  are the engine's for the same entries;
- the values LibreOffice itself computed and cached (item scores, bonuses, section subtotals,
  subtotal, bonus total, total; the 汇总 sheet's totals, in-group ranks and status) are the engine's;
- what LibreOffice understood, through its API: every sheet protected, every formula cell locked and
  the layout's formula, exactly the input cells unlocked, and each input's validation what kaohe
  wrote for its rule (list entries, whole-number bounds, the custom formula and its anchor cell, the
  messages and the stop alert); its detective (Mark Invalid Data) flags none of the entries typed,
  and exactly the values the rubric refuses among probe values typed after saving (out of range, off
  the step, fractions of counts, text, numbers typed as text, unlisted choices);
- the same when LibreOffice reopens its own saved file.

One LibreOffice session does every workbook (see print_summary for the timings, with pytest -s).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from filling import Entry, engine_inputs, random_entries, small_roster
from libreoffice import cell_values
from lo_inspector import (
    InspectorReport,
    SheetReport,
    WorkbookJob,
    WorkbookReport,
    excel_formula,
    require_inspector,
    run_inspector,
)
from xlsxwriter.utility import xl_rowcol_to_cell

from kaohe_xlsx.cli import cli
from kaohe_xlsx.generate import Campaign, generate_campaign, validation_plan, validity_formula
from kaohe_xlsx.ingest import CampaignManifest, load_manifest, normalise_formula
from kaohe_xlsx.layout import (
    COL_BONUS,
    COL_SCORE,
    META_SHEET,
    SUMMARY_FIRST_ROW,
    SUMMARY_SHEET,
    SheetLayout,
    build_sheet_layout,
    ref,
)
from kaohe_xlsx.model import NOT_PARTICIPATING, InputSpec
from kaohe_xlsx.reconcile import CampaignResult, Options, check_campaign
from kaohe_xlsx.rubrics import load_rubrics
from kaohe_xlsx.scoring import UnitScore, competition_rank, score_campaign

# rubric → (groups, units per group, seed). Between them every kind of input: 是/否, levels,
# counts, amounts on a step, amounts with a smallest non-zero deduction (Luoyang), amounts that
# accept 不参加 (Dongyang, all items in one workbook), a self-assessment column (Wenzhou).
CAMPAIGNS = {
    "jiaozuo-2016": (2, 3, 2016),
    "wenzhou": (1, 2, 7),
    "luoyang-2016": (1, 2, 11),
    "dongyang-2013": (1, 2, 13),
}
REASON = "现场查阅资料发现问题"
# Informational notes a LibreOffice-saved workbook may get, and nothing else.
EXPECTED_INFOS = {"metadata-visible"}  # _kaohe: very hidden → hidden


@dataclass
class Filled:
    rubric_id: str
    manifest: CampaignManifest
    returned: Path  # the folder of the LibreOffice-saved workbooks
    imports: Path | None = None  # Luoyang's 网上考核 table
    files: list[Path] = field(default_factory=list)
    layouts: dict[str, SheetLayout] = field(default_factory=dict)  # workbook file → layout
    entries: dict[tuple[str, str], dict[str, Entry]] = field(default_factory=dict)  # (workbook file, sheet) → typed
    inputs: dict[str, dict[Any, Any]] = field(default_factory=dict)  # unit → the engine's inputs
    expected: dict[str, UnitScore] = field(default_factory=dict)
    reports: list[WorkbookReport] = field(default_factory=list)  # LibreOffice's, in the order of files
    result: CampaignResult | None = None


def probes_for(spec: InputSpec) -> list[tuple[Entry, bool]]:
    """Values typed into one input after saving, and whether the rubric accepts each."""
    if spec.kind in ("flag", "choice"):
        return [*((choice, True) for choice in spec.choices), ("x", False), (1, False), (spec.choices[0] + "级", False)]
    low, high = spec.minimum, spec.maximum
    step = Decimal(1) if spec.kind == "count" else spec.step
    probes: list[tuple[Entry, bool]] = [
        (float(low), True),
        (float(high), True),
        (float(high + step), False),
        (float(low - step), False),
        (float(low + step / 2), False),  # a fraction of a count, or off the step of an amount
        ("abc", False),
        (str(int(high)), False),  # a number typed as text is not a number
    ]
    if spec.nonzero_minimum:
        probes += [(float(spec.nonzero_minimum - step), False), (float(spec.nonzero_minimum), True)]
    if spec.allow_not_participating:
        probes.append((NOT_PARTICIPATING, True))
    return probes


def probe_rounds(layout: SheetLayout) -> tuple[list[dict[str, Entry]], list[set[str]]]:
    """Rounds of probe values (one per input cell per round) and the cells the rubric refuses in each."""
    per_cell = {cell.address: probes_for(cell.spec) for cell in layout.inputs if cell.spec is not None}
    count = max(len(p) for p in per_cell.values())
    rounds = [{a: p[k][0] for a, p in per_cell.items() if k < len(p)} for k in range(count)]
    refused = [{a for a, p in per_cell.items() if k < len(p) and not p[k][1]} for k in range(count)]
    return rounds, refused


def not_participating(entries: dict[str, Entry]) -> set[str]:
    """Cells where 不参加 was typed."""
    return {address for address, value in entries.items() if value == NOT_PARTICIPATING}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Filled]:
    """Every campaign generated, then filled, recalculated and saved by LibreOffice in one session."""
    require_inspector()
    rubrics = load_rubrics()
    cases: dict[str, Filled] = {}
    jobs: list[WorkbookJob] = []
    for rubric_id, (groups, per_group, seed) in CAMPAIGNS.items():
        rubric = rubrics[rubric_id]
        folder = tmp_path_factory.mktemp(rubric_id)
        campaign = Campaign(rubric, small_roster(groups, per_group), rubric.title, rubric.year, "6月10日", rubric.issuer)
        issued = generate_campaign(campaign, folder / "issued")
        case = Filled(rubric_id, load_manifest(issued.path), folder / "returned")
        rng = random.Random(seed)
        for workbook in issued.workbooks:
            items = set(workbook["items"])
            layout = build_sheet_layout(
                rubric, [i for i in rubric.items if i.id in items], unit_rules=workbook["unit_rules"]
            )
            case.layouts[workbook["file"]] = layout
            by_sheet: dict[str, dict[str, Entry]] = {}
            for sheet in workbook["sheets"]:
                entries = random_entries(layout, rng, busy=0.6)
                entries.update({cell.address: REASON for cell in layout.inputs if cell.field == "reason"})
                by_sheet[sheet["name"]] = case.entries[(workbook["file"], sheet["name"])] = entries
                case.inputs.setdefault(sheet["unit"], {}).update(engine_inputs(layout, entries))
            target = case.returned / f"LibreOffice-{workbook['file']}"
            case.files.append(target)
            inspect = {name: [c.address for c in layout.inputs] for name in by_sheet}
            jobs.append(
                WorkbookJob(
                    folder / "issued" / workbook["file"],
                    target,
                    by_sheet,
                    inspect={**inspect, SUMMARY_SHEET: []},
                    probes={workbook["sheets"][0]["name"]: probe_rounds(layout)[0]},
                    reload=True,
                )
            )
        imported = None
        if rubric.components:  # Luoyang: the 网上考核 half comes from the office's table
            online = {unit: Decimal(rng.randint(150, 200)) / 2 for unit in case.manifest.units}
            case.imports = folder / "网上考核.csv"
            case.imports.write_text(
                "单位,网上考核\n" + "".join(f"{u},{v}\n" for u, v in online.items()), encoding="utf-8-sig"
            )
            imported = {u: {"online": v} for u, v in online.items()}
        case.expected = score_campaign(rubric, case.inputs, imported)
        cases[rubric_id] = case
    report = run_inspector(jobs)
    by_target = {w.target: w for w in report.workbooks}
    for case in cases.values():
        case.reports = [by_target[path.resolve()] for path in case.files]
        case.result = check_campaign(case.files, case.manifest, Options(imports=case.imports))
    print_summary(report, cases)
    return cases


def print_summary(report: InspectorReport, cases: dict[str, Filled]) -> None:
    """Timings and the ingest's notes (shown with pytest -s)."""
    print(
        f"\n[LibreOffice 检查员] {report.version}（{report.mode}{'：' + report.fallback if report.fallback else ''}），"
        f"Python {report.python}；启动 {report.startup_seconds:.2f} s，共 {report.total_seconds:.2f} s，"
        f"{len(report.workbooks)} 个工作簿，新配置：{report.first_start}"
    )
    for workbook in report.workbooks:
        print(
            f"  {workbook.source.parent.parent.name}/{workbook.target.name}: "
            + "，".join(f"{k} {v:.2f}s" for k, v in workbook.seconds.items())
        )
    for case in cases.values():
        assert case.result is not None
        for issue in case.result.all_issues:
            print(f"  {case.rubric_id}: {issue.line()}")


def unit_sheets(case: Filled) -> Iterator[tuple[dict[str, Any], WorkbookReport, dict[str, Any]]]:
    """(manifest record of the workbook, LibreOffice's report, manifest record of the sheet) per unit sheet."""
    for workbook, report in zip(case.manifest.data["workbooks"], case.reports, strict=True):
        for sheet in workbook["sheets"]:
            yield workbook, report, sheet


# --- kaohe's ingest and ranking on the LibreOffice files --------------------------------------


@pytest.mark.parametrize("rubric_id", CAMPAIGNS)
def test_ranking_matches_engine(filled, rubric_id):
    case = filled[rubric_id]
    result = case.result
    assert result is not None
    assert result.complete, [i.line() for i in result.blocking]
    assert all(f.status == "accepted" and "LibreOffice" in f.application for f in result.files), [
        (f.name, f.status, f.application) for f in result.files
    ]
    for unit, outcome in result.outcomes.items():
        assert outcome.score is not None
        assert outcome.score.total == case.expected[unit].total, unit
        assert outcome.score.sections == case.expected[unit].sections, unit
        assert outcome.score.bonus_total == case.expected[unit].bonus_total, unit
    ranks = competition_rank({unit: [score.total] for unit, score in case.expected.items()})
    assert {unit: o.rank for unit, o in result.outcomes.items()} == ranks


@pytest.mark.parametrize("rubric_id", CAMPAIGNS)
def test_only_informational_notes(filled, rubric_id):
    """What LibreOffice changes on save is no error and no warning for the ingest."""
    result = filled[rubric_id].result
    assert result is not None
    assert [i.line() for i in result.all_issues if i.level != "info"] == []
    assert {i.code for i in result.all_issues} <= EXPECTED_INFOS


def test_kaohe_rank_on_the_libreoffice_files(filled, tmp_path):
    case = filled["jiaozuo-2016"]
    out = tmp_path / "综合排名.xlsx"
    result = CliRunner().invoke(
        cli, ["rank", str(case.returned), "--manifest", str(case.manifest.path), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "综合排名已写入" in result.output
    book = openpyxl.load_workbook(out, read_only=True)
    try:
        rows = [list(r) for r in book["综合排名"].iter_rows(values_only=True)]
    finally:
        book.close()
    header = next(i for i, r in enumerate(rows) if r and r[0] == "名次")
    total = rows[header].index("总分")
    written = {r[1]: Decimal(str(r[total])) for r in rows[header + 1 : header + 1 + len(case.expected)]}
    assert written == {unit: score.total for unit, score in case.expected.items()}


# --- what LibreOffice computed and saved ---------------------------------------------------


@pytest.mark.parametrize("rubric_id", CAMPAIGNS)
def test_cached_values_libreoffice_computed_are_the_engines(filled, rubric_id):
    case = filled[rubric_id]
    rubric = case.manifest.rubric
    for path, workbook in zip(case.files, case.manifest.data["workbooks"], strict=True):
        layout = case.layouts[workbook["file"]]
        values = cell_values(path)
        for sheet in workbook["sheets"]:
            cached, expected = values[sheet["name"]], case.expected[sheet["unit"]]
            where = f"{path.name} › {sheet['name']}"

            def number(address: str, cached: dict[str, object] = cached, where: str = where) -> Decimal:
                assert address in cached, f"{where}!{address} 没有保存计算结果"
                return Decimal(str(cached[address]))

            for item_id, row in layout.item_rows.items():
                assert number(ref(row, COL_SCORE)) == expected.items[item_id].score, (
                    f"{where}!{ref(row, COL_SCORE)}（{item_id}）"
                )
                if any(r.is_bonus for r in rubric.item(item_id).rules):
                    assert number(ref(row, COL_BONUS)) == expected.items[item_id].bonus, (
                        f"{where}!{ref(row, COL_BONUS)}（{item_id}）"
                    )
            for section_id, row in layout.section_rows.items():
                assert number(ref(row, COL_SCORE)) == expected.sections[section_id], f"{where}!{ref(row, COL_SCORE)}"
            assert number(layout.subtotal_cell) == sum(expected.sections.values()), where
            assert number(layout.bonus_cell) == expected.bonus_total, where
            assert number(layout.total_cell) == expected.workbook_total, where
        # 汇总: each unit's total, its rank within the workbook and its status, as LibreOffice computed them
        summary = values[SUMMARY_SHEET]
        total_col = 3 + len(layout.section_rows)
        totals = {s["unit"]: case.expected[s["unit"]].workbook_total for s in workbook["sheets"]}
        ranks = competition_rank({unit: [total] for unit, total in totals.items()})
        for index, sheet in enumerate(workbook["sheets"]):
            row = SUMMARY_FIRST_ROW + index
            assert Decimal(str(summary[xl_rowcol_to_cell(row, total_col)])) == totals[sheet["unit"]]
            assert summary[xl_rowcol_to_cell(row, total_col + 1)] == ranks[sheet["unit"]]
            assert summary[xl_rowcol_to_cell(row, total_col + 2)] == "已完成"


# --- what LibreOffice understood: protection and validation --------------------------------


def written_validations(layout: SheetLayout) -> dict[str, tuple[str, dict[str, Any]]]:
    """What kaohe writes: input cell → (the validation's anchor cell, its xlsxwriter options)."""
    written = {}
    for row, col, options in validation_plan(layout)[0]:
        anchor = ref(row, col)
        for address in options.get("multi_range", anchor).split():
            written[address] = (anchor, options)
    return written


def check_sheet(report: SheetReport, layout: SheetLayout, where: str) -> None:
    """Protection, locked formulas, unlocked inputs and each input's validation, as LibreOffice reports them."""
    assert report.protected, f"{where}：工作表未受保护"
    formulas = {cell.address: cell.formula for cell in layout.cells if cell.role == "formula"}
    assert set(report.formula_cells) == set(formulas), where
    for address, (formula, locked) in report.formula_cells.items():
        assert locked, f"{where}!{address}：公式格未锁定"
        assert normalise_formula(excel_formula(formula)) == normalise_formula(formulas[address]), f"{where}!{address}"
    assert report.unlocked == {cell.address for cell in layout.inputs}, where
    assert not report.unlocked_outside_used_area, where
    written = written_validations(layout)
    for cell in layout.inputs:
        got = report.cells[cell.address]
        at = f"{where}!{cell.address}（{cell.label}）"
        assert not got.locked, at
        if cell.spec is None:  # a reason: free text
            assert got.validation is None and cell.address not in written, at
            continue
        spec, validation = cell.spec, got.validation
        assert validation is not None, f"{at}：LibreOffice 没有读到数据验证"
        anchor, options = written[cell.address]
        # relative references count from the validation's first cell (the probes show they move with the cell)
        assert validation.source == anchor, at
        assert (validation.show_error, validation.error_style, validation.ignore_blank, validation.show_input) == (
            True,
            "STOP",
            True,
            True,
        ), at
        assert (validation.error_title, validation.error_message) == (
            options["error_title"],
            options["error_message"],
        ), at
        assert (validation.input_title, validation.input_message) == (
            options["input_title"],
            options["input_message"],
        ), at
        if spec.kind in ("flag", "choice"):
            assert options["validate"] == "list", at
            assert validation.type == "LIST" and validation.show_list != 0, at  # a drop-down
            assert validation.entries == tuple(options["source"]) == spec.choices, at
        elif options["validate"] == "integer":
            assert spec.kind == "count" and not spec.allow_not_participating, at
            assert (validation.type, validation.operator) == ("WHOLE", "BETWEEN"), at
            assert (validation.formula1, validation.formula2) == (str(options["minimum"]), str(options["maximum"])), at
            assert (options["minimum"], options["maximum"]) == (spec.minimum, spec.maximum), at
        else:
            assert options["validate"] == "custom", at
            assert (validation.type, validation.operator) == ("CUSTOM", "FORMULA"), at
            formula = normalise_formula(excel_formula(validation.formula1))
            assert (
                formula == normalise_formula(options["value"]) == normalise_formula(validity_formula(spec, anchor))
            ), at


@pytest.mark.parametrize("rubric_id", CAMPAIGNS)
def test_protection_and_validation_as_libreoffice_understood_them(filled, rubric_id):
    case = filled[rubric_id]
    for workbook, report, sheet in unit_sheets(case):
        check_sheet(
            report.sheets[sheet["name"]], case.layouts[workbook["file"]], f"{report.target.name} › {sheet['name']}"
        )
        # LibreOffice's own validation accepts every entry typed (its detective marks none)
        typed = case.entries[(workbook["file"], sheet["name"])]
        assert set(report.sheets[sheet["name"]].invalid) == set(), sheet["name"]
        assert typed  # entries were made
    for report in case.reports:
        sheets = report.sheets
        assert list(sheets)[-1] == META_SHEET and not sheets[META_SHEET].visible
        assert all(s.visible for name, s in sheets.items() if name != META_SHEET)
        assert all(s.protected for s in sheets.values()), [name for name, s in sheets.items() if not s.protected]
        summary = sheets[SUMMARY_SHEET]
        assert summary.formula_cells and all(locked for _, locked in summary.formula_cells.values())
        assert summary.unlocked == frozenset()


@pytest.mark.parametrize("rubric_id", CAMPAIGNS)
def test_libreoffice_refuses_exactly_the_values_the_rubric_refuses(filled, rubric_id):
    case = filled[rubric_id]
    for workbook, report in zip(case.manifest.data["workbooks"], case.reports, strict=True):
        rounds, refused = probe_rounds(case.layouts[workbook["file"]])
        flagged = report.sheets[workbook["sheets"][0]["name"]].probes
        assert len(flagged) == len(rounds)
        for index, (values, marked, want) in enumerate(zip(rounds, flagged, refused, strict=True), start=1):
            wrong = sorted(set(marked) ^ want)
            assert not wrong, (
                f"第 {index} 轮试填：{[(a, values.get(a), '应拒绝' if a in want else '应接受') for a in wrong]}"
            )


def test_not_participating_is_accepted(filled):
    """Dongyang's 折算 inputs accept 不参加: typed in the unit sheets, and typed as a probe."""
    case = filled["dongyang-2013"]
    typed, refused = 0, []
    for workbook, report, sheet in unit_sheets(case):
        cells = not_participating(case.entries[(workbook["file"], sheet["name"])])
        typed += len(cells)
        refused += [f"{sheet['name']}!{a}" for a in sorted(cells & set(report.sheets[sheet["name"]].invalid))]
    for workbook, report in zip(case.manifest.data["workbooks"], case.reports, strict=True):
        rounds, _ = probe_rounds(case.layouts[workbook["file"]])
        for values, marked in zip(rounds, report.sheets[workbook["sheets"][0]["name"]].probes, strict=True):
            cells = not_participating(values)
            typed += len(cells)
            refused += [f"试填 {a}" for a in sorted(cells & set(marked))]
    assert typed > 0
    assert refused == []


@pytest.mark.parametrize("rubric_id", CAMPAIGNS)
def test_libreoffice_reads_back_its_own_file_the_same(filled, rubric_id):
    case = filled[rubric_id]
    for workbook, report, sheet in unit_sheets(case):
        assert report.reloaded is not None
        again = report.reloaded[sheet["name"]]
        check_sheet(again, case.layouts[workbook["file"]], f"{report.target.name}（重新打开）› {sheet['name']}")
        assert set(again.invalid) == set()
        assert {a: (c.type, c.value) for a, c in again.cells.items()} == {
            a: (c.type, c.value) for a, c in report.sheets[sheet["name"]].cells.items()
        }
    for report in case.reports:
        assert report.reloaded is not None
        assert not report.reloaded[META_SHEET].visible
        assert all(s.protected for s in report.reloaded.values())
