"""Find the bundled files (rubrics.json, samples/, templates/) from a checkout or an install."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """The bundled file or folder ``name``: inside the installed package, else at the repo top."""
    installed = _PACKAGE / "bundle" / name
    if installed.exists():
        return installed
    return _PACKAGE.parent / name
