"""Decide from a returned file's bytes whether it is a workbook we can safely open.

Runs before any XML parser or openpyxl touches the file, and never looks at the
file name or extension. The checks, in order:

1. size: empty, larger than ``max_file_bytes``;
2. magic: a zip package, an OLE2 compound file (.xls, WPS .et, a password
   protected .xlsx) or anything else, sniffed to name it in the message
   (CSV/text, HTML, MHT, Excel 2003 XML, PDF, images, other archives);
3. a zip: the end-of-central-directory record (a truncated download has none),
   the part count, duplicate names, zip-level encryption, local headers that
   agree with the central directory, the declared sizes, total and
   compression ratios (before decompressing anything), no overlapping data;
   then what the package is (.ods by its ``mimetype`` entry, .xlsb, .docx,
   .pptx, a plain zip) and its main part, found in ``[Content_Types].xml`` as
   openpyxl finds it and required to be ``xl/workbook.xml``; then every part
   decompressed once, in chunks, straight from the raw deflate data: the real
   size may not pass the declared one (a lying header: zipfile alone would
   stop there silently), the CRC must match, and every part that could be XML
   is scanned for ``<!DOCTYPE`` / ``<!ENTITY`` (UTF-8 and UTF-16, across chunk
   boundaries) and for an encoding other than UTF-8/UTF-16/ASCII/Latin-1 that
   could hide them. A VBA project or a macro-enabled content type makes an
   accepted verdict carry ``macros=True``.

An OLE2 file is read with the small compound-file reader below (header, DIFAT,
FAT, directory chain, mini stream); only the root storage's entries and the
first bytes of three streams are looked at:

* ``EncryptionInfo`` / ``EncryptedPackage`` ([MS-OFFCRYPTO]): an .xlsx with an
  open password, as Excel and WPS store it: ``encrypted``;
* a ``Workbook`` (BIFF8) or ``Book`` (BIFF5) stream: a binary workbook. A WPS
  .et file is this same kind of compound file with a BIFF8 ``Workbook`` stream
  (renamed .xls it opens as one), so .et and .xls are told apart by who wrote
  them: WPS writes its custom document property ``KSOProductBuildVer`` (its
  build, e.g. ``2052-11.1.0.10132``) into the files it saves, kept in
  ``\x05DocumentSummaryInformation``; its documents may also carry a
  ``WpsCustomData`` stream, or name WPS/Kingsoft in the summary properties.
  Any of these marks: ``wps-et``; none: ``legacy-xls``. So an .xls saved by
  WPS is reported as ``wps-et`` (the WPS Save-As hint suits that user) and an
  .et stripped of its properties as ``legacy-xls``, whose hint names Excel and
  WPS. (Built from public descriptions of WPS files; no real .et was at hand.)
  A FILEPASS record in the workbook globals (an .xls/.et open password) adds
  "remove the password" to the hint;
* anything else (a Word .doc, a PowerPoint .ppt, ...): ``not-a-workbook``.
"""

from __future__ import annotations

import itertools
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import olefile
from defusedxml import ElementTree as SafeET

__all__ = ["CODES", "MACRO_WARNING", "Verdict", "inspect_file"]

# Every code a rejecting verdict can carry ("unreadable": the file could not be read at all).
CODES = (
    "empty",
    "too-large",
    "legacy-xls",
    "wps-et",
    "encrypted",
    "ods",
    "xlsb",
    "not-a-workbook",
    "damaged",
    "zip-bomb",
    "xml-entities",
    "unreadable",
)

MIB = 2**20

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

# Content types of a workbook's main part (the ones openpyxl accepts), and of the others we name.
_CT_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_CT_XLSM = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_CT_XLTX = "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"
_CT_XLTM = "application/vnd.ms-excel.template.macroEnabled.main+xml"
_WORKBOOK_TYPES = (_CT_XLTM, _CT_XLTX, _CT_XLSM, _CT_XLSX)
_MACRO_TYPES = {_CT_XLSM, _CT_XLTM, "application/vnd.ms-office.vbaProject"}
_CT_XLSB = "application/vnd.ms-excel.sheet.binary.macroEnabled.main"
_CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_OTHER_OOXML = (
    ("wordprocessingml", "Word 文档（.docx）"),
    ("ms-word", "Word 文档（.docm）"),
    ("presentationml", "PowerPoint 演示文稿（.pptx）"),
    ("ms-powerpoint", "PowerPoint 演示文稿（.pptm）"),
    ("ms-visio", "Visio 绘图"),
)

