"""Generated workbooks, read back with openpyxl: structure, protection, validation, metadata."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from kaohe_xlsx.cli import cli
from kaohe_xlsx.generate import MANIFEST_NAME, Campaign, GenerateError, generate_campaign
from kaohe_xlsx.layout import META_SHEET, build_sheet_layout
from kaohe_xlsx.roster import Group, Member, Roster, default_roster
from kaohe_xlsx.rubrics import load_rubrics
from kaohe_xlsx.scoring import score_unit


@pytest.fixture(scope="module")
def rubrics():
    return load_rubrics()


@pytest.fixture(scope="module")
def jiaozuo_campaign(rubrics, tmp_path_factory):
    rubric = rubrics["jiaozuo-2016"]
    out = tmp_path_factory.mktemp("jiaozuo")
    campaign = Campaign(rubric, default_roster(), rubric.title, 2016, "2017年6月10日", rubric.issuer)
    manifest = generate_campaign(campaign, out)
    return campaign, manifest, out


def small_roster(*units: str, group: str = "第一组") -> Roster:
    return Roster((Group(group, (Member("组长", "张三", "副书记"),), "3568226", tuple(units)),))


def test_four_group_workbooks_and_manifest(jiaozuo_campaign):
    _, manifest, out = jiaozuo_campaign
    # seed 000 附件1: four groups of 22, 15, 23 and 22 units
    assert [len(w["units"]) for w in manifest.workbooks] == [22, 15, 23, 22]
    assert sorted(p.name for p in out.iterdir()) == sorted([*(w["file"] for w in manifest.workbooks), MANIFEST_NAME])
    data = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    for workbook in data["workbooks"]:
        assert workbook["sha256"] == hashlib.sha256((out / workbook["file"]).read_bytes()).hexdigest()
        assert len(workbook["sheets"]) == len(workbook["units"])
        assert all(len(sheet["digest"]) == 64 for sheet in workbook["sheets"])
    assert data["campaign"]["rubric_id"] == "jiaozuo-2016"


def test_sheets_metadata_and_input_table(jiaozuo_campaign):
    campaign, manifest, out = jiaozuo_campaign
    record = manifest.workbooks[1]
    wb = openpyxl.load_workbook(out / record["file"])
    assert wb.sheetnames[:2] == ["说明", "汇总"]
    assert wb.sheetnames[-1] == META_SHEET
    assert wb[META_SHEET].sheet_state == "veryHidden"
    assert wb.sheetnames[2:-1] == [s["name"] for s in record["sheets"]]
    assert wb.sheetnames[2] == "01 总工会"
    meta = {row[0]: row[1] for row in wb[META_SHEET].iter_rows(min_row=3, max_row=14, values_only=True) if row[0]}
    assert meta["workbook_id"] == record["id"]
    assert meta["assessor"] == "第二考核调研组"
    assert meta["rubric_id"] == "jiaozuo-2016"
    layout = build_sheet_layout(campaign.rubric, campaign.rubric.items)
    rows = list(wb[META_SHEET].iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] == "input_cells") + 2
    table = rows[start:]
    assert len(table) == len(layout.inputs) * 15
    assert table[0][:3] == ("01 总工会", "D3", "总工会")


def test_protection_only_inputs_unlocked(jiaozuo_campaign):
    campaign, manifest, out = jiaozuo_campaign
    wb = openpyxl.load_workbook(out / manifest.workbooks[0]["file"])
    layout = build_sheet_layout(campaign.rubric, campaign.rubric.items)
    inputs = {cell.address for cell in layout.inputs}
    for name in wb.sheetnames[:-1]:
        ws = wb[name]
        assert ws.protection.sheet, name
    ws = wb[wb.sheetnames[2]]
    unlocked = {cell.coordinate for row in ws.iter_rows() for cell in row if cell.protection.locked is False}
    assert unlocked == inputs
    formulas = [cell for row in ws.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas and all(cell.protection.locked for cell in formulas)


def test_every_input_has_a_validation(jiaozuo_campaign):
    campaign, manifest, out = jiaozuo_campaign
    wb = openpyxl.load_workbook(out / manifest.workbooks[0]["file"])
    ws = wb[wb.sheetnames[2]]
    layout = build_sheet_layout(campaign.rubric, campaign.rubric.items)
    covered: dict[str, object] = {}
    for validation in ws.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            covered[cell_range.coord] = validation
    for cell in layout.inputs:
        if cell.spec is None:
            continue
        validation = covered[cell.address]
        assert validation.errorStyle in (None, "stop") and validation.showErrorMessage  # None: OOXML default "stop"
        expected = {"flag": "list", "choice": "list", "count": "whole", "number": "custom"}[cell.spec.kind]
        assert validation.type == expected, cell.address
        assert len(validation.prompt) <= 255
    # seed 000 (一)2: "会议记录每缺少一个季度扣1分" — whole number of quarters, 0 to 4
    quarters = covered[layout.cell_of(("1.2", "d1")).address]
    assert (quarters.formula1, quarters.formula2) == ("0", "4")
    assert "会议记录每缺少一个季度扣1分" in quarters.prompt
    levels = covered[layout.cell_of(("1.1", "b1")).address]
    assert levels.formula1 == '"无,国家级,省级,市级,工委"'


def test_cached_values_are_the_engines(jiaozuo_campaign):
    campaign, manifest, out = jiaozuo_campaign
    wb = openpyxl.load_workbook(out / manifest.workbooks[0]["file"], data_only=True)
    ws = wb[wb.sheetnames[2]]
    layout = build_sheet_layout(campaign.rubric, campaign.rubric.items)
    blank = score_unit(campaign.rubric, {})
    assert ws[layout.total_cell].value == 100
    for item_id, row in layout.item_rows.items():
        assert Decimal(str(ws.cell(row + 1, 6).value)) == blank.items[item_id].score
    summary = wb["汇总"]
    assert [c.value for c in summary[4]][:3] == [1, "市委办公室", 25]


def test_roster_text_stays_text(rubrics, tmp_path):
    rubric = rubrics["jiaozuo-2016"]
    campaign = Campaign(rubric, small_roster("=1+1", "@SUM(A1)", "市委[办]"), "测试", 2016, "", "办公室")
    manifest = generate_campaign(campaign, tmp_path)
    wb = openpyxl.load_workbook(tmp_path / manifest.workbooks[0]["file"])
    summary = wb["汇总"]
    assert [(summary.cell(row, 2).value, summary.cell(row, 2).data_type) for row in (4, 5, 6)] == [
        ("=1+1", "s"),
        ("@SUM(A1)", "s"),
        ("市委[办]", "s"),
    ]
    assert wb.sheetnames[2:5] == ["01 =1+1", "02 @SUM(A1)", "03 市委_办_"]


def test_file_names_stay_in_the_output_folder(rubrics, tmp_path):
    rubric = rubrics["jiaozuo-2016"]
    campaign = Campaign(rubric, small_roster("甲局", group="../../组:一*"), "测试", 2016, "", "办公室")
    manifest = generate_campaign(campaign, tmp_path / "out")
    (name,) = [w["file"] for w in manifest.workbooks]
    assert name == "01-.._.._组_一_-考核表.xlsx"
    assert (tmp_path / "out" / name).exists()


def test_existing_files_need_force(rubrics, tmp_path):
    rubric = rubrics["jiaozuo-2016"]
    campaign = Campaign(rubric, small_roster("甲局"), "测试", 2016, "", "办公室")
    generate_campaign(campaign, tmp_path)
    with pytest.raises(GenerateError, match="已有同名文件"):
        generate_campaign(campaign, tmp_path)
    generate_campaign(campaign, tmp_path, force=True)


def test_rubric_without_points_is_refused(rubrics, tmp_path):
    campaign = Campaign(rubrics["jiaozuo-2020"], small_roster("甲局"), "测试", 2020, "", "办公室")
    with pytest.raises(GenerateError, match="还没有分值"):
        generate_campaign(campaign, tmp_path)


def test_split_by_assessor(rubrics, tmp_path):
    # seed 004: each part names the department that assesses it (由组织部考核 …)
    rubric = rubrics["dongyang-2013"]
    campaign = Campaign(rubric, small_roster("甲局", "乙办"), rubric.title, 2013, "", "考核办", split="assessor")
    manifest = generate_campaign(campaign, tmp_path)
    by_assessor = {w["assessor"]: w for w in manifest.workbooks}
    # 领导班子和干部队伍建设 and, in 自身建设, 党代表提议和询问 (单位: 组织部)
    assert set(by_assessor["组织部"]["items"]) == {"3.2.1", "3.2.2", "3.2.3", "3.2.4", "3.2.5", "3.6.12"}
    assert all(w["units"] == ["甲局", "乙办"] for w in manifest.workbooks)
    all_items = sorted(item for w in manifest.workbooks for item in w["items"])
    assert all_items == sorted(item.id for item in rubric.items)  # every (unit, item) cell exactly once


def test_self_assessment_column(rubrics, tmp_path):
    # seed 001 columns: "自查分 | 扣分 | 得分"
    rubric = rubrics["wenzhou"]
    layout = build_sheet_layout(rubric, rubric.items)
    assert sum(1 for cell in layout.inputs if cell.field == "self") == 13
    campaign = Campaign(rubric, small_roster("甲局"), rubric.title, None, "", "市直机关工委")
    manifest = generate_campaign(campaign, tmp_path)
    ws = openpyxl.load_workbook(tmp_path / manifest.workbooks[0]["file"])["01 甲局"]
    assert ws["I5"].value == "自查分"


def test_cli_generate_defaults(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--out", str(tmp_path / "考核表")])
    assert result.exit_code == 0, result.output
    assert "已生成 4 份考核表（共 82 个单位表）" in result.output
    assert len(list((tmp_path / "考核表").glob("*.xlsx"))) == 4
    again = CliRunner().invoke(cli, ["generate", "--out", str(tmp_path / "考核表")])
    assert again.exit_code == 1 and "--force" in again.output


def test_manifest_digest_changes_with_content(rubrics, tmp_path):
    rubric = rubrics["jiaozuo-2016"]
    first = generate_campaign(Campaign(rubric, small_roster("甲局"), "甲", 2016, "", "办"), tmp_path / "a")
    second = generate_campaign(Campaign(rubric, small_roster("乙局"), "甲", 2016, "", "办"), tmp_path / "b")
    assert first.workbooks[0]["sheets"][0]["digest"] != second.workbooks[0]["sheets"][0]["digest"]


def test_generated_bytes_are_stable(rubrics, tmp_path):
    from datetime import datetime

    rubric = rubrics["jiaozuo-2016"]
    when = datetime(2017, 5, 9, tzinfo=UTC)
    campaign = Campaign(rubric, small_roster("甲局"), "甲", 2016, "", "办")
    a = generate_campaign(campaign, tmp_path / "a", now=when)
    b = generate_campaign(campaign, tmp_path / "b", now=when)
    # only the random campaign id differs between two runs
    assert a.workbooks[0]["sheets"][0]["digest"] == b.workbooks[0]["sheets"][0]["digest"]
    assert Path(a.path).name == MANIFEST_NAME
