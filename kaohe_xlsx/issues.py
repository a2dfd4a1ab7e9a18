"""Errors that reach the user: each carries a Chinese message that names the place and the fix."""

from __future__ import annotations


class KaoheError(Exception):
    """A problem the user can act on; the CLI prints its message without a traceback."""
