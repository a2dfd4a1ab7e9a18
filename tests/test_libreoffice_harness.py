"""The LibreOffice harness (tests/libreoffice.py) really recalculates, and what LibreOffice returns.

xlsxwriter caches 0 (or ``value=``) for every formula and openpyxl drops cached values, so a test
reading values back only sees real results after LibreOffice has recalculated. The workbooks here
carry deliberately wrong cached values; any test seeing 0 or 999 means the profile setting
(OOXMLRecalcMode = 0, always recalculate) was not applied.

The values asserted below are those of LibreOffice 7.4 (Debian bookworm, libreoffice-calc-nogui):
ROUND rounds half away from zero on the decimal value shown (0.145 → 0.15, 2.675 → 2.68, like
Excel, unlike Python's round()), sums of 0.1-multiples come out exact, and cached numbers are
written with 15 significant digits.
"""

from __future__ import annotations

import stat
import sys
import time
import zipfile
from pathlib import Path

import libreoffice as lo
import openpyxl
import pytest
import xlsxwriter
from libreoffice import LibreOfficeError, cell_values, recalculate, recalculate_many, require_soffice, to_pdf


@pytest.fixture
def soffice() -> str:
    return require_soffice()


def write_basic(path: Path, a1: float = 21) -> Path:
    """A1 = a1; B1 = A1*2 cached as 0 by xlsxwriter; B2 = A1+1 with a deliberately wrong cached 999."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("考核")
    sheet.write_number("A1", a1)
    sheet.write_formula("B1", "=A1*2")
    sheet.write_formula("B2", "=A1+1", None, 999)
    sheet.write_formula("B3", '=IF(B1>40,"优秀","一般")')
    book.close()
    return path


def timed(label: str, started: float, files: int = 1) -> None:
    seconds = time.perf_counter() - started
    print(f"\n[LibreOffice] {label}: {seconds:.2f} s，{files} 个文件，首次启动配置：{lo.RUNS[-1].first_start}")


def test_soffice_path_is_an_executable_or_none() -> None:
    path = lo.soffice_path()
    assert path is None or Path(path).is_file()


def test_recalculate_replaces_cached_values(soffice: str, tmp_path: Path) -> None:
    src = write_basic(tmp_path / "基础.xlsx")
    # What xlsxwriter cached: these are the values any reader sees without a recalculation.
    assert cell_values(src) == {"考核": {"A1": 21, "B1": 0, "B2": 999, "B3": 0}}

    started = time.perf_counter()
    out = recalculate(src, tmp_path / "lo")
    timed("recalculate（单个文件）", started)

    assert out == (tmp_path / "lo" / "基础.xlsx").resolve()
    assert cell_values(out) == {"考核": {"A1": 21, "B1": 42, "B2": 22, "B3": "优秀"}}
    formulas = openpyxl.load_workbook(out)
    assert formulas["考核"]["B1"].value == "=A1*2"  # formulas survive the round trip
    formulas.close()


def test_recalculate_after_openpyxl_changes_the_input(soffice: str, tmp_path: Path) -> None:
    src = write_basic(tmp_path / "原表.xlsx")
    book = openpyxl.load_workbook(src)
    book["考核"]["A1"] = 5
    edited = tmp_path / "改后.xlsx"
    book.save(edited)
    book.close()
    # openpyxl keeps the formulas and drops every cached value.
    assert cell_values(edited) == {"考核": {"A1": 5}}

    out = recalculate(edited, tmp_path / "lo")
    assert cell_values(out) == {"考核": {"A1": 5, "B1": 10, "B2": 6, "B3": "一般"}}


def write_numbers(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("数值")
    for row, score in enumerate([88.5, 92, 88.5, 75]):  # A1:A4, with a tie
        sheet.write_number(row, 0, score)
    # RANK.EQ is a "future function": written literally with its _xlfn. prefix, as Excel stores it.
    for row in range(4):
        sheet.write_formula(row, 1, f"=_xlfn.RANK.EQ(A{row + 1},$A$1:$A$4)")
    sheet.write_formula("B5", "=RANK(A4,$A$1:$A$4,1)")
    sheet.write_formula("C1", "=ROUND(0.145,2)")
    sheet.write_formula("C2", "=ROUND(2.675,2)")
    sheet.write_formula("C3", "=ROUND(-0.145,2)")
    sheet.write_formula("C4", "=ROUND(1.005,2)")
    sheet.write_number("D1", 0.145)
    sheet.write_number("D2", 2.675)
    sheet.write_formula("C5", "=ROUND(D1,2)")
    sheet.write_formula("C6", "=ROUND(D2,2)")
    sheet.write_formula("C7", "=ROUND(0.145*100,0)")  # 0.145*100 is 14.499999999999998 in binary
    for row in range(10):  # E1:E10 = 0.1 each
        sheet.write_number(row, 4, 0.1)
    sheet.write_formula("F1", "=SUM(E1:E10)")
    sheet.write_formula("F2", "=SUM(E1:E10)=1")
    sheet.write_formula("F3", "=SUM(E1:E3)")
    sheet.write_formula("F4", "=0.1+0.2-0.3")
    sheet.write_formula("F5", "=100-0.3-0.2-0.1")
    sheet.write_formula("F6", "=SUM(0.1,0.2,0.3,0.4)")
    sheet.write_formula("F7", "=1-0.9")
    sheet.write_number("G1", 1 / 3)
    sheet.write_number("G2", 0.1 + 0.2)  # 0.30000000000000004
    sheet.write_formula("G3", "=G1*3")
    book.close()
    return path


def write_quirks(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("怪癖")
    sheet.write_number("A1", 3)
    sheet.write_boolean("B1", True)
    sheet.write_boolean("B2", False)
    sheet.write_formula("B3", "=A1>2")
    sheet.write_formula("C1", "=1/0")
    sheet.write_formula("C2", '=IF(A1>0,"",1)')  # empty-string result
    sheet.write_formula("C3", "=隐藏!A1*2")
    sheet.write_formula("C4", "=满分*1")
    sheet.write_formula("C5", "=VLOOKUP(3,A1:A1,1,FALSE)")
    sheet.write_formula("C6", "=_xlfn.XLOOKUP(3,A1:A1,A1:A1)")  # not in LibreOffice 7.4
    sheet.write_formula("C7", "=ROUND(1.0049999999999999,2)")  # the same double as 1.005
    sheet.data_validation("D1:D5", {"validate": "list", "source": ["优秀", "良好", "一般"]})
    sheet.data_validation(
        "E1:E5",
        {
            "validate": "decimal",
            "criteria": "between",
            "minimum": 0,
            "maximum": 10,
            "input_title": "打分",
            "input_message": "0～10 分",
            "error_title": "超出范围",
            "error_message": "只能填 0～10",
        },
    )
    book.define_name("满分", "=隐藏!$A$1")
    hidden = book.add_worksheet("隐藏")
    hidden.write_number("A1", 100)
    hidden.very_hidden()
    book.close()
    return path


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three workbooks converted in ONE soffice run."""
    require_soffice()
    src_dir = tmp_path_factory.mktemp("src")
    srcs = [
        write_numbers(src_dir / "数值.xlsx"),
        write_quirks(src_dir / "怪癖.xlsx"),
        write_basic(src_dir / "b.xlsx", 7),
    ]
    started = time.perf_counter()
    outs = recalculate_many(srcs, tmp_path_factory.mktemp("lo"))
    timed("recalculate_many（一次启动）", started, len(srcs))
    assert [out.name for out in outs] == ["数值.xlsx", "怪癖.xlsx", "b.xlsx"]
    return {out.stem: out for out in outs}