_MAX_PARTS = 10_000
_MAX_CONTENT_TYPES = 16 * MIB  # parsed in memory: a real one has a few KB
_RATIO_FLOOR = MIB  # the ratio limit applies to parts bigger than this
# A part that inflates past its declared size: a few stray bytes are corruption, this much more is a lying header.
_OVERRUN_SLACK = MIB
_READ_CHUNK = 64 * 1024  # compressed bytes read at a time
_OUT_CHUNK = 256 * 1024  # most decompressed bytes produced at a time
_XML_EXTENSIONS = (".xml", ".rels", ".vml")
_XML_ENCODINGS = {
    "utf-8", "utf8", "utf-16", "utf16", "utf-16le", "utf-16be", "us-ascii", "ascii",
    "iso-8859-1", "iso8859-1", "latin-1", "latin1",
}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """Whether a returned file may be opened, and if not, why and how to fix it (in Chinese)."""

    ok: bool  # True: an .xlsx/.xlsm zip package that passed every check
    code: str  # "" when ok, else one of the codes of this module
    message: str  # Chinese, one sentence: what was found and how to fix it; the macro warning when ok with macros
    macros: bool = False  # ok, but the package holds a VBA project or is macro-enabled: the caller warns


class _Reject(Exception):
    """Carries the verdict out of the nested checks."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


def _reject(code: str, message: str) -> _Reject:
    return _Reject(Verdict(ok=False, code=code, message=message))


# --- messages ---------------------------------------------------------------------------------------------------

_SEND_ORIGINAL = "请发送下发的 .xlsx 考核表（在 Excel 或 WPS 中填写后直接保存，不要另存为其他格式）"
MACRO_WARNING = "工作簿中含有宏（VBA 项目），宏不会运行，只读取单元格中的内容。"


def _mb(n: int) -> str:
    """A size for people: MB, KB or bytes."""
    if n >= MIB:
        return f"{n / MIB:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} 字节"


def _not_a_workbook(label: str) -> _Reject:
    space = " " if label[:1].isascii() else ""
    return _reject("not-a-workbook", f"文件不是 Excel 工作簿（看起来是{space}{label}），{_SEND_ORIGINAL}。")


def _damaged(detail: str) -> _Reject:
    return _reject("damaged", f"文件已损坏（{detail}），可能下载或传输不完整，请重新保存后再发送。")


def _tampered(detail: str) -> _Reject:
    return _reject("damaged", f"文件结构异常（{detail}），可能已损坏或被篡改，请在 Excel 中重新保存原考核表后发送。")


def _bomb(detail: str) -> _Reject:
    return _reject(
        "zip-bomb",
        f"文件中{detail}，超过安全上限，可能是恶意构造的“压缩炸弹”，已拒绝打开，请发送在 Excel 中正常保存的考核表。",
    )


# --- entry point ------------------------------------------------------------------------------------------------


def inspect_file(
    path: Path,
    *,
    max_file_bytes: int = 50 * MIB,
    max_part_bytes: int = 200 * MIB,
    max_total_bytes: int = 1 * 2**30,
    max_ratio: float = 200.0,
) -> Verdict:
    """Look at the bytes of ``path`` (never its name) and say whether it is a workbook safe to open."""
    limits = _Limits(max_part_bytes, max_total_bytes, max_ratio)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise IsADirectoryError(21, "不是普通文件")
        if size == 0:
            raise _reject("empty", "文件是空的（0 字节），请在 Excel 中重新保存后再发送。")
        if size > max_file_bytes:
            raise _reject(
                "too-large",
                f"文件有 {_mb(size)}，超过上限 {_mb(max_file_bytes)}，不像是下发的考核表，请核对后发送填写好的原表。",
            )
        with path.open("rb") as fh:
            head = fh.read(8192)
            if head.startswith(ZIP_MAGICS):
                return _inspect_zip(path, fh, size, limits)
            if head.startswith(OLE2_MAGIC):
                fh.seek(0)
                raise _inspect_ole(fh.read())
            if _eocd(fh, size) is not None:
                raise _damaged("压缩包的开头已损坏")
            raise _sniff(head)
    except _Reject as rejected:
        return rejected.verdict
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            reason = "文件不存在"
        elif isinstance(exc, PermissionError):
            reason = "没有读取权限"
        elif isinstance(exc, IsADirectoryError):
            reason = "不是普通文件"
        else:
            reason = f"读取出错：{exc.strerror or type(exc).__name__}"
        return Verdict(False, "unreadable", f"无法读取文件（{reason}），请确认文件存在、可以读取后重新发送。")


# --- not a container: what is it? -------------------------------------------------------------------------------

_BINARY_KINDS = (
    (b"%PDF-", "PDF 文件"),
    (b"\x89PNG\r\n\x1a\n", "图片（PNG）"),
    (b"\xff\xd8\xff", "图片（JPEG）"),
    (b"GIF87a", "图片（GIF）"),
    (b"GIF89a", "图片（GIF）"),
    (b"II*\x00", "图片（TIFF）"),
    (b"MM\x00*", "图片（TIFF）"),
    (b"Rar!\x1a\x07", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"\x1f\x8b", "gzip 压缩包"),
    (b"{\\rtf", "RTF 文档"),
)
# A bare BIFF stream (BOF record of BIFF2/3/4/5-8) saved without the compound-file wrapper.
_BIFF_BOF = (b"\x09\x00", b"\x09\x02", b"\x09\x04", b"\x09\x08")


def _sniff(head: bytes) -> _Reject:
    """Name what a file that is neither a zip nor a compound file looks like."""
    for magic, label in _BINARY_KINDS:
        if head.startswith(magic):
            return _not_a_workbook(label)
    if b"%PDF-" in head[:1024]:
        return _not_a_workbook("PDF 文件")
    if head[:2] in _BIFF_BOF and len(head) >= 4 and head[3] == 0 and 4 <= head[2] <= 20:
        return _legacy_xls(password=False)
    text = _decode_text(head)
    if text is None:
        return _not_a_workbook("无法识别的二进制文件")
    lower = text.lstrip().lower()
    if lower.startswith("mime-version:") or "content-type: multipart/related" in lower:
        return _not_a_workbook("网页归档（MHT）文件")
    if any(tag in lower for tag in ("<html", "<!doctype html", "<table", "<head", "<body", "<meta")):
        return _not_a_workbook("网页（HTML）文件")
    if "urn:schemas-microsoft-com:office:spreadsheet" in lower:
        return _not_a_workbook("Excel 2003 XML 表格")
    if lower.startswith("<"):
        return _not_a_workbook("XML 文件")
    first_lines = lower.splitlines()[:5]
    if any(sep in line for line in first_lines for sep in (",", "\t", ";", "，")):
        return _not_a_workbook("CSV 或文本文件")
    return _not_a_workbook("文本文件")


def _decode_text(head: bytes) -> str | None:
    """The head as text when it looks like text (UTF-8, GB18030 or UTF-16 with a BOM), else None."""
    text: str | None = None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head[2 : len(head) - len(head) % 2].decode("utf-16-le" if head[0] == 0xFF else "utf-16-be", "replace")
    else:
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        if b"\x00" in head:
            return None
        for encoding in ("utf-8", "gb18030"):
            # The head may end inside a multi-byte character: allow a few trailing bytes to fail.
            for cut in range(4):
                try:
                    text = head[: len(head) - cut].decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            if text is not None:
                break
        if text is None:
            return None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f")
    return text if controls <= len(text) // 100 else None


# --- OLE2 compound files ----------------------------------------------------------------------------------------

_FREESECT = 0xFFFFFFFF
_WPS_NAME_MARKS = ("wpscustomdata",)
_WPS_PROPERTY_MARKS = tuple(
    mark.encode(encoding)
    for mark in ("ksoproductbuildver", "wps office", "kingsoft")
    for encoding in ("latin-1", "utf-16-le")
)



def _legacy_xls(password: bool) -> _Reject:
    if password:
        return _reject(
            "legacy-xls",
            "这是设置了打开密码的 Excel 97-2003 工作簿（.xls），请在 Excel（或 WPS）中取消打开密码，"
            "再“另存为” Excel 工作簿（.xlsx）后重新发送。",
        )
    return _reject(
        "legacy-xls",
        "这是 Excel 97-2003 格式的工作簿（.xls），请在 Excel（或 WPS）中“另存为” Excel 工作簿（.xlsx）后重新发送。",
    )


def _biff_has_filepass(stream: bytes) -> bool:
    """Whether the workbook globals of a BIFF stream hold a FILEPASS record (an open password)."""
    position = 0
    while position + 4 <= len(stream):
        record, length = struct.unpack_from("<HH", stream, position)
        if record == 0x002F:
            return True
        if record == 0x000A:  # EOF of the globals substream
            return False
        position += 4 + length
    return False


def _inspect_ole(data: bytes) -> _Reject:
    """Classify an OLE2 compound file (read with olefile); none of them can be opened as .xlsx."""
    try:
        with olefile.OleFileIO(data) as ole:
            names = {path[0].casefold(): path[0] for path in ole.listdir(streams=True, storages=True) if len(path) == 1}

            def head(name: str) -> bytes:
                with ole.openstream(names[name]) as stream:
                    return stream.read(64 * 1024)

            # [MS-OFFCRYPTO] puts both streams in the root; either one alone still means an encrypted package.
            if "encryptioninfo" in names or "encryptedpackage" in names:
                return _reject(
                    "encrypted",
                    "文件设置了打开密码（已加密），请在 Excel 或 WPS 中取消打开密码、保存为 .xlsx 后重新发送。",
                )
            book = next((n for n in ("workbook", "book") if n in names and ole.get_type(names[n]) == olefile.STGTY_STREAM), None)
            if book is not None:
                wps = any(mark in names for mark in _WPS_NAME_MARKS)
                for stream in ("\x05documentsummaryinformation", "\x05summaryinformation"):
                    if not wps and stream in names and ole.get_type(names[stream]) == olefile.STGTY_STREAM:
                        wps = any(mark in head(stream).lower() for mark in _WPS_PROPERTY_MARKS)
                password = _biff_has_filepass(head(book))
                if wps:
                    return _reject(
                        "wps-et",
                        "这是 WPS 表格保存的文件（.et 格式或 WPS 保存的 .xls），请在 WPS 中"
                        + ("取消打开密码，再" if password else "")
                        + "“另存为” Excel 工作簿（.xlsx）后重新发送。",
                    )
                return _legacy_xls(password=password)
    except Exception:  # olefile raises many kinds on a broken structure; all mean "damaged"
        return _damaged("这是旧版 Office 复合文档（如 .xls），但其结构不完整")
    if "worddocument" in names:
        return _not_a_workbook("Word 97-2003 文档（.doc）")
    if "powerpoint document" in names:
        return _not_a_workbook("PowerPoint 97-2003 演示文稿（.ppt）")
    return _not_a_workbook("其他 OLE 复合文档")


# --- zip packages -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Limits:
    part: int
    total: int
    ratio: float


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_DOCTYPE_MARKS = tuple(
    mark.encode(encoding) for mark in ("<!doctype", "<!entity") for encoding in ("ascii", "utf-16-le", "utf-16-be")
)
_MARK_TAIL = max(len(mark) for mark in _DOCTYPE_MARKS) - 1
_XML_DECL = re.compile(rb"^<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


class _XmlScan:
    """Scans a part's bytes, chunk by chunk, for DTD/entity declarations and a hiding encoding."""

    def __init__(self, name: str, strict: bool) -> None:
        self.name = name
        self.strict = strict  # the part is XML by name or content type: its start must be XML we can read
        self._tail = b""
        self._head = b""
        self._headed = False
        self.active = True  # False once the start shows binary data that no XML parser would take

    def feed(self, chunk: bytes) -> None:
        if not self.active:
            return
        if not self._headed:
            self._head += chunk[: 512 - len(self._head)]
            if len(self._head) >= 512:
                self._check_head()
            if not self.active:
                return
        window = self._tail + chunk
        self._tail = window[-_MARK_TAIL:]
        if b"<!" not in window and b"<\x00!" not in window:  # every mark starts so (UTF-16BE: "\0<\0!")
            return
        lowered = window.lower()
        for mark in _DOCTYPE_MARKS:
            if mark in lowered:
                raise _reject(
                    "xml-entities",
                    f"文件中的部件 {self.name} 含有 XML 文档类型或实体声明（<!DOCTYPE / <!ENTITY），"
                    "正常保存的 Excel 文件不会有，可能被恶意篡改，已拒绝打开，请在 Excel 中重新保存原考核表后发送。",
                )

    def finish(self) -> None:
        if not self._headed:
            self._check_head()

    def _check_head(self) -> None:
        self._headed = True
        head = self._head
        if not head:
            return
        encoding = "ascii"
        for bom, name in _BOMS:
            if head.startswith(bom):
                encoding, head = name, head[len(bom) :]
                break
        if encoding == "utf-32" or head.startswith((b"<\x00\x00\x00", b"\x00\x00\x00<")):
            raise self._bad_encoding("UTF-32")
        if encoding not in ("utf-16-le", "utf-16-be"):
            if head.startswith(b"<\x00"):
                encoding = "utf-16-le"
            elif head.startswith(b"\x00<"):
                encoding = "utf-16-be"
        if encoding in ("utf-16-le", "utf-16-be"):
            head = head[: len(head) - len(head) % 2].decode(encoding, "replace").encode("ascii", "replace")
        declaration = head.lstrip(b" \t\r\n")
        if not declaration.startswith(b"<"):
            if self.strict:
                raise _tampered(f"部件 {self.name} 不是 XML 文本")
            self.active = False  # binary (an image, a VBA project): no XML parser reads it
            return
        match = _XML_DECL.match(declaration)
        if match and match.group(1).decode("ascii").lower() not in _XML_ENCODINGS:
            raise self._bad_encoding(match.group(1).decode("ascii"))

    def _bad_encoding(self, encoding: str) -> _Reject:
        return _tampered(f"部件 {self.name} 使用了不受支持的文本编码 {encoding}")


