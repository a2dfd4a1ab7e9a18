"""The battery's fixtures (tests/battery.py) really carry their damage, and only that damage.

Each case is built into its own tmp_path from one small generated campaign; the checks compare the
damaged file with the filled baseline (the same seeded entries) and with the generated workbook,
whose bytes must still match the manifest afterwards.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from battery import (
    AMOUNT_CELL,
    BATTERY_UNITS,
    CASES,
    COPIED_SHEET,
    COUNT_CELL,
    COUNT_REASON,
    DONE,
    EXTRA_SHEET,
    HALF_CELL,
    HALF_REASON,
    INSERT_ROW,
    ISSUE_CODES,
    MAX_CELL,
    META_CELL,
    OTHER_HALF_CELL,
    RATE_CELL,
    RENAMED,
    RULE_TEXT_CELL,
    S1,
    S2,
    SCORE_CELL,
    SUMMARY_TOTAL_CELL,
    TITLE_CELL,
    TOTAL_CELL,
    UNIT_SHEETS,
    ZIP_BOMB_BYTES,
    BatteryCase,
    battery_campaign,
    campaign_rubric,
    case_sheet,
    compound_streams,
    filled_copy,
    filled_entries,
    missing_reasons,
    reason_cell,
    sheet_part,
    workbook_layout,
    zip_parts,
)
from filling import engine_inputs
from libreoffice import require_soffice
from xlsxwriter.utility import xl_cell_to_rowcol

from kaohe_xlsx.layout import META_SHEET, SUMMARY_SHEET
from kaohe_xlsx.model import NO, YES
from kaohe_xlsx.scoring import score_unit

OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")


def load(path: Path, **options: Any) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
        return openpyxl.load_workbook(path, **options)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cells(path: Path, *, data_only: bool = False) -> dict[str, dict[str, tuple[Any, str]]]:
    """Sheet → {A1 → (value, data type)} of every non-empty cell (read-only: fast)."""
    book = load(path, read_only=True, data_only=data_only)
    try:
        return {
            ws.title: {
                c.coordinate: (c.value, c.data_type) for row in ws.iter_rows() for c in row if c.value is not None
            }
            for ws in book.worksheets
        }
    finally:
        book.close()


def metadata(sheets: dict[str, dict[str, tuple[Any, str]]]) -> dict[str, Any]:
    meta = sheets[META_SHEET]
    return {key: meta.get(address, (None, ""))[0] for key, address in META_CELL.items()}


@dataclass
class Env:
    generated: Path
    manifest: dict
    baseline: Path
    base: dict[str, dict[str, tuple[Any, str]]]

    @property
    def record(self) -> dict:
        return self.manifest["workbooks"][0]

    @property
    def input_cells(self) -> list[str]:
        return [cell.address for cell in workbook_layout(self.manifest).inputs]

    def inputs(self, sheets: dict[str, dict[str, tuple[Any, str]]]) -> dict[tuple[str, str], Any]:
        """(sheet, cell) → value of every input cell of every unit sheet present."""
        return {
            (sheet["name"], address): sheets[sheet["name"]].get(address, (None, ""))[0]
            for sheet in self.record["sheets"]
            if sheet["name"] in sheets
            for address in self.input_cells
        }

    def changed_inputs(self, sheets: dict[str, dict[str, tuple[Any, str]]]) -> set[tuple[str, str]]:
        mine, base = self.inputs(sheets), self.inputs(self.base)
        return {key for key in mine if mine[key] != base[key] or type(mine[key]) is not type(base[key])}

    def changed_cells(self, sheets: dict[str, dict[str, tuple[Any, str]]], sheet: str) -> set[str]:
        mine, base = sheets[sheet], self.base[sheet]
        return {a for a in set(mine) | set(base) if mine.get(a) != base.get(a)}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    generated = tmp_path_factory.mktemp("issued")
    manifest = battery_campaign(generated).data
    baseline = filled_copy(generated, tmp_path_factory.mktemp("baseline"), manifest)
    return Env(generated, manifest, baseline, cells(baseline))


# --- the catalogue -------------------------------------------------------------------------------


def test_catalogue_covers_battery_md():
    assert {case.number for case in CASES} >= set(range(1, 39))
    assert len({case.name for case in CASES}) == len(CASES)
    for case in CASES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", case.name), case
        assert case.expect in ("A", "W", "R"), case
        assert set(case.codes) <= ISSUE_CODES, case
        assert case.codes or case.expect == "A", f"{case.name}: a warning or rejection names its code"
        if case.cell is not None:
            assert case.sheet is not None and xl_cell_to_rowcol(case.cell), case
        assert case.note, f"{case.name}: say what the fixture does"
    assert [case.number for case in CASES] == sorted(case.number for case in CASES)


def test_case_sheet_follows_the_manifest(env: Env):
    case = next(c for c in CASES if c.name == "reason-missing")
    assert case_sheet(case, env.manifest) == env.record["sheets"][0]["name"] == S1
    assert [s["name"] for s in env.record["sheets"]] == UNIT_SHEETS
    assert case_sheet(next(c for c in CASES if c.name == "metadata-deleted"), env.manifest) == META_SHEET


def test_filled_baseline_is_complete_and_valid(env: Env):
    assert env.base.keys() >= {*UNIT_SHEETS, SUMMARY_SHEET, META_SHEET}
    rubric, layout = campaign_rubric(env.manifest), workbook_layout(env.manifest)
    entries = filled_entries(env.manifest)
    for sheet in env.record["sheets"]:
        values = env.base[sheet["name"]]
        assert values[DONE][0] == YES
        read = {a: values[a][0] for a in env.input_cells if a in values}
        assert read == entries[sheet["name"]]
        assert missing_reasons(rubric, layout, read) == []
        assert sum(1 for a in env.input_cells if a in values) > 10  # really filled, not a token entry
    assert env.base[S1][COUNT_CELL][0] == 2 and env.base[S1][COUNT_REASON][0]
    assert sha256(env.baseline) != env.record["sha256"]
    # the copy is cached: a second one has the same bytes, and the generated file is untouched
    again = filled_copy(env.generated, env.baseline.parent / "again", env.manifest)
    assert again.read_bytes() == env.baseline.read_bytes()
    assert sha256(env.generated / env.record["file"]) == env.record["sha256"]


# --- every case carries its damage ------------------------------------------------------------------

Check = Callable[[list[Path], Env], None]
CHECKS: dict[str, Check] = {}


def check(*names: str) -> Callable[[Check], Check]:
    def register(func: Check) -> Check:
        for name in names:
            assert name not in CHECKS, name
            CHECKS[name] = func
        return func

    return register


def one(paths: list[Path]) -> Path:
    assert len(paths) == 1, paths
    return paths[0]


def only_inputs_changed(env: Env, path: Path, expected: set[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    sheets = cells(path)
    assert env.changed_inputs(sheets) == expected
    for sheet in [*UNIT_SHEETS, SUMMARY_SHEET, META_SHEET]:
        changed = env.changed_cells(sheets, sheet)
        assert changed <= {address for s, address in expected if s == sheet}, (sheet, changed)
    return sheets


def not_a_zip_nor_ole(data: bytes) -> None:
    assert not data.startswith(b"PK") and not data.startswith(OLE2)


@check("filled-as-intended")
def _(paths: list[Path], env: Env) -> None:
    assert one(paths).read_bytes() == env.baseline.read_bytes()


@check("saved-by-libreoffice")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    parts = zip_parts(path)
    assert b"LibreOffice" in parts["docProps/app.xml"]
    book = load(path)
    assert book[META_SHEET].sheet_state == "hidden"  # [seen] very hidden becomes hidden
    sheets = cells(path)
    assert env.inputs(sheets) == env.inputs(env.base)
    assert sheets[S1][SCORE_CELL][0] == env.base[S1][SCORE_CELL][0]  # formulas kept
    assert cells(path, data_only=True)[S1][TOTAL_CELL][0] is not None  # and calculated


@check("blank-returned")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    assert sha256(path) == env.record["sha256"]
    assert path.name == env.record["file"]


@check("blank-resaved")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    assert sha256(path) != env.record["sha256"]
    assert all(value is None for value in env.inputs(cells(path)).values())


@check("empty-file")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    assert path.stat().st_size == 0 and path.suffix == ".xlsx"


@check("truncated-download")
def _(paths: list[Path], env: Env) -> None:
    data = one(paths).read_bytes()
    whole = env.baseline.read_bytes()
    assert data.startswith(b"PK") and whole.startswith(data) and len(data) < len(whole)
    assert not zipfile.is_zipfile(one(paths))


@check("zip-crc-error")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    data, whole = path.read_bytes(), env.baseline.read_bytes()
    assert len(data) == len(whole) and sum(a != b for a, b in zip(data, whole, strict=True)) == 1
    with zipfile.ZipFile(path) as archive:
        part = sheet_part({"xl/workbook.xml": archive.read("xl/workbook.xml"),
                           "xl/_rels/workbook.xml.rels": archive.read("xl/_rels/workbook.xml.rels")}, S1)  # fmt: skip
        try:
            bad = archive.testzip()
        except (zipfile.BadZipFile, zlib.error):
            bad = part
        assert bad == part


@check("csv-renamed-xlsx")
def _(paths: list[Path], env: Env) -> None:
    data = one(paths).read_bytes()
    not_a_zip_nor_ole(data)
    rows = list(csv.reader(io.StringIO(data.decode("gb18030"))))
    assert any(f"被考核单位：{BATTERY_UNITS[0]}" in value for row in rows for value in row)
    assert one(paths).suffix == ".xlsx"


@check("html-renamed-xlsx")
def _(paths: list[Path], env: Env) -> None:
    data = one(paths).read_bytes()
    assert data.startswith(b"<html") and b"<table>" in data and one(paths).suffix == ".xlsx"


@check("text-renamed-xlsx")
def _(paths: list[Path], env: Env) -> None:
    data = one(paths).read_bytes()
    not_a_zip_nor_ole(data)
    assert "请查收" in data.decode("gb18030")


@check("docx-renamed-xlsx")
def _(paths: list[Path], env: Env) -> None:
    parts = zip_parts(one(paths))
    assert "word/document.xml" in parts and "xl/workbook.xml" not in parts


def assert_compound(path: Path, suffix: str, *streams: str) -> bytes:
    data = path.read_bytes()
    assert path.suffix == suffix
    assert data.startswith(OLE2) and len(data) % 512 == 0
    names = compound_streams(data)
    assert set(streams) <= set(names), names
    return data


@check("legacy-xls", "legacy-xls-renamed-xlsx")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    data = assert_compound(path, ".xls" if path.name.endswith(".xls") else ".xlsx", "Workbook")
    assert "EncryptedPackage" not in compound_streams(data) and "ETExtData" not in compound_streams(data)
    assert b"\x09\x08\x10\x00\x00\x06\x05\x00" in data  # BIFF8 BOF of the workbook globals


@check("wps-et", "wps-et-renamed-xlsx")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    data = assert_compound(path, ".et" if path.name.endswith(".et") else ".xlsx", "Workbook", "ETExtData")
    assert b"WPS Office" in data


@check("ods", "ods-renamed-xlsx")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    assert path.suffix in (".ods", ".xlsx")
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
        assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)
        assert archive.read(first) == b"application/vnd.oasis.opendocument.spreadsheet"
        assert f'table:name="{S1}"'.encode() in archive.read("content.xml")


@check("encrypted")
def _(paths: list[Path], env: Env) -> None:
    data = assert_compound(one(paths), ".xlsx", "EncryptionInfo", "EncryptedPackage", "\x06DataSpaces/Version")
    assert b"http://schemas.microsoft.com/office/2006/keyEncryptor/password" in data
    assert b"xl/workbook.xml" not in data  # nothing of the workbook shows through


@check("macros-xlsm")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    assert path.suffix == ".xlsm"
    parts = zip_parts(path)
    assert "VBA/dir" in compound_streams(parts["xl/vbaProject.bin"])
    assert b"application/vnd.ms-excel.sheet.macroEnabled.main+xml" in parts["[Content_Types].xml"]
    assert b"application/vnd.ms-office.vbaProject" in parts["[Content_Types].xml"]
    assert b"relationships/vbaProject" in parts["xl/_rels/workbook.xml.rels"]
    only_inputs_changed(env, path, set())


@check("zip-bomb")
def _(paths: list[Path], env: Env) -> None:
    path = one(paths)
    assert path.stat().st_size < 2 * 1024 * 1024
    with zipfile.ZipFile(path) as archive, zipfile.ZipFile(env.baseline) as base:
        part = sheet_part({"xl/workbook.xml": archive.read("xl/workbook.xml"),
                           "xl/_rels/workbook.xml.rels": archive.read("xl/_rels/workbook.xml.rels")}, S1)  # fmt: skip
        big = archive.getinfo(part)
        assert big.file_size >= ZIP_BOMB_BYTES and big.file_size / big.compress_size > 500
        assert [i.filename for i in archive.infolist()] == [i.filename for i in base.infolist()]
        for info in archive.infolist():
            if info.filename != part:
                assert info.CRC == base.getinfo(info.filename).CRC, info.filename


def other_parts_unchanged(path: Path, env: Env, changed: str) -> bytes:
    parts, base = zip_parts(path), zip_parts(env.baseline)
    assert parts.keys() == base.keys()
    assert [name for name in parts if parts[name] != base[name]] == [changed]
    return parts[changed]


@check("xml-entity-expansion")
def _(paths: list[Path], env: Env) -> None:
    xml = other_parts_unchanged(one(paths), env, "xl/workbook.xml")
    assert xml.count(b"<!ENTITY") == 6 and b'codeName="&lol5;"' in xml
    assert xml.index(b"<!DOCTYPE") < xml.index(b"<workbook")


@check("xml-external-entity")
def _(paths: list[Path], env: Env) -> None:
    part = sheet_part(zip_parts(env.baseline), S1)
    xml = other_parts_unchanged(one(paths), env, part)
    assert b'<!ENTITY xxe SYSTEM "file:///etc/passwd">' in xml
    assert re.search(rb'<c r="' + COUNT_REASON.encode() + rb'"[^>]*><is><t>&xxe;</t></is></c>', xml)


@check("same-bytes-twice")
def _(paths: list[Path], env: Env) -> None:
    first, second = paths
    assert first.name != second.name
    assert first.read_bytes() == second.read_bytes() == env.baseline.read_bytes()


@check("resaved-same-inputs")
def _(paths: list[Path], env: Env) -> None:
    first, second = paths
    assert first.read_bytes() == env.baseline.read_bytes()
    assert sha256(first) != sha256(second)
    only_inputs_changed(env, second, set())


@check("resaved-different-inputs")
def _(paths: list[Path], env: Env) -> None:
    first, second = paths
    assert first.read_bytes() == env.baseline.read_bytes()
    expected = {(S1, HALF_CELL)} | ({(S1, HALF_REASON)} if HALF_REASON not in env.base[S1] else set())
    sheets = only_inputs_changed(env, second, expected)
    assert sheets[S1][HALF_CELL][0] in (1.5, 2)


@check("other-campaign")
def _(paths: list[Path], env: Env) -> None:
    sheets = cells(one(paths))
    meta = metadata(sheets)
    assert meta["campaign_id"] != env.manifest["campaign"]["id"]
    assert meta["workbook_id"] not in {w["id"] for w in env.manifest["workbooks"]}
    assert meta["rubric_hash"] == env.manifest["campaign"]["rubric_hash"]
    assert all(sheets[s][DONE][0] == YES for s in UNIT_SHEETS)


def only_metadata_changed(path: Path, env: Env, key: str) -> Any:
    sheets = cells(path)
    assert env.changed_cells(sheets, META_SHEET) == {META_CELL[key]}
    assert env.changed_inputs(sheets) == set()
    return metadata(sheets)[key]


@check("unknown-workbook-id")
def _(paths: list[Path], env: Env) -> None:
    value = only_metadata_changed(one(paths), env, "workbook_id")
    assert value == f"{env.manifest['campaign']['id']}-099"
    assert value not in {w["id"] for w in env.manifest["workbooks"]}


@check("metadata-assessor-edited")
def _(paths: list[Path], env: Env) -> None:
    assert only_metadata_changed(one(paths), env, "assessor") == env.manifest["workbooks"][1]["assessor"]


@check("metadata-rubric-version-edited")
def _(paths: list[Path], env: Env) -> None:
    assert only_metadata_changed(one(paths), env, "rubric_version") == env.manifest["campaign"]["rubric_version"] + ".1"


@check("metadata-units-edited")
def _(paths: list[Path], env: Env) -> None:
    assert only_metadata_changed(one(paths), env, "units") == str(len(env.record["units"]) + 1)


@check("metadata-deleted")
def _(paths: list[Path], env: Env) -> None:
    sheets = cells(one(paths))
    assert list(sheets) == [s for s in env.base if s != META_SHEET]
    assert env.changed_inputs(sheets) == set()


def workbook_state(path: Path) -> str:
    return load(path)[META_SHEET].sheet_state


@check("metadata-visible")
def _(paths: list[Path], env: Env) -> None:
    xml = other_parts_unchanged(one(paths), env, "xl/workbook.xml")
    assert xml == zip_parts(env.baseline)["xl/workbook.xml"].replace(b'state="veryHidden"', b'state="visible"')
    assert workbook_state(one(paths)) == "visible"


@check("metadata-hidden")
def _(paths: list[Path], env: Env) -> None:
    xml = other_parts_unchanged(one(paths), env, "xl/workbook.xml")
    assert xml == zip_parts(env.baseline)["xl/workbook.xml"].replace(b'state="veryHidden"', b'state="hidden"')
    assert workbook_state(one(paths)) == "hidden"


@check("unit-sheet-renamed")
def _(paths: list[Path], env: Env) -> None:
    sheets = cells(one(paths))
    assert S2 not in sheets and RENAMED in sheets
    assert list(sheets) == [RENAMED if s == S2 else s for s in env.base]
    assert sheets[RENAMED] == env.base[S2]  # the content (title row included) is unchanged
    assert f"被考核单位：{RENAMED}" in sheets[RENAMED][TITLE_CELL][0]
    formulas = [v for v, t in sheets[SUMMARY_SHEET].values() if t == "f"]
    assert any(f"{RENAMED}!" in f for f in formulas) and not any(S2 in f for f in formulas)


@check("sheets-reordered")
def _(paths: list[Path], env: Env) -> None:
    sheets = cells(one(paths))
    assert list(sheets) != list(env.base) and sorted(sheets) == sorted(env.base)
    assert next(iter(sheets)) == UNIT_SHEETS[-1]
    assert all(sheets[name] == env.base[name] for name in env.base)


@check("extra-sheet")
def _(paths: list[Path], env: Env) -> None:
    sheets = cells(one(paths))
    assert list(sheets) == [*env.base, EXTRA_SHEET]
    assert all(sheets[name] == env.base[name] for name in env.base)


@check("unit-sheet-copied")
def _(paths: list[Path], env: Env) -> None:
    sheets = cells(one(paths))
    assert list(sheets) == [*env.base, COPIED_SHEET]
    assert sheets[COPIED_SHEET][TITLE_CELL] == env.base[S1][TITLE_CELL]
    assert sheets[COPIED_SHEET][COUNT_CELL] == env.base[S1][COUNT_CELL]


@check("unit-sheet-deleted")
def _(paths: list[Path], env: Env) -> None:
    sheets = cells(one(paths))
    assert list(sheets) == [s for s in env.base if s != S2]
    formulas = [v for v, t in sheets[SUMMARY_SHEET].values() if t == "f"]
    assert any("#REF!" in f for f in formulas) and not any(S2 in f for f in formulas)


@check("protection-removed")
def _(paths: list[Path], env: Env) -> None:
    part = sheet_part(zip_parts(env.baseline), S1)
    xml = other_parts_unchanged(one(paths), env, part)
    assert b"<sheetProtection" not in xml and b"<sheetProtection" in zip_parts(env.baseline)[part]
    book = load(one(paths))
    assert not book[S1].protection.sheet and book[S2].protection.sheet


@check("formula-unlocked")
def _(paths: list[Path], env: Env) -> None:
    book, base = load(one(paths)), load(env.baseline)
    assert base[S1][SCORE_CELL].protection.locked and not book[S1][SCORE_CELL].protection.locked
    assert book[S1][SCORE_CELL].value == base[S1][SCORE_CELL].value
    only_inputs_changed(env, one(paths), set())


def validations(path: Path, sheet: str = S1) -> list[Any]:
    return list(load(path)[sheet].data_validations.dataValidation)


@check("validation-removed")
def _(paths: list[Path], env: Env) -> None:
    mine, base = validations(one(paths)), validations(env.baseline)
    assert any(HALF_CELL in dv.sqref for dv in base) and not any(HALF_CELL in dv.sqref for dv in mine)
    assert {str(c) for dv in base for c in dv.sqref.ranges} - {str(c) for dv in mine for c in dv.sqref.ranges} == {
        HALF_CELL
    }
    only_inputs_changed(env, one(paths), set())


@check("validation-widened")
def _(paths: list[Path], env: Env) -> None:
    (mine,) = [dv for dv in validations(one(paths)) if COUNT_CELL in dv.sqref]
    (base,) = [dv for dv in validations(env.baseline) if COUNT_CELL in dv.sqref]
    assert (base.type, base.formula1, base.formula2) == ("whole", "0", "5")
    assert (mine.type, mine.formula1, mine.formula2) == ("whole", "0", "50")


@check("validation-cleared-sheet")
def _(paths: list[Path], env: Env) -> None:
    assert validations(one(paths)) == [] and len(validations(env.baseline)) > 5
    assert len(validations(one(paths), S2)) == len(validations(env.baseline, S2))


def replaced(paths: list[Path], env: Env, sheet: str, address: str) -> tuple[Any, str]:
    sheets = cells(one(paths))
    assert env.changed_cells(sheets, sheet) == {address}
    assert env.base[sheet][address][1] == "f"  # the generated file has a formula there
    return sheets[sheet][address]


@check("formula-replaced-by-number")
def _(paths: list[Path], env: Env) -> None:
    assert replaced(paths, env, S1, SCORE_CELL) == (5, "n")


@check("total-replaced-by-number")
def _(paths: list[Path], env: Env) -> None:
    assert replaced(paths, env, S1, TOTAL_CELL) == (98, "n")


@check("summary-total-replaced-by-number")
def _(paths: list[Path], env: Env) -> None:
    assert replaced(paths, env, SUMMARY_SHEET, SUMMARY_TOTAL_CELL) == (98, "n")


@check("formula-plus-five")
def _(paths: list[Path], env: Env) -> None:
    assert replaced(paths, env, S1, SCORE_CELL) == (env.base[S1][SCORE_CELL][0] + "+5", "f")


@check("formula-external-reference")
def _(paths: list[Path], env: Env) -> None:
    value, kind = replaced(paths, env, S1, AMOUNT_CELL)
    assert kind == "f" and "[02-第二组-考核表.xlsx]" in value


@check("shared-formulas")
def _(paths: list[Path], env: Env) -> None:
    parts = zip_parts(one(paths))
    for sheet in (SUMMARY_SHEET, S1):
        xml = parts[sheet_part(parts, sheet)]
        assert re.search(rb'<f t="shared" ref="[A-Z]+[0-9]+:[A-Z]+[0-9]+" si="0">', xml), sheet
        assert len(re.findall(rb'<f t="shared" si="0"/>', xml)) >= 2, sheet
    sheets = cells(one(paths))  # openpyxl expands them back to the very same formulas
    assert all(sheets[name] == env.base[name] for name in env.base)


def cached(path: Path, address: str) -> Any:
    return cells(path, data_only=True)[S1].get(address, (None, ""))[0]


@check("cached-value-stale")
def _(paths: list[Path], env: Env) -> None:
    part = sheet_part(zip_parts(env.baseline), S1)
    other_parts_unchanged(one(paths), env, part)
    assert cached(env.baseline, TOTAL_CELL) is None  # openpyxl keeps no cached values
    entries = filled_entries(env.manifest)[S1]
    total = score_unit(campaign_rubric(env.manifest), engine_inputs(workbook_layout(env.manifest), entries))
    stale = cached(one(paths), TOTAL_CELL)
    assert stale is not None and Decimal(str(stale)) != total.workbook_total
    assert cells(one(paths))[S1] == env.base[S1]  # the formula is unchanged


@check("cached-value-error")
def _(paths: list[Path], env: Env) -> None:
    part = sheet_part(zip_parts(env.baseline), S1)
    other_parts_unchanged(one(paths), env, part)
    assert cached(one(paths), SCORE_CELL) == "#REF!"
    assert cells(one(paths))[S1] == env.base[S1]


@check("rule-text-edited")
def _(paths: list[Path], env: Env) -> None:
    value, _ = replaced_label(paths, env, RULE_TEXT_CELL)
    assert "扣0.5分" in value and value.replace("扣0.5分", "扣1分", 1) == env.base[S1][RULE_TEXT_CELL][0]


def replaced_label(paths: list[Path], env: Env, address: str) -> tuple[Any, str]:
    sheets = cells(one(paths))
    assert env.changed_cells(sheets, S1) == {address}
    return sheets[S1][address]


@check("maximum-edited")
def _(paths: list[Path], env: Env) -> None:
    assert env.base[S1][MAX_CELL][0] == 5
    assert replaced_label(paths, env, MAX_CELL) == (10, "n")


@check("unit-name-edited")
def _(paths: list[Path], env: Env) -> None:
    value, _ = replaced_label(paths, env, TITLE_CELL)
    assert f"被考核单位：{BATTERY_UNITS[0]}机关" in value


def column_values(sheet: dict[str, tuple[Any, str]], row: int) -> dict[str, Any]:
    return {re.sub(r"[0-9]+", "", a): v for a, v in sheet.items() if xl_cell_to_rowcol(a)[0] == row - 1}


@check("row-inserted")
def _(paths: list[Path], env: Env) -> None:
    sheet, base = cells(one(paths))[S1], env.base[S1]
    row = INSERT_ROW
    assert column_values(sheet, row) == {}
    assert column_values(sheet, row + 1) == column_values(base, row)  # formulas not adjusted
    assert column_values(sheet, row - 1) == column_values(base, row - 1)


@check("row-deleted")
def _(paths: list[Path], env: Env) -> None:
    sheet, base = cells(one(paths))[S1], env.base[S1]
    row = xl_cell_to_rowcol(COUNT_CELL)[0] + 1
    assert column_values(sheet, row) == column_values(base, row + 1)
    assert column_values(sheet, row - 1) == column_values(base, row - 1)


def typed(address: str, value: Any, kind: str) -> Check:
    def check_input(paths: list[Path], env: Env) -> None:
        path = one(paths)
        reason = reason_cell(workbook_layout(env.manifest), address)
        expected = {(S1, address)}
        if reason is not None and reason not in env.base[S1]:
            expected.add((S1, reason))  # the item's reason comes with the entry
        sheets = only_inputs_changed(env, path, expected)
        got = sheets[S1][address]
        assert got[1] == kind and got[0] == value and type(got[0]) is type(value), got

    return check_input


INPUTS: dict[str, tuple[str, Any, str]] = {
    "count-above-maximum": (COUNT_CELL, 9, "n"),
    "deduction-above-maximum": (HALF_CELL, 6, "n"),
    "negative-deduction": (OTHER_HALF_CELL, -1, "n"),
    "off-step": (HALF_CELL, 0.3, "n"),
    "fraction-as-count": (COUNT_CELL, 2.5, "n"),
    "number-stored-as-text": (HALF_CELL, "2", "s"),
    "full-width-digits": (HALF_CELL, "２.５", "s"),
    "surrounding-spaces": (COUNT_CELL, " 3 ", "s"),
    "decimal-comma": (HALF_CELL, "2,5", "s"),
    "range-text": (COUNT_CELL, "2-3", "s"),
    "chinese-number": (HALF_CELL, "两分", "s"),
    "not-applicable-text": (OTHER_HALF_CELL, "N/A", "s"),
    "boolean-true": (COUNT_CELL, True, "b"),
    "error-value": (HALF_CELL, "#VALUE!", "e"),
    "formula-in-input": (HALF_CELL, "=1+1", "f"),
    "float-noise-half-step": (HALF_CELL, 2.5000000000000004, "n"),
}
for _name, (_address, _value, _kind) in INPUTS.items():
    check(_name)(typed(_address, _value, _kind))


@check("float-noise")
def _float_noise_bytes(paths: list[Path], env: Env) -> None:
    typed(RATE_CELL, 0.30000000000000004, "n")(paths, env)
    xml = zip_parts(one(paths))[sheet_part(zip_parts(one(paths)), S1)]
    assert re.search(rb'<c r="' + RATE_CELL.encode() + rb'"[^>]*><v>0.30000000000000004</v>', xml)


@check("completion-left-blank")
def _(paths: list[Path], env: Env) -> None:
    sheets = only_inputs_changed(env, one(paths), {(S1, DONE)})
    assert DONE not in sheets[S1] and sheets[S2][DONE][0] == YES


@check("completion-no")
def _(paths: list[Path], env: Env) -> None:
    sheets = only_inputs_changed(env, one(paths), {(S1, DONE)})
    assert sheets[S1][DONE][0] == NO


@check("reason-missing")
def _(paths: list[Path], env: Env) -> None:
    sheets = only_inputs_changed(env, one(paths), {(S1, COUNT_REASON)})
    assert sheets[S1][COUNT_CELL][0] == 2
    read = {a: sheets[S1][a][0] for a in env.input_cells if a in sheets[S1]}
    assert missing_reasons(campaign_rubric(env.manifest), workbook_layout(env.manifest), read) == [COUNT_REASON]


def comment(path: Path) -> str:
    note = load(path)[S1][HALF_CELL].comment
    assert note is not None
    return note.text


@check("cell-comment")
def _(paths: list[Path], env: Env) -> None:
    assert "宣传栏" in comment(one(paths))
    assert load(env.baseline)[S1][HALF_CELL].comment is None
    only_inputs_changed(env, one(paths), set())


@check("libreoffice-with-comment")
def _(paths: list[Path], env: Env) -> None:
    assert "宣传栏" in comment(one(paths))
    assert b"LibreOffice" in zip_parts(one(paths))["docProps/app.xml"]
    assert env.inputs(cells(one(paths))) == env.inputs(env.base)


@check("file-renamed")
def _(paths: list[Path], env: Env) -> None:
    assert one(paths).name == "第二组最终版(1).xlsx"
    assert one(paths).read_bytes() == env.baseline.read_bytes()


@check("both-groups")
def _(paths: list[Path], env: Env) -> None:
    assert [p.name for p in paths] == [w["file"] for w in env.manifest["workbooks"]]
    assert paths[0].read_bytes() == env.baseline.read_bytes()
    for path, record in zip(paths, env.manifest["workbooks"], strict=True):
        sheets = cells(path)
        assert metadata(sheets)["workbook_id"] == record["id"]
        assert all(sheets[s["name"]][DONE][0] == YES for s in record["sheets"])


def test_every_case_is_checked():
    assert set(CHECKS) == {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.number:02d}-{c.name}" for c in CASES])
def test_case_fixture(case: BatteryCase, env: Env, tmp_path: Path):
    if case.libreoffice:
        require_soffice()
    paths = case.build(env.generated, tmp_path, env.manifest)
    for record in env.manifest["workbooks"]:  # the generated workbooks are never modified
        assert sha256(env.generated / record["file"]) == record["sha256"]
    assert paths and all(path.is_file() and tmp_path in path.parents for path in paths)
    assert len({path.parent for path in paths}) == 1 and paths[0].parent.name == f"{case.number:02d}-{case.name}"
    assert sorted(p.name for p in paths[0].parent.iterdir()) == sorted(p.name for p in paths)  # nothing else
    CHECKS[case.name](paths, env)
