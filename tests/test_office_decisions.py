"""What the office decides and sees: conflicts, accepted tampering, annotated copies, leniency,
entries that come back as dates or percentages, and the printed ranking."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from battery import COUNT_CELL, HALF_CELL, RATE_CELL, S1, SCORE_CELL, battery_campaign, filled_copy
from click.testing import CliRunner
from libreoffice import require_soffice

from kaohe_xlsx.cli import cli
from kaohe_xlsx.ingest import load_manifest
from kaohe_xlsx.reconcile import Options, UnitOutcome, check_campaign, group_statistics
from kaohe_xlsx.scoring import UnitScore


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    issued = tmp_path_factory.mktemp("issued")
    manifest = battery_campaign(issued)
    return issued, manifest.data, load_manifest(manifest.path)


def edited(
    source: Path, target: Path, cells: dict[str, object], sheet: str = S1, number_format: str | None = None
) -> Path:
    shutil.copyfile(source, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook = openpyxl.load_workbook(target)
    for address, value in cells.items():
        workbook[sheet][address] = value
        if number_format:
            workbook[sheet][address].number_format = number_format
    workbook.save(target)
    return target


def test_conflicting_copies_settled_by_newest(campaign, tmp_path):
    issued, data, manifest = campaign
    first = filled_copy(issued, tmp_path, data)
    second = edited(first, tmp_path / "第一组最终版(2).xlsx", {HALF_CELL: 1.5})
    blocked = check_campaign([first, second], manifest)
    assert [(i.code, i.sheet, i.cell) for i in blocked.blocking if i.sheet] == [("duplicate-conflict", S1, HALF_CELL)]
    settled = check_campaign([first, second], manifest, Options(prefer="newest"))
    assert not [i for i in settled.blocking if i.code == "duplicate-conflict"]
    unit = data["workbooks"][0]["units"][0]
    record = settled.outcomes[unit].records[0]
    assert record.file == second.name  # openpyxl stamps the later save
    assert record.inputs[("1.4", "d0")] == Decimal("1.5")
    named = check_campaign([first, second], manifest, Options(prefer=first.name))
    assert named.outcomes[unit].records[0].file == first.name


def test_tampered_file_blocks_until_accepted(campaign, tmp_path):
    issued, data, manifest = campaign
    tampered = edited(filled_copy(issued, tmp_path, data), tmp_path / "第一组.xlsx", {SCORE_CELL: 5})
    result = check_campaign([tampered], manifest)
    assert ("value-typed-over", S1, SCORE_CELL) in [(i.code, i.sheet, i.cell) for i in result.blocking]
    unit = data["workbooks"][0]["units"][0]
    assert result.outcomes[unit].status == "待确认"
    accepted = check_campaign([tampered], manifest, Options(accept=frozenset({tampered.name})))
    assert not [i for i in accepted.blocking if i.code == "value-typed-over"]
    assert accepted.outcomes[unit].score is not None  # scored from the inputs, never from F7


def test_annotated_copy_marks_problem_cells(campaign, tmp_path):
    issued, data, manifest = campaign
    bad = edited(filled_copy(issued, tmp_path, data), tmp_path / "第一组.xlsx", {COUNT_CELL: 9})
    before = bad.read_bytes()
    result = CliRunner().invoke(
        cli, ["check", str(bad), "--manifest", str(manifest.path), "--annotate", str(tmp_path / "退回")]
    )
    assert result.exit_code == 1
    assert bad.read_bytes() == before
    copy = tmp_path / "退回" / "第一组-核对意见.xlsx"
    assert f"已生成标注副本：{copy}" in result.output
    cell = openpyxl.load_workbook(copy)[S1][COUNT_CELL]
    assert "超出范围" in cell.comment.text
    assert cell.fill.fgColor.rgb == "FFFF7C80"


@pytest.mark.parametrize(
    ("value", "number_format", "code", "expected"),
    [
        (0.855, "0.0%", "number-as-text", Decimal("85.5")),  # 85.5% typed as a percentage: a rate out of 100
        (45117, "m/d", "not-a-number", None),  # "7/10" turned into a date by Excel
        ("7,5", None, "not-a-number", None),
    ],
)
def test_entries_that_come_back_transformed(campaign, tmp_path, value, number_format, code, expected):
    issued, data, manifest = campaign
    path = edited(
        filled_copy(issued, tmp_path, data), tmp_path / "第一组.xlsx", {RATE_CELL: value}, number_format=number_format
    )
    result = check_campaign([path], manifest)
    found = [i for i in result.all_issues if i.cell == RATE_CELL]
    assert [i.code for i in found] == [code]
    unit = data["workbooks"][0]["units"][0]
    assert result.outcomes[unit].records[0].inputs.get(("5.1", "d1")) == expected


def _outcome(unit: str, group: str, total: int) -> UnitOutcome:
    score = UnitScore({}, {}, Decimal(0), Decimal(total), {}, Decimal(total), "", True)
    return UnitOutcome(unit, group, score=score, status="完成")


def test_lenient_group_is_flagged():
    outcomes = [
        _outcome(f"{g}{i}", g, base + i % 3) for g, base in (("一组", 90), ("二组", 91), ("三组", 99)) for i in range(6)
    ]
    stats = {row.group: row for row in group_statistics(outcomes)}
    assert stats["三组"].flag == "明显偏高"
    assert stats["一组"].flag == stats["二组"].flag == ""
    assert stats["一组"].mean == 91 and stats["一组"].count == 6


def test_ranking_pdf_is_one_page_wide(tmp_path):
    require_soffice()
    if shutil.which("pdftoppm") is None:
        reason = "pdftoppm 未安装（apt-get install poppler-utils）"
        if os.environ.get("KAOHE_REQUIRE_LIBREOFFICE") == "1":  # CI: the printing test must run
            pytest.fail(reason)
        pytest.skip(reason)
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", str(tmp_path / "demo")]).exit_code == 0
    demo = tmp_path / "demo"
    out = tmp_path / "综合排名.xlsx"
    result = runner.invoke(
        cli,
        [
            "rank",
            str(demo / "2-收回的考核表"),
            "--manifest",
            str(demo / "1-下发的考核表" / "考核清单.kaohe.json"),
            "--out",
            str(out),
            "--pdf",
        ],
    )
    assert result.exit_code == 0, result.output
    pdf = out.with_suffix(".pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "A4" in info
    text = subprocess.run(
        ["pdftotext", "-layout", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "综合排名" in text and "名次" in text and "总分" in text
    # one page wide: every page carries the title and the header row, and the last column (说明)
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    for page in range(1, pages + 1):
        page_text = subprocess.run(
            ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "名次" in page_text and "说明" in page_text, page
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").exists()


def _rewrite_sheet(path: Path, sheet: str, edit) -> None:
    """Edit one sheet's XML inside the package (what openpyxl cannot express)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    workbook = parts["xl/workbook.xml"].decode()
    rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="(rId\d+)"', workbook).group(1)
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    target = re.search(rf'Id="{rid}"[^>]*Target="/?(?:xl/)?([^"]+)"', rels) or re.search(
        rf'Target="/?(?:xl/)?([^"]+)"[^>]*Id="{rid}"', rels
    )
    part = "xl/" + target.group(1)
    parts[part] = edit(parts[part].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)


