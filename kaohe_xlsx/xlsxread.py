"""Read what the ingest needs from an .xlsx package, straight from its XML.

openpyxl builds a full object model and is 25–40 times slower than reading the
values alone; the ingest needs more than values (formulas, the locked flag of
each cell's style, number formats, sheet protection, data validations,
comments, sheet visibility) but nothing else, so it streams each part through
expat once. Parsers refuse DTDs and entity declarations (the protection
defusedxml gives), and the caller has already vetted the container
(:mod:`kaohe_xlsx.safety`).

Cell values are kept as the text stored in the file (numbers exactly as
written, so ``0.30000000000000004`` is seen as such) with their type.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal
from xml.parsers import expat

from openpyxl.formula.translate import Translator

CellType = Literal["n", "s", "str", "inlineStr", "b", "e", "d"]
SheetState = Literal["visible", "hidden", "veryHidden"]

# Built-in number formats that show dates or times, and percentages.
_DATE_FORMAT_IDS = {
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    27,
    28,
    29,
    30,
    31,
    32,
    33,
    34,
    35,
    36,
    45,
    46,
    47,
    50,
    51,
    52,
    53,
    54,
    55,
    56,
    57,
    58,
}
_PERCENT_FORMAT_IDS = {9, 10}
_DATE_CODE = re.compile(r"(?<!\\)[ymdhs]|年|月|日", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]')


class _Stop(Exception):
    """Raised inside a handler to stop reading a part early."""


class XlsxReadError(Exception):
    """The package is not a readable spreadsheet (missing part, malformed XML, DTD)."""


@dataclass(frozen=True)
class CellStyle:
    locked: bool = True
    kind: Literal["general", "date", "percent"] = "general"


@dataclass(slots=True)
class RawCell:
    """One cell as stored: its text value and type, its formula, its style index."""

    text: str | None
    type: CellType = "n"
    formula: str | None = None
    style: int = 0


@dataclass
class Validation:
    sqref: str
    type: str
    formula1: str | None
    formula2: str | None


@dataclass
class RawSheet:
    name: str
    state: SheetState
    path: str
    cells: dict[str, RawCell] = field(default_factory=dict)
    protected: bool = False
    validations: list[Validation] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)
    loaded: bool = False


class _Handler:
    """expat handlers shared by every part: refuse DTDs and entity declarations."""

    def __init__(self) -> None:
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._forbid
        self.parser.EntityDeclHandler = self._forbid
        self.parser.ExternalEntityRefHandler = self._forbid

    def _forbid(self, *args: Any) -> None:
        raise XlsxReadError("XML 中含有 DTD 或实体声明")

    def run(self, stream: IO[bytes]) -> None:
        try:
            self.parser.ParseFile(stream)
        except expat.ExpatError as exc:
            raise XlsxReadError(f"XML 格式错误：{expat.errors.messages[exc.code]}（第 {exc.lineno} 行）") from exc


def _local(tag: str) -> str:
    """The element name without its namespace prefix ("x:c" and "c" are both "c")."""
    return tag.rpartition(":")[2] if ":" in tag else tag


class _SheetHandler(_Handler):
    """Collects cells, protection, validations and the comments relationship of one sheet."""

    def __init__(self, sheet: RawSheet, shared_strings: list[str], max_row: int | None = None):
        super().__init__()
        self.sheet = sheet
        self.max_row = max_row
        self.strings = shared_strings
        self.cell: RawCell | None = None
        self.address = ""
        self.text: list[str] = []
        self.in_text = False
        self.formula_attrs: dict[str, str] = {}
        self.shared: dict[str, tuple[str, str]] = {}  # si -> (master formula, master address)
        self.validation: Validation | None = None
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.data

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = tag.rpartition(":")[2] if ":" in tag else tag
        if name == "c":  # the most frequent elements first
            self.address = attrs.get("r", "")
            self.cell = RawCell(None, attrs.get("t", "n"), None, int(attrs.get("s", "0")))  # type: ignore[arg-type]
        elif name == "v":
            self.in_text = True
            self.text = []
        elif name == "f":
            self.in_text = True
            self.text = []
            self.formula_attrs = attrs
        elif name == "row":
            if self.max_row is not None and int(attrs.get("r", "0")) > self.max_row:
                raise _Stop
        elif name in ("t", "formula1", "formula2", "sqref"):
            self.in_text = True
            self.text = []
        elif name == "sheetProtection":
            self.sheet.protected = attrs.get("sheet", "0") in ("1", "true")
        elif name == "dataValidation":
            self.validation = Validation(attrs.get("sqref", ""), attrs.get("type", "none"), None, None)

    def data(self, text: str) -> None:
        if self.in_text:
            self.text.append(text)

    def end(self, tag: str) -> None:
        name = tag.rpartition(":")[2] if ":" in tag else tag
        cell = self.cell
        if name == "v" and cell is not None:
            value = "".join(self.text)
            cell.text = (
                self.strings[int(value)]
                if cell.type == "s" and value.isdigit() and int(value) < len(self.strings)
                else value
            )
        elif name == "t" and cell is not None:
            cell.text = (cell.text or "") + "".join(self.text)
        elif name == "f" and cell is not None:
            cell.formula = self._formula("".join(self.text))
        elif name == "c" and cell is not None:
            if cell.type == "inlineStr":
                cell.type = "s"
            self.sheet.cells[self.address] = cell
            self.cell = None
        elif name in ("formula1", "formula2") and self.validation is not None:
            setattr(self.validation, name, "".join(self.text))
        elif name == "sqref" and self.validation is not None:  # Excel's x14 extension keeps it in an element
            self.validation.sqref = "".join(self.text)
        elif name == "dataValidation" and self.validation is not None:
            self.sheet.validations.append(self.validation)
            self.validation = None
        self.in_text = False

    def _formula(self, text: str) -> str:
        """The cell's own formula, expanding a shared formula from its master cell."""
        if self.formula_attrs.get("t") != "shared":
            return "=" + text
        index = self.formula_attrs.get("si", "")
        if text:
            self.shared[index] = ("=" + text, self.address)
            return "=" + text
        master = self.shared.get(index)
        if master is None:
            return ""
        return Translator(master[0], origin=master[1]).translate_formula(self.address)


