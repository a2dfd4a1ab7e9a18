"""The container checks of kaohe_xlsx.safety: battery cases 4–9, each built here from bytes."""

from __future__ import annotations

import re
import shutil
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
import xlsxwriter

from kaohe_xlsx.safety import CODES, MACRO_WARNING, Verdict, _XmlScan, inspect_file

MIB = 2**20
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- builders ---------------------------------------------------------------------------------------------------


def make_workbook(path: Path, *, sheets: int = 2, rows: int = 20) -> Path:
    """A real scoring-like workbook written by xlsxwriter."""
    workbook = xlsxwriter.Workbook(path)
    for index in range(sheets):
        sheet = workbook.add_worksheet(f"单位{index + 1}")
        sheet.write_row(0, 0, ["考核项目", "分值", "得分", "扣分理由"])
        for row in range(1, rows + 1):
            sheet.write_row(row, 0, [f"项目{row}", 5, row % 5, f"=B{row + 1}-C{row + 1}"])
        sheet.data_validation(1, 2, rows, 2, {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 5})
        sheet.protect()
    workbook.close()
    return path


def read_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(path: Path, parts: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def entry_offsets(path: Path, name: str) -> tuple[int, int, int]:
    """(local header offset, central directory entry offset, data offset) of one entry."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        start = archive.start_dir
    position = start
    while data[position : position + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<3H", data, position + 28)
        if data[position + 46 : position + 46 + name_len].decode() == name:
            local = info.header_offset
            local_name_len, local_extra_len = struct.unpack_from("<2H", data, local + 26)
            return local, position, local + 30 + local_name_len + local_extra_len
        position += 46 + name_len + extra_len + comment_len
    raise KeyError(name)


def patch_entry(path: Path, name: str, *, crc: int | None = None, size: int | None = None, flags: int = 0) -> None:
    """Rewrite an entry's CRC, uncompressed size or flag bits in both its local header and the central directory."""
    local, central, _ = entry_offsets(path, name)
    data = bytearray(path.read_bytes())
    for header, crc_at, size_at, flags_at in ((local, 14, 22, 6), (central, 16, 24, 8)):
        if crc is not None:
            struct.pack_into("<I", data, header + crc_at, crc)
        if size is not None:
            struct.pack_into("<I", data, header + size_at, size)
        old = struct.unpack_from("<H", data, header + flags_at)[0]
        struct.pack_into("<H", data, header + flags_at, old | flags)
    path.write_bytes(bytes(data))


FREE, END, FATSECT, DIFSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC, 0xFFFFFFFF


def build_cfb(streams: dict[str, bytes], *, shift: int = 9) -> bytes:
    """A minimal but valid compound file ([MS-CFB]) with the given streams in its root storage.

    Small streams go to the mini stream, big ones to regular sectors; the FAT gets DIFAT sectors when it needs more
    than 109 sectors, and the directory is written last so that reading it needs the whole FAT.
    """
    size = 1 << shift
    per = size // 4
    names = sorted(streams, key=lambda n: (len(n), n.upper()))
    sectors = lambda count: -(-count // size)  # noqa: E731

    mini, minifat, mini_start = bytearray(), [], {}
    for name in names:
        data = streams[name]
        if 0 < len(data) < 4096:
            count = -(-len(data) // 64)
            mini_start[name] = len(mini) // 64
            minifat += [mini_start[name] + i + 1 for i in range(count - 1)] + [END]
            mini += data.ljust(count * 64, b"\0")
    big = [name for name in names if len(streams[name]) >= 4096]
    n_minifat, n_mini, n_dir = sectors(len(minifat) * 4), sectors(len(mini)), sectors((len(names) + 1) * 128)
    payload = n_minifat + n_mini + sum(sectors(len(streams[n])) for n in big) + n_dir
    n_fat = n_difat = 0
    while True:
        need_fat = sectors((n_difat + n_fat + payload) * 4)
        need_difat = 0 if need_fat <= 109 else -(-(need_fat - 109) // (per - 1))
        if (need_fat, need_difat) == (n_fat, n_difat):
            break
        n_fat, n_difat = need_fat, need_difat
    total = n_difat + n_fat + payload
    fat = [FREE] * (n_fat * per)
    difat_sids = list(range(n_difat))
    fat_sids = list(range(n_difat, n_difat + n_fat))
    for sid in difat_sids:
        fat[sid] = DIFSECT
    for sid in fat_sids:
        fat[sid] = FATSECT
    cursor = n_difat + n_fat

    def alloc(count: int) -> int:
        nonlocal cursor
        start = cursor
        for i in range(count):
            fat[cursor + i] = cursor + i + 1 if i < count - 1 else END
        cursor += count
        return start if count else END

    minifat_start = alloc(n_minifat)
    mini_sector = alloc(n_mini)
    big_start = {name: alloc(sectors(len(streams[name]))) for name in big}
    dir_start = alloc(n_dir)
    assert cursor == total
    body = bytearray(total * size)

    def put(sid: int, data: bytes) -> None:
        body[sid * size : sid * size + len(data)] = data

    extra = fat_sids[109:]
    for i, sid in enumerate(difat_sids):
        chunk = extra[i * (per - 1) : (i + 1) * (per - 1)]
        chunk += [FREE] * (per - 1 - len(chunk))
        put(sid, struct.pack(f"<{per}I", *chunk, difat_sids[i + 1] if i + 1 < n_difat else END))
    if fat_sids:
        put(fat_sids[0], struct.pack(f"<{len(fat)}I", *fat))
    if n_minifat:
        padded = minifat + [FREE] * (n_minifat * per - len(minifat))
        put(minifat_start, struct.pack(f"<{len(padded)}I", *padded))
    put(mini_sector, bytes(mini)) if mini else None
    for name in big:
        put(big_start[name], streams[name])

    def entry(name: str, kind: int, right: int, child: int, start: int, length: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        return struct.pack(
            "<64sHBBIII16sIQQIQ", raw.ljust(64, b"\0"), len(raw), kind, 1, NOSTREAM, right, child, bytes(16), 0, 0, 0,
            start, length,
        )  # fmt: skip

    directory = entry("Root Entry", 5, NOSTREAM, 1 if names else NOSTREAM, mini_sector if mini else END, len(mini))
    for i, name in enumerate(names, 1):
        start = big_start.get(name, mini_start.get(name, END))
        directory += entry(name, 2, i + 1 if i < len(names) else NOSTREAM, NOSTREAM, start, len(streams[name]))
    while len(directory) % size:
        directory += entry("", 0, NOSTREAM, NOSTREAM, 0, 0)
    put(dir_start, directory)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", bytes(16), 0x3E, 3 if shift == 9 else 4,
        0xFFFE, shift, 6, bytes(6), n_dir if shift == 12 else 0, n_fat, dir_start, 0, 4096,
        minifat_start if n_minifat else END, n_minifat, difat_sids[0] if n_difat else END, n_difat,
    )  # fmt: skip
    header += struct.pack("<109I", *(fat_sids[:109] + [FREE] * (109 - len(fat_sids[:109]))))
    return header.ljust(size, b"\0") + bytes(body)


def biff_workbook(*records: tuple[int, bytes]) -> bytes:
    """A BIFF8 Workbook stream: BOF, the given records, EOF (padded past the mini-stream cutoff when asked)."""
    out = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHII", 0x0600, 0x0005, 0, 0, 0, 0)
    for record, payload in records:
        out += struct.pack("<HH", record, len(payload)) + payload
    return out + struct.pack("<HH", 0x000A, 0)


def assert_rejected(verdict: Verdict, code: str, *hints: str) -> None:
    assert not verdict.ok, verdict
    assert verdict.code == code, verdict
    assert not verdict.macros
    assert verdict.code in CODES
    assert CJK.search(verdict.message), verdict.message
    for hint in hints:
        assert hint in verdict.message, (hint, verdict.message)


# --- case 1 and 7: accepted ---------------------------------------------------------------------------------------


def test_real_workbook_is_accepted(tmp_path: Path) -> None:
    verdict = inspect_file(make_workbook(tmp_path / "填报.xlsx"))
    assert verdict == Verdict(ok=True, code="", message="", macros=False)


def test_file_name_is_never_used(tmp_path: Path) -> None:
    workbook = make_workbook(tmp_path / "a.xlsx")
    renamed = tmp_path / "看起来像表格.csv"
    shutil.copy(workbook, renamed)
    assert inspect_file(renamed).ok
    text = tmp_path / "返回.xlsx"
    text.write_text("单位,得分\n市教育局,95\n", encoding="utf-8")
    assert_rejected(inspect_file(text), "not-a-workbook", "CSV")


def test_vba_project_is_accepted_with_macro_warning(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    verdict = inspect_file(write_zip(tmp_path / "macro.xlsx", parts))
    assert verdict.ok and verdict.macros and verdict.code == ""
    assert verdict.message == MACRO_WARNING and "宏不会运行" in verdict.message


def test_macro_enabled_content_type_is_accepted_with_macro_warning(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    types = parts["[Content_Types].xml"].decode()
    assert "spreadsheetml.sheet.main+xml" in types
    types = types.replace(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    parts["[Content_Types].xml"] = types.encode()
    verdict = inspect_file(write_zip(tmp_path / "b.xlsm", parts))
    assert verdict.ok and verdict.macros


# --- case 4: damaged or not a workbook ----------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "空.xlsx"
    path.write_bytes(b"")
    assert_rejected(inspect_file(path), "empty", "0 字节", "重新保存")


def test_too_large(tmp_path: Path) -> None:
    workbook = make_workbook(tmp_path / "a.xlsx")
    assert_rejected(inspect_file(workbook, max_file_bytes=1000), "too-large", "超过上限")


@pytest.mark.parametrize(
    ("content", "label"),
    [
        ("序号,单位,得分\n1,市财政局,92.5\n2,市教育局,88\n".encode(), "CSV"),
        ("序号,单位,得分\n1,市财政局,92.5\n".encode("gb18030"), "CSV"),
        (b"\xef\xbb\xbf" + "单位\t得分\n市财政局\t92\n".encode(), "CSV"),
        (b"\xff\xfe" + "单位\t得分\r\n市财政局\t92\r\n".encode("utf-16-le"), "CSV"),
        ("考核结果已填写完毕，请查收。".encode(), "文本"),
        (b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'></head><body><table></table></body></html>", "网页"),
        (b'<html xmlns:o="urn:schemas-microsoft-com:office:office"><body><table><tr><td>1</td></tr></table>', "网页"),
        (b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=x\r\n", "MHT"),
        (
            b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
            "Excel 2003 XML",
        ),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "图片"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "图片"),
        (b"Rar!\x1a\x07\x01\x00", "RAR"),
        (bytes(range(256)) * 4, "二进制"),
    ],
)
def test_other_content_is_not_a_workbook(tmp_path: Path, content: bytes, label: str) -> None:
    path = tmp_path / "返回.xlsx"
    path.write_bytes(content)
    assert_rejected(inspect_file(path), "not-a-workbook", label, "不是 Excel 工作簿", ".xlsx")


def test_truncated_download_is_damaged(tmp_path: Path) -> None:
    data = make_workbook(tmp_path / "a.xlsx").read_bytes()
    path = tmp_path / "截断.xlsx"
    path.write_bytes(data[: len(data) // 2])
    assert_rejected(inspect_file(path), "damaged", "损坏", "重新")


def test_truncated_inside_the_last_part_is_damaged(tmp_path: Path) -> None:
    """Cut just before the central directory: the directory record is gone too."""
    data = make_workbook(tmp_path / "a.xlsx").read_bytes()
    path = tmp_path / "截断.xlsx"
    path.write_bytes(data[:-30])
    assert_rejected(inspect_file(path), "damaged")


def test_flipped_byte_in_stored_part_fails_crc(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    path = write_zip(tmp_path / "crc.xlsx", parts, method=zipfile.ZIP_STORED)
    assert inspect_file(path).ok
    _, _, data_at = entry_offsets(path, "xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    data[data_at + 300] ^= 0x01
    path.write_bytes(bytes(data))
    assert_rejected(inspect_file(path), "damaged", "CRC", "xl/worksheets/sheet1.xml")


def test_flipped_byte_in_deflated_part_is_damaged(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "a.xlsx", rows=200)
    _, _, data_at = entry_offsets(path, "xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    data[data_at + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert_rejected(inspect_file(path), "damaged", "xl/worksheets/sheet1.xml")


def test_missing_content_types_is_damaged(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    del parts["[Content_Types].xml"]
    assert_rejected(inspect_file(write_zip(tmp_path / "b.xlsx", parts)), "damaged", "[Content_Types].xml")


def test_duplicate_part_names_are_refused(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    path = write_zip(tmp_path / "dup.xlsx", parts)
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("xl/workbook.xml", parts["xl/workbook.xml"])
    assert_rejected(inspect_file(path), "damaged", "xl/workbook.xml")


def test_docx_is_not_a_workbook(tmp_path: Path) -> None:
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels": b"<Relationships/>",
        "word/document.xml": b"<w:document/>",
    }
    assert_rejected(inspect_file(write_zip(tmp_path / "报告.xlsx", parts)), "not-a-workbook", "Word")


def test_plain_zip_is_not_a_workbook(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "a.xlsx", {"考核表/说明.txt": "请查收".encode()})
    assert_rejected(inspect_file(path), "not-a-workbook", "ZIP")


def test_zip_level_password_is_refused(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "a.xlsx")
    patch_entry(path, "xl/workbook.xml", flags=0x1)
    assert_rejected(inspect_file(path), "encrypted", "密码")


# --- case 5: other formats ----------------------------------------------------------------------------------------


def test_ods_is_refused_with_save_as_hint(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", "<manifest:manifest/>", zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
    assert_rejected(inspect_file(path), "ods", ".ods", "另存为", ".xlsx")


def test_xlsb_is_refused_with_save_as_hint(tmp_path: Path) -> None:
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'content-types"><Override PartName="/xl/workbook.bin" ContentType="application/vnd.ms-excel.sheet.binary.'
        b'macroEnabled.main"/></Types>',
        "_rels/.rels": b"<Relationships/>",
        "xl/workbook.bin": b"\x83\x01\x00",
    }
    assert_rejected(inspect_file(write_zip(tmp_path / "a.xlsx", parts)), "xlsb", ".xlsb", "另存为")


def test_legacy_xls_is_refused_with_save_as_hint(tmp_path: Path) -> None:
    path = tmp_path / "旧表.xlsx"
    path.write_bytes(build_cfb({"Workbook": biff_workbook(), "\x05SummaryInformation": b"\xfe\xff" + bytes(46)}))
    assert_rejected(inspect_file(path), "legacy-xls", "97-2003", "另存为", ".xlsx")


def test_legacy_xls_with_open_password_says_both(tmp_path: Path) -> None:
    path = tmp_path / "a.xls"
    path.write_bytes(build_cfb({"Workbook": biff_workbook((0x002F, b"\x00\x00" + bytes(52)))}))
    assert_rejected(inspect_file(path), "legacy-xls", "密码", "另存为")


def test_biff5_book_stream_is_legacy_xls(tmp_path: Path) -> None:
    path = tmp_path / "a.xls"
    path.write_bytes(build_cfb({"Book": biff_workbook() + bytes(5000)}))  # in regular sectors, not the mini stream
    assert_rejected(inspect_file(path), "legacy-xls")


@pytest.mark.parametrize(
    ("stream", "mark"),
    [
        ("\x05DocumentSummaryInformation", "KSOProductBuildVer".encode("utf-16-le")),
        ("\x05DocumentSummaryInformation", b"KSOProductBuildVer"),
        ("\x05SummaryInformation", b"WPS Office"),
    ],
)
def test_wps_et_is_refused_with_wps_hint(tmp_path: Path, stream: str, mark: bytes) -> None:
    # WPS names itself in the document properties of the files it saves.
    properties = b"\xfe\xff\x00\x00" + bytes(40) + mark + b"\x00\x002052-12.1.0"
    streams = {"Workbook": biff_workbook() + bytes(6000), stream: properties}
    path = tmp_path / "考核.xlsx"  # an .et renamed .xlsx
    path.write_bytes(build_cfb(streams))
    assert_rejected(inspect_file(path), "wps-et", "WPS", "另存为", ".xlsx")


def test_wps_custom_data_stream_marks_wps(tmp_path: Path) -> None:
    path = tmp_path / "a.et"
    path.write_bytes(build_cfb({"Workbook": biff_workbook(), "WpsCustomData": b"\x01\x00"}))
    assert inspect_file(path).code == "wps-et"


def test_word_97_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(build_cfb({"WordDocument": b"\xec\xa5" + bytes(100), "1Table": bytes(100)}))
    assert_rejected(inspect_file(path), "not-a-workbook", "Word")


def test_broken_compound_file_is_damaged(tmp_path: Path) -> None:
    data = bytearray(build_cfb({"Workbook": biff_workbook()}))
    struct.pack_into("<I", data, 48, 9999)  # the directory starts outside the file
    path = tmp_path / "a.xls"
    path.write_bytes(bytes(data))
    assert_rejected(inspect_file(path), "damaged")


# --- case 6: open password ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [9, 12])
def test_password_protected_xlsx_is_encrypted(tmp_path: Path, shift: int) -> None:
    streams = {
        "EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + b"<?xml version='1.0'?><encryption/>",
        "EncryptedPackage": struct.pack("<Q", 20000) + bytes(20008),
        "\x06DataSpaces": b"",
    }
    path = tmp_path / "加密.xlsx"
    path.write_bytes(build_cfb(streams, shift=shift))
    assert_rejected(inspect_file(path), "encrypted", "密码", "取消")


def test_encrypted_package_needing_difat_sectors(tmp_path: Path) -> None:
    """8 MB of encrypted package: more than 109 FAT sectors, so the FAT continues in DIFAT sectors."""
    streams = {"EncryptionInfo": b"\x04\x00\x04\x00" + bytes(200), "EncryptedPackage": bytes(8 * MIB)}
    data = build_cfb(streams)
    assert struct.unpack_from("<I", data, 72)[0] >= 1  # the writer used DIFAT sectors
    path = tmp_path / "大.xlsx"
    path.write_bytes(data)
    assert inspect_file(path).code == "encrypted"


# --- case 8: zip bombs --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb_300mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seen case: a 300 MB sheet of zeros in a ~300 KB file, written by streaming."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.xlsx"
    parts = read_parts(make_workbook(path.with_name("base.xlsx")))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as stream:
            block = b"0" * MIB
            for _ in range(300):
                stream.write(block)
    return path


def test_300mb_sheet_is_a_zip_bomb_before_decompressing(bomb_300mb: Path) -> None:
    assert bomb_300mb.stat().st_size < 400 * 1024
    started = time.perf_counter()
    verdict = inspect_file(bomb_300mb)
    assert time.perf_counter() - started < 0.5  # decided from the directory, not by inflating 300 MB
    assert_rejected(verdict, "zip-bomb", "xl/worksheets/sheet1.xml", "压缩炸弹")


def test_high_ratio_part_is_a_zip_bomb(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    parts["xl/worksheets/sheet2.xml"] = b"0" * (5 * MIB)  # ~1000:1
    assert_rejected(inspect_file(write_zip(tmp_path / "b.xlsx", parts)), "zip-bomb", "压缩比")


def test_total_size_limit(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    path = write_zip(tmp_path / "b.xlsx", parts)
    assert_rejected(inspect_file(path, max_total_bytes=2000), "zip-bomb", "共")


def test_header_lying_about_its_size_is_a_zip_bomb(tmp_path: Path) -> None:
    """The directory says 1000 bytes (with the CRC of those 1000), the data inflates to 8 MB."""
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = sheet + b"<!-- " + b"x" * (8 * MIB) + b" -->"
    path = write_zip(tmp_path / "lie.xlsx", parts)
    patch_entry(path, "xl/worksheets/sheet1.xml", size=1000, crc=zlib.crc32(sheet[:1000]))
    with zipfile.ZipFile(path) as archive:  # zipfile alone is fooled: it stops at the declared size, CRC matches
        assert len(archive.read("xl/worksheets/sheet1.xml")) == 1000
    assert_rejected(inspect_file(path), "zip-bomb", "声明的大小")


def test_header_claiming_more_than_the_data_is_damaged(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "a.xlsx")
    with zipfile.ZipFile(path) as archive:
        real = archive.getinfo("xl/worksheets/sheet1.xml").file_size
    patch_entry(path, "xl/worksheets/sheet1.xml", size=real + 10)
    assert_rejected(inspect_file(path), "damaged", "不符")


def stored_record(name: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data)
    header = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0)
    return header + name + data


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    """Entry b's local record sits inside entry a's data: the trick of the densest (non-recursive) zip bombs."""
    inner = stored_record(b"xl/b.xml", b"<b/>")
    outer = stored_record(b"xl/a.xml", inner)
    directory = b""
    for name, data, offset in ((b"xl/a.xml", inner, 0), (b"xl/b.xml", b"<b/>", 30 + 8)):
        crc = zlib.crc32(data)
        directory += struct.pack(
            "<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 0, 20, 0, 0, 0, 0, 0, crc, len(data), len(data), len(name),
            0, 0, 0, 0, 0, offset,
        ) + name  # fmt: skip
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(directory), len(outer), 0)
    path = tmp_path / "overlap.xlsx"
    path.write_bytes(outer + directory + end)
    with zipfile.ZipFile(path) as archive:  # zipfile reads both without complaint
        assert archive.read("xl/b.xml") == b"<b/>"
    assert_rejected(inspect_file(path), "damaged", "重叠")


# --- case 9: XML entity declarations ------------------------------------------------------------------------------


def with_doctype(xml: bytes, doctype: bytes) -> bytes:
    end = xml.index(b"?>") + 2
    return xml[:end] + doctype + xml[end:]


BILLION_LAUGHS = b'<!DOCTYPE x [<!ENTITY a "b"><!ENTITY c "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'


@pytest.mark.parametrize(
    "part", ["xl/workbook.xml", "xl/worksheets/sheet2.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"]
)
def test_billion_laughs_in_any_xml_part(tmp_path: Path, part: str) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    parts[part] = with_doctype(parts[part], BILLION_LAUGHS)
    verdict = inspect_file(write_zip(tmp_path / "b.xlsx", parts))
    assert_rejected(verdict, "xml-entities", part, "<!DOCTYPE", "重新保存")


def test_xxe_in_utf16_part(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    xml = with_doctype(parts["xl/sharedStrings.xml"], b'<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]>')
    text = xml.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    parts["xl/sharedStrings.xml"] = b"\xff\xfe" + text.encode("utf-16-le")
    assert_rejected(inspect_file(write_zip(tmp_path / "b.xlsx", parts)), "xml-entities", "xl/sharedStrings.xml")


def test_doctype_hidden_in_a_part_with_another_name(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    parts["xl/worksheets/sheet9.dat"] = with_doctype(parts["xl/worksheets/sheet1.xml"], BILLION_LAUGHS)
    assert_rejected(inspect_file(write_zip(tmp_path / "b.xlsx", parts)), "xml-entities", "sheet9.dat")


def test_encoding_that_could_hide_a_doctype_is_refused(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b'encoding="UTF-8"', b'encoding="UTF-7"')
    assert_rejected(inspect_file(write_zip(tmp_path / "b.xlsx", parts)), "damaged", "UTF-7")


def test_binary_parts_are_not_mistaken_for_xml(tmp_path: Path) -> None:
    parts = read_parts(make_workbook(tmp_path / "a.xlsx"))
    parts["xl/media/image1.png"] = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50
    assert inspect_file(write_zip(tmp_path / "b.xlsx", parts)).ok


@pytest.mark.parametrize("mark", [b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", "<!ENTITY".encode("utf-16-le")])
def test_marker_split_across_every_chunk_boundary(mark: bytes) -> None:
    data = b'<?xml version="1.0" encoding="UTF-8"?>' + b"<a>" * 300 + mark + b" x>" + b"<b/>" * 10
    at = data.index(mark)
    for cut in range(at - 2, at + len(mark) + 2):
        scan = _XmlScan("xl/workbook.xml", strict=True)
        with pytest.raises(Exception, match="DOCTYPE"):
            scan.feed(data[:cut])
            scan.feed(data[cut:])
            scan.finish()


def test_clean_xml_passes_the_scanner_in_pieces() -> None:
    data = b'<?xml version="1.0" encoding="UTF-8"?><!-- note --><a><![CDATA[x]]></a>' * 50
    scan = _XmlScan("x.xml", strict=True)
    for start in range(0, len(data), 7):
        scan.feed(data[start : start + 7])
    scan.finish()


# --- files written by a real application -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def libreoffice_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The workbook re-saved by LibreOffice as .xlsx, .xls (a real compound file) and .ods."""
    import libreoffice as lo

    lo.require_soffice()
    folder = tmp_path_factory.mktemp("lo")
    source = make_workbook(folder / "填报.xlsx", rows=300)
    return {
        "xlsx": lo.recalculate(source, folder / "xlsx"),
        "xls": lo.convert(source, folder / "xls", "xls", "MS Excel 97"),
        "ods": lo.convert(source, folder / "ods", "ods", "calc8"),
    }


def test_libreoffice_saved_files(libreoffice_files: dict[str, Path]) -> None:
    assert inspect_file(libreoffice_files["xlsx"]).ok
    assert_rejected(inspect_file(libreoffice_files["xls"]), "legacy-xls", "另存为")
    assert_rejected(inspect_file(libreoffice_files["ods"]), "ods", "另存为")


def test_unreadable_file(tmp_path: Path) -> None:
    verdict = inspect_file(tmp_path / "不存在.xlsx")
    assert verdict.code == "unreadable" and "文件不存在" in verdict.message
    assert inspect_file(tmp_path).code == "unreadable"


def test_wps_file_with_open_password_says_both(tmp_path: Path) -> None:
    path = tmp_path / "a.et"
    path.write_bytes(build_cfb({"Workbook": biff_workbook((0x002F, bytes(54))), "WpsCustomData": b"\x01"}))
    assert_rejected(inspect_file(path), "wps-et", "WPS", "取消打开密码", "另存为")


def test_every_code_is_documented() -> None:
    assert set(CODES) >= {
        "empty", "too-large", "legacy-xls", "wps-et", "encrypted", "ods", "not-a-workbook", "damaged", "zip-bomb",
        "xml-entities", "xlsb",
    }  # fmt: skip


# --- speed --------------------------------------------------------------------------------------------------------


def test_normal_workbook_is_checked_in_a_few_milliseconds(tmp_path: Path) -> None:
    """A ~200 KB workbook (30 parts, 1.3 MB of XML) is decompressed and scanned once: about 5 ms here."""
    path = make_workbook(tmp_path / "a.xlsx", sheets=30, rows=300)
    assert 150 * 1024 < path.stat().st_size < 300 * 1024
    best = min(_timed(path) for _ in range(5))
    assert best < 0.05, f"{best * 1000:.1f} ms"


def _timed(path: Path) -> float:
    started = time.perf_counter()
    assert inspect_file(path).ok
    return time.perf_counter() - started
