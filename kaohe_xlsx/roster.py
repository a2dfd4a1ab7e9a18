"""The roster: inspection groups (考核组), their members and the units each group assesses.

An office keeps the roster as a CSV or an Excel workbook with Chinese column
names (see ``samples/jiaozuo-2016-*``):

* 考核单位 (units): 单位 (required), 考核组 (required when there are groups),
  序号 and 党建片区 (optional). Without a 考核组 column all units form one
  group named 全部单位.
* 考核组 (members, optional): 考核组, 职务 (组长/副组长/成员), 姓名
  (required), 职务说明 and 联系电话 (optional).

Every problem in the files is collected and reported at once, naming the file
and the row, in a :class:`RosterError`.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from pathlib import Path

from .issues import KaoheError
from .resources import resource_path

ALL_UNITS = "全部单位"
LEADER = "组长"
DEPUTY = "副组长"
MEMBER = "成员"

UNITS_SHEET = "考核单位"
GROUPS_SHEET = "考核组"

COL_UNIT = "单位"
COL_GROUP = "考核组"
COL_AREA = "党建片区"
COL_ROLE = "职务"
COL_NAME = "姓名"
COL_TITLE = "职务说明"
COL_PHONE = "联系电话"

CSV_SUFFIXES = (".csv",)
XLSX_SUFFIXES = (".xlsx", ".xlsm")

# Other spellings an office may use for a column; the exact name wins.
_ALIASES: dict[str, tuple[str, ...]] = {
    COL_UNIT: ("单位名称", "被考核单位"),
    COL_GROUP: ("考核调研组", "组别"),
    COL_ROLE: ("组内职务",),
    COL_PHONE: ("电话",),
}

_SPACE = re.compile(r"[\s\u3000\u00a0\ufeff]+")
_HEADER_SEARCH_ROWS = 20
_MAX_BLANK_RUN = 500


class RosterError(KaoheError):
    """The roster files have problems; ``problems`` lists each one (file, row, fix)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Member:
    """One person in an inspection group."""

    role: str
    name: str
    title: str = ""


@dataclass(frozen=True)
class Group:
    """An inspection group: its members, phone and the units it assesses, in roster order."""

    name: str
    members: tuple[Member, ...] = ()
    phone: str = ""
    units: tuple[str, ...] = ()
    area: str = ""  # 党建片区, e.g. 第一、第二党建片区; empty when the roster has none

    @property
    def leader(self) -> Member | None:
        """The first 组长, if any."""
        return next((m for m in self.members if m.role == LEADER), None)


@dataclass(frozen=True)
class Roster:
    """All groups in roster order; each unit belongs to exactly one group."""

    groups: tuple[Group, ...]

    @property
    def units(self) -> tuple[str, ...]:
        """Every unit, group by group, in roster order."""
        return tuple(unit for group in self.groups for unit in group.units)

    @cached_property
    def _by_unit(self) -> dict[str, Group]:
        return {_key(unit): group for group in self.groups for unit in group.units}

    def group_of(self, unit: str) -> Group | None:
        """The group that assesses ``unit`` (spaces ignored), or None if it is not on the roster."""
        return self._by_unit.get(_key(unit))

    def group(self, name: str) -> Group | None:
        """The group called ``name`` (spaces ignored), or None."""
        return next((g for g in self.groups if _key(g.name) == _key(name)), None)


def default_roster() -> Roster:
    """The bundled Jiaozuo 2016 roster: 4 groups, 82 units (seed 000, 附件1)."""
    return load_roster(
        resource_path("samples/jiaozuo-2016-units.csv"),
        resource_path("samples/jiaozuo-2016-groups.csv"),
    )