class _ListHandler(_Handler):
    """Collects elements by local name with their attributes, and the text of <t> runs."""

    def __init__(self, names: Iterable[str]):
        super().__init__()
        self.names = set(names)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.strings: list[str] = []
        self.runs: list[str] | None = None
        self.in_t = False
        self.comment_ref = ""
        self.comments: dict[str, str] = {}
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.data

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = _local(tag)
        if name in self.names:
            self.found.append((name, attrs))
        if name in ("si", "comment"):
            self.runs = []
            self.comment_ref = attrs.get("ref", "")
        elif name == "t":
            self.in_t = True
        elif name in ("rPh", "phoneticPr"):
            self.in_t = False

    def data(self, text: str) -> None:
        if self.in_t and self.runs is not None:
            self.runs.append(text)

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name == "t":
            self.in_t = False
        elif name == "si" and self.runs is not None:
            self.strings.append("".join(self.runs))
            self.runs = None
        elif name == "comment" and self.runs is not None:
            self.comments[self.comment_ref] = "".join(self.runs)
            self.runs = None


def _format_kind(code: str) -> Literal["general", "date", "percent"]:
    bare = _QUOTED.sub("", code)
    if "%" in bare:
        return "percent"
    if _DATE_CODE.search(bare) and "General" not in code:
        return "date"
    return "general"