@dataclass(frozen=True)
class _Part:
    info: zipfile.ZipInfo
    data_offset: int


def _eocd(fh: BinaryIO, size: int) -> tuple[int, int] | None:
    """(entry count, directory size) from the end-of-central-directory record, None when there is none.

    The count is 0xFFFF for a zip64 archive.
    """
    back = min(size, 22 + 65535)
    fh.seek(size - back)
    tail = fh.read(back)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    entries, directory_size = struct.unpack_from("<HI", tail, at + 10)
    return int(entries), int(directory_size)


def _inspect_zip(path: Path, fh: BinaryIO, size: int, limits: _Limits) -> Verdict:
    eocd = _eocd(fh, size)
    if eocd is None:
        raise _damaged("压缩包末尾的目录缺失，文件不完整")
    entries, directory_size = eocd
    if entries != 0xFFFF and entries > _MAX_PARTS:
        if entries * 46 > directory_size:  # each directory record takes at least 46 bytes: the count is garbage
            raise _damaged("压缩包目录已损坏")
        raise _bomb(f"有 {entries} 个部件")
    try:
        archive = zipfile.ZipFile(path)
    except Exception:  # zipfile raises many kinds on a broken directory; all mean the same here
        raise _damaged("压缩包目录无法读取") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > _MAX_PARTS:
            raise _bomb(f"有 {len(infos)} 个部件")
        _check_names(infos)
        if any(info.flag_bits & 0x1 for info in infos):
            raise _reject(
                "encrypted",
                "文件是加了密码的压缩包，不是可以直接打开的 Excel 工作簿，请发送未加密的 .xlsx 考核表。",
            )
        parts = _locate_parts(fh, size, infos, archive.start_dir)
        _check_declared_sizes(infos, limits)
        _check_overlaps(parts)
        by_name = {part.info.filename: part for part in parts}
        _identify_by_names(fh, by_name)
        if by_name["[Content_Types].xml"].info.file_size > _MAX_CONTENT_TYPES:
            raise _tampered("部件 [Content_Types].xml 异常巨大")
        state = _ReadState()
        content_types = _read_part(fh, archive, by_name["[Content_Types].xml"], limits, state, xml=True, keep=True)
        defaults, overrides = _parse_content_types(content_types)
        macros = _main_part(by_name, defaults, overrides) in _MACRO_TYPES
        for part in parts:
            name = part.info.filename
            lower = name.lower()
            content_type = overrides.get(lower) or defaults.get(lower.rsplit(".", 1)[-1], "")
            if content_type in _MACRO_TYPES or lower.endswith("vbaproject.bin") or lower.startswith("xl/macrosheets/"):
                macros = True
            if name == "[Content_Types].xml" or part.info.is_dir():
                continue
            xml = lower.endswith(_XML_EXTENSIONS) or (
                content_type.endswith(("+xml", "/xml")) and not content_type.startswith("image/")
            )
            _read_part(fh, archive, part, limits, state, xml=xml, keep=False)
    if macros:
        return Verdict(ok=True, code="", message=MACRO_WARNING, macros=True)
    return Verdict(ok=True, code="", message="")


