"""The README cannot go stale: every command has Chinese help and is documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from kaohe_xlsx.cli import cli

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "kaohe") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
    return found


@pytest.mark.parametrize(("name", "command"), commands(cli), ids=lambda v: v if isinstance(v, str) else "")
def test_command_is_documented(name, command):
    assert command.help and any("\u4e00" <= ch <= "\u9fff" for ch in command.help), name
    assert f"`{name}" in README or f"$ {name}" in README, f"{name} is not in the README"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{name} {param.opts} has no help"


def test_readme_gives_the_two_commands():
    assert "pip install . && kaohe demo" in README
    assert "pip install '.[test]' && python -m pytest" in README
