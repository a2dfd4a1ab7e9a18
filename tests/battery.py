"""The battery of returned workbooks that go wrong (shared/BATTERY.md), as fixture builders.

Every case of BATTERY.md (and a few more a real office will meet) is a :class:`BatteryCase`: what
the ingest must conclude (``expect``: A accept, W accept with a warning, R reject the file), the
issue codes it must report (``codes``; it may report informational notes besides), the sheet and
A1 cell the finding must name when the case is about one place, and ``build``, which makes the
damaged file(s) from a generated campaign::

    from battery import CASES, battery_campaign

    manifest = battery_campaign(tmp_path / "issued").data       # or any generate_campaign() result
    for case in CASES:
        paths = case.build(tmp_path / "issued", tmp_path / "returned", manifest)
        report = ingest(paths, manifest)                          # the ingest under test
        ...

``build(generated_dir, out_dir, manifest_dict)`` never touches the generated files: it starts from
a FILLED copy of the campaign's first workbook (:func:`filled_copy`: every unit sheet marked 是,
seeded random valid entries, a reason for every item that deducts or adds, and a known deduction of
2 at :data:`COUNT_CELL` with its reason at :data:`COUNT_REASON`), damages it with openpyxl where
openpyxl can express the damage and by editing the zip's XML where it cannot, and returns the
file(s) to hand to the ingest. Each case writes into its own folder ``out_dir/NN-name/`` (scratch
files go to ``out_dir/NN-name.work/``), so all cases can share one ``out_dir``.

The cell addresses (``COUNT_CELL`` …) are those of the jiaozuo-2016 rubric's unit sheet, and the
sheet names in ``BatteryCase.sheet`` those of :data:`BATTERY_ROSTER` (first group 甲局、乙局、丙局,
second group 丁局); :func:`battery_campaign` generates exactly that campaign. The builders read the
real sheet names from the manifest, so they work on any roster; :func:`case_sheet` translates a
case's sheet name to the manifest's.

Scope of R: container and identity findings reject the whole file; BATTERY.md scopes some
rejections more narrowly ("R for that unit" for a deleted sheet, "R for that cell" for an
out-of-range value), which ``sheet``/``cell`` locate. Container-level findings (damaged zip, zip
bomb, XML entities) name no sheet even when the bad part is a sheet's.

Case 17 (a unit sheet renamed) is decided thus: the ingest finds the sheet by its content (the
title row names the unit) and accepts it with the warning ``sheet-renamed`` naming the new and the
old name. Renaming and deleting sheets rewrite the 汇总 formulas the way Excel does (the renamed
name, or ``#REF!``): a real file comes back like that.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import itertools
import random
import re
import shutil
import struct
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

import openpyxl
from filling import Entry, engine_inputs, fill, random_entries
from libreoffice import recalculate
from openpyxl.comments import Comment
from openpyxl.formula.translate import Translator
from openpyxl.styles import Protection
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from xlsxwriter.utility import quote_sheetname, xl_cell_to_rowcol, xl_rowcol_to_cell

from kaohe_xlsx.generate import Campaign, Manifest, generate_campaign
from kaohe_xlsx.layout import (
    COL_AMOUNT,
    COL_POINTS,
    COL_REASON,
    COL_SCORE,
    COL_TEXT,
    DONE_CELL,
    META_SHEET,
    SUMMARY_SHEET,
    SheetLayout,
    build_sheet_layout,
    ref,
    sheet_names,
)
from kaohe_xlsx.model import NO, YES, Rubric
from kaohe_xlsx.roster import Group, Member, Roster
from kaohe_xlsx.rubrics import content_hash, load_rubrics
from kaohe_xlsx.scoring import score_item, score_unit

__all__ = [
    "AMOUNT_CELL",
    "BATTERY_ROSTER",
    "BATTERY_RUBRIC",
    "BATTERY_UNITS",
    "CASES",
    "COPIED_SHEET",
    "COUNT_CELL",
    "COUNT_REASON",
    "DELETE_ROW",
    "DONE",
    "EXTRA_SHEET",
    "FILL_SEED",
    "HALF_CELL",
    "HALF_REASON",
    "INSERT_ROW",
    "ISSUE_CODES",
    "MAX_CELL",
    "META_CELL",
    "OTHER_HALF_CELL",
    "RATE_CELL",
    "RENAMED",
    "RULE_TEXT_CELL",
    "S1",
    "S2",
    "SCORE_CELL",
    "SUMMARY_TOTAL_CELL",
    "TITLE_CELL",
    "TOTAL_CELL",
    "UNIT_SHEETS",
    "ZIP_BOMB_BYTES",
    "BatteryCase",
    "Build",
    "battery_campaign",
    "campaign_rubric",
    "case_sheet",
    "compound_file",
    "compound_streams",
    "filled_copy",
    "filled_entries",
    "missing_reasons",
    "reason_cell",
    "sheet_part",
    "workbook_layout",
    "zip_parts",
]

Expect = Literal["A", "W", "R"]
Build = Callable[[Path, Path, dict], list[Path]]

#: Every issue code the ingest reports, by family (the vocabulary of ``BatteryCase.codes``).
ISSUE_CODES: frozenset[str] = frozenset(
    {
        # container
        "empty", "not-a-workbook", "damaged", "legacy-xls", "wps-et", "ods", "encrypted", "macros",
        "zip-bomb", "xml-entities",
        # identity
        "no-metadata", "metadata-edited", "unknown-campaign", "unknown-workbook", "metadata-visible",
        "duplicate-file", "duplicate-identical", "duplicate-conflict",
        # structure
        "sheet-missing", "sheet-renamed", "sheet-extra", "protection-removed", "formula-unlocked",
        "validation-changed",
        # locked content
        "formula-changed", "value-typed-over", "label-changed",
        # cached values
        "cache-stale",
        # inputs
        "not-a-number", "out-of-range", "off-step", "not-whole", "number-as-text", "formula-in-input",
        "reason-missing", "cell-comment", "not-assessed", "no-scores",
    }
)  # fmt: skip


@dataclass(frozen=True)
class BatteryCase:
    """One way a returned workbook goes wrong, and what the ingest must make of it."""

    number: int  # the case's number in BATTERY.md (39 and up: extra cases)
    name: str  # short English id, unique
    expect: Expect  # A accept · W accept with a warning · R reject the file
    codes: tuple[str, ...]  # issue codes the ingest must report (notes besides are allowed)
    sheet: str | None  # the sheet the finding names (sheet names of BATTERY_ROSTER)
    cell: str | None  # the A1 cell the finding names, when the case is about one cell
    build: Build  # build(generated_dir, out_dir, manifest_dict) -> files to hand to the ingest
    libreoffice: bool = False  # the build runs LibreOffice (skip when it is not installed)
    note: str = ""  # what was done to the file

    def __repr__(self) -> str:  # pytest ids and failure messages
        return f"BatteryCase({self.number}, {self.name!r}, {self.expect}, {self.codes})"


# --- the campaign the battery is written for -------------------------------------------------

BATTERY_RUBRIC = "jiaozuo-2016"
BATTERY_UNITS = ("甲局", "乙局", "丙局")
BATTERY_ROSTER = Roster(
    (
        Group("第一组", (Member("组长", "张三", ""),), "", BATTERY_UNITS),
        Group("第二组", (Member("组长", "李四", ""),), "", ("丁局",)),
    )
)
FILL_SEED = 20160610

_RUBRIC = load_rubrics()[BATTERY_RUBRIC]
_LAYOUT = build_sheet_layout(_RUBRIC, _RUBRIC.items)
_ROW_ITEM = {row: item for item, row in _LAYOUT.item_rows.items()}


def _input_cell(item: str, rule: str) -> str:
    return _LAYOUT.cell_of((item, rule)).address


def _row(address: str) -> int:
    return xl_cell_to_rowcol(address)[0]


# Input cells of the jiaozuo-2016 unit sheet the cases damage (checked below, so a changed
# rubric or layout fails here rather than in a puzzling ingest test).
COUNT_CELL = _input_cell("1.1", "d1")  # D8: 少一项内容扣1分, a count 0–5
COUNT_REASON = ref(_LAYOUT.item_rows["1.1"], COL_REASON)  # H7
HALF_CELL = _input_cell("1.4", "d0")  # D15: 酌情扣分 0–4, step 0.5
HALF_REASON = ref(_LAYOUT.item_rows["1.4"], COL_REASON)  # H14
OTHER_HALF_CELL = _input_cell("2.1", "d0")  # D23: 酌情扣分 0–4, step 0.5
RATE_CELL = _input_cell("5.1", "d1")  # D61: 优称率 0–100 (%), step 0.1
DONE = ref(*DONE_CELL)  # D3: 本单位考核已完成 是/否
SCORE_CELL = ref(_LAYOUT.item_rows["1.1"], COL_SCORE)  # F7: item 1.1's score formula
MAX_CELL = ref(_LAYOUT.item_rows["1.1"], COL_POINTS)  # C7: item 1.1's maximum (5)
RULE_TEXT_CELL = ref(_row(COUNT_CELL), COL_TEXT)  # B8: the rule's text
AMOUNT_CELL = ref(_row(COUNT_CELL), COL_AMOUNT)  # E8: the rule's amount formula
TOTAL_CELL = _LAYOUT.total_cell  # F81
TITLE_CELL = "A2"  # 被考核单位：甲局　　考核组：第一组
INSERT_ROW = _LAYOUT.item_rows["1.2"] + 1  # 1-based row of item 1.2 (10): a row is inserted above it
DELETE_ROW = _row(COUNT_CELL) + 1  # 1-based row of COUNT_CELL (8): deleted
SUMMARY_TOTAL_CELL = xl_rowcol_to_cell(3, 3 + len(_LAYOUT.section_ids))  # J4: 汇总's first 总分

# The metadata sheet's key/value rows, as generate.py writes them (row 3 on).
_META_KEYS = (
    "format", "campaign_id", "campaign_title", "workbook_id", "assessor", "split", "rubric_id",
    "rubric_version", "rubric_hash", "tool_version", "generated_at", "units",
)  # fmt: skip
META_CELL = {key: f"B{3 + index}" for index, key in enumerate(_META_KEYS)}

UNIT_SHEETS = sheet_names(BATTERY_UNITS)  # 01 甲局, 02 乙局, 03 丙局
S1, S2 = UNIT_SHEETS[0], UNIT_SHEETS[1]
RENAMED = BATTERY_UNITS[1]  # case 17: "02 乙局" renamed "乙局"
EXTRA_SHEET = "草稿"
COPIED_SHEET = f"{S1} (2)"


def _check_layout() -> None:
    def spec(address: str) -> Any:
        return next(c.spec for c in _LAYOUT.inputs if c.address == address)

    count, half, rate = spec(COUNT_CELL), spec(HALF_CELL), spec(RATE_CELL)
    assert (count.kind, count.maximum) == ("count", 5), count
    assert (half.kind, half.maximum, half.step) == ("number", 4, Decimal("0.5")), half
    assert spec(OTHER_HALF_CELL) == half
    assert (rate.kind, rate.maximum, rate.step) == ("number", 100, Decimal("0.1")), rate
    assert _LAYOUT.item_rows["1.1"] in _LAYOUT.reason_rows and _LAYOUT.item_rows["1.4"] in _LAYOUT.reason_rows


_check_layout()


def battery_campaign(out_dir: Path, *, force: bool = False) -> Manifest:
    """Generate the campaign the battery's sheet names and cells are written for."""
    campaign = Campaign(_RUBRIC, BATTERY_ROSTER, _RUBRIC.title, 2016, "2017年6月10日", _RUBRIC.issuer)
    return generate_campaign(campaign, Path(out_dir), force=force)