def _check_names(infos: list[zipfile.ZipInfo]) -> None:
    seen: set[str] = set()
    for info in infos:
        key = info.filename.lower()  # part names are case-insensitive in a package
        if key in seen:
            raise _tampered(f"部件 {info.filename} 出现了不止一次")
        seen.add(key)


def _locate_parts(fh: BinaryIO, size: int, infos: list[zipfile.ZipInfo], directory_start: int) -> list[_Part]:
    """Check each local header against the central directory; where each part's data starts."""
    parts: list[_Part] = []
    for info in infos:
        if not 0 <= info.header_offset < size:
            raise _damaged(f"部件 {info.filename} 的位置超出了文件")
        fh.seek(info.header_offset)
        raw = fh.read(_LOCAL_HEADER.size)
        if len(raw) < _LOCAL_HEADER.size:
            raise _damaged(f"部件 {info.filename} 的数据缺失")
        signature, _v, _s, flags, method, _t, _d, crc, csize, usize, name_len, extra_len = _LOCAL_HEADER.unpack(raw)
        if signature != b"PK\x03\x04":
            raise _damaged(f"部件 {info.filename} 的头部已损坏")
        raw_name = fh.read(name_len)
        local_name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        if local_name != info.orig_filename or method != info.compress_type:
            raise _tampered(f"部件 {info.filename} 的头部与目录不一致")
        zip64 = 0xFFFFFFFF in (csize, usize)
        if not flags & 0x8 and not zip64 and (crc, csize, usize) != (info.CRC, info.compress_size, info.file_size):
            raise _tampered(f"部件 {info.filename} 声明的大小与目录不一致")
        if method == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise _tampered(f"部件 {info.filename} 声明的大小与数据不一致")
        data_offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        if data_offset + info.compress_size > min(size, directory_start):
            raise _damaged(f"部件 {info.filename} 的数据不完整")
        parts.append(_Part(info, data_offset))
    return parts


