"""LibreOffice as the inspector: fill workbooks through its own API (UNO) and report what it understood.

:mod:`libreoffice` only converts files; this module drives a running LibreOffice Calc the way an
inspector's office suite handles a workbook: it opens each generated .xlsx (hidden), types the
entries into the input cells (numbers through ``setValue``, text such as 是 through ``setString``),
recalculates (``calculateAll``), saves as .xlsx with LibreOffice's own export filter
("Calc MS Excel 2007 XML"), and reports, through the API, what LibreOffice made of the file:
sheet visibility and protection, every formula cell (formula and locked flag), the unlocked
cells, each listed cell's content, protection and data validation (type, operator, formulas,
source cell, list, alert style, messages), the cells its detective marks invalid after filling
(Tools ▸ Detective ▸ Mark Invalid Data: ``XSheetAuditing.showInvalid``), and the same for rounds
of probe values typed after saving (never saved). A cell that is locked on a protected sheet is
refused, as it would be for a user.

How it runs. The pytest interpreter (pyenv) cannot import Debian's ``uno``, so an interpreter that
can (``$KAOHE_UNO_PYTHON``, the ``python`` in LibreOffice's program folder, ``/usr/bin/python3``
with python3-uno) runs this very file as the driver: ``python3 -I lo_inspector.py job.json
report.json`` (the driver part uses the standard library and ``uno`` only). The driver starts
``soffice --headless --accept=pipe,…`` with a private profile (``-env:UserInstallation``; the
profile switches recalculation on load on, ``OOXMLRecalcMode`` = 0; never ``~/.config``),
connects, and runs the job as a Python macro inside soffice (a stub written into the profile's
``Scripts/python`` imports this file) — ten times faster than calling across the pipe — or, when
libreoffice-script-provider-python is missing (or ``KAOHE_LO_INSPECTOR_BRIDGE=1``), over the UNO
bridge. It always terminates soffice. The pytest side runs the driver in its own process group
with a timeout and kills the driver's and soffice's process groups when it expires.

Usage::

    from lo_inspector import WorkbookJob, require_inspector, run_inspector

    def test_filled_in_libreoffice(tmp_path):
        require_inspector()  # pytest.skip without LibreOffice or python3-uno
        job = WorkbookJob(src, tmp_path / "lo" / src.name, {"01 单位": {"D3": "是", "D8": 2}}, inspect={"01 单位": ["D8"]})
        sheet = run_inspector([job]).workbooks[0].sheets["01 单位"]
        assert sheet.protected and sheet.cells["D8"].validation.type == "WHOLE"

CI installs ``apt-get install -y --no-install-recommends libreoffice-calc-nogui python3-uno
libreoffice-script-provider-python`` (the last one only for speed).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "INSTALL_HINT",
    "CellReport",
    "InspectorError",
    "InspectorReport",
    "SheetReport",
    "ValidationReport",
    "WorkbookJob",
    "WorkbookReport",
    "cells_of",
    "excel_formula",
    "list_entries",
    "require_inspector",
    "run_inspector",
    "soffice_path",
    "uno_python",
]

INSTALL_HINT = (
    "apt-get install -y --no-install-recommends libreoffice-calc-nogui python3-uno libreoffice-script-provider-python"
)
#: Seconds for starting LibreOffice and connecting; then :data:`PER_WORKBOOK_TIMEOUT` per workbook.
START_TIMEOUT = 60.0
PER_WORKBOOK_TIMEOUT = 30.0
EXPORT_FILTER = "Calc MS Excel 2007 XML"

Entry = str | int | float | None  # None clears the cell



# ============================================================================================
# pytest side (any Python ≥ 3.11; never imports uno)
# ============================================================================================


class InspectorError(RuntimeError):
    """LibreOffice or the driver is missing, failed or timed out; the message has the details."""


@dataclass(frozen=True)
class WorkbookJob:
    """One workbook to fill: ``entries`` by sheet name → {A1 address → value}, saved to ``target``.

    ``inspect`` names the cells to report in detail (content, protection, validation) by sheet;
    ``probes`` are rounds of values typed after saving, by sheet, each round reported with the cells
    LibreOffice's detective marks invalid (a cell left out of a round gets its filled content back;
    the document is closed without saving the probes). ``reload`` opens the saved file again and reports its
    sheets too (what survives LibreOffice's own round trip).
    """

    source: Path
    target: Path
    entries: Mapping[str, Mapping[str, Entry]]
    inspect: Mapping[str, Sequence[str]] = field(default_factory=dict)
    probes: Mapping[str, Sequence[Mapping[str, Entry]]] = field(default_factory=dict)
    reload: bool = False


@dataclass(frozen=True)
class ValidationReport:
    """A cell's data validation as LibreOffice's API reports it (``com.sun.star.sheet.TableValidation``)."""

    type: str  # ValidationType: ANY, WHOLE, DECIMAL, DATE, TIME, TEXT_LEN, LIST, CUSTOM
    operator: str  # ConditionOperator: BETWEEN, FORMULA, …
    formula1: str
    formula2: str
    source: str  # the source position relative references refer to (A1)
    show_list: int  # TableValidationVisibility: 0 invisible, 1 unsorted, 2 sorted
    show_error: bool
    error_style: str  # ValidationAlertStyle: STOP, WARNING, INFO, MACRO
    ignore_blank: bool
    show_input: bool
    input_title: str
    input_message: str
    error_title: str
    error_message: str

    @property
    def entries(self) -> tuple[str, ...]:
        """The entries of a LIST validation (``"是";"否"`` → ("是", "否"))."""
        return list_entries(self.formula1)


@dataclass(frozen=True)
class CellReport:
    type: str  # EMPTY, VALUE, TEXT, FORMULA
    value: float | str | None  # the number or text shown (a formula's result); None when empty
    formula: str  # API grammar: English function names, ";" between arguments ("" unless FORMULA)
    locked: bool
    formula_hidden: bool
    validation: ValidationReport | None  # None when the cell has none (type ANY)


@dataclass(frozen=True)
class SheetReport:
    """A sheet as LibreOffice sees it; the detail fields are empty for sheets neither filled nor inspected."""

    name: str
    index: int
    visible: bool
    protected: bool
    used_area: str = ""
    formula_cells: dict[str, tuple[str, bool]] = field(default_factory=dict)  # A1 → (formula, locked)
    unlocked: frozenset[str] = frozenset()  # every unlocked cell of the used area (A1)
    unlocked_outside_used_area: bool = False  # unlocked cells beyond it (whole columns or rows)
    cells: dict[str, CellReport] = field(default_factory=dict)  # the inspected cells
    invalid: tuple[str, ...] = ()  # cells the detective marks invalid after filling and recalculating
    probes: tuple[tuple[str, ...], ...] = ()  # per probe round: the cells marked invalid


@dataclass(frozen=True)
class WorkbookReport:
    source: Path
    target: Path
    document_protected: bool
    sheets: dict[str, SheetReport]  # in workbook order
    reloaded: dict[str, SheetReport] | None
    seconds: dict[str, float]  # load, fill, calculate, inspect, store, probe, reload


@dataclass(frozen=True)
class InspectorReport:
    version: str
    python: str
    mode: str  # "in-process": a Python macro inside soffice did the work; "bridge": calls over the pipe
    fallback: str  # why not in-process (libreoffice-script-provider-python missing), else ""
    workbooks: list[WorkbookReport]
    startup_seconds: float
    total_seconds: float
    first_start: bool


def soffice_path() -> str | None:
    """The LibreOffice binary (``soffice``, else ``libreoffice``) on PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _can_import_uno(python: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-I", "-c", "import uno"],
            capture_output=True,
            timeout=60,
            env=_driver_env(None, python),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@lru_cache(maxsize=1)
def uno_python() -> str | None:
    """An interpreter that can ``import uno``: $KAOHE_UNO_PYTHON, LibreOffice's own, the system's; or None."""
    candidates = [os.environ.get("KAOHE_UNO_PYTHON", "")]
    binary = soffice_path()
    if binary is not None:
        candidates.append(str(Path(binary).resolve().parent / "python"))  # TDF builds bundle one
    candidates += ["/usr/bin/python3", shutil.which("python3") or "", sys.executable]
    seen = set()
    for candidate in candidates:
        if not candidate or candidate in seen or not Path(candidate).is_file():
            continue
        seen.add(candidate)
        if _can_import_uno(candidate):
            return candidate
    return None


def require_inspector() -> tuple[str, str]:
    """(soffice, python with uno); skips the calling test when either is missing.

    With ``KAOHE_REQUIRE_LIBREOFFICE=1`` (CI) a missing piece fails the test instead.
    """
    import pytest

    binary, python = soffice_path(), uno_python()
    if binary is not None and python is not None:
        return binary, python
    missing = (
        "LibreOffice（找不到 soffice / libreoffice）"
        if binary is None
        else "LibreOffice 的 Python-UNO 桥（没有能 import uno 的 Python）"
    )
    reason = f"{missing}未安装，跳过用 LibreOffice 填写考核表的测试；安装：{INSTALL_HINT}"
    if os.environ.get("KAOHE_REQUIRE_LIBREOFFICE") == "1":
        pytest.fail(reason + "（KAOHE_REQUIRE_LIBREOFFICE=1：本环境必须有 LibreOffice）")
    pytest.skip(reason)


_profile: Path | None = None
_lock = threading.Lock()  # one session at a time per process: two soffice cannot share a profile


def _profile_dir() -> tuple[Path, bool]:
    """This process's private profile (created with the recalculation settings) and whether it is new."""
    global _profile
    if _profile is not None and (_profile / "user" / "registrymodifications.xcu").is_file():
        return _profile, not (_profile / "user" / "config").exists()
    import atexit

    from libreoffice import RECALC_SETTINGS  # pytest side only: the driver never builds a profile

    root = Path(tempfile.mkdtemp(prefix="kaohe-lo-inspector-"))

    atexit.register(shutil.rmtree, root, ignore_errors=True)
    (root / "user").mkdir()
    (root / "runtime").mkdir(mode=0o700)
    (root / "user" / "registrymodifications.xcu").write_text(RECALC_SETTINGS, encoding="utf-8")
    _profile = root
    return root, True


def _discard_profile() -> None:
    global _profile
    if _profile is not None:
        shutil.rmtree(_profile, ignore_errors=True)
        _profile = None


def _driver_env(profile: Path | None, python: str | None = None) -> dict[str, str]:
    """The environment of the driver and soffice: no PYTHON* settings of the calling interpreter.

    The Python embedded in soffice (the macro) finds its standard library through the first
    ``python3`` on PATH: under pyenv that is pyenv's interpreter, whose library does not match
    Debian's libpython (the script provider then fails with std::bad_alloc), so the directory of the
    interpreter that imports uno comes first.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    if python is not None:
        env["PATH"] = os.pathsep.join([str(Path(python).parent), env.get("PATH", "")])
    if profile is not None:
        env["XDG_RUNTIME_DIR"] = str(profile / "runtime")
    return env


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _kill_soffice(pid_file: Path) -> None:
    """Kill the process group of the soffice the driver started (its pid file is removed on a clean stop)."""
    with contextlib.suppress(OSError, ValueError):
        _kill_group(int(pid_file.read_text().strip()))


def run_inspector(jobs: Sequence[WorkbookJob], *, timeout: float | None = None) -> InspectorReport:
    """Fill, recalculate, save and inspect every workbook in ONE LibreOffice session.

    ``timeout`` (default :data:`START_TIMEOUT` + :data:`PER_WORKBOOK_TIMEOUT` per workbook) bounds
    the whole session. Raises :class:`InspectorError` (with the driver's traceback and soffice's
    output) on any failure.
    """
    with _lock:
        return _run_locked(jobs, timeout)


def _run_locked(jobs: Sequence[WorkbookJob], timeout: float | None) -> InspectorReport:
    binary, python = soffice_path(), uno_python()
    if binary is None or python is None:
        raise InspectorError(f"LibreOffice 或 python3-uno 未安装：{INSTALL_HINT}")
    if timeout is None:
        timeout = START_TIMEOUT + PER_WORKBOOK_TIMEOUT * max(1, len(jobs))
    targets = set()
    for job in jobs:
        if not Path(job.source).is_file():
            raise FileNotFoundError(f"要填写的工作簿不存在：{job.source}")
        target = Path(job.target).resolve()
        if target == Path(job.source).resolve() or target in targets:
            raise ValueError(f"输出文件 {target} 与输入文件或其他输出重复")
        targets.add(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # a stale result would hide a failed save
    profile, first_start = _profile_dir()
    with tempfile.TemporaryDirectory(prefix="kaohe-lo-job-") as scratch:
        work = Path(scratch)
        job_file, report_file, pid_file, log_file = (
            work / n for n in ("job.json", "report.json", "soffice.pid", "soffice.log")
        )
        job_file.write_text(
            json.dumps(
                {
                    "soffice": binary,
                    "profile": profile.as_uri(),
                    "pipe": f"kaohe_inspector_{os.getpid()}_{time.monotonic_ns()}",
                    "pid_file": str(pid_file),
                    "log_file": str(log_file),
                    "start_timeout": START_TIMEOUT,
                    "bridge": os.environ.get("KAOHE_LO_INSPECTOR_BRIDGE") == "1",
                    "workbooks": [
                        {
                            "source": str(Path(job.source).resolve()),
                            "target": str(Path(job.target).resolve()),
                            "entries": {s: dict(e) for s, e in job.entries.items()},
                            "inspect": {s: list(c) for s, c in job.inspect.items()},
                            "probes": {s: [dict(r) for r in rounds] for s, rounds in job.probes.items()},
                            "reload": job.reload,
                        }
                        for job in jobs
                    ],
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        command = [python, "-I", str(Path(__file__).resolve()), str(job_file), str(report_file)]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=_driver_env(profile, python),
            start_new_session=True,
        )

        def kill_all() -> None:
            _kill_group(process.pid)
            _kill_soffice(pid_file)

        def details(stdout: str, stderr: str) -> str:
            log = log_file.read_text(encoding="utf-8", errors="replace").strip() if log_file.is_file() else ""
            return f"命令：{' '.join(command)}\n驱动 stderr:\n{stderr.strip() or '（空）'}\n驱动 stdout:\n{stdout.strip() or '（空）'}\nsoffice 输出:\n{log[-4000:] or '（空）'}"

        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_all()
            stdout, stderr = process.communicate()
            _discard_profile()  # a killed soffice may leave the profile locked or half-written
            raise InspectorError(
                f"LibreOffice 超过 {timeout:g} 秒未完成，已终止。\n{details(stdout, stderr)}"
            ) from None
        except BaseException:
            kill_all()
            process.communicate()
            _discard_profile()
            raise
        finally:
            _kill_soffice(pid_file)  # the driver terminates soffice; make sure nothing is left behind
        total = time.perf_counter() - started
        report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.is_file() else None
        if process.returncode != 0 or report is None or report.get("error"):
            error = (report or {}).get("error") or f"驱动退出码 {process.returncode}"
            _discard_profile()
            raise InspectorError(f"LibreOffice 填写失败：{error}\n{details(stdout, stderr)}")
    missing = [
        str(job.target) for job in jobs if not Path(job.target).is_file() or Path(job.target).stat().st_size == 0
    ]
    if missing:
        raise InspectorError("LibreOffice 没有保存：" + "，".join(missing))
    return InspectorReport(
        version=report.get("version", ""),
        python=python,
        mode=report["mode"],
        fallback=report.get("fallback", ""),
        workbooks=[_workbook_report(w) for w in report["workbooks"]],
        startup_seconds=report["startup_seconds"],
        total_seconds=total,
        first_start=first_start,
    )


def _workbook_report(data: dict[str, Any]) -> WorkbookReport:
    reloaded = data.get("reloaded")
    return WorkbookReport(
        source=Path(data["source"]),
        target=Path(data["target"]),
        document_protected=data["document_protected"],
        sheets={s["name"]: _sheet_report(s) for s in data["sheets"]},
        reloaded={s["name"]: _sheet_report(s) for s in reloaded} if reloaded is not None else None,
        seconds=data["seconds"],
    )


def _sheet_report(data: dict[str, Any]) -> SheetReport:
    return SheetReport(
        name=data["name"],
        index=data["index"],
        visible=data["visible"],
        protected=data["protected"],
        used_area=data.get("used_area", ""),
        formula_cells={a: (f, locked) for a, (f, locked) in data.get("formula_cells", {}).items()},
        unlocked=frozenset(cell for part in data.get("unlocked", []) for cell in cells_of(part)),
        unlocked_outside_used_area=data.get("unlocked_outside_used_area", False),
        cells={
            a: CellReport(**{**c, "validation": ValidationReport(**c["validation"]) if c["validation"] else None})
            for a, c in data.get("cells", {}).items()
        },
        invalid=tuple(data.get("invalid", ())),
        probes=tuple(tuple(r) for r in data.get("probes", ())),
    )


_A1 = re.compile(r"\$?([A-Z]+)\$?(\d+)")


def _column_number(letters: str) -> int:
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cells_of(reference: str) -> list[str]:
    """The cells (A1) of "D8", "D8:E9" (sheet prefixes and $ ignored), row by row."""
    parts = [_A1.fullmatch(p.rsplit(".", 1)[-1].strip()) for p in reference.split(":")]
    if not parts or any(p is None for p in parts) or len(parts) > 2:
        raise ValueError(f"不是单元格或区域：{reference}")
    (c1, r1), (c2, r2) = ((_column_number(p[1]), int(p[2])) for p in (parts[0], parts[-1]))  # type: ignore[index]
    return [
        f"{_column_letters(c)}{r}"
        for r in range(min(r1, r2), max(r1, r2) + 1)
        for c in range(min(c1, c2), max(c1, c2) + 1)
    ]


_STRING = re.compile(r'"(?:[^"]|"")*"')


def list_entries(formula: str) -> tuple[str, ...]:
    """The entries of a LIST validation's formula: ``"是";"否"`` → ("是", "否"); () for a range reference."""
    return tuple(m.group()[1:-1].replace('""', '"') for m in _STRING.finditer(formula))


def excel_formula(formula: str) -> str:
    """LibreOffice's API formula in Excel's notation: ";" between arguments becomes "," (outside strings)."""
    parts, position = [], 0
    for match in _STRING.finditer(formula):
        parts += [formula[position : match.start()].replace(";", ","), match.group()]
        position = match.end()
    parts.append(formula[position:].replace(";", ","))
    return "".join(parts)


# ============================================================================================
# driver side: runs in an interpreter with uno (python3 -I lo_inspector.py job.json report.json)
# ============================================================================================


def _a1(col: int, row: int) -> str:
    return f"{_column_letters(col + 1)}{row + 1}"


class _Sheet:
    """One sheet read in bulk: contents of the used area, format groups (protection, validation)."""

    def __init__(self, worker: _Worker, sheet: Any, validations: bool = True):
        self.sheet = sheet
        cursor = sheet.createCursor()
        cursor.gotoEndOfUsedArea(False)
        end = cursor.RangeAddress
        self.end = (end.EndColumn, end.EndRow)
        area = sheet.getCellRangeByPosition(0, 0, end.EndColumn, end.EndRow)
        self.formulas = area.getFormulaArray()
        self.data = area.getDataArray()
        # getUniqueCellFormatRanges: the sheet split into groups of cells with identical attributes,
        # protection and data validation included; one query per group instead of one per cell.
        self.groups: list[tuple[list[tuple[int, int, int, int]], bool, bool, dict[str, Any] | None]] = []
        ranges = sheet.getUniqueCellFormatRanges()
        for index in range(ranges.Count):
            part = ranges.getByIndex(index)
            boxes = [(r.StartColumn, r.StartRow, r.EndColumn, r.EndRow) for r in part.RangeAddresses]
            protection = part.CellProtection
            validation = worker.validation(part.Validation) if validations else None
            self.groups.append((boxes, bool(protection.IsLocked), bool(protection.IsFormulaHidden), validation))

    def group_of(self, col: int, row: int) -> tuple[list[tuple[int, int, int, int]], bool, bool, dict[str, Any] | None]:
        for group in self.groups:
            if any(c1 <= col <= c2 and r1 <= row <= r2 for c1, r1, c2, r2 in group[0]):
                return group
        return ([], True, False, None)  # not reached: the groups cover the sheet

    def locked(self, address: str) -> bool:
        return self.group_of(*_position(address))[1]

    def cell(self, address: str) -> dict[str, Any]:
        col, row = _position(address)
        _, locked, hidden, validation = self.group_of(col, row)
        formula, value = (
            ("", "") if col > self.end[0] or row > self.end[1] else (self.formulas[row][col], self.data[row][col])
        )
        if formula.startswith("="):
            kind = "FORMULA"
        elif isinstance(value, float):
            kind = "VALUE"
        else:
            kind = "TEXT" if value != "" else "EMPTY"
        return {
            "type": kind,
            "value": value if kind != "EMPTY" else None,
            "formula": formula if kind == "FORMULA" else "",
            "locked": locked,
            "formula_hidden": hidden,
            "validation": validation,
        }

    def report(self, index: int, inspect: list[str]) -> dict[str, Any]:
        formulas = {}
        for row, line in enumerate(self.formulas):
            for col, formula in enumerate(line):
                if formula.startswith("="):
                    formulas[_a1(col, row)] = (formula, self.group_of(col, row)[1])
        unlocked, outside = [], False
        for boxes, locked, _, _ in self.groups:
            if locked:
                continue
            for c1, r1, c2, r2 in boxes:
                outside = outside or c2 > self.end[0] or r2 > self.end[1]
                c2, r2 = min(c2, self.end[0]), min(r2, self.end[1])
                if c1 <= c2 and r1 <= r2:
                    unlocked.append(_a1(c1, r1) if (c1, r1) == (c2, r2) else f"{_a1(c1, r1)}:{_a1(c2, r2)}")
        return {
            "name": self.sheet.Name,
            "index": index,
            "visible": bool(self.sheet.IsVisible),
            "protected": bool(self.sheet.isProtected()),
            "used_area": f"A1:{_a1(*self.end)}",
            "formula_cells": formulas,
            "unlocked": unlocked,
            "unlocked_outside_used_area": outside,
            "cells": {address: self.cell(address) for address in inspect},
        }


def _position(address: str) -> tuple[int, int]:
    match = _A1.fullmatch(address.strip().upper())
    if match is None:
        raise RuntimeError(f"不是单元格地址：{address}")
    return _column_number(match[1]) - 1, int(match[2]) - 1


def _describe(exc: BaseException) -> str:
    """An exception as a message: our own RuntimeErrors as they are, others with their type."""
    return str(exc) if type(exc) is RuntimeError else f"{type(exc).__name__}: {exc}"


def _prop(name: str, value: Any) -> Any:
    from com.sun.star.beans import PropertyValue  # importable once uno is imported

    prop = PropertyValue()
    prop.Name, prop.Value = name, value
    return prop


# pythonscript.py executes a macro file in a module missing from sys.modules, where dataclasses
# fail; so the macro is a stub that imports this file properly and calls run_in_office.
MACRO_MODULE = "kaohe_lo_inspector_macro.py"
MACRO_SOURCE = """\
import importlib.util
import sys


def run(module_path, job_path):
    module = sys.modules.get("kaohe_lo_inspector")
    if module is None or module.__file__ != module_path:
        spec = importlib.util.spec_from_file_location("kaohe_lo_inspector", module_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["kaohe_lo_inspector"] = module
        spec.loader.exec_module(module)
    return module.run_in_office(job_path)


g_exportedScripts = (run,)
"""


def run_in_office(job_path: str) -> str:
    """The macro entry point: do the job inside soffice (in-process calls are ~10× faster than the bridge)."""
    import traceback

    import uno

    try:
        job = json.loads(Path(job_path).read_text(encoding="utf-8"))
        context = uno.getComponentContext()
        desktop = context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        return json.dumps({"workbooks": _Worker(uno, desktop, job).run()}, ensure_ascii=False)
    except Exception as exc:
        return json.dumps({"error": _describe(exc), "traceback": traceback.format_exc()}, ensure_ascii=False)


class _Driver:
    def __init__(self, job: dict[str, Any]):
        import uno

        self.uno = uno
        self.job = job
        self.soffice: subprocess.Popen[bytes] | None = None
        self.desktop: Any = None
        self.fallback = ""  # why the job ran over the bridge, not as a macro

    # --- LibreOffice process ---

    def start(self) -> None:
        from com.sun.star.connection import NoConnectException

        job = self.job
        pipe = job["pipe"]
        log = open(job["log_file"], "wb")  # noqa: SIM115 - kept open for soffice's lifetime
        self.soffice = subprocess.Popen(
            [
                job["soffice"],
                f"-env:UserInstallation={job['profile']}",
                "--headless",
                "--invisible",
                "--nodefault",
                "--nologo",
                "--norestore",
                "--nolockcheck",
                f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own group: soffice.bin is a grandchild of the wrapper
        )
        Path(job["pid_file"]).write_text(str(self.soffice.pid))
        local = self.uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + float(job["start_timeout"])
        while True:
            try:
                context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except NoConnectException:
                if self.soffice.poll() is not None:
                    raise RuntimeError(f"soffice 在接受连接前退出（退出码 {self.soffice.returncode}）") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{job['start_timeout']} 秒内无法连接 soffice") from None
                time.sleep(0.1)
        self.context = context
        self.desktop = context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)

    def run(self, job_path: str) -> tuple[str, list[dict[str, Any]]]:
        """("in-process" or "bridge", the workbook reports): as a macro when the script provider is there."""
        if self.job.get("bridge"):
            self.fallback = "KAOHE_LO_INSPECTOR_BRIDGE=1"
            return "bridge", _Worker(self.uno, self.desktop, self.job).run()
        scripts = Path(self.uno.fileUrlToSystemPath(self.job["profile"])) / "user" / "Scripts" / "python"
        scripts.mkdir(parents=True, exist_ok=True)
        (scripts / MACRO_MODULE).write_text(MACRO_SOURCE, encoding="utf-8")
        try:
            factory = self.context.ServiceManager.createInstanceWithContext(
                "com.sun.star.script.provider.MasterScriptProviderFactory", self.context
            )
            script = factory.createScriptProvider("").getScript(
                f"vnd.sun.star.script:{MACRO_MODULE}$run?language=Python&location=user"
            )
        except Exception as exc:  # no libreoffice-script-provider-python: drive it over the bridge
            self.fallback = f"{type(exc).__name__}: {exc}"
            return "bridge", _Worker(self.uno, self.desktop, self.job).run()
        result = json.loads(script.invoke((str(Path(__file__).resolve()), job_path), (), ())[0])
        if result.get("error"):
            raise RuntimeError(f"{result['error']}\n（LibreOffice 内的宏）{result.get('traceback', '')}")
        return "in-process", result["workbooks"]

    def version(self) -> str:
        try:
            provider = self.context.ServiceManager.createInstanceWithContext(
                "com.sun.star.configuration.ConfigurationProvider", self.context
            )
            access = provider.createInstanceWithArguments(
                "com.sun.star.configuration.ConfigurationAccess", (_prop("nodepath", "/org.openoffice.Setup/Product"),)
            )
            return f"{access.getByName('ooName')} {access.getByName('ooSetupVersionAboutBox')}"
        except Exception as exc:  # the version is informational only
            return f"（未知：{exc}）"

    def stop(self) -> None:
        if self.desktop is not None:
            with contextlib.suppress(Exception):  # the bridge goes away while terminating
                self.desktop.terminate()
            self.desktop = None
        if self.soffice is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.soffice.wait(timeout=20)
            _kill_group(self.soffice.pid)  # soffice.bin and oosplash may outlive the wrapper: end the whole group
            Path(self.job["pid_file"]).unlink(missing_ok=True)
            self.soffice = None


class _Worker:
    """Does a job's workbooks through a Desktop: inside soffice (a Python macro) or over the UNO bridge."""

    def __init__(self, uno: Any, desktop: Any, job: dict[str, Any]):
        self.uno = uno
        self.desktop = desktop
        self.job = job

    def run(self) -> list[dict[str, Any]]:
        reports = []
        for workbook in self.job["workbooks"]:
            try:
                reports.append(self.workbook(workbook))
            except Exception as exc:
                raise RuntimeError(f"{Path(workbook['source']).name}：{_describe(exc)}") from exc
        return reports

    def load(self, path: str) -> Any:
        url = self.uno.systemPathToFileUrl(path)
        props = (_prop("Hidden", True), _prop("MacroExecutionMode", 0), _prop("UpdateDocMode", 0))
        doc = self.desktop.loadComponentFromURL(url, "_blank", 0, props)
        if doc is None or not hasattr(doc, "Sheets"):
            if doc is not None:
                doc.close(True)
            raise RuntimeError(f"LibreOffice 无法把 {path} 作为表格打开")
        return doc

    @staticmethod
    def _sheet(doc: Any, name: str) -> Any:
        if not doc.Sheets.hasByName(name):
            raise RuntimeError(f"工作簿中没有工作表“{name}”（有：{'、'.join(doc.Sheets.ElementNames)}）")
        return doc.Sheets.getByName(name)

    @staticmethod
    def _put(cell: Any, value: Any) -> None:
        if value is None:
            cell.setString("")
        elif isinstance(value, bool) or not isinstance(value, int | float | str):
            raise RuntimeError(f"不支持的填写值 {value!r}")
        elif isinstance(value, str):
            cell.setString(value)  # typed text: 是, 不参加, a reason
        else:
            cell.setValue(float(value))

    def _type(self, sheet: Any, entries: dict[str, Any], read: _Sheet, what: str) -> None:
        """Type entries into unlocked cells; a locked cell of a protected sheet is refused, as for a user."""
        if sheet.isProtected():
            locked = [a for a in entries if read.locked(a)]
            if locked:
                raise RuntimeError(
                    f"{what}：{len(locked)} 个格在受保护的工作表“{sheet.Name}”上是锁定的，用户无法填写：{'、'.join(locked[:10])}"
                )
        for address, value in entries.items():
            self._put(sheet.getCellRangeByName(address), value)

    def _invalid(self, sheet: Any) -> list[str]:
        """The cells the detective marks invalid (Mark Invalid Data: red circles), then the marks removed."""
        page = sheet.DrawPage
        before = page.Count
        sheet.showInvalid()
        marked = set()
        for index in range(before, page.Count):
            shape = page.getByIndex(index)
            if shape.ShapeType == "com.sun.star.drawing.EllipseShape" and shape.Anchor is not None:
                address = shape.Anchor.CellAddress
                marked.add((address.Row, address.Column))
        sheet.clearArrows()
        return [_a1(col, row) for row, col in sorted(marked)]

    def validation(self, v: Any) -> dict[str, Any] | None:
        kind = v.Type.value
        if kind == "ANY":
            return None
        source = v.getSourcePosition()
        return {
            "type": kind,
            "operator": v.getOperator().value,
            "formula1": v.getFormula1(),
            "formula2": v.getFormula2(),
            "source": _a1(source.Column, source.Row),
            "show_list": int(v.ShowList),
            "show_error": bool(v.ShowErrorMessage),
            "error_style": v.ErrorAlertStyle.value,
            "ignore_blank": bool(v.IgnoreBlankCells),
            "show_input": bool(v.ShowInputMessage),
            "input_title": v.InputTitle,
            "input_message": v.InputMessage,
            "error_title": v.ErrorTitle,
            "error_message": v.ErrorMessage,
        }

    def _sheets(self, doc: Any, workbook: dict[str, Any], invalid: dict[str, list[str]] | None) -> list[dict[str, Any]]:
        wanted = set(workbook["entries"]) | set(workbook["inspect"])
        sheets = []
        for index in range(doc.Sheets.Count):
            sheet = doc.Sheets.getByIndex(index)
            name = sheet.Name
            if name in wanted:
                report = _Sheet(self, sheet).report(index, workbook["inspect"].get(name, []))
                report["invalid"] = invalid[name] if invalid is not None else self._invalid(sheet)
            else:
                report = {
                    "name": name,
                    "index": index,
                    "visible": bool(sheet.IsVisible),
                    "protected": bool(sheet.isProtected()),
                }
            sheets.append(report)
        return sheets

    def _probe(self, sheet: Any, rounds: list[dict[str, Any]]) -> list[list[str]]:
        """Type each round of probe values, note what the detective marks; cells left out of a round are restored."""
        read = _Sheet(self, sheet, validations=False)
        original: dict[str, None] = {}
        results = []
        for number, probe in enumerate(rounds, start=1):
            for address in list(original):
                if address not in probe:
                    cell = read.cell(address)
                    self._put(sheet.getCellRangeByName(address), cell["value"])
                    del original[address]
            self._type(sheet, probe, read, f"第 {number} 轮试填")
            original.update(dict.fromkeys(probe))
            results.append(self._invalid(sheet))
        return results

    # --- one workbook ---

    def workbook(self, workbook: dict[str, Any]) -> dict[str, Any]:
        seconds: dict[str, float] = {}
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            seconds[name] = round(now - mark, 3)
            mark = now

        doc = self.load(workbook["source"])
        lap("load")
        try:
            for name, entries in workbook["entries"].items():
                sheet = self._sheet(doc, name)
                self._type(sheet, entries, _Sheet(self, sheet, validations=False), "填写")
            lap("fill")
            doc.calculateAll()
            lap("calculate")
            invalid = {
                name: self._invalid(self._sheet(doc, name))
                for name in set(workbook["entries"]) | set(workbook["inspect"])
            }
            sheets = self._sheets(doc, workbook, invalid)
            document_protected = bool(doc.isProtected())
            lap("inspect")
            target = self.uno.systemPathToFileUrl(workbook["target"])
            doc.storeToURL(target, (_prop("FilterName", EXPORT_FILTER), _prop("Overwrite", True)))
            lap("store")
            by_name = {s["name"]: s for s in sheets}
            for name, rounds in workbook["probes"].items():
                by_name[name]["probes"] = self._probe(self._sheet(doc, name), rounds)
            lap("probe")
        finally:
            doc.close(True)  # the probe values are never saved
        reloaded = None
        if workbook["reload"]:
            again = self.load(workbook["target"])
            try:
                reloaded = self._sheets(again, workbook, None)
            finally:
                again.close(True)
            lap("reload")
        return {
            "source": workbook["source"],
            "target": workbook["target"],
            "document_protected": document_protected,
            "sheets": sheets,
            "reloaded": reloaded,
            "seconds": seconds,
        }


def _driver_main(job_path: str, report_path: str) -> int:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    report: dict[str, Any] = {"workbooks": []}
    started = time.perf_counter()
    driver = None
    try:
        driver = _Driver(job)
        driver.start()
        report["startup_seconds"] = round(time.perf_counter() - started, 3)
        report["version"] = driver.version()
        report["mode"], report["workbooks"] = driver.run(job_path)
        report["fallback"] = driver.fallback
    except BaseException as exc:
        import traceback

        report["error"] = _describe(exc)
        report["traceback"] = traceback.format_exc()
        sys.stderr.write(report["traceback"])
    finally:
        if driver is not None:
            driver.stop()
        report["total_seconds"] = round(time.perf_counter() - started, 3)
        Path(report_path).write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    return 1 if report.get("error") else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: python3 -I lo_inspector.py job.json report.json\n")
        sys.exit(2)
    sys.exit(_driver_main(sys.argv[1], sys.argv[2]))