class XlsxPackage:
    """An opened .xlsx: sheet list, styles and shared strings; sheets parsed on demand."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise XlsxReadError(f"无法打开压缩包：{exc}") from exc
        self.names = set(self.zip.namelist())
        self.sheets: list[RawSheet] = []
        self.styles: list[CellStyle] = []
        self.shared_strings: list[str] = []
        self.properties: dict[str, str] = {}
        self._read_workbook()
        self._read_styles()
        self._read_shared_strings()
        self._read_properties()

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> XlsxPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _parse(self, part: str, handler: _Handler) -> None:
        if part not in self.names:
            raise XlsxReadError(f"缺少部件 {part}")
        with self.zip.open(part) as stream:
            handler.run(stream)

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (target part, relationship type) of a part's internal relationships."""
        folder, name = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", name + ".rels")
        if rels not in self.names:
            return {}
        handler = _ListHandler(["Relationship"])
        self._parse(rels, handler)
        targets = {}
        for _, attrs in handler.found:
            target = attrs.get("Target", "")
            if attrs.get("TargetMode") == "External":
                continue
            resolved = (
                target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            )
            targets[attrs.get("Id", "")] = (resolved, attrs.get("Type", ""))
        return targets

    def _read_workbook(self) -> None:
        handler = _ListHandler(["sheet"])
        self._parse("xl/workbook.xml", handler)
        targets = self._relationships("xl/workbook.xml")
        for _, attrs in handler.found:
            rid = next((value for key, value in attrs.items() if key.endswith(":id")), "")
            state = attrs.get("state", "visible")
            self.sheets.append(RawSheet(attrs.get("name", ""), state, targets.get(rid, ("", ""))[0]))  # type: ignore[arg-type]

    def _read_styles(self) -> None:
        if "xl/styles.xml" not in self.names:
            self.styles = [CellStyle()]
            return
        handler = _ListHandler(["numFmt", "cellXfs", "xf", "protection", "cellStyleXfs"])
        self._parse("xl/styles.xml", handler)
        formats: dict[int, str] = {}
        in_cell_xfs = False
        for name, attrs in handler.found:
            if name == "numFmt":
                formats[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
            elif name == "cellStyleXfs":
                in_cell_xfs = False
            elif name == "cellXfs":
                in_cell_xfs = True
            elif name == "xf" and in_cell_xfs:
                format_id = int(attrs.get("numFmtId", "0"))
                if format_id in _DATE_FORMAT_IDS:
                    kind: Literal["general", "date", "percent"] = "date"
                elif format_id in _PERCENT_FORMAT_IDS:
                    kind = "percent"
                else:
                    kind = _format_kind(formats.get(format_id, ""))
                self.styles.append(CellStyle(True, kind))
            elif name == "protection" and in_cell_xfs and self.styles:
                locked = attrs.get("locked", "1") not in ("0", "false")
                self.styles[-1] = CellStyle(locked, self.styles[-1].kind)
        self.styles = self.styles or [CellStyle()]

    def _read_shared_strings(self) -> None:
        if "xl/sharedStrings.xml" in self.names:
            handler = _ListHandler([])
            self._parse("xl/sharedStrings.xml", handler)
            self.shared_strings = handler.strings

    def _read_properties(self) -> None:
        for part, keys in (
            ("docProps/core.xml", ("modified", "lastModifiedBy")),
            ("docProps/app.xml", ("Application",)),
        ):
            if part not in self.names:
                continue
            collector = _TextCollector(keys)
            self._parse(part, collector)
            self.properties.update(collector.values)

    def style(self, index: int) -> CellStyle:
        return self.styles[index] if 0 <= index < len(self.styles) else CellStyle()

    def sheet(self, name: str) -> RawSheet | None:
        for sheet in self.sheets:
            if sheet.name == name:
                return self.load(sheet)
        return None

    def head(self, sheet: RawSheet, rows: int) -> RawSheet:
        """Only the first ``rows`` rows of a sheet (the metadata's key/value part)."""
        partial = RawSheet(sheet.name, sheet.state, sheet.path)
        with contextlib.suppress(_Stop):
            self._parse(sheet.path, _SheetHandler(partial, self.shared_strings, max_row=rows))
        return partial

    def load(self, sheet: RawSheet) -> RawSheet:
        """Parse the sheet's XML (once) and its comments."""
        if sheet.loaded:
            return sheet
        self._parse(sheet.path, _SheetHandler(sheet, self.shared_strings))
        for target, kind in self._relationships(sheet.path).values():
            if kind.endswith("/comments") and target in self.names:
                handler = _ListHandler([])
                self._parse(target, handler)
                sheet.comments.update(handler.comments)
        sheet.loaded = True
        return sheet


class _TextCollector(_Handler):
    """The text of a few named elements (document properties)."""

    def __init__(self, keys: Iterable[str]):
        super().__init__()
        self.keys = set(keys)
        self.values: dict[str, str] = {}
        self.current = ""
        self.parser.StartElementHandler = lambda tag, attrs: setattr(self, "current", _local(tag))
        self.parser.EndElementHandler = lambda tag: setattr(self, "current", "")
        self.parser.CharacterDataHandler = self.data

    def data(self, text: str) -> None:
        if self.current in self.keys:
            self.values[self.current] = self.values.get(self.current, "") + text