def _check_overlaps(parts: list[_Part]) -> None:
    """Refuse entries whose data overlap (how the densest zip bombs reuse one compressed kernel)."""
    spans = sorted((part.info.header_offset, part.data_offset + part.info.compress_size) for part in parts)
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        if next_start < end:
            raise _tampered("部件的数据相互重叠")


def _read_small(fh: BinaryIO, part: _Part, limit: int) -> bytes | None:
    """A tiny stored or deflated part's bytes (for ``mimetype``), None when it is not tiny."""
    info = part.info
    if info.file_size > limit or info.compress_size > limit * 2 + 64:
        return None
    fh.seek(part.data_offset)
    raw = fh.read(info.compress_size)
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            return raw[:limit]
        if info.compress_type == zipfile.ZIP_DEFLATED:
            return zlib.decompressobj(-15).decompress(raw, limit)
    except zlib.error:
        return None
    return None


def _identify_by_names(fh: BinaryIO, by_name: dict[str, _Part]) -> None:
    """Name packages that are not workbooks from their entry names alone, before decompressing anything."""
    odf = by_name.get("mimetype")  # the first entry of an OpenDocument package (found anywhere, to be lenient)
    if odf is not None and "[Content_Types].xml" not in by_name:
        mimetype = (_read_small(fh, odf, 200) or b"").strip()
        if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            raise _reject(
                "ods",
                "这是 OpenDocument 表格（.ods），"
                "请在 WPS、LibreOffice 或 Excel 中“另存为” Excel 工作簿（.xlsx）后重新发送。",
            )
        if mimetype.startswith(b"application/vnd.oasis.opendocument."):
            raise _not_a_workbook("OpenDocument 文档（.odt/.odp 等）")
    lower = {name.lower() for name in by_name}
    if "xl/workbook.bin" in lower:
        raise _xlsb()
    if "[Content_Types].xml" not in by_name:
        if "word/document.xml" in lower:
            raise _not_a_workbook("Word 文档（.docx）")
        if any(name.startswith("xl/") for name in lower):
            raise _damaged("缺少必需的部件 [Content_Types].xml")
        raise _not_a_workbook("ZIP 压缩包" if lower else "空的 ZIP 压缩包")
    if "xl/workbook.xml" not in lower:
        if "word/document.xml" in lower:
            raise _not_a_workbook("Word 文档（.docx）")
        if "ppt/presentation.xml" in lower:
            raise _not_a_workbook("PowerPoint 演示文稿（.pptx）")


