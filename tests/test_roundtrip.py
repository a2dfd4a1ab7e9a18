"""Generate → fill as an inspector would → check and rank → the engine's totals, grades and ranks."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from filling import engine_inputs, fill, random_entries, small_roster

from kaohe_xlsx.cli import cli
from kaohe_xlsx.generate import MANIFEST_NAME, Campaign, generate_campaign
from kaohe_xlsx.ingest import load_manifest
from kaohe_xlsx.layout import build_sheet_layout
from kaohe_xlsx.reconcile import Options, check_campaign
from kaohe_xlsx.rubrics import load_rubrics
from kaohe_xlsx.sample import fill_campaign
from kaohe_xlsx.scoring import competition_rank, score_campaign


def run_campaign(
    tmp_path: Path, rubric_id: str, split: str = "group", seed: int = 7, groups: int = 2, per_group: int = 4
):
    """Generate, fill every unit sheet with reasons, return (manifest, returned files, entries by unit)."""
    rubric = load_rubrics()[rubric_id]
    campaign = Campaign(
        rubric, small_roster(groups, per_group), rubric.title, rubric.year, "6月10日", rubric.issuer, split=split
    )  # type: ignore[arg-type]
    manifest = generate_campaign(campaign, tmp_path / "issued")
    rng = random.Random(seed)
    returned = tmp_path / "returned"
    returned.mkdir()
    inputs_by_unit: dict[str, dict] = {}
    files = []
    for index, workbook in enumerate(manifest.workbooks, start=1):
        items = set(workbook["items"])
        layout = build_sheet_layout(
            rubric, [i for i in rubric.items if i.id in items], unit_rules=workbook["unit_rules"]
        )
        by_sheet = {}
        for sheet in workbook["sheets"]:
            entries = random_entries(layout, rng, busy=0.3)
            for cell in layout.inputs:
                if cell.field == "reason":
                    entries[cell.address] = "现场查阅资料发现问题"
            by_sheet[sheet["name"]] = entries
            inputs_by_unit.setdefault(sheet["unit"], {}).update(engine_inputs(layout, entries))
        files.append(fill(tmp_path / "issued" / workbook["file"], returned / f"第{index}份（最终版）.xlsx", by_sheet))
    return load_manifest(manifest.path), files, inputs_by_unit


@pytest.mark.parametrize("rubric_id", ["jiaozuo-2016", "wenzhou"])
def test_round_trip_totals_and_ranks(tmp_path, rubric_id):
    manifest, files, inputs = run_campaign(tmp_path, rubric_id)
    result = check_campaign(files, manifest)
    assert result.complete, [i.line() for i in result.blocking]
    expected = score_campaign(manifest.rubric, inputs)
    for unit, outcome in result.outcomes.items():
        assert outcome.score is not None
        assert outcome.score.total == expected[unit].total, unit
        assert outcome.score.sections == expected[unit].sections
    ranks = competition_rank({unit: [score.total] for unit, score in expected.items()})
    assert {unit: o.rank for unit, o in result.outcomes.items()} == ranks


def test_round_trip_luoyang_with_imported_online_half(tmp_path):
    manifest, files, inputs = run_campaign(tmp_path, "luoyang-2016", seed=11)
    rng = random.Random(5)
    online = {unit: Decimal(rng.randint(150, 200)) / 2 for unit in manifest.units}
    table = tmp_path / "网上考核.csv"
    table.write_text("单位,网上考核\n" + "".join(f"{u},{v}\n" for u, v in online.items()), encoding="utf-8-sig")
    result = check_campaign(files, manifest, Options(imports=table))
    assert result.complete, [i.line() for i in result.blocking]
    expected = score_campaign(manifest.rubric, inputs, {u: {"online": v} for u, v in online.items()})
    for unit, outcome in result.outcomes.items():
        # seed 002: "网上考核与年终分组考评各占50%"; grades 90+ 先进, 60–89 达标
        assert outcome.score.total == expected[unit].total
        assert outcome.score.grade == expected[unit].grade
        assert outcome.score.total == ((online[unit] + expected[unit].workbook_total) / 2).quantize(Decimal("0.01"))


def test_luoyang_without_imports_is_incomplete(tmp_path):
    manifest, files, _ = run_campaign(tmp_path, "luoyang-2016", seed=3, groups=1, per_group=2)
    result = check_campaign(files, manifest)
    assert not result.complete
    assert {i.code for i in result.blocking} == {"import-missing"}


def test_round_trip_dongyang_by_assessor(tmp_path):
    manifest, files, inputs = run_campaign(tmp_path, "dongyang-2013", split="assessor", groups=1, per_group=3)
    result = check_campaign(files, manifest)
    assert not result.blocking, [i.line() for i in result.blocking]
    expected = score_campaign(manifest.rubric, inputs)
    for unit, outcome in result.outcomes.items():
        assert outcome.score.total == expected[unit].total
        assert {r.assessor for r in outcome.records} >= {"市纪委", "组织部"}


def test_missing_workbook_and_unfinished_unit(tmp_path):
    manifest, files, _ = run_campaign(tmp_path, "jiaozuo-2016", groups=2, per_group=2)
    workbook = openpyxl.load_workbook(files[0])
    workbook[workbook.sheetnames[2]]["D3"] = None  # first unit not marked finished
    workbook.save(files[0])
    result = check_campaign(files[:1], manifest)
    codes = {i.code for i in result.all_issues}
    assert {"workbook-missing", "unit-missing", "unit-unfinished", "not-assessed"} <= codes
    assert not result.complete
    first_unit = manifest.data["workbooks"][0]["units"][0]
    assert result.outcomes[first_unit].rank is None


def test_cli_rank_writes_the_ranking(tmp_path):
    manifest, _files, inputs = run_campaign(tmp_path, "jiaozuo-2016")
    (tmp_path / "returned" / MANIFEST_NAME).write_bytes(manifest.path.read_bytes())
    out = tmp_path / "综合排名.xlsx"
    result = CliRunner().invoke(cli, ["rank", str(tmp_path / "returned"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "综合排名已写入" in result.output
    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["综合排名", "分组排名", "明细", "核对报告", "统计", "来源"]
    expected = score_campaign(manifest.rubric, inputs)
    sheet = workbook["综合排名"]
    header = next(r for r in range(1, 6) if sheet.cell(r, 1).value == "名次")
    totals_column = [c.value for c in sheet[header]].index("总分") + 1
    rows = range(header + 1, header + 1 + len(expected))
    written = {sheet.cell(r, 2).value: Decimal(str(sheet.cell(r, totals_column).value)) for r in rows}
    assert written == {unit: score.total for unit, score in expected.items()}
    again = CliRunner().invoke(cli, ["rank", str(tmp_path / "returned"), "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output


def test_cli_check_is_read_only(tmp_path):
    manifest, files, _ = run_campaign(tmp_path, "jiaozuo-2016", groups=1, per_group=2)
    before = {f: f.read_bytes() for f in files}
    result = CliRunner().invoke(cli, ["check", *map(str, files), "--manifest", str(manifest.path)])
    assert result.exit_code == 0, result.output
    assert "核对通过" in result.output
    assert {f: f.read_bytes() for f in files} == before


def test_converted_scores_need_no_reason(tmp_path):
    # seed 004 一(五): "五城同创(倒扣分5分)… 考核折算" — the score comes from another assessment,
    # so a converted score below full marks is no deduction to explain (it was 601 warnings)
    rubric = load_rubrics()["dongyang-2013"]
    campaign = Campaign(rubric, small_roster(1, 2), rubric.title, 2013, "", "考核办", split="assessor")
    generated = generate_campaign(campaign, tmp_path / "issued")
    manifest = load_manifest(generated.path)
    files = fill_campaign(manifest, tmp_path / "issued", tmp_path / "returned")
    result = check_campaign(files, manifest)
    assert {"1.5.1", "1.6.1", "2.1", "2.2"} <= {i.id for i in rubric.items if not i.needs_reason}
    penalties = [o.score.items["1.5.1"].score for o in result.outcomes.values()]
    assert any(score < 0 for score in penalties)  # converted below full marks: a penalty
    assert [i.line() for i in result.all_issues if i.code == "reason-missing"] == []