def case_sheet(case: BatteryCase, manifest: dict) -> str | None:
    """``case.sheet`` in terms of ``manifest``'s first workbook (unit sheets matched by position)."""
    if case.sheet in UNIT_SHEETS:
        return manifest["workbooks"][0]["sheets"][UNIT_SHEETS.index(case.sheet)]["name"]
    return case.sheet


# --- rubric, layout and the filled workbook -------------------------------------------------


@cache
def _rubrics() -> dict[str, Rubric]:
    return load_rubrics()


def campaign_rubric(manifest: dict) -> Rubric:
    """The campaign's rubric from rubrics.json, checked against the manifest's content hash."""
    campaign = manifest["campaign"]
    rubric = _rubrics().get(campaign["rubric_id"])
    if rubric is None or content_hash(rubric) != campaign["rubric_hash"]:
        raise ValueError(f"规则库 {campaign['rubric_id']} 与考核清单记录的不一致（或需要分值分配文件）：无法填写")
    return rubric


@cache
def _layout(rubric_id: str, items: tuple[str, ...], unit_rules: bool) -> SheetLayout:
    rubric = _rubrics()[rubric_id]
    return build_sheet_layout(rubric, [i for i in rubric.items if i.id in set(items)], unit_rules=unit_rules)


def workbook_layout(manifest: dict, index: int = 0) -> SheetLayout:
    """The unit-sheet layout of the manifest's workbook ``index``."""
    record = manifest["workbooks"][index]
    rubric = campaign_rubric(manifest)
    return _layout(rubric.id, tuple(record["items"]), bool(record["unit_rules"]))


def missing_reasons(rubric: Rubric, layout: SheetLayout, entries: dict[str, Entry]) -> list[str]:
    """Reason cells that must be filled (the item deducts or adds) but are empty.

    Mirrors the workbook's orange highlight: the score is below the item's points, below zero, or
    the item adds a bonus.
    """
    items = {item.id: item for item in rubric.items}
    inputs = engine_inputs(layout, entries)
    missing = []
    for row in layout.reason_rows:
        item = items[next(i for i, r in layout.item_rows.items() if r == row)]
        result = score_item(item, inputs, rubric.decimals)
        deducts = item.kind != "penalty" and result.score < item.max_points
        if (deducts or result.score < 0 or result.bonus > 0) and entries.get(ref(row, COL_REASON)) in (None, ""):
            missing.append(ref(row, COL_REASON))
    return missing


def _give_reasons(rubric: Rubric, layout: SheetLayout, entries: dict[str, Entry]) -> None:
    for address in missing_reasons(rubric, layout, entries):
        entries[address] = "现场检查发现问题，已留存记录"


def filled_entries(manifest: dict, index: int = 0, seed: int = FILL_SEED) -> dict[str, dict[str, Entry]]:
    """Entries by sheet for workbook ``index``: seeded random valid values, 是 on every sheet,
    a reason wherever an item deducts or adds, and 2 deductions at COUNT_CELL on the first sheet."""
    record = manifest["workbooks"][index]
    rubric = campaign_rubric(manifest)
    layout = workbook_layout(manifest, index)
    rng = random.Random(seed)
    known = {cell.address for cell in layout.inputs}
    result: dict[str, dict[str, Entry]] = {}
    for position, sheet in enumerate(record["sheets"]):
        entries = random_entries(layout, rng)
        entries[ref(*DONE_CELL)] = YES
        if position == 0 and COUNT_CELL in known and rubric.id == BATTERY_RUBRIC:
            entries[COUNT_CELL] = 2
        _give_reasons(rubric, layout, entries)
        result[sheet["name"]] = entries
    return result


_FILLED: dict[tuple[str, int], bytes] = {}