def _xlsb() -> _Reject:
    return _reject("xlsb", "这是 Excel 二进制工作簿（.xlsb），请在 Excel 中“另存为” Excel 工作簿（.xlsx）后重新发送。")


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: _Limits) -> None:
    total = 0
    for info in infos:
        if info.file_size > limits.part:
            raise _bomb(f"部件 {info.filename} 解压后有 {_mb(info.file_size)}（上限 {_mb(limits.part)}）")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > limits.ratio:
            raise _bomb(f"部件 {info.filename} 的压缩比高达 {ratio:.0f}:1（{_mb(info.file_size)}）")
        total += info.file_size
    if total > limits.total:
        raise _bomb(f"各部件解压后共 {_mb(total)}（上限 {_mb(limits.total)}）")


@dataclass
class _ReadState:
    total: int = 0


def _read_part(
    fh: BinaryIO,
    archive: zipfile.ZipFile,
    part: _Part,
    limits: _Limits,
    state: _ReadState,
    *,
    xml: bool,
    keep: bool,
) -> bytes:
    """Decompress one part in chunks: bounded size, CRC, and the XML scan; its bytes when ``keep``.

    Past the declared size the bytes are only counted: if the data goes on for more than ``_OVERRUN_SLACK`` the
    header lies (a zip bomb in disguise: zipfile would silently stop at the declared size); if it stops or breaks
    before, the part is merely corrupt.
    """
    info = part.info
    scan = _XmlScan(info.filename, strict=xml)
    crc = 0
    produced = 0
    kept: list[bytes] = []
    try:
        for chunk in _chunks(fh, archive, part):
            produced += len(chunk)
            state.total += len(chunk)
            if produced > info.file_size + _OVERRUN_SLACK:
                declared, actual = _mb(info.file_size), _mb(produced)
                raise _bomb(f"部件 {info.filename} 声明的大小只有 {declared}，实际解压后却超过 {actual}（头部作假）")
            if produced > limits.part or state.total > limits.total:
                raise _bomb(f"部件 {info.filename} 解压后超过 {_mb(min(limits.part, limits.total))}")
            if produced > info.file_size:
                continue
            crc = zlib.crc32(chunk, crc)
            scan.feed(chunk)
            if keep:
                kept.append(chunk)
    except (zlib.error, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, OSError, ValueError):
        raise _damaged(f"部件 {info.filename} 无法解压") from None
    if produced != info.file_size:
        raise _damaged(f"部件 {info.filename} 解压后的大小与声明的不符")
    if crc != info.CRC:
        raise _damaged(f"部件 {info.filename} 的校验和（CRC）不符")
    scan.finish()
    return b"".join(kept)