def load_roster(units_path: str | Path, groups_path: str | Path | None = None) -> Roster:
    """Read the units table and, optionally, the members table; raise RosterError listing every problem.

    An .xlsx/.xlsm with sheets 考核单位 and 考核组 may be given alone as ``units_path``.
    """
    units_path = Path(units_path)
    problems: list[str] = []
    units_table = _read_table(units_path, UNITS_SHEET, (COL_UNIT,), problems)
    members_table: _Table | None = None
    if groups_path is not None:
        members_table = _read_table(Path(groups_path), GROUPS_SHEET, (COL_GROUP, COL_ROLE, COL_NAME), problems)
    elif units_path.suffix.lower() in XLSX_SUFFIXES and units_table is not None and units_table.has_groups_sheet:
        members_table = _read_table(units_path, GROUPS_SHEET, (COL_GROUP, COL_ROLE, COL_NAME), problems)

    groups: dict[str, _GroupDraft] = {}
    if units_table is not None:
        grouped = units_table.has(COL_GROUP)
        if members_table is not None and not grouped:
            problems.append(
                f"[{units_table.label}] 缺少“{COL_GROUP}”列：已提供考核组成员名单，"
                f"单位名单必须写明每个单位属于哪个考核组"
            )
            members_table = None
        groups = _collect_units(units_table, grouped, problems)
    if members_table is not None and units_table is not None:
        _collect_members(members_table, groups, problems)

    if problems:
        raise RosterError(problems)
    return Roster(tuple(draft.freeze() for draft in groups.values()))


# --- building groups ---------------------------------------------------------


@dataclass
class _GroupDraft:
    name: str
    units: list[str] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    area: str = ""
    member_rows: list[int] = field(default_factory=list)

    def freeze(self) -> Group:
        return Group(self.name, tuple(self.members), "、".join(self.phones), tuple(self.units), self.area)


def _collect_units(table: _Table, grouped: bool, problems: list[str]) -> dict[str, _GroupDraft]:
    """Units into groups (by first appearance); duplicates and blanks reported."""
    groups: dict[str, _GroupDraft] = {}
    seen: dict[str, tuple[int, str]] = {}  # unit key -> (row, group name)
    for row in table.rows:
        unit = row.get(COL_UNIT)
        group_name = row.get(COL_GROUP) if grouped else ALL_UNITS
        where = table.at(row.number)
        if not unit:
            problems.append(f"{where} 单位名称为空，请填写单位名称或删除这一行")
            continue
        if not group_name:
            problems.append(f"{where} 单位“{unit}”没有填写考核组，请在“{COL_GROUP}”列写明所属考核组")
            continue
        key = _key(unit)
        if key in seen:
            first_row, first_group = seen[key]
            problems.append(
                f"{where} 单位“{unit}”已在第 {first_row} 行出现（{first_group}），同一单位只能出现一次"
                + ("" if _key(first_group) == _key(group_name) else f"，不能再分到{group_name}")
            )
            continue
        draft = groups.setdefault(_key(group_name), _GroupDraft(group_name))
        seen[key] = (row.number, draft.name)
        draft.units.append(unit)
        if not draft.area:
            draft.area = row.get(COL_AREA)
    return groups


def _collect_members(table: _Table, groups: dict[str, _GroupDraft], problems: list[str]) -> None:
    """Members into their groups; unknown groups and groups without a 组长 reported."""
    unknown: dict[str, list[int]] = {}
    for row in table.rows:
        group_name, name = row.get(COL_GROUP), _SPACE.sub("", row.get(COL_NAME))
        where = table.at(row.number)
        if not group_name:
            problems.append(f"{where} 没有填写考核组，请在“{COL_GROUP}”列写明该成员所属考核组")
            continue
        draft = groups.get(_key(group_name))
        if draft is None:
            unknown.setdefault(group_name, []).append(row.number)
            continue
        draft.member_rows.append(row.number)
        if not name:
            problems.append(f"{where} 姓名为空，请填写{draft.name}成员的姓名或删除这一行")
            continue
        role = _SPACE.sub("", row.get(COL_ROLE)) or MEMBER
        draft.members.append(Member(role, name, row.get(COL_TITLE)))
        phone = row.get(COL_PHONE)
        if phone and phone not in draft.phones:
            draft.phones.append(phone)
    known = "、".join(d.name for d in groups.values()) or "（无）"
    for group_name, rows in unknown.items():
        more = f"（共 {len(rows)} 行：第 {_rows_text(rows)} 行）" if len(rows) > 1 else ""
        problems.append(f"{table.at(rows[0])} 考核组“{group_name}”不在考核单位名单中{more}；名单中的考核组有：{known}")
    for draft in groups.values():
        if any(m.role == LEADER for m in draft.members):
            continue
        if draft.member_rows:
            problems.append(
                f"{table.at(draft.member_rows[0])} {draft.name}没有组长（第 {_rows_text(draft.member_rows)} 行），"
                f"请把其中一人的“{COL_ROLE}”改为“{LEADER}”"
            )
        else:
            problems.append(f"[{table.label}] {draft.name}没有组长：成员名单中没有这个组，请补上组长和成员")


