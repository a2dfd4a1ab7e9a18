"""Evaluate generated workbooks with a real spreadsheet engine: LibreOffice Calc, headless.

xlsxwriter cannot calculate: every formula it writes carries a cached value of 0 (or whatever
``value=`` says), and openpyxl keeps formulas without any value at all. To see what Excel or WPS
would show, the tests let LibreOffice open the workbook, recalculate every formula and save a new
.xlsx, whose cached values are then read back with openpyxl (:func:`cell_values`).

LibreOffice keeps the cached values of an .xlsx unless its profile says otherwise
(``/org.openoffice.Office.Calc/Formula/Load/OOXMLRecalcMode``, default 1 = never recalculate), so
every conversion runs with a private user profile whose ``registrymodifications.xcu`` sets
``OOXMLRecalcMode`` and ``ODFRecalcMode`` to 0 (always recalculate). The profile is written before
LibreOffice first starts, lives in a temporary directory (never ``~/.config``), is reused by every
conversion in this process and removed when the process exits. Each process (each pytest-xdist
worker) has its own profile; conversions within a process are serialised by a lock, because two
LibreOffice instances cannot share a profile.

Usage::

    from libreoffice import cell_values, recalculate, require_soffice

    def test_totals(tmp_path):
        require_soffice()                      # pytest.skip when LibreOffice is not installed
        out = recalculate(book_path, tmp_path / "lo")
        assert cell_values(out)["汇总"]["D5"] == 95.5

CI installs LibreOffice with ``apt-get install -y --no-install-recommends libreoffice-calc-nogui``.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_TIMEOUT",
    "RECALC_SETTINGS",
    "RUNS",
    "LibreOfficeError",
    "Run",
    "cell_values",
    "convert",
    "profile_dir",
    "recalculate",
    "recalculate_many",
    "require_soffice",
    "soffice_path",
    "to_pdf",
    "to_pdf_many",
]

#: Seconds one soffice invocation may take (start, load, recalculate, save) before it is killed;
#: conversions of several files get :data:`PER_EXTRA_FILE_TIMEOUT` more per additional file.
DEFAULT_TIMEOUT = 120.0
PER_EXTRA_FILE_TIMEOUT = 30.0

# --convert-to targets: extension of the result and LibreOffice's export filter.
_XLSX = ("xlsx", "Calc MS Excel 2007 XML")
_PDF = ("pdf", "calc_pdf_Export")

RECALC_SETTINGS = """\
<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

_lock = threading.Lock()
_profile: Path | None = None


class LibreOfficeError(RuntimeError):
    """A conversion failed: soffice missing, timed out, exited with an error or wrote no file."""


@dataclass(frozen=True)
class Run:
    """One soffice invocation, for timing reports: files converted, wall time, first start of the profile."""

    files: int
    target: str
    seconds: float
    first_start: bool


#: Every soffice invocation of this process, in order (successful or not).
RUNS: list[Run] = []


def soffice_path() -> str | None:
    """The LibreOffice binary (``soffice``, else ``libreoffice``) on PATH, or None if not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def require_soffice() -> str:
    """The soffice binary; skips the calling test (pytest.skip) when LibreOffice is not installed."""
    binary = soffice_path()
    if binary is None:
        import pytest

        reason = (
            "LibreOffice 未安装（找不到 soffice / libreoffice），跳过用 LibreOffice 重算公式的测试；"
            "安装：apt-get install -y --no-install-recommends libreoffice-calc-nogui"
        )
        if os.environ.get("KAOHE_REQUIRE_LIBREOFFICE") == "1":  # CI: these tests must run
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def profile_dir() -> Path:
    """This process's private LibreOffice profile, created (with the recalculation settings) on first use."""
    with _lock:
        return _profile_locked()