def filled_copy(generated_dir: Path, out_dir: Path, manifest: dict, index: int = 0, *, name: str | None = None) -> Path:
    """A filled copy of the manifest's workbook ``index`` in ``out_dir`` (its own file name unless
    ``name``), as the inspector returns it. The generated workbook is only read."""
    record = manifest["workbooks"][index]
    src = Path(generated_dir) / record["file"]
    dest = Path(out_dir) / (name or record["file"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    key = (hashlib.sha256(src.read_bytes()).hexdigest(), index)
    if key not in _FILLED:
        with _quiet():
            fill(src, dest, filled_entries(manifest, index))
        _FILLED[key] = dest.read_bytes()
    else:
        dest.write_bytes(_FILLED[key])
    return dest


# --- openpyxl and zip helpers -------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """openpyxl's notices about parts it does not read must not fail tests (filterwarnings=error)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
        yield


@contextmanager
def _editing(path: Path) -> Iterator[Workbook]:
    """Open ``path`` with openpyxl, let the caller damage it, save it in place."""
    with _quiet():
        workbook = openpyxl.load_workbook(path)
        yield workbook
        workbook.save(path)


def zip_parts(path: Path) -> dict[str, bytes]:
    """Every part of a zip package, in order."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write_zip(path: Path, parts: dict[str, bytes], *, stored: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


@contextmanager
def _editing_parts(path: Path) -> Iterator[dict[str, bytes]]:
    parts = zip_parts(path)
    yield parts
    _write_zip(path, parts)


_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def sheet_part(parts: dict[str, bytes], sheet: str) -> str:
    """The zip part name of ``sheet`` (through xl/workbook.xml and its relationships)."""
    workbook = ET.fromstring(parts["xl/workbook.xml"])
    rels = ET.fromstring(parts["xl/_rels/workbook.xml.rels"])
    for element in workbook.iter(f"{{{_MAIN_NS}}}sheet"):
        if element.get("name") == sheet:
            rid = element.get(f"{{{_REL_NS}}}id")
            for rel in rels.iter(f"{{{_PKG_REL_NS}}}Relationship"):
                if rel.get("Id") == rid:
                    target = rel.get("Target", "")
                    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise KeyError(sheet)


def _cell_match(xml: bytes, address: str) -> re.Match[bytes]:
    match = re.search(rb'<c r="' + address.encode() + rb'"(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</c>)', xml, re.S)
    if match is None:
        raise KeyError(address)
    return match


def _formula_cells(xml: bytes) -> dict[str, str]:
    """A1 address → formula (without "="), for the plain (not shared) formulas of a sheet part."""
    found = {}
    for match in re.finditer(rb'<c r="([A-Z]+[0-9]+)"[^>]*>\s*<f>(.*?)</f>', xml, re.S):
        found[match.group(1).decode()] = html.unescape(match.group(2).decode())
    return found


def _shape(formula: str, address: str) -> str:
    """The formula moved far away: equal for formulas that a shared formula can express."""
    return Translator("=" + formula, origin=address).translate_formula("ZZ10000")


def _share_formulas(xml: bytes, column: str, si: int) -> tuple[bytes, list[str]]:
    """Rewrite the longest run of same-shape formulas in ``column`` as one shared formula.

    The run is the longest block of consecutive rows; failing that (no two neighbours alike), the
    largest group of same-shape cells, the shared range spanning the rows between them.
    """
    cells = {a: f for a, f in _formula_cells(xml).items() if re.fullmatch(column + r"[0-9]+", a)}
    ordered = sorted(cells, key=_row)
    groups: dict[str, list[str]] = {}
    for address in ordered:
        groups.setdefault(_shape(cells[address], address), []).append(address)
    best: list[str] = []
    for group in groups.values():
        run: list[str] = []
        for address in group:
            run = [*run, address] if run and _row(address) == _row(run[-1]) + 1 else [address]
            if len(run) > len(best):
                best = run
    if len(best) < 2:
        best = max(groups.values(), key=len)
    if len(best) < 2:
        raise ValueError(f"no two formulas of the same shape in column {column}")
    master, *dependents = best
    span = f"{master}:{best[-1]}"
    match = _cell_match(xml, master)
    start = match.start() + match.group(0).index(b"<f>")
    xml = xml[:start] + f'<f t="shared" ref="{span}" si="{si}">'.encode() + xml[start + 3 :]
    for address in dependents:
        match = _cell_match(xml, address)
        body = re.sub(rb"<f>.*?</f>", f'<f t="shared" si="{si}"/>'.encode(), match.group(0), count=1, flags=re.S)
        xml = xml[: match.start()] + body + xml[match.end() :]
    return xml, best


def _set_cached(xml: bytes, address: str, value: str, *, error: bool = False) -> bytes:
    """Give the formula cell ``address`` the cached value ``value`` (a number, or an error)."""
    match = _cell_match(xml, address)
    body = match.group("body") or b""
    formula = re.search(rb"<f\b.*?(?:/>|</f>)", body, re.S)
    if formula is None:
        raise ValueError(f"{address} has no formula")
    attrs = re.sub(rb'\st="[^"]*"', b"", match.group("attrs")) + (b' t="e"' if error else b"")
    new = b'<c r="' + address.encode() + b'"' + attrs + b">" + formula.group(0) + b"<v>" + value.encode() + b"</v></c>"
    return xml[: match.start()] + new + xml[match.end() :]


def _meta_cell(worksheet: Worksheet, key: str) -> str:
    address = META_CELL[key]
    label = worksheet.cell(int(address[1:]), 1).value
    if label != key:
        raise ValueError(
            f"{META_SHEET}!A{address[1:]} is {label!r}, not {key!r}: generate.py changed its metadata rows"
        )
    return address


def reason_cell(layout: SheetLayout, address: str) -> str | None:
    """The reason cell of the item an input cell belongs to (None: the item needs none)."""
    cell = next((c for c in layout.inputs if c.address == address), None)
    if cell is None or cell.item_id not in layout.item_rows:
        return None
    row = layout.item_rows[cell.item_id]
    return ref(row, COL_REASON) if row in layout.reason_rows else None


def _set_input(worksheet: Worksheet, layout: SheetLayout, address: str, value: Any) -> None:
    """Type ``value`` into an input cell, with the item's reason so nothing else is wrong."""
    worksheet[address] = value
    reason = reason_cell(layout, address)
    if reason and worksheet[reason].value in (None, ""):
        worksheet[reason] = "现场检查发现问题，已留存记录"


def _rewrite_summary(workbook: Workbook, old: str, new_prefix: str) -> None:
    """Point 汇总's references to sheet ``old`` at ``new_prefix`` (as Excel does on rename/delete)."""
    summary = workbook[SUMMARY_SHEET]
    prefixes = {quote_sheetname(old) + "!", f"'{old}'!"}
    for row in summary.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                value = cell.value
                for prefix in prefixes:
                    value = value.replace(prefix, new_prefix)
                cell.value = value


# --- crafted containers ----------------------------------------------------------------------

_CFB_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_FREE, _END, _FAT, _NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
_SECTOR = 512
_MINI_CUTOFF = 4096

Tree = dict[str, "bytes | Tree"]


def compound_file(tree: Tree) -> bytes:
    """A Compound File Binary (OLE2, version 3) with ``tree``'s storages (dicts) and streams.

    Streams shorter than the 4096-byte mini-stream cutoff are padded with zeros to it, so every
    stream lives in regular sectors and no mini stream is needed.
    """
    entries: list[dict[str, Any]] = [{"name": "Root Entry", "type": 5, "data": b"", "children": []}]

    def add(parent: int, subtree: Tree) -> None:
        for name, value in subtree.items():
            index = len(entries)
            entries[parent]["children"].append(index)
            if isinstance(value, dict):
                entries.append({"name": name, "type": 1, "data": b"", "children": []})
                add(index, value)
            else:
                data = bytes(value).ljust(_MINI_CUTOFF, b"\0")
                entries.append({"name": name, "type": 2, "data": data, "children": []})

    add(0, tree)
    sectors: list[bytes] = []
    fat: list[int] = []

    def allocate(data: bytes) -> int:
        count = -(-len(data) // _SECTOR)
        start = len(sectors)
        for i in range(count):
            sectors.append(data[i * _SECTOR : (i + 1) * _SECTOR].ljust(_SECTOR, b"\0"))
            fat.append(start + i + 1 if i < count - 1 else _END)
        return start

    for entry in entries:
        entry.update(left=_NONE, right=_NONE, child=_NONE, start=_END if entry["type"] == 5 else 0)
        if entry["type"] == 2:
            entry["start"] = allocate(entry["data"])
    for entry in entries:  # siblings as a chain of right links, in the CFB name order
        children = sorted(entry["children"], key=lambda i: (len(entries[i]["name"]), entries[i]["name"].upper()))
        if children:
            entry["child"] = children[0]
            for this, after in itertools.pairwise(children):
                entries[this]["right"] = after

    def directory_entry(entry: dict[str, Any] | None) -> bytes:
        if entry is None:
            return b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, _NONE, _NONE, _NONE) + b"\0" * 36 + b"\0" * 12
        name = entry["name"].encode("utf-16-le") + b"\0\0"
        return (
            name.ljust(64, b"\0")
            + struct.pack("<HBBIII", len(name), entry["type"], 1, entry["left"], entry["right"], entry["child"])
            + b"\0" * 16  # CLSID
            + struct.pack("<I", 0)  # state bits
            + b"\0" * 16  # creation and modification times
            + struct.pack("<IQ", entry["start"], len(entry["data"]))
        )

    directory = b"".join(directory_entry(entry) for entry in entries)
    directory += directory_entry(None) * ((-len(entries)) % 4)
    directory_start = allocate(directory)
    fat_sectors = 1
    while len(sectors) + fat_sectors > fat_sectors * (_SECTOR // 4):
        fat_sectors += 1
    assert fat_sectors <= 109, "too big for a header-only DIFAT"
    first_fat = len(sectors)
    fat += [_FAT] * fat_sectors
    fat += [_FREE] * (fat_sectors * (_SECTOR // 4) - len(fat))
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    difat = [first_fat + i for i in range(fat_sectors)] + [_FREE] * (109 - fat_sectors)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        _CFB_MAGIC, b"\0" * 16, 0x003E, 0x0003, 0xFFFE, 9, 6, b"\0" * 6,
        0, fat_sectors, directory_start, 0, _MINI_CUTOFF, _END, 0, _END, 0,
    ) + struct.pack("<109I", *difat)  # fmt: skip
    assert len(header) == _SECTOR
    return header + b"".join(sectors) + fat_bytes


def compound_streams(data: bytes) -> list[str]:
    """The paths ("VBA/dir") of every storage and stream in a compound file (for the tests)."""
    if not data.startswith(_CFB_MAGIC):
        raise ValueError("not a compound file")
    fat_count, directory_start = struct.unpack_from("<II", data, 44)
    difat = struct.unpack_from(f"<{min(fat_count, 109)}I", data, 76)
    fat: list[int] = []
    for sector in difat:
        fat += struct.unpack_from(f"<{_SECTOR // 4}I", data, _SECTOR * (sector + 1))
    directory = b""
    sector = directory_start
    while sector not in (_END, _FREE):
        directory += data[_SECTOR * (sector + 1) : _SECTOR * (sector + 2)]
        sector = fat[sector]
    entries = []
    for offset in range(0, len(directory), 128):
        raw = directory[offset : offset + 128]
        length, kind, _, left, right, child = struct.unpack_from("<HBBIII", raw, 64)
        entries.append((raw[: max(length - 2, 0)].decode("utf-16-le"), kind, left, right, child))
    paths: list[str] = []

    def walk(index: int, prefix: str) -> None:
        if index == _NONE:
            return
        name, _, left, right, child = entries[index]
        walk(left, prefix)
        paths.append(prefix + name)
        walk(child, prefix + name + "/")
        walk(right, prefix)

    walk(entries[0][4], "")
    return paths


def _biff_workbook_stream() -> bytes:
    """A BIFF8 workbook globals substream: BOF (Excel 97) and EOF records."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0x000100C9, 0x00000206)
    return bof + struct.pack("<HH", 0x000A, 0)


def _summary_information(application: str) -> bytes:
    """A \\x05SummaryInformation property set naming the creating application (PIDSI_APPNAME)."""
    text = application.encode("utf-8") + b"\0"
    text += b"\0" * (-len(text) % 4)
    codepage = struct.pack("<HHH", 0x0002, 0, 65001) + b"\0\0"  # VT_I2 CP_UTF8
    appname = struct.pack("<HHI", 0x001E, 0, len(text.rstrip(b"\0")) + 1) + text  # VT_LPSTR
    values_offset = 8 + 2 * 8
    section = struct.pack("<II", values_offset + len(codepage) + len(appname), 2)
    section += struct.pack("<IIII", 0x01, values_offset, 0x12, values_offset + len(codepage))
    section += codepage + appname
    fmtid = bytes.fromhex("E0859FF2F94F6810AB9108002B27B3D9")
    header = struct.pack("<HHI16sI", 0xFFFE, 0, 0x00020006, b"\0" * 16, 1) + fmtid + struct.pack("<I", 48)
    return header + section


def _encrypted_package(payload: bytes, rng: random.Random) -> Tree:
    """What Excel writes for a workbook with an open password (agile encryption, ECMA-376)."""

    def b64(size: int) -> str:
        return base64.b64encode(rng.randbytes(size)).decode()

    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
        '<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption" '
        'xmlns:p="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
        f'<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" '
        f'cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" saltValue="{b64(16)}"/>'
        f'<dataIntegrity encryptedHmacKey="{b64(64)}" encryptedHmacValue="{b64(64)}"/>'
        '<keyEncryptors><keyEncryptor uri="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
        f'<p:encryptedKey spinCount="100000" saltSize="16" blockSize="16" keyBits="256" hashSize="64" '
        f'cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" saltValue="{b64(16)}" '
        f'encryptedVerifierHashInput="{b64(16)}" encryptedVerifierHashValue="{b64(64)}" '
        f'encryptedKeyValue="{b64(32)}"/></keyEncryptor></keyEncryptors></encryption>'
    )
    info = struct.pack("<HHI", 4, 4, 0x40) + xml.encode()
    padded = len(payload) + (-len(payload) % 16)
    package = struct.pack("<Q", len(payload)) + rng.randbytes(padded)
    return {
        "\x06DataSpaces": {
            "Version": struct.pack("<I", 60)
            + "Microsoft.Container.DataSpaces".encode("utf-16-le")
            + struct.pack("<HHHHHH", 1, 0, 1, 0, 1, 0),
            "DataSpaceMap": b"\x08\0\0\0\x01\0\0\0",
        },
        "EncryptionInfo": info,
        "EncryptedPackage": package,
    }


def _vba_project() -> bytes:
    """xl/vbaProject.bin: a compound file shaped like Excel's (PROJECT, VBA/dir …)."""
    module = b'Attribute VB_Name = "ThisWorkbook"\r\nPrivate Sub Workbook_Open()\r\n    MsgBox "hi"\r\nEnd Sub\r\n'
    return compound_file(
        {
            "PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\n'
            b"Document=ThisWorkbook/&H00000000\r\n"
            b'Name="VBAProject"\r\n',
            "PROJECTwm": b"ThisWorkbook\0T\0h\0i\0s\0W\0o\0r\0k\0b\0o\0o\0k\0\0\0\0\0",
            "VBA": {
                "dir": b"\x01" + module[:64],
                "ThisWorkbook": module,
                "_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
            },
        }
    )


def _sheet_rows(path: Path, sheet: str, limit: int = 40) -> list[list[str]]:
    """The first rows of a sheet as text (formulas left out), for the CSV/HTML/ODS impostors."""
    with _quiet():
        workbook = openpyxl.load_workbook(path)
    rows = []
    for row in workbook[sheet].iter_rows(max_row=limit, max_col=8, values_only=True):
        rows.append(["" if v is None or (isinstance(v, str) and v.startswith("=")) else str(v) for v in row])
    return rows


def _ods(rows: list[list[str]], sheet: str) -> dict[str, bytes]:
    table = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{html.escape(v)}</text:p></table:table-cell>'
            for v in row
        )
        + "</table:table-row>"
        for row in rows
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">'
        f'<office:body><office:spreadsheet><table:table table:name="{html.escape(sheet)}">{table}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    return {
        "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
        "content.xml": content.encode(),
        "META-INF/manifest.xml": manifest.encode(),
    }


def _docx() -> dict[str, bytes]:
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="word/document.xml"/></Relationships>'
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        "<w:p><w:r><w:t>第一组考核情况说明：各单位评分见附件。</w:t></w:r></w:p></w:body></w:document>"
    )
    return {"[Content_Types].xml": types.encode(), "_rels/.rels": rels.encode(), "word/document.xml": document.encode()}


#: Uncompressed size of the zip bomb's oversize sheet part (BATTERY.md saw 300 MB in a 306 KB file).
ZIP_BOMB_BYTES = 300 * 1024 * 1024


def _zip_bomb(src: Path, dest: Path, part: str) -> None:
    """``src`` with ``part`` grown by ZIP_BOMB_BYTES of whitespace before its closing tag (still
    well-formed XML: only a size guard can stop it)."""
    with zipfile.ZipFile(src) as source, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != part:
                target.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), data,
                                compress_type=zipfile.ZIP_DEFLATED)  # fmt: skip
                continue
            end = data.rindex(b"</worksheet>")
            entry = zipfile.ZipInfo(part, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with target.open(entry, "w", force_zip64=False) as stream:
                stream.write(data[:end])
                chunk = b" " * (1 << 20)
                for _ in range(ZIP_BOMB_BYTES // len(chunk)):
                    stream.write(chunk)
                stream.write(data[end:])


_LAUGHS = (
    '<!DOCTYPE workbook [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n' for n in range(1, 6))
    + "]>\n"
)  # 10^5 "lol": a billion laughs kept small, so a missing guard fails the test instead of hanging it


# --- the cases ---------------------------------------------------------------------------------


@dataclass
class _Ctx:
    generated_dir: Path
    case_dir: Path
    work_dir: Path
    manifest: dict

    @property
    def record(self) -> dict:
        return self.manifest["workbooks"][0]

    @property
    def file(self) -> str:
        return self.record["file"]

    @property
    def stem(self) -> str:
        return Path(self.file).stem

    def sheet(self, position: int = 0) -> str:
        return self.record["sheets"][position]["name"]

    @property
    def layout(self) -> SheetLayout:
        return workbook_layout(self.manifest)

    def filled(self, name: str | None = None, index: int = 0, *, where: Path | None = None) -> Path:
        return filled_copy(self.generated_dir, where or self.case_dir, self.manifest, index, name=name)

    def scratch(self) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir

    def write(self, name: str, data: bytes) -> Path:
        path = self.case_dir / name
        path.write_bytes(data)
        return path


CASES: list[BatteryCase] = []


def _case(
    number: int,
    name: str,
    expect: Expect,
    codes: tuple[str, ...] = (),
    sheet: str | None = None,
    cell: str | None = None,
    *,
    libreoffice: bool = False,
) -> Callable[[Callable[[_Ctx], list[Path]]], Callable[[_Ctx], list[Path]]]:
    unknown = set(codes) - ISSUE_CODES
    assert not unknown, unknown

    def register(func: Callable[[_Ctx], list[Path]]) -> Callable[[_Ctx], list[Path]]:
        folder = f"{number:02d}-{name}"

        def build(generated_dir: Path, out_dir: Path, manifest: dict) -> list[Path]:
            out_dir = Path(out_dir)
            case_dir, work_dir = out_dir / folder, out_dir / f"{folder}.work"
            for path in (case_dir, work_dir):
                if path.exists():
                    shutil.rmtree(path)
            case_dir.mkdir(parents=True)
            with _quiet():
                return func(_Ctx(Path(generated_dir), case_dir, work_dir, manifest))

        build.__name__ = build.__qualname__ = f"build_{name.replace('-', '_')}"
        note = " ".join((func.__doc__ or "").split())
        CASES.append(BatteryCase(number, name, expect, codes, sheet, cell, build, libreoffice, note))
        return func

    return register


def _edit(ctx: _Ctx, change: Callable[[Workbook], None], name: str | None = None) -> list[Path]:
    """A filled copy changed by ``change`` with openpyxl."""
    path = ctx.filled(name)
    with _editing(path) as workbook:
        change(workbook)
    return [path]


def _put(ctx: _Ctx, sheet: str, address: str, value: Any) -> list[Path]:
    """A filled copy with ``value`` written over ``sheet!address``."""

    def change(workbook: Workbook) -> None:
        workbook[sheet][address] = value

    return _edit(ctx, change)


def _edit_input(ctx: _Ctx, address: str, value: Any, position: int = 0) -> list[Path]:
    return _edit(ctx, lambda wb: _set_input(wb[ctx.sheet(position)], ctx.layout, address, value))


def _edit_xml(ctx: _Ctx, change: Callable[[dict[str, bytes]], None], name: str | None = None) -> list[Path]:
    """A filled copy changed by editing its zip parts."""
    path = ctx.filled(name)
    with _editing_parts(path) as parts:
        change(parts)
    return [path]


# Container and format ------------------------------------------------------------------------


@_case(1, "filled-as-intended", "A")
def _filled(ctx: _Ctx) -> list[Path]:
    """Filled with valid entries on every unit sheet and saved (openpyxl, as Excel stores them)."""
    return [ctx.filled()]


@_case(2, "saved-by-libreoffice", "A", libreoffice=True)
def _libreoffice(ctx: _Ctx) -> list[Path]:
    """The filled workbook opened and saved by LibreOffice Calc (very hidden sheet becomes hidden,
    workbook protection dropped, validation rewritten, cached values recalculated)."""
    return [recalculate(ctx.filled(where=ctx.scratch()), ctx.case_dir)]


@_case(3, "blank-returned", "R", ("no-scores",))
def _blank(ctx: _Ctx) -> list[Path]:
    """The generated workbook sent back untouched (same bytes)."""
    path = ctx.case_dir / ctx.file
    shutil.copyfile(ctx.generated_dir / ctx.file, path)
    return [path]


@_case(3, "blank-resaved", "R", ("no-scores",))
def _blank_resaved(ctx: _Ctx) -> list[Path]:
    """The generated workbook opened and saved without any entry."""
    path = ctx.case_dir / ctx.file
    shutil.copyfile(ctx.generated_dir / ctx.file, path)
    with _editing(path) as workbook:
        workbook.properties.lastModifiedBy = "张三"
    return [path]


@_case(4, "empty-file", "R", ("empty",))
def _empty(ctx: _Ctx) -> list[Path]:
    """A 0-byte file under the workbook's name (a failed upload)."""
    return [ctx.write(ctx.file, b"")]


@_case(4, "truncated-download", "R", ("damaged",))
def _truncated(ctx: _Ctx) -> list[Path]:
    """The filled workbook cut to two thirds of its bytes (the zip's directory is lost)."""
    data = ctx.filled(where=ctx.scratch()).read_bytes()
    return [ctx.write(ctx.file, data[: len(data) * 2 // 3])]


@_case(4, "zip-crc-error", "R", ("damaged",))
def _crc(ctx: _Ctx) -> list[Path]:
    """The filled workbook with a byte flipped inside the first unit sheet's compressed data."""
    source = ctx.filled(where=ctx.scratch())
    data = bytearray(source.read_bytes())
    part = sheet_part(zip_parts(source), ctx.sheet(0))
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo(part)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    data[start + info.compress_size // 2] ^= 0xFF
    return [ctx.write(ctx.file, bytes(data))]


@_case(4, "csv-renamed-xlsx", "R", ("not-a-workbook",))
def _csv(ctx: _Ctx) -> list[Path]:
    """The first unit sheet saved as CSV (GB18030, as Excel on Chinese Windows) and named .xlsx."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(_sheet_rows(ctx.filled(where=ctx.scratch()), ctx.sheet(0)))
    return [ctx.write(ctx.file, buffer.getvalue().encode("gb18030"))]


@_case(4, "html-renamed-xlsx", "R", ("not-a-workbook",))
def _html(ctx: _Ctx) -> list[Path]:
    """An HTML table (a web system's "export to Excel") named .xlsx."""
    rows = _sheet_rows(ctx.filled(where=ctx.scratch()), ctx.sheet(0))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    title = html.escape(ctx.sheet(0))
    page = f'<html><head><meta charset="utf-8"><title>{title}</title></head><body><table>{body}</table></body></html>'
    return [ctx.write(ctx.file, page.encode())]


@_case(4, "text-renamed-xlsx", "R", ("not-a-workbook",))
def _text(ctx: _Ctx) -> list[Path]:
    """A plain text note named .xlsx."""
    return [ctx.write(ctx.file, "考核表已填好，请查收。\r\n张三\r\n".encode("gb18030"))]


@_case(4, "docx-renamed-xlsx", "R", ("not-a-workbook",))
def _docx_renamed(ctx: _Ctx) -> list[Path]:
    """A Word document (an OOXML zip, but no workbook) named .xlsx."""
    return [_write_zip(ctx.case_dir / ctx.file, _docx())]


def _xls_bytes() -> bytes:
    return compound_file(
        {"Workbook": _biff_workbook_stream(), "\x05SummaryInformation": _summary_information("Microsoft Excel")}
    )


@_case(5, "legacy-xls", "R", ("legacy-xls",))
def _xls(ctx: _Ctx) -> list[Path]:
    """An Excel 97–2003 .xls (OLE2 compound file with a BIFF8 Workbook stream)."""
    return [ctx.write(f"{ctx.stem}.xls", _xls_bytes())]


@_case(5, "legacy-xls-renamed-xlsx", "R", ("legacy-xls",))
def _xls_renamed(ctx: _Ctx) -> list[Path]:
    """The .xls of the case above renamed .xlsx."""
    return [ctx.write(ctx.file, _xls_bytes())]


def _et_bytes() -> bytes:
    return compound_file(
        {
            "Workbook": _biff_workbook_stream(),
            "ETExtData": b"WPS ET extension data\0",
            "\x05SummaryInformation": _summary_information("WPS Office"),
        }
    )


@_case(5, "wps-et", "R", ("wps-et",))
def _et(ctx: _Ctx) -> list[Path]:
    """A WPS 表格 .et (OLE2 with a Workbook stream, an ETExtData stream, application "WPS Office")."""
    return [ctx.write(f"{ctx.stem}.et", _et_bytes())]


@_case(5, "wps-et-renamed-xlsx", "R", ("wps-et",))
def _et_renamed(ctx: _Ctx) -> list[Path]:
    """The .et of the case above renamed .xlsx."""
    return [ctx.write(ctx.file, _et_bytes())]


@_case(5, "ods", "R", ("ods",))
def _ods_case(ctx: _Ctx) -> list[Path]:
    """An OpenDocument spreadsheet (.ods) with the first unit sheet's text."""
    parts = _ods(_sheet_rows(ctx.filled(where=ctx.scratch()), ctx.sheet(0)), ctx.sheet(0))
    return [_write_zip(ctx.case_dir / f"{ctx.stem}.ods", parts, stored=("mimetype",))]


@_case(5, "ods-renamed-xlsx", "R", ("ods",))
def _ods_renamed(ctx: _Ctx) -> list[Path]:
    """The .ods of the case above renamed .xlsx."""
    parts = _ods(_sheet_rows(ctx.filled(where=ctx.scratch()), ctx.sheet(0)), ctx.sheet(0))
    return [_write_zip(ctx.case_dir / ctx.file, parts, stored=("mimetype",))]


@_case(6, "encrypted", "R", ("encrypted",))
def _encrypted(ctx: _Ctx) -> list[Path]:
    """Saved with an open password: an OLE2 file with EncryptionInfo (agile) and EncryptedPackage."""
    payload = ctx.filled(where=ctx.scratch()).read_bytes()
    return [ctx.write(ctx.file, compound_file(_encrypted_package(payload, random.Random(FILL_SEED))))]


@_case(7, "macros-xlsm", "W", ("macros",))
def _xlsm(ctx: _Ctx) -> list[Path]:
    """Saved as .xlsm: xl/vbaProject.bin, its relationship and the macro-enabled content types."""
    path = ctx.filled(f"{ctx.stem}.xlsm")
    with _editing_parts(path) as parts:
        types = parts["[Content_Types].xml"].decode()
        types = types.replace(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        )
        types = types.replace(
            "<Default ", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ', 1
        )
        parts["[Content_Types].xml"] = types.encode()
        rels = parts["xl/_rels/workbook.xml.rels"].decode()
        rels = rels.replace(
            "</Relationships>",
            '<Relationship Id="rIdVba1" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
            'Target="vbaProject.bin"/></Relationships>',
        )
        parts["xl/_rels/workbook.xml.rels"] = rels.encode()
        parts["xl/vbaProject.bin"] = _vba_project()
    return [path]


@_case(8, "zip-bomb", "R", ("zip-bomb",))
def _bomb(ctx: _Ctx) -> list[Path]:
    """The first unit sheet's part grown to 300 MB of whitespace, compressed to about a megabyte."""
    source = ctx.filled(where=ctx.scratch())
    part = sheet_part(zip_parts(source), ctx.sheet(0))
    dest = ctx.case_dir / ctx.file
    _zip_bomb(source, dest, part)
    return [dest]


@_case(9, "xml-entity-expansion", "R", ("xml-entities",))
def _laughs(ctx: _Ctx) -> list[Path]:
    """xl/workbook.xml with a DOCTYPE of nested ENTITY declarations (billion laughs, bounded to
    10^5) and a reference to the outermost one in workbookPr/@codeName."""

    def change(parts: dict[str, bytes]) -> None:
        xml = parts["xl/workbook.xml"]
        xml = re.sub(rb"<workbookPr\b", b'<workbookPr codeName="&lol5;"', xml, count=1)
        root = xml.index(b"<workbook")
        parts["xl/workbook.xml"] = xml[:root] + _LAUGHS.encode() + xml[root:]

    return _edit_xml(ctx, change)


@_case(9, "xml-external-entity", "R", ("xml-entities",))
def _xxe(ctx: _Ctx) -> list[Path]:
    """The first unit sheet's part declares an external entity (XXE: file:///etc/passwd) and uses it
    as the text of the reason cell."""

    def change(parts: dict[str, bytes]) -> None:
        part = sheet_part(parts, ctx.sheet(0))
        xml = parts[part]
        match = _cell_match(xml, COUNT_REASON)
        attrs = re.sub(rb'\st="[^"]*"', b"", match.group("attrs"))
        cell = b'<c r="' + COUNT_REASON.encode() + b'"' + attrs + b' t="inlineStr"><is><t>&xxe;</t></is></c>'
        xml = xml[: match.start()] + cell + xml[match.end() :]
        root = xml.index(b"<worksheet")
        doctype = b'<!DOCTYPE worksheet [\n <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
        parts[part] = xml[:root] + doctype + xml[root:]

    return _edit_xml(ctx, change)


# Identity and version ------------------------------------------------------------------------


@_case(10, "same-bytes-twice", "A", ("duplicate-file",))
def _same_bytes(ctx: _Ctx) -> list[Path]:
    """The filled workbook and a byte-identical copy under another name."""
    first = ctx.filled()
    second = ctx.case_dir / f"{ctx.stem} - 副本.xlsx"
    shutil.copyfile(first, second)
    return [first, second]


@_case(11, "resaved-same-inputs", "A", ("duplicate-identical",))
def _resaved(ctx: _Ctx) -> list[Path]:
    """The filled workbook and the same workbook opened and saved again (other bytes, same inputs)."""
    first = ctx.filled()
    second = ctx.filled(f"{ctx.stem}(1).xlsx")
    with _editing(second) as workbook:
        workbook.properties.lastModifiedBy = "李四"
        workbook.properties.modified = datetime(2017, 6, 9, 18, 30, 0)
    return [first, second]


@_case(12, "resaved-different-inputs", "R", ("duplicate-conflict",), S1, HALF_CELL)
def _conflict(ctx: _Ctx) -> list[Path]:
    """The filled workbook and a copy in which one input (HALF_CELL) was changed afterwards."""
    first = ctx.filled()
    second = ctx.filled(f"{ctx.stem}（修改）.xlsx")
    with _editing(second) as workbook:
        worksheet = workbook[ctx.sheet(0)]
        _set_input(worksheet, ctx.layout, HALF_CELL, 2 if worksheet[HALF_CELL].value == 1.5 else 1.5)
    return [first, second]


def _campaign_of(manifest: dict) -> Campaign:
    data = manifest["campaign"]
    roster = Roster(tuple(Group(g["group"], (), "", tuple(g["units"])) for g in manifest["roster"]))
    return Campaign(
        campaign_rubric(manifest), roster, data["title"], data["year"], data["deadline"], data["office"], data["split"]
    )


@_case(13, "other-campaign", "R", ("unknown-campaign",))
def _other_campaign(ctx: _Ctx) -> list[Path]:
    """A filled workbook of another campaign (same rubric and roster, generated again: new ids)."""
    other_dir = ctx.scratch() / "其他批次"
    other = generate_campaign(_campaign_of(ctx.manifest), other_dir)
    return [filled_copy(other_dir, ctx.case_dir, other.data)]


@_case(13, "unknown-workbook-id", "R", ("unknown-workbook",), META_SHEET, META_CELL["workbook_id"])
def _unknown_workbook(ctx: _Ctx) -> list[Path]:
    """The right campaign id, but a workbook id the manifest does not list."""

    def change(workbook: Workbook) -> None:
        meta = workbook[META_SHEET]
        meta[_meta_cell(meta, "workbook_id")] = f"{ctx.manifest['campaign']['id']}-099"

    return _edit(ctx, change)


def _edit_meta(ctx: _Ctx, key: str, value: Callable[[str], str]) -> list[Path]:
    def change(workbook: Workbook) -> None:
        meta = workbook[META_SHEET]
        address = _meta_cell(meta, key)
        meta[address] = value(str(meta[address].value))

    return _edit(ctx, change)


@_case(14, "metadata-assessor-edited", "R", ("metadata-edited",), META_SHEET, META_CELL["assessor"])
def _meta_assessor(ctx: _Ctx) -> list[Path]:
    """The metadata's assessor (group) changed to another group of the campaign."""
    other = next((w["assessor"] for w in ctx.manifest["workbooks"][1:]), "第二组")
    return _edit_meta(ctx, "assessor", lambda _: other)


@_case(14, "metadata-rubric-version-edited", "R", ("metadata-edited",), META_SHEET, META_CELL["rubric_version"])
def _meta_version(ctx: _Ctx) -> list[Path]:
    """The metadata's rubric version changed."""
    return _edit_meta(ctx, "rubric_version", lambda v: f"{v}.1")


@_case(14, "metadata-units-edited", "R", ("metadata-edited",), META_SHEET, META_CELL["units"])
def _meta_units(ctx: _Ctx) -> list[Path]:
    """The metadata's unit count (roster) changed."""
    return _edit_meta(ctx, "units", lambda v: str(int(v) + 1))


@_case(15, "metadata-deleted", "R", ("no-metadata",), META_SHEET)
def _meta_deleted(ctx: _Ctx) -> list[Path]:
    """The very hidden metadata sheet deleted (with openpyxl; Excel needs VBA for it)."""
    return _edit(ctx, lambda wb: wb.remove(wb[META_SHEET]))


@_case(16, "metadata-visible", "W", ("metadata-visible",), META_SHEET)
def _meta_visible(ctx: _Ctx) -> list[Path]:
    """The metadata sheet's state veryHidden → visible in xl/workbook.xml, nothing else touched."""

    def change(parts: dict[str, bytes]) -> None:
        xml = parts["xl/workbook.xml"]
        pattern = rb'(<sheet\b[^>]*name="' + META_SHEET.encode() + rb'"[^>]*?)state="veryHidden"'
        new, count = re.subn(pattern, rb'\1state="visible"', xml)
        assert count == 1
        parts["xl/workbook.xml"] = new

    return _edit_xml(ctx, change)


# Structure ---------------------------------------------------------------------------------


@_case(17, "unit-sheet-renamed", "W", ("sheet-renamed",), RENAMED)
def _renamed(ctx: _Ctx) -> list[Path]:
    """The second unit sheet renamed to its bare unit name ("02 乙局" → "乙局"); 汇总's
    references follow, as Excel's do."""

    def change(workbook: Workbook) -> None:
        old = ctx.sheet(1)
        new = ctx.record["sheets"][1]["unit"]
        workbook[old].title = new
        _rewrite_summary(workbook, old, quote_sheetname(new) + "!")

    return _edit(ctx, change)


@_case(18, "sheets-reordered", "A")
def _reordered(ctx: _Ctx) -> list[Path]:
    """The last unit sheet moved to the front and 说明 moved after the unit sheets."""

    def change(workbook: Workbook) -> None:
        last = workbook[ctx.sheet(len(ctx.record["sheets"]) - 1)]
        workbook.move_sheet(last, offset=-workbook.index(last))
        cover = workbook.worksheets[1]
        workbook.move_sheet(cover, offset=len(workbook.worksheets) - 2 - workbook.index(cover))
        workbook.active = 0

    return _edit(ctx, change)


@_case(19, "extra-sheet", "W", ("sheet-extra",), EXTRA_SHEET)
def _extra(ctx: _Ctx) -> list[Path]:
    """A sheet "草稿" added with the inspector's notes."""

    def change(workbook: Workbook) -> None:
        sheet = workbook.create_sheet(EXTRA_SHEET)
        sheet["A1"] = "乙局材料待补：会议记录第三季度"
        sheet["B2"] = 3

    return _edit(ctx, change)


@_case(19, "unit-sheet-copied", "W", ("sheet-extra",), COPIED_SHEET)
def _copied(ctx: _Ctx) -> list[Path]:
    """The first unit sheet duplicated ("01 甲局 (2)", same title rows: it names the same unit)."""

    def change(workbook: Workbook) -> None:
        copy = workbook.copy_worksheet(workbook[ctx.sheet(0)])
        copy.title = f"{ctx.sheet(0)} (2)"

    return _edit(ctx, change)


@_case(20, "unit-sheet-deleted", "R", ("sheet-missing",), S2)
def _deleted(ctx: _Ctx) -> list[Path]:
    """The second unit sheet deleted; 汇总's references to it become #REF!, as in Excel."""

    def change(workbook: Workbook) -> None:
        workbook.remove(workbook[ctx.sheet(1)])
        _rewrite_summary(workbook, ctx.sheet(1), "#REF!")

    return _edit(ctx, change)


@_case(21, "protection-removed", "W", ("protection-removed",), S1)
def _unprotected(ctx: _Ctx) -> list[Path]:
    """The first unit sheet's <sheetProtection> element removed; its content unchanged."""

    def change(parts: dict[str, bytes]) -> None:
        part = sheet_part(parts, ctx.sheet(0))
        parts[part], count = re.subn(rb"<sheetProtection\b[^>]*/>", b"", parts[part])
        assert count == 1

    return _edit_xml(ctx, change)


@_case(22, "formula-unlocked", "W", ("formula-unlocked",), S1, SCORE_CELL)
def _unlocked(ctx: _Ctx) -> list[Path]:
    """Item 1.1's score formula cell unlocked; the formula unchanged."""

    def change(workbook: Workbook) -> None:
        workbook[ctx.sheet(0)][SCORE_CELL].protection = Protection(locked=False, hidden=False)

    return _edit(ctx, change)


def _validation_of(worksheet: Worksheet, address: str) -> Any:
    return next(dv for dv in worksheet.data_validations.dataValidation if address in dv.sqref)


@_case(23, "validation-removed", "W", ("validation-changed",), S1, HALF_CELL)
def _validation_removed(ctx: _Ctx) -> list[Path]:
    """HALF_CELL taken out of its data validation (Data ▸ Validation ▸ Clear All on that cell)."""

    def change(workbook: Workbook) -> None:
        worksheet = workbook[ctx.sheet(0)]
        validation = _validation_of(worksheet, HALF_CELL)
        validation.sqref.remove(HALF_CELL)
        if not validation.sqref.ranges:
            worksheet.data_validations.dataValidation.remove(validation)

    return _edit(ctx, change)


@_case(23, "validation-widened", "W", ("validation-changed",), S1, COUNT_CELL)
def _validation_widened(ctx: _Ctx) -> list[Path]:
    """COUNT_CELL's whole-number validation widened from 0–5 to 0–50."""

    def change(workbook: Workbook) -> None:
        _validation_of(workbook[ctx.sheet(0)], COUNT_CELL).formula2 = "50"

    return _edit(ctx, change)


@_case(23, "validation-cleared-sheet", "W", ("validation-changed",), S1)
def _validation_cleared(ctx: _Ctx) -> list[Path]:
    """Every data validation of the first unit sheet removed."""

    def change(workbook: Workbook) -> None:
        workbook[ctx.sheet(0)].data_validations.dataValidation = []

    return _edit(ctx, change)


# Locked content ------------------------------------------------------------------------------


@_case(24, "formula-replaced-by-number", "R", ("value-typed-over",), S1, SCORE_CELL)
def _typed_over(ctx: _Ctx) -> list[Path]:
    """Item 1.1's score formula overwritten by the number 5 (its maximum)."""
    return _put(ctx, ctx.sheet(0), SCORE_CELL, 5)


@_case(24, "total-replaced-by-number", "R", ("value-typed-over",), S1, TOTAL_CELL)
def _total_typed_over(ctx: _Ctx) -> list[Path]:
    """The unit sheet's 总分 formula overwritten by 98."""
    return _put(ctx, ctx.sheet(0), TOTAL_CELL, 98)


@_case(24, "summary-total-replaced-by-number", "R", ("value-typed-over",), SUMMARY_SHEET, SUMMARY_TOTAL_CELL)
def _summary_typed_over(ctx: _Ctx) -> list[Path]:
    """汇总's 总分 of the first unit overwritten by 98."""
    return _put(ctx, SUMMARY_SHEET, SUMMARY_TOTAL_CELL, 98)


@_case(25, "formula-plus-five", "R", ("formula-changed",), S1, SCORE_CELL)
def _plus_five(ctx: _Ctx) -> list[Path]:
    """Item 1.1's score formula edited: "+5" appended."""

    def change(workbook: Workbook) -> None:
        worksheet = workbook[ctx.sheet(0)]
        worksheet[SCORE_CELL] = worksheet[SCORE_CELL].value + "+5"

    return _edit(ctx, change)


@_case(25, "formula-external-reference", "R", ("formula-changed",), S1, AMOUNT_CELL)
def _external(ctx: _Ctx) -> list[Path]:
    """A rule's amount formula replaced by a reference to another workbook."""

    def change(workbook: Workbook) -> None:
        workbook[ctx.sheet(0)][AMOUNT_CELL] = f"='[02-第二组-考核表.xlsx]01 丁局'!{AMOUNT_CELL}"

    return _edit(ctx, change)


@_case(26, "shared-formulas", "A")
def _shared(ctx: _Ctx) -> list[Path]:
    """The same formulas stored as shared formulas (<f t="shared" ref=… si=…>): 汇总's rank column
    and the longest run of same-shape amount formulas in column E of the first unit sheet."""

    def change(parts: dict[str, bytes]) -> None:
        summary = sheet_part(parts, SUMMARY_SHEET)
        rank_column = re.sub(r"[0-9]+", "", xl_rowcol_to_cell(3, 4 + len(ctx.layout.section_ids)))
        parts[summary], _ = _share_formulas(parts[summary], rank_column, 0)
        unit = sheet_part(parts, ctx.sheet(0))
        parts[unit], _ = _share_formulas(parts[unit], "E", 0)

    return _edit_xml(ctx, change)


def _filled_total(ctx: _Ctx) -> Decimal:
    entries = filled_entries(ctx.manifest)[ctx.sheet(0)]
    rubric = campaign_rubric(ctx.manifest)
    return score_unit(rubric, engine_inputs(ctx.layout, entries)).workbook_total


@_case(27, "cached-value-stale", "A", ("cache-stale",), S1, TOTAL_CELL)
def _stale(ctx: _Ctx) -> list[Path]:
    """总分's cached value left at the blank sheet's total (what the generator cached) although
    the entries change it."""
    blank = next(cell.value for cell in ctx.layout.cells if cell.address == TOTAL_CELL)
    assert isinstance(blank, Decimal)
    stale = blank if blank != _filled_total(ctx) else blank + 1

    def change(parts: dict[str, bytes]) -> None:
        part = sheet_part(parts, ctx.sheet(0))
        parts[part] = _set_cached(parts[part], TOTAL_CELL, format(stale.normalize(), "f"))

    return _edit_xml(ctx, change)


@_case(27, "cached-value-error", "A", ("cache-stale",), S1, SCORE_CELL)
def _cached_error(ctx: _Ctx) -> list[Path]:
    """Item 1.1's score formula with the error #REF! as its cached value."""

    def change(parts: dict[str, bytes]) -> None:
        part = sheet_part(parts, ctx.sheet(0))
        parts[part] = _set_cached(parts[part], SCORE_CELL, "#REF!", error=True)

    return _edit_xml(ctx, change)


@_case(28, "rule-text-edited", "R", ("label-changed",), S1, RULE_TEXT_CELL)
def _text_edited(ctx: _Ctx) -> list[Path]:
    """The rule text next to COUNT_CELL edited (扣1分 → 扣0.5分)."""

    def change(workbook: Workbook) -> None:
        worksheet = workbook[ctx.sheet(0)]
        text = worksheet[RULE_TEXT_CELL].value
        assert "扣1分" in text
        worksheet[RULE_TEXT_CELL] = text.replace("扣1分", "扣0.5分", 1)

    return _edit(ctx, change)


@_case(28, "maximum-edited", "R", ("label-changed",), S1, MAX_CELL)
def _maximum_edited(ctx: _Ctx) -> list[Path]:
    """Item 1.1's maximum (分值) changed from 5 to 10."""
    return _put(ctx, ctx.sheet(0), MAX_CELL, 10)


@_case(28, "unit-name-edited", "R", ("label-changed",), S1, TITLE_CELL)
def _unit_name_edited(ctx: _Ctx) -> list[Path]:
    """The title row's unit name edited (甲局 → 甲局机关)."""

    def change(workbook: Workbook) -> None:
        worksheet = workbook[ctx.sheet(0)]
        unit = ctx.record["sheets"][0]["unit"]
        worksheet[TITLE_CELL] = worksheet[TITLE_CELL].value.replace(unit, unit + "机关", 1)

    return _edit(ctx, change)


@_case(29, "row-inserted", "R", ("label-changed", "formula-changed"), S1)
def _row_inserted(ctx: _Ctx) -> list[Path]:
    """A row inserted above item 1.2 (openpyxl shifts the cells below, not the formulas)."""
    return _edit(ctx, lambda wb: wb[ctx.sheet(0)].insert_rows(INSERT_ROW))


@_case(29, "row-deleted", "R", ("label-changed", "formula-changed"), S1)
def _row_deleted(ctx: _Ctx) -> list[Path]:
    """COUNT_CELL's rule row deleted (the cells below move up, the formulas do not follow)."""
    return _edit(ctx, lambda wb: wb[ctx.sheet(0)].delete_rows(DELETE_ROW))


# Input values ----------------------------------------------------------------------------------


@_case(30, "count-above-maximum", "R", ("out-of-range",), S1, COUNT_CELL)
def _above_max_count(ctx: _Ctx) -> list[Path]:
    """9 pasted into COUNT_CELL (0–5)."""
    return _edit_input(ctx, COUNT_CELL, 9)


@_case(30, "deduction-above-maximum", "R", ("out-of-range",), S1, HALF_CELL)
def _above_max(ctx: _Ctx) -> list[Path]:
    """6 pasted into HALF_CELL (0–4)."""
    return _edit_input(ctx, HALF_CELL, 6)


@_case(30, "negative-deduction", "R", ("out-of-range",), S1, OTHER_HALF_CELL)
def _negative(ctx: _Ctx) -> list[Path]:
    """-1 pasted into OTHER_HALF_CELL (0–4)."""
    return _edit_input(ctx, OTHER_HALF_CELL, -1)


@_case(31, "off-step", "R", ("off-step",), S1, HALF_CELL)
def _off_step(ctx: _Ctx) -> list[Path]:
    """0.3 in HALF_CELL, whose step is 0.5."""
    return _edit_input(ctx, HALF_CELL, 0.3)


@_case(31, "fraction-as-count", "R", ("not-whole",), S1, COUNT_CELL)
def _fraction(ctx: _Ctx) -> list[Path]:
    """2.5 in COUNT_CELL, a count."""
    return _edit_input(ctx, COUNT_CELL, 2.5)


@_case(32, "number-stored-as-text", "W", ("number-as-text",), S1, HALF_CELL)
def _text_number(ctx: _Ctx) -> list[Path]:
    """The text "2" (not the number) in HALF_CELL."""
    return _edit_input(ctx, HALF_CELL, "2")


@_case(32, "full-width-digits", "W", ("number-as-text",), S1, HALF_CELL)
def _full_width(ctx: _Ctx) -> list[Path]:
    """Full-width "２.５" in HALF_CELL."""
    return _edit_input(ctx, HALF_CELL, "２.５")


@_case(32, "surrounding-spaces", "W", ("number-as-text",), S1, COUNT_CELL)
def _spaces(ctx: _Ctx) -> list[Path]:
    """ " 3 " (text with spaces) in COUNT_CELL."""
    return _edit_input(ctx, COUNT_CELL, " 3 ")


@_case(33, "decimal-comma", "R", ("not-a-number",), S1, HALF_CELL)
def _comma(ctx: _Ctx) -> list[Path]:
    """ "2,5" in HALF_CELL."""
    return _edit_input(ctx, HALF_CELL, "2,5")


@_case(33, "range-text", "R", ("not-a-number",), S1, COUNT_CELL)
def _range_text(ctx: _Ctx) -> list[Path]:
    """ "2-3" in COUNT_CELL."""
    return _edit_input(ctx, COUNT_CELL, "2-3")


@_case(33, "chinese-number", "R", ("not-a-number",), S1, HALF_CELL)
def _chinese(ctx: _Ctx) -> list[Path]:
    """ "两分" in HALF_CELL."""
    return _edit_input(ctx, HALF_CELL, "两分")


@_case(33, "not-applicable-text", "R", ("not-a-number",), S1, OTHER_HALF_CELL)
def _na(ctx: _Ctx) -> list[Path]:
    """ "N/A" in OTHER_HALF_CELL (the rule has no 不参加 option)."""
    return _edit_input(ctx, OTHER_HALF_CELL, "N/A")


@_case(33, "boolean-true", "R", ("not-a-number",), S1, COUNT_CELL)
def _boolean(ctx: _Ctx) -> list[Path]:
    """A real boolean TRUE in COUNT_CELL."""
    return _edit_input(ctx, COUNT_CELL, True)


@_case(33, "error-value", "R", ("not-a-number",), S1, HALF_CELL)
def _error_value(ctx: _Ctx) -> list[Path]:
    """The error value #VALUE! pasted into HALF_CELL (stored as an error cell, t="e")."""
    return _edit_input(ctx, HALF_CELL, "#VALUE!")


@_case(34, "formula-in-input", "R", ("formula-in-input",), S1, HALF_CELL)
def _formula_input(ctx: _Ctx) -> list[Path]:
    """ "=1+1" typed into HALF_CELL."""
    return _edit_input(ctx, HALF_CELL, "=1+1")


def _noisy_number(ctx: _Ctx, address: str, noisy: float) -> list[Path]:
    """``noisy`` in an input cell, stored with all 17 significant digits as Excel does.

    openpyxl writes floats rounded to 15 digits (0.30000000000000004 becomes 0.3), so the value is
    typed with openpyxl and its <v> text then replaced in the sheet's XML.
    """
    (path,) = _edit_input(ctx, address, noisy)
    with _editing_parts(path) as parts:
        part = sheet_part(parts, ctx.sheet(0))
        xml = parts[part]
        match = _cell_match(xml, address)
        cell, count = re.subn(rb"<v>[^<]*</v>", b"<v>" + repr(noisy).encode() + b"</v>", match.group(0))
        assert count == 1, match.group(0)
        parts[part] = xml[: match.start()] + cell + xml[match.end() :]
    return [path]


@_case(35, "float-noise", "A", (), S1, RATE_CELL)
def _float_noise(ctx: _Ctx) -> list[Path]:
    """0.30000000000000004 (0.1+0.2, all 17 digits in the XML) in RATE_CELL (step 0.1): accepted as 0.3."""
    return _noisy_number(ctx, RATE_CELL, 0.1 + 0.2)


@_case(35, "float-noise-half-step", "A", (), S1, HALF_CELL)
def _float_noise_half(ctx: _Ctx) -> list[Path]:
    """2.5000000000000004 in HALF_CELL (step 0.5): accepted as 2.5."""
    return _noisy_number(ctx, HALF_CELL, 2.5000000000000004)


@_case(36, "completion-left-blank", "W", ("not-assessed",), S1, DONE)
def _done_blank(ctx: _Ctx) -> list[Path]:
    """The first unit sheet filled but its 本单位考核已完成 cell left empty (未选视为未考核)."""
    return _put(ctx, ctx.sheet(0), DONE, None)


@_case(36, "completion-no", "W", ("not-assessed",), S1, DONE)
def _done_no(ctx: _Ctx) -> list[Path]:
    """The first unit sheet's 本单位考核已完成 set to 否."""
    return _put(ctx, ctx.sheet(0), DONE, NO)


@_case(37, "reason-missing", "W", ("reason-missing",), S1, COUNT_REASON)
def _no_reason(ctx: _Ctx) -> list[Path]:
    """The reason of the known deduction (2 at COUNT_CELL) emptied."""
    return _put(ctx, ctx.sheet(0), COUNT_REASON, None)


def _comment(workbook: Workbook, sheet: str) -> None:
    workbook[sheet][HALF_CELL].comment = Comment("依据：宣传栏半年未更新（张三）", "张三")


@_case(38, "cell-comment", "A", ("cell-comment",), S1, HALF_CELL)
def _commented(ctx: _Ctx) -> list[Path]:
    """A cell comment on HALF_CELL, kept as a remark."""
    return _edit(ctx, lambda wb: _comment(wb, ctx.sheet(0)))


# Extra cases a real office meets ------------------------------------------------------------


@_case(39, "file-renamed", "A")
def _file_renamed(ctx: _Ctx) -> list[Path]:
    """The first group's filled workbook returned as "第二组最终版(1).xlsx" (identity comes from
    the metadata, never from the file name)."""
    return [ctx.filled("第二组最终版(1).xlsx")]


@_case(40, "libreoffice-with-comment", "A", ("cell-comment",), S1, HALF_CELL, libreoffice=True)
def _libreoffice_comment(ctx: _Ctx) -> list[Path]:
    """A cell comment added, then the workbook saved by LibreOffice."""
    source = ctx.filled(where=ctx.scratch())
    with _editing(source) as workbook:
        _comment(workbook, ctx.sheet(0))
    return [recalculate(source, ctx.case_dir)]


@_case(41, "metadata-hidden", "A")
def _meta_hidden(ctx: _Ctx) -> list[Path]:
    """The metadata sheet's state veryHidden → hidden (what LibreOffice does), nothing else touched."""

    def change(parts: dict[str, bytes]) -> None:
        pattern = rb'(<sheet\b[^>]*name="' + META_SHEET.encode() + rb'"[^>]*?)state="veryHidden"'
        parts["xl/workbook.xml"], count = re.subn(pattern, rb'\1state="hidden"', parts["xl/workbook.xml"])
        assert count == 1

    return _edit_xml(ctx, change)


@_case(42, "both-groups", "A")
def _both_groups(ctx: _Ctx) -> list[Path]:
    """Every workbook of the campaign, each filled (the run the other cases are measured against)."""
    return [ctx.filled(index=index) for index in range(len(ctx.manifest["workbooks"]))]


CASES.sort(key=lambda case: case.number)
assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"
assert set(range(1, 39)) <= {case.number for case in CASES}, "every BATTERY.md case needs a fixture"