def test_recalculate_many_keeps_order_and_recalculates_each(many: dict[str, Path]) -> None:
    assert cell_values(many["b"]) == {"考核": {"A1": 7, "B1": 14, "B2": 8, "B3": "一般"}}


def test_rank_round_and_sums(many: dict[str, Path]) -> None:
    values = cell_values(many["数值"])["数值"]
    print("\n[LibreOffice] 数值:", {k: v for k, v in values.items() if k[0] in "BCFG"})
    # _xlfn.RANK.EQ: ties share the better rank, the next rank is skipped.
    assert [values[f"B{row}"] for row in range(1, 5)] == [2, 1, 2, 4]
    assert values["B5"] == 1  # RANK ascending
    # ROUND: half away from zero on the decimal value, like Excel (Python's round gives 0.14, 2.67).
    assert values["C1"] == 0.15
    assert values["C2"] == 2.68
    assert values["C3"] == -0.15
    assert values["C4"] == 1.01
    assert values["C5"] == 0.15
    assert values["C6"] == 2.68
    # …but on a computed binary value ROUND sees 14.499999999999998, not 14.5.
    assert values["C7"] == 14
    # Sums and differences of 0.1-multiples come out exact (LibreOffice snaps near-equal results).
    assert values["F1"] == 1 and isinstance(values["F1"], int)
    assert values["F2"] is True
    assert values["F3"] == 0.3
    assert values["F4"] == 0
    assert values["F5"] == 99.4
    assert values["F6"] == 1
    assert values["F7"] == 0.1
    # Cached numbers are saved with 15 significant digits, constants included.
    assert values["G1"] == 0.333333333333333
    assert values["G2"] == 0.3
    assert values["G3"] == 1