def test_wrong_dimension_loses_no_rows(campaign, tmp_path):
    # WPS can declare a wrong sheet dimension; openpyxl's read-only mode then drops rows
    issued, data, manifest = campaign
    path = edited(filled_copy(issued, tmp_path, data), tmp_path / "第一组.xlsx", {RATE_CELL: 75})
    _rewrite_sheet(
        path, S1, lambda xml: __import__("re").sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1:B2"/>', xml)
    )
    result = check_campaign([path], manifest)
    unit = data["workbooks"][0]["units"][0]
    assert result.outcomes[unit].records[0].inputs[("5.1", "d1")] == 75


def test_validations_in_excels_x14_extension_are_read(campaign, tmp_path):
    # openpyxl drops validations stored in Excel's x14 extension; a move there is not a change
    issued, data, manifest = campaign
    path = filled_copy(issued, tmp_path, data)

    def move_to_x14(xml: str) -> str:
        import re

        block = re.search(r'<dataValidation [^>]*sqref="D3"[^>]*>.*?</dataValidation>', xml, re.S).group(0)
        xml = xml.replace(block, "")
        formula = re.search(r"<formula1>(.*?)</formula1>", block).group(1)
        x14 = (
            '<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
            'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
            '<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
            f'<x14:dataValidation type="list" allowBlank="1"><x14:formula1><xm:f>{formula}</xm:f></x14:formula1>'
            "<xm:sqref>D3</xm:sqref></x14:dataValidation></x14:dataValidations></ext></extLst>"
        )
        return xml.replace("</worksheet>", x14 + "</worksheet>")

    _rewrite_sheet(path, S1, move_to_x14)
    result = check_campaign([path], manifest)
    assert not [i for i in result.all_issues if i.code == "validation-changed"], [i.line() for i in result.all_issues]


def test_demo_ranks_all_82_units(tmp_path):
    result = CliRunner().invoke(cli, ["demo", str(tmp_path / "演示")])
    assert result.exit_code == 0, result.output
    assert "82 个单位中 82 个已完成评分" in result.output
    sheet = openpyxl.load_workbook(tmp_path / "演示" / "3-综合排名.xlsx")["综合排名"]
    header = next(r for r in range(1, 6) if sheet.cell(r, 1).value == "名次")
    ranks = [sheet.cell(r, 1).value for r in range(header + 1, sheet.max_row + 1)]
    assert len(ranks) == 82 and ranks[0] == 1 and all(isinstance(r, int) for r in ranks)
    remarks = [sheet.cell(r, sheet.max_column).value or "" for r in range(header + 1, sheet.max_row + 1)]
    assert sum("取消当年评先资格" in text for text in remarks) == 1  # the one unit with a veto


def test_manifest_from_another_table_format_is_refused(campaign, tmp_path):
    import json

    from kaohe_xlsx.issues import KaoheError

    _, _, manifest = campaign
    older = json.loads(manifest.path.read_text(encoding="utf-8"))
    older["campaign"]["layout_version"] = 0
    path = tmp_path / "旧清单.kaohe.json"
    path.write_text(json.dumps(older, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(KaoheError, match="表格格式 0"):
        load_manifest(path)


def test_unwritable_ranking_is_a_chinese_error(campaign, tmp_path):
    issued, data, manifest = campaign
    path = filled_copy(issued, tmp_path, data)
    blocker = tmp_path / "是文件"
    blocker.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["rank", str(path), "--manifest", str(manifest.path), "--out", str(blocker / "综合排名.xlsx"), "--allow-incomplete"]
    )
    assert result.exit_code == 1
    assert "无法创建文件夹" in result.output and "Traceback" not in result.output


def test_fingerprints_must_match_what_is_rebuilt(campaign, tmp_path):
    import json

    from kaohe_xlsx.issues import KaoheError

    issued, data, manifest = campaign
    path = filled_copy(issued, tmp_path, data)
    altered = json.loads(manifest.path.read_text(encoding="utf-8"))
    altered["workbooks"][0]["sheets"][0]["digest"] = "0" * 64
    other = tmp_path / "改过的清单.kaohe.json"
    other.write_text(json.dumps(altered, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(KaoheError, match="指纹"):
        check_campaign([path], load_manifest(other))