def _rows_text(rows: list[int]) -> str:
    return "、".join(str(r) for r in rows)


def _key(text: str) -> str:
    """Names compare without any spaces: “市委 办公室” is “市委办公室”."""
    return _SPACE.sub("", text)


def _clean(text: str) -> str:
    """Surrounding whitespace (half- and full-width) removed; the rest kept as typed."""
    return text.strip(" \t\r\n\u3000\u00a0\ufeff")


# --- reading tables ----------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    number: int  # as Excel shows it: the header row is usually 1
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass(frozen=True)
class _Table:
    label: str  # "units.csv" or "roster.xlsx 工作表“考核单位”"
    columns: frozenset[str]
    rows: tuple[_Row, ...]
    has_groups_sheet: bool = False

    def has(self, column: str) -> bool:
        return column in self.columns

    def at(self, row: int) -> str:
        return f"[{self.label} 第 {row} 行]"


def _read_table(path: Path, sheet: str, required: tuple[str, ...], problems: list[str]) -> _Table | None:
    """The table in ``path`` (CSV or the sheet ``sheet`` of a workbook), or None after reporting why not."""
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        problems.append(
            f"[{path.name}] 不支持的文件类型“{path.suffix or '无扩展名'}”：请在 Excel 或 WPS 中"
            f"“另存为”Excel 工作簿（.xlsx）或 CSV UTF-8（逗号分隔）（.csv）"
        )
        return None
    if not path.is_file():
        problems.append(f"[{path.name}] 找不到文件：{path}")
        return None
    try:
        if suffix in CSV_SUFFIXES:
            label, grid, has_groups_sheet = path.name, _csv_grid(path), False
        else:
            label, grid, has_groups_sheet = _xlsx_grid(path, sheet)
    except _Unreadable as error:
        problems.append(f"[{path.name}] {error}")
        return None
    return _table(label, grid, required, has_groups_sheet, problems)


class _Unreadable(Exception):
    """The file cannot be read at all; the message says why in Chinese."""


def _csv_grid(path: Path) -> list[tuple[int, list[str]]]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _Unreadable(f"无法读取文件（可能正在 Excel 中打开，请关闭后重试）：{error.strerror or error}") from error
    if data.startswith(b"PK\x03\x04"):
        raise _Unreadable("文件内容是 Excel 工作簿，扩展名却是 .csv：请把扩展名改为 .xlsx")
    text = _decode(data)
    if text is None:
        raise _Unreadable("无法识别文件编码：请在 Excel 中“另存为”CSV UTF-8（逗号分隔）")
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        records = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise _Unreadable(f"CSV 格式有误（{error}）：请在 Excel 中打开后重新“另存为”CSV") from error
    return [(number, record) for number, record in enumerate(records, 1)]


def _decode(data: bytes) -> str | None:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel “Unicode 文本”), else GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: Iterable[str] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _xlsx_grid(path: Path, sheet: str) -> tuple[str, list[tuple[int, list[str]]], bool]:
    from openpyxl import load_workbook  # imported here: CSV-only use needs no openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # WPS/Excel extensions openpyxl does not know
            book = load_workbook(path, data_only=False)
    except PermissionError as error:
        raise _Unreadable("无法读取文件（可能正在 Excel 中打开，请关闭后重试）") from error
    except Exception as error:  # openpyxl raises many kinds for a damaged or mislabelled file
        message = "无法作为 Excel 工作簿打开：文件可能已损坏或不是 .xlsx 格式，请在 Excel 中另存为 .xlsx"
        raise _Unreadable(message) from error
    try:
        names = {_key(name): name for name in book.sheetnames}
        has_groups_sheet = GROUPS_SHEET in names
        if sheet in names:
            ws = book[names[sheet]]
        else:  # the first sheet, but never the members sheet for the units
            others = [n for n in book.sheetnames if sheet != UNITS_SHEET or _key(n) != GROUPS_SHEET]
            ws = book[(others or book.sheetnames)[0]]
        label = f"{path.name} 工作表“{ws.title}”"
        merged = _merged_values(ws)
        grid: list[tuple[int, list[str]]] = []
        blank_run = 0
        for cells in ws.iter_rows():
            number = cells[0].row if cells else len(grid) + 1
            values = []
            for cell in cells:
                value = merged.get(cell.coordinate, cell.value)
                if cell.data_type == "f" and cell.coordinate not in merged:
                    value = _Formula(str(value))
                values.append(value)
            row = [_cell_text(v) for v in values]
            if any(v.strip() for v in row):
                blank_run = 0
            else:
                blank_run += 1
                if blank_run > _MAX_BLANK_RUN:
                    break
            grid.append((number, row))
        return label, grid, has_groups_sheet
    finally:
        book.close()