def test_quirks_of_the_saved_file(many: dict[str, Path]) -> None:
    out = many["怪癖"]
    values = cell_values(out)
    print("\n[LibreOffice] 怪癖:", values)
    sheet = values["怪癖"]
    assert (sheet["B1"], sheet["B2"], sheet["B3"]) == (True, False, True)
    assert sheet["C1"] == "#DIV/0!"
    assert "C2" not in sheet  # "" is saved as <v></v>, which openpyxl reads as None
    assert sheet["C3"] == 200  # a formula reading a very hidden sheet
    assert sheet["C4"] == 100  # a defined name
    assert sheet["C5"] == 3
    assert sheet["C6"] == "#NAME?"  # XLOOKUP is unknown to LibreOffice 7.4
    assert sheet["C7"] == 1.01
    assert values["隐藏"] == {"A1": 100}

    book = openpyxl.load_workbook(out)
    try:
        formulas = book["怪癖"]
        # Boolean constants become formulas, TRUE/FALSE literals become function calls,
        # numbers are rewritten in their shortest form.
        assert formulas["B1"].value == "=TRUE()"
        assert formulas["B2"].value == "=FALSE()"
        assert formulas["C5"].value == "=VLOOKUP(3,A1:A1,1,FALSE())"
        assert formulas["C7"].value == "=ROUND(1.005,2)"
        # The very hidden sheet comes back merely hidden (LibreOffice 7.4 has no "very hidden").
        assert book["隐藏"].sheet_state in {"hidden", "veryHidden"}
        print("[LibreOffice] 很隐藏的工作表另存后：", book["隐藏"].sheet_state)
        assert book.defined_names["满分"].attr_text == "隐藏!$A$1"
        validations = {str(dv.sqref): dv for dv in formulas.data_validations.dataValidation}
        assert set(validations) == {"D1:D5", "E1:E5"}
        assert validations["D1:D5"].type == "list"
        assert validations["D1:D5"].formula1 == '"优秀,良好,一般"'
        score = validations["E1:E5"]
        assert (score.type, score.operator, score.formula1, score.formula2) == ("decimal", "between", "0", "10")
        assert (score.promptTitle, score.prompt, score.errorTitle, score.error) == (
            "打分",
            "0～10 分",
            "超出范围",
            "只能填 0～10",
        )
    finally:
        book.close()
    with zipfile.ZipFile(out) as archive:
        assert "<Application>LibreOffice" in archive.read("docProps/app.xml").decode()


def test_to_pdf(soffice: str, tmp_path: Path) -> None:
    src = write_basic(tmp_path / "排名.xlsx")
    started = time.perf_counter()
    pdf = to_pdf(src, tmp_path / "pdf")
    timed("to_pdf", started)
    assert pdf == (tmp_path / "pdf" / "排名.pdf").resolve()
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_failed_conversion_reports_libreoffice_output(soffice: str, tmp_path: Path) -> None:
    bad = tmp_path / "坏.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not a workbook")
    with pytest.raises(LibreOfficeError, match="未生成") as raised:
        recalculate(bad, tmp_path / "lo")
    print("\n[LibreOffice] 转换失败时：", raised.value)
    assert "stderr:" in str(raised.value)


# The checks below need no LibreOffice: they never start it, or start a stand-in.


def test_refuses_to_overwrite_the_source_or_merge_names(tmp_path: Path) -> None:
    src = write_basic(tmp_path / "表.xlsx")
    with pytest.raises(ValueError, match="覆盖原文件"):
        recalculate(src, tmp_path)
    (tmp_path / "other").mkdir()
    twin = write_basic(tmp_path / "other" / "表.xlsx")
    with pytest.raises(ValueError, match="文件名必须不同"):
        recalculate_many([src, twin], tmp_path / "lo")
    with pytest.raises(FileNotFoundError):
        recalculate(tmp_path / "无此文件.xlsx", tmp_path / "lo")
    assert recalculate_many([], tmp_path / "lo") == []


def fake_soffice(tmp_path: Path, body: str) -> str:
    script = tmp_path / "soffice"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def own_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A throw-away profile for stand-in runs, leaving the session's real one alone."""
    monkeypatch.setattr(lo, "_profile", None)


def test_nonzero_exit_reports_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_profile: None) -> None:
    monkeypatch.setattr(lo, "soffice_path", lambda: fake_soffice(tmp_path, "echo 配置损坏 >&2; exit 3"))
    with pytest.raises(LibreOfficeError, match=r"退出码 3(.|\n)*配置损坏"):
        recalculate(write_basic(tmp_path / "表.xlsx"), tmp_path / "lo")


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie left for a container's init to reap does not)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="需要 Linux 的 /proc")
def test_timeout_kills_the_whole_process_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_profile: None
) -> None:
    pid_file = tmp_path / "child.pid"
    # Like the real soffice wrapper: the work happens in a child process.
    body = f"'{sys.executable}' -c 'import time; time.sleep(60)' & echo $! > '{pid_file}'; wait"
    monkeypatch.setattr(lo, "soffice_path", lambda: fake_soffice(tmp_path, body))
    started = time.perf_counter()
    with pytest.raises(LibreOfficeError, match="超过 1 秒"):
        recalculate(write_basic(tmp_path / "表.xlsx"), tmp_path / "lo", timeout=1)
    assert time.perf_counter() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)
    assert lo._profile is None  # the profile of a killed run is thrown away
