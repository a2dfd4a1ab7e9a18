"""Print through LibreOffice, when it is installed: an .xlsx to PDF, headless."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .issues import KaoheError

TIMEOUT = 180


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(source: Path, out_dir: Path) -> Path:
    """Convert ``source`` to ``out_dir/<stem>.pdf`` with a private, throwaway profile."""
    program = soffice()
    if program is None:
        raise KaoheError(
            "未安装 LibreOffice，无法生成 PDF（Debian/Ubuntu：apt-get install libreoffice-calc-nogui）；排名表 .xlsx 已生成，可用 Excel 或 WPS 打印"
        )
    with tempfile.TemporaryDirectory(prefix="kaohe-lo-") as profile:
        command = [
            program,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "pdf:calc_pdf_Export",
            "--outdir",
            str(out_dir),
            str(source),
        ]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise KaoheError(f"LibreOffice 生成 PDF 超时（{TIMEOUT} 秒）") from exc
    pdf = out_dir / f"{source.stem}.pdf"
    if not pdf.exists():  # soffice exits 0 even when it fails
        raise KaoheError(f"LibreOffice 未能生成 PDF：{(completed.stderr or completed.stdout).strip()[:300]}")
    return pdf