class _Formula(str):
    """The text of a formula cell (a roster should hold values, not formulas)."""


def _merged_values(ws: object) -> dict[str, object]:
    """Cells covered by a merged range get the top-left value (a 考核组 merged over its units)."""
    filled: dict[str, object] = {}
    for merged in getattr(ws, "merged_cells", None) or ():
        top_left = ws.cell(merged.min_row, merged.min_col).value  # type: ignore[attr-defined]
        for row in range(merged.min_row, merged.max_row + 1):
            for col in range(merged.min_col, merged.max_col + 1):
                if (row, col) != (merged.min_row, merged.min_col):
                    filled[ws.cell(row, col).coordinate] = top_left  # type: ignore[attr-defined]
    return filled


def _cell_text(value: object) -> str:
    """A cell as the text a person sees: 3568226 not 3568226.0, dates as 2017-05-09."""
    if value is None:
        return ""
    if isinstance(value, _Formula):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _table(
    label: str,
    grid: list[tuple[int, list[str]]],
    required: tuple[str, ...],
    has_groups_sheet: bool,
    problems: list[str],
) -> _Table | None:
    """Find the header row (a title row above it is allowed), map columns, keep non-blank rows."""
    header_at = None
    for index, (_, cells) in enumerate(grid[:_HEADER_SEARCH_ROWS]):
        names = {_key(c) for c in cells}
        if required[-1] in names or any(a in names for a in _ALIASES.get(required[-1], ())):
            header_at = index
            break
    if header_at is None:
        first = next((cells for _, cells in grid if any(_key(c) for c in cells)), [])
        found = "、".join(_key(c) for c in first if _key(c)) or "（文件是空的）"
        problems.append(
            f"[{label}] 缺少必填列“{'”“'.join(required)}”：没有找到含“{required[-1]}”的标题行；第一行是：{found}"
        )
        return None
    header_number, header = grid[header_at]
    columns = _map_columns(header)
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(f"[{label} 第 {header_number} 行] 缺少必填列“{'”“'.join(missing)}”，请在标题行补上")
        return None
    rows = []
    for number, cells in grid[header_at + 1 :]:
        values = {name: _cell_value(cells, index) for name, index in columns.items()}
        if not any(values.values()):
            continue
        for name, value in values.items():
            if isinstance(value, _Formula) and name in (COL_UNIT, COL_GROUP, COL_NAME):
                problems.append(f"[{label} 第 {number} 行] “{name}”列是公式（{value}），请改为直接填写文字")
        rows.append(_Row(number, {name: str(value) for name, value in values.items()}))
    return _Table(label, frozenset(columns), tuple(rows), has_groups_sheet)


def _map_columns(header: list[str]) -> dict[str, int]:
    """Known column name -> index; names compared without spaces, exact names before aliases."""
    keys = [_key(c) for c in header]
    columns: dict[str, int] = {}
    for name in (COL_UNIT, COL_GROUP, COL_AREA, COL_ROLE, COL_NAME, COL_TITLE, COL_PHONE):
        for spelling in (name, *_ALIASES.get(name, ())):
            if spelling in keys:
                columns[name] = keys.index(spelling)
                break
    return columns


def _cell_value(cells: list[str], index: int) -> str:
    if index >= len(cells):
        return ""
    value = cells[index]
    cleaned = _clean(value)
    return _Formula(cleaned) if isinstance(value, _Formula) else cleaned