def _chunks(fh: BinaryIO, archive: zipfile.ZipFile, part: _Part) -> Iterator[bytes]:
    """The decompressed bytes of a part, at most ``_OUT_CHUNK`` at a time, straight from the raw data."""
    info = part.info
    if info.compress_type == zipfile.ZIP_STORED:
        fh.seek(part.data_offset)
        remaining = info.compress_size
        while remaining > 0:
            block = fh.read(min(_OUT_CHUNK, remaining))
            if not block:
                raise EOFError
            remaining -= len(block)
            yield block
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        # Excel never writes these (bzip2, lzma); zipfile's own reader stops at the declared size.
        with archive.open(info) as stream:
            while block := stream.read(_OUT_CHUNK):
                yield block
        return
    inflater = zlib.decompressobj(-15)
    remaining = info.compress_size
    position = part.data_offset
    while not inflater.eof:
        pending = inflater.unconsumed_tail
        if not pending:
            if remaining <= 0:
                raise EOFError  # the deflate stream ends before its end marker
            fh.seek(position)
            pending = fh.read(min(_READ_CHUNK, remaining))
            if not pending:
                raise EOFError
            position += len(pending)
            remaining -= len(pending)
        block = inflater.decompress(pending, _OUT_CHUNK)
        if block:
            yield block


