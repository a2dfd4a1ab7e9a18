"""Roster files: the bundled Jiaozuo samples, CSV/xlsx reading and the problems reported per file and row."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from kaohe_xlsx.issues import KaoheError
from kaohe_xlsx.resources import resource_path
from kaohe_xlsx.roster import ALL_UNITS, Member, Roster, RosterError, default_roster, load_roster

UNITS_HEADER = "序号,考核组,单位,党建片区"
GROUPS_HEADER = "考核组,职务,姓名,职务说明,联系电话"


def write_csv(path: Path, *lines: str, encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        ws = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, str):
                    ws.write_string(r, c, value)
                elif value is not None:
                    ws.write_number(r, c, value)
    book.close()
    return path


def problems_of(units: Path, groups: Path | None = None) -> list[str]:
    with pytest.raises(RosterError) as caught:
        load_roster(units, groups)
    return caught.value.problems


# --- the bundled samples -----------------------------------------------------


def test_bundled_roster_has_the_four_groups_of_seed_000() -> None:
    roster = default_roster()
    assert [g.name for g in roster.groups] == [
        "第一考核调研组",
        "第二考核调研组",
        "第三考核调研组",
        "第四考核调研组",
    ]
    # seed 000: "考核单位：第一、第二党建片区中的机关单位（22家）。"
    # seed 000: "考核单位：第三、第四党建片区中的机关单位（15家）。"
    # seed 000: "考核单位：第五、第六党建片区中的机关单位（23家）。"
    # seed 000: "考核单位：第七、第八党建片区中的机关单位（22家）。"
    assert [len(g.units) for g in roster.groups] == [22, 15, 23, 22]
    assert len(roster.units) == 82 == len(set(roster.units))
    assert [g.area for g in roster.groups] == [
        "第一、第二党建片区",
        "第三、第四党建片区",
        "第五、第六党建片区",
        "第七、第八党建片区",
    ]
    # seed 000: "组     长：石书明（市直工委副书记）" ... "联系电话：3568226" (and so on per group)
    assert [(g.leader.name, g.leader.title) for g in roster.groups if g.leader] == [
        ("石书明", "市直工委副书记"),
        ("陈修锋", "市直工委副书记"),
        ("王晓垠", "市直机关纪工委书记"),
        ("史文洪", "市直机关工会主席"),
    ]
    assert [g.phone for g in roster.groups] == ["3568226", "3568222", "3568225", "3568223"]


def test_bundled_members_and_unit_order_follow_the_seed() -> None:
    roster = default_roster()
    first, second, third, fourth = roster.groups
    # seed 000: "成     员：陈东晓（市直工委办公室主任科员）" then "孔倩雯（市直工委办公室科员）"
    assert first.members == (
        Member("组长", "石书明", "市直工委副书记"),
        Member("副组长", "贾世平", "市直工委办公室主任"),
        Member("成员", "陈东晓", "市直工委办公室主任科员"),
        Member("成员", "孔倩雯", "市直工委办公室科员"),
    )
    # seed 000: "成     员：杜  娟（市直工委组织部主任科员）" — stored without the padding
    assert Member("成员", "杜娟", "市直工委组织部主任科员") in second.members
    assert [m.name for m in third.members] == ["王晓垠", "王国凡", "王身健"]
    assert Member("成员", "张英", "市直机关工会主任科员") in fourth.members
    assert first.units[:3] == ("市委办公室", "市政府办公室", "市纪委") and first.units[-1] == "文联"
    assert second.units[0] == "总工会" and second.units[-1] == "邮政管理局"
    assert third.units[0] == "人大机关" and third.units[-1] == "红十字会"
    assert fourth.units[0] == "市编办" and fourth.units[-1] == "广利局"
    assert "南水北调城区段" in fourth.units
    assert roster.group_of("教育局") is second
    assert roster.group_of(" 教育局\u3000") is second
    assert roster.group_of("不存在的单位") is None
    assert roster.group("第 三 考核调研组") is third


def test_bundled_xlsx_gives_the_same_roster_as_the_csv_files() -> None:
    from_csv = default_roster()
    from_xlsx = load_roster(resource_path("samples/jiaozuo-2016-roster.xlsx"))
    assert from_xlsx == from_csv
    explicit = load_roster(
        resource_path("samples/jiaozuo-2016-roster.xlsx"), resource_path("samples/jiaozuo-2016-roster.xlsx")
    )
    assert explicit == from_csv


def test_bundled_2020_units_are_the_70_of_seed_003() -> None:
    roster = load_roster(resource_path("samples/jiaozuo-2020-units.csv"))
    # seed 003: "市直机关创建模范机关单位名单\n（共70家）"
    assert len(roster.units) == 70 == len(set(roster.units))
    assert [g.name for g in roster.groups] == [ALL_UNITS]
    assert roster.groups[0].members == () and roster.groups[0].phone == ""
    assert roster.units[0] == "市委办公室" and roster.units[-1] == "市红十字会"
    assert "市纪委监委机关" in roster.units


def test_sample_csv_files_carry_a_bom_for_excel() -> None:
    for name in ("jiaozuo-2016-units.csv", "jiaozuo-2016-groups.csv", "jiaozuo-2020-units.csv"):
        assert resource_path(f"samples/{name}").read_bytes().startswith(b"\xef\xbb\xbf"), name


# --- reading -----------------------------------------------------------------


def test_csv_and_xlsx_give_the_same_roster(tmp_path: Path) -> None:
    units = [["序号", "考核组", "单位"], [1, "甲组", "教育局"], [2, "甲组", "财政局"], [3, "乙组", "审计局"]]
    groups = [
        ["考核组", "职务", "姓名", "联系电话"],
        ["甲组", "组长", "张三", 3568226],
        ["乙组", "组长", "李四", "3568222"],
        ["乙组", "成员", "王五", ""],
    ]
    csv_units = write_csv(tmp_path / "u.csv", *(",".join(str(v) for v in row) for row in units))
    csv_groups = write_csv(tmp_path / "g.csv", *(",".join(str(v) for v in row) for row in groups))
    book = write_xlsx(tmp_path / "r.xlsx", {"考核单位": units, "考核组": groups})
    from_csv = load_roster(csv_units, csv_groups)
    assert load_roster(book) == from_csv
    assert from_csv.groups[0].phone == "3568226"  # a number cell in xlsx, no ".0"
    assert from_csv.groups[1].members == (Member("组长", "李四"), Member("成员", "王五"))
    assert from_csv.group_of("审计局").name == "乙组"


def test_gb18030_and_plain_utf8_csv_load(tmp_path: Path) -> None:
    lines = ("考核组,单位", "第一组,人力资源社会保障局", "第一组,䶮山局")  # 䶮 is outside GBK
    for encoding in ("gb18030", "utf-8", "utf-8-sig"):
        roster = load_roster(write_csv(tmp_path / f"{encoding}.csv", *lines, encoding=encoding))
        assert roster.units == ("人力资源社会保障局", "䶮山局"), encoding


def test_column_names_spaces_title_row_and_unknown_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "u.csv",
        "市直工委考核调研组分组及考核单位名单,,,",
        "考　核　组, 单  位 ,备注,序号",
        "第一组,\u3000市委办公室  ,随便写,1",
        ",,,",
        "第一组,市政府办公室,,2",
    )
    roster = load_roster(path)
    assert roster.units == ("市委办公室", "市政府办公室")
    assert roster.groups[0].name == "第一组"


def test_formula_like_text_stays_text(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "u.csv", "单位", "=1+1", "'001", "+86")
    assert load_roster(csv_path).units == ("=1+1", "'001", "+86")
    xlsx_path = write_xlsx(tmp_path / "u.xlsx", {"考核单位": [["单位"], ["=1+1"], [12345], [0.5]]})
    assert load_roster(xlsx_path).units == ("=1+1", "12345", "0.5")


def test_xlsx_numbers_stored_as_floats_read_without_point_zero(tmp_path: Path) -> None:
    # Some programs store whole numbers as "12345.0"; openpyxl then returns a float.
    plain = write_xlsx(tmp_path / "plain.xlsx", {"考核单位": [["考核组", "单位"], [2016, 12345]]})
    floated = tmp_path / "floated.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(floated, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<v>2016</v>", b"<v>2016.0</v>").replace(b"<v>12345</v>", b"<v>12345.0</v>")
            target.writestr(info, data)
    roster = load_roster(floated)
    assert [(g.name, g.units) for g in roster.groups] == [("2016", ("12345",))]


def test_merged_group_cells_in_xlsx_cover_their_units(tmp_path: Path) -> None:
    path = tmp_path / "merged.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("考核单位")
    ws.write_string(0, 0, "考核组")
    ws.write_string(0, 1, "单位")
    ws.merge_range(1, 0, 3, 0, "第一组")
    for r, unit in enumerate(["教育局", "财政局", "审计局"], 1):
        ws.write_string(r, 1, unit)
    book.close()
    roster = load_roster(path)
    assert [(g.name, g.units) for g in roster.groups] == [("第一组", ("教育局", "财政局", "审计局"))]


# --- problems, each naming the file and row -----------------------------------


def test_duplicate_unit_within_a_group(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "units.csv",
        UNITS_HEADER,
        "1,第二考核调研组,总工会,",
        "2,第二考核调研组,教育局,",
        "3,第二考核调研组, 教育局 ,",
    )
    assert problems_of(path) == [
        "[units.csv 第 4 行] 单位“教育局”已在第 3 行出现（第二考核调研组），同一单位只能出现一次"
    ]


def test_unit_in_two_groups_and_empty_unit_are_all_reported(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "units.csv",
        UNITS_HEADER,
        "1,第一考核调研组,市委办公室,",
        "2,第一考核调研组,,",
        "3,第二考核调研组,市委办公室,",
        "4,,市纪委,",
    )
    problems = problems_of(path)
    assert problems == [
        "[units.csv 第 3 行] 单位名称为空，请填写单位名称或删除这一行",
        "[units.csv 第 4 行] 单位“市委办公室”已在第 2 行出现（第一考核调研组），"
        "同一单位只能出现一次，不能再分到第二考核调研组",
        "[units.csv 第 5 行] 单位“市纪委”没有填写考核组，请在“考核组”列写明所属考核组",
    ]


def test_unknown_group_and_group_without_leader_in_members_file(tmp_path: Path) -> None:
    units = write_csv(tmp_path / "units.csv", "考核组,单位", "第一组,教育局", "第二组,财政局")
    groups = write_csv(
        tmp_path / "groups.csv",
        GROUPS_HEADER,
        "第一组,组长,张三,,3568226",
        "第二组,副组长,李四,,",
        "第二组,成员,王五,,",
        "第五组,组长,赵六,,",
        "第五组,成员,钱七,,",
    )
    problems = problems_of(units, groups)
    assert len(problems) == 2
    assert problems[0].startswith("[groups.csv 第 5 行] 考核组“第五组”不在考核单位名单中（共 2 行：第 5、6 行）")
    assert "第一组、第二组" in problems[0]
    assert problems[1] == "[groups.csv 第 3 行] 第二组没有组长（第 3、4 行），请把其中一人的“职务”改为“组长”"


def test_group_missing_from_members_file_has_no_leader(tmp_path: Path) -> None:
    units = write_csv(tmp_path / "units.csv", "考核组,单位", "第一组,教育局", "第二组,财政局")
    groups = write_csv(tmp_path / "groups.csv", GROUPS_HEADER, "第一组,组  长,张  三,,")
    assert problems_of(units, groups) == ["[groups.csv] 第二组没有组长：成员名单中没有这个组，请补上组长和成员"]


def test_missing_required_columns(tmp_path: Path) -> None:
    units = write_csv(tmp_path / "units.csv", "考核组,单位名字", "第一组,教育局")
    groups = write_csv(tmp_path / "groups.csv", "考核组,姓名", "第一组,张三")
    problems = problems_of(units, groups)
    assert problems[0].startswith("[units.csv] 缺少必填列“单位”")
    assert problems[1] == "[groups.csv 第 1 行] 缺少必填列“职务”，请在标题行补上"


def test_members_file_needs_grouped_units(tmp_path: Path) -> None:
    units = write_csv(tmp_path / "units.csv", "序号,单位", "1,教育局")
    groups = write_csv(tmp_path / "groups.csv", GROUPS_HEADER, "第一组,组长,张三,,")
    (problem,) = problems_of(units, groups)
    assert problem.startswith("[units.csv] 缺少“考核组”列")


def test_wrong_extension_and_unreadable_files(tmp_path: Path) -> None:
    old_excel = tmp_path / "名单.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0")
    broken = tmp_path / "坏文件.xlsx"
    broken.write_text("这不是工作簿", encoding="utf-8")
    (wrong,) = problems_of(old_excel)
    assert wrong.startswith("[名单.xls] 不支持的文件类型“.xls”")
    problems = problems_of(broken, tmp_path / "不存在.csv")
    assert problems[0].startswith("[坏文件.xlsx] 无法作为 Excel 工作簿打开")
    assert problems[1].startswith("[不存在.csv] 找不到文件")
    renamed = tmp_path / "units.csv"
    write_xlsx(tmp_path / "real.xlsx", {"考核单位": [["单位"], ["教育局"]]})
    renamed.write_bytes((tmp_path / "real.xlsx").read_bytes())
    assert problems_of(renamed) == ["[units.csv] 文件内容是 Excel 工作簿，扩展名却是 .csv：请把扩展名改为 .xlsx"]


def test_xlsx_problems_name_the_sheet_and_row(tmp_path: Path) -> None:
    path = tmp_path / "roster.xlsx"
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet("考核单位")
    ws.write_string(0, 0, "考核组")
    ws.write_string(0, 1, "单位")
    ws.write_string(1, 0, "第一组")
    ws.write_string(1, 1, "教育局")
    ws.write_string(2, 0, "第一组")
    ws.write_formula(2, 1, "=B2")
    ws.write_string(3, 0, "第一组")
    ws.write_string(3, 1, "教育局")
    book.close()
    assert problems_of(path) == [
        "[roster.xlsx 工作表“考核单位” 第 3 行] “单位”列是公式（=B2），请改为直接填写文字",
        "[roster.xlsx 工作表“考核单位” 第 4 行] 单位“教育局”已在第 2 行出现（第一组），同一单位只能出现一次",
    ]


def test_roster_error_is_a_kaohe_error_joining_its_problems(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "u.csv", "单位", "甲", "甲", "甲")
    with pytest.raises(KaoheError) as caught:
        load_roster(path)
    assert isinstance(caught.value, RosterError)
    assert len(caught.value.problems) == 2
    assert str(caught.value) == "\n".join(caught.value.problems)
    assert isinstance(load_roster(write_csv(tmp_path / "ok.csv", "单位", "甲")), Roster)