def _profile_locked() -> Path:
    global _profile
    if _profile is None or not (_profile / "user" / "registrymodifications.xcu").is_file():
        root = Path(tempfile.mkdtemp(prefix="kaohe-lo-profile-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        (root / "user").mkdir()
        (root / "runtime").mkdir(mode=0o700)  # XDG_RUNTIME_DIR: dconf writes there, not ~/.cache
        # Must exist before LibreOffice first starts with this profile: the first start creates the
        # rest of the profile around it and keeps these values (merged, "fuse").
        (root / "user" / "registrymodifications.xcu").write_text(RECALC_SETTINGS, encoding="utf-8")
        _profile = root
    return _profile


def recalculate(src: Path, dest_dir: Path, *, timeout: float | None = None) -> Path:
    """Open ``src`` (.xlsx) in LibreOffice, recalculate every formula and save ``dest_dir/<name>.xlsx``.

    Returns the new file. ``dest_dir`` is created if needed and must not be ``src``'s own directory
    (LibreOffice would overwrite the input). Raises :class:`LibreOfficeError` on failure.
    """
    return recalculate_many([src], dest_dir, timeout=timeout)[0]


def recalculate_many(srcs: Iterable[Path], dest_dir: Path, *, timeout: float | None = None) -> list[Path]:
    """:func:`recalculate` for several workbooks in ONE soffice run (each start costs a second or more).

    Returns the new files in the order of ``srcs``; their names must differ.
    """
    return _convert(list(srcs), Path(dest_dir), _XLSX, timeout)


def to_pdf(src: Path, dest_dir: Path, *, timeout: float | None = None) -> Path:
    """Print ``src`` to ``dest_dir/<name>.pdf`` (formulas recalculated on load, like :func:`recalculate`)."""
    return to_pdf_many([src], dest_dir, timeout=timeout)[0]


def to_pdf_many(srcs: Iterable[Path], dest_dir: Path, *, timeout: float | None = None) -> list[Path]:
    """:func:`to_pdf` for several workbooks in one soffice run."""
    return _convert(list(srcs), Path(dest_dir), _PDF, timeout)


def convert(src: Path, dest_dir: Path, extension: str, export_filter: str, *, timeout: float | None = None) -> Path:
    """Save ``src`` in another format (e.g. "xls", "MS Excel 97"; "ods", "calc8")."""
    return _convert([src], dest_dir, (extension, export_filter), timeout)[0]


def cell_values(path: Path) -> dict[str, dict[str, object]]:
    """Sheet name → {A1 address → cached value} of every cell whose cached value is not None.

    Read with openpyxl ``data_only=True``: formulas are replaced by the value last calculated (by
    LibreOffice after :func:`recalculate`). Numbers come back as int or float, booleans as bool, text
    as str, formula errors as their text ("#DIV/0!"). A formula whose result is the empty string
    has no value here (LibreOffice writes ``<v></v>``, openpyxl reads None), nor has a formula that
    was never calculated (a file saved by openpyxl). Every sheet is listed, hidden ones too, in
    workbook order, even when it has no values.
    """
    import openpyxl

    with warnings.catch_warnings():
        # Only the values matter here: openpyxl's notices about parts it does not read
        # (extensions, drawings…) must not fail tests that run with filterwarnings=error.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
        book = openpyxl.load_workbook(path, data_only=True)
    try:
        return {
            sheet.title: {
                cell.coordinate: cell.value for row in sheet.iter_rows() for cell in row if cell.value is not None
            }
            for sheet in book.worksheets
        }
    finally:
        book.close()


def _convert(srcs: Sequence[Path], dest_dir: Path, target: tuple[str, str], timeout: float | None) -> list[Path]:
    ext, export_filter = target
    if not srcs:
        return []
    sources = [Path(src).resolve() for src in srcs]
    for src in sources:
        if not src.is_file():
            raise FileNotFoundError(f"要转换的文件不存在：{src}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest_dir = dest_dir.resolve()
    outputs = [dest_dir / f"{src.stem}.{ext}" for src in sources]
    seen: dict[Path, Path] = {}
    for src, out in zip(sources, outputs, strict=True):
        if out == src:
            raise ValueError(f"LibreOffice 会覆盖原文件 {src}：请换一个输出目录")
        if out in seen:
            raise ValueError(f"{seen[out]} 与 {src} 都会转换成 {out}：文件名必须不同")
        seen[out] = src
    binary = soffice_path()
    if binary is None:
        raise LibreOfficeError(
            "LibreOffice 未安装（找不到 soffice / libreoffice）："
            "apt-get install -y --no-install-recommends libreoffice-calc-nogui"
        )
    if timeout is None:
        timeout = DEFAULT_TIMEOUT + PER_EXTRA_FILE_TIMEOUT * (len(sources) - 1)

    with _lock:
        first_start = _profile is None or not (_profile / "user" / "config").exists()
        profile = _profile_locked()
        for out in outputs:  # a stale result would hide a failed conversion
            out.unlink(missing_ok=True)
        command = [
            binary,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--nodefault",
            "--nologo",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            f"{ext}:{export_filter}",
            "--outdir",
            str(dest_dir),
            *(str(src) for src in sources),
        ]
        env = {**os.environ, "XDG_RUNTIME_DIR": str(profile / "runtime")}
        started = time.perf_counter()
        try:
            returncode, stdout, stderr = _run(command, env, timeout)
        except BaseException:
            _discard_profile()  # a killed soffice may leave the profile locked or half-written
            raise
        finally:
            RUNS.append(Run(len(sources), ext, time.perf_counter() - started, first_start))

    missing = [out for out in outputs if not out.is_file() or out.stat().st_size == 0]
    if returncode != 0 or missing:
        details = [f"LibreOffice 转换失败（退出码 {returncode}）：{shlex.join(command)}"]
        if missing:
            details.append("未生成：" + "，".join(str(out) for out in missing))
        details.append("stderr:\n" + (stderr.strip() or "（空）"))
        details.append("stdout:\n" + (stdout.strip() or "（空）"))
        raise LibreOfficeError("\n".join(details))
    return outputs


def _run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run soffice in its own process group, so a timeout kills soffice.bin too, not just the wrapper."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate()
        raise LibreOfficeError(
            f"LibreOffice 超过 {timeout:g} 秒未完成，已终止：{shlex.join(command)}\n"
            f"stderr:\n{stderr.strip() or '（空）'}\nstdout:\n{stdout.strip() or '（空）'}"
        ) from None
    except BaseException:  # KeyboardInterrupt: leave no soffice.bin behind
        _kill_group(process)
        process.communicate()
        raise
    return process.returncode, stdout, stderr


def _kill_group(process: subprocess.Popen[str]) -> None:
    killpg = getattr(os, "killpg", None)  # POSIX only
    try:
        if killpg is None:
            process.kill()
        else:
            killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _discard_profile() -> None:
    """Forget the current profile (called with the lock held); the next conversion starts a fresh one."""
    global _profile
    if _profile is not None:
        shutil.rmtree(_profile, ignore_errors=True)
        _profile = None