def _parse_content_types(data: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """Defaults by extension and overrides by part name (both lower-cased, names without the leading slash)."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except Exception:  # defusedxml and expat raise several kinds; all mean the part is unusable
        raise _tampered("部件 [Content_Types].xml 不是有效的 XML") from None
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for element in root:
        if element.tag == f"{_CT_NS}Default":
            defaults[element.get("Extension", "").lower()] = element.get("ContentType", "")
        elif element.tag == f"{_CT_NS}Override":
            overrides[element.get("PartName", "").lstrip("/").lower()] = element.get("ContentType", "")
    return defaults, overrides


def _main_part(by_name: dict[str, _Part], defaults: dict[str, str], overrides: dict[str, str]) -> str:
    """The workbook content type of ``xl/workbook.xml``, found as openpyxl finds it; reject anything else."""
    found: tuple[str, str] | None = None
    for content_type in _WORKBOOK_TYPES:
        name = next((part for part, ct in overrides.items() if ct == content_type), None)
        if name is not None:
            found = (name, content_type)
            break
    if found is None:
        default = next((ct for ct in defaults.values() if ct in _WORKBOOK_TYPES), None)
        if default is not None:
            found = ("xl/workbook.xml", default)
    if found is None:
        every = list(overrides.values()) + list(defaults.values())
        if _CT_XLSB in every:
            raise _xlsb()
        for needle, label in _OTHER_OOXML:
            if any(needle in ct for ct in every):
                raise _not_a_workbook(label)
        raise _not_a_workbook("不含工作簿的 Office 文档")
    name, content_type = found
    if name != "xl/workbook.xml":
        raise _tampered(f"工作簿主部件不在标准位置，而在 {name}")
    if name not in by_name:  # exactly this name: readers open it by name
        raise _damaged("缺少必需的部件 xl/workbook.xml")
    return content_type
