"""`kaohe rubrics …` as a user runs it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kaohe_xlsx import __version__
from kaohe_xlsx.cli import cli

# What the seeds say each rubric holds (DOMAIN.md and the seed texts).
EXPECTED = {
    "jiaozuo-2016": ("000_4d0c5cacc118a8c0.txt", 100, [25, 20, 15, 15, 10, 15], 26),
    "wenzhou": ("001_8b5e028c2425312c.txt", 100, [20, 20, 60], 13),
    "luoyang-2016": ("002_5a152043c59e10aa.txt", 100, [20, 25, 20, 10, 25], 23),
}


def run(*args: str, catch: bool = True):
    return CliRunner().invoke(cli, list(args), catch_exceptions=catch)


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"kaohe 版本 {__version__}"


def test_help_is_chinese():
    result = run("--help")
    assert result.exit_code == 0
    assert "用法:" in result.output and "显示本帮助并退出" in result.output


@pytest.mark.parametrize("rubric_id", sorted(EXPECTED))
def test_show_json_counts(rubric_id):
    source, total, section_points, item_count = EXPECTED[rubric_id]
    result = run("rubrics", "show", rubric_id, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["id"], data["source"], data["total"]) == (rubric_id, source, total)
    assert [s["points"] for s in data["sections"]] == section_points
    items = [item for s in data["sections"] for item in s["items"]]
    assert len(items) == item_count
    assert all(set(item) >= {"id", "text", "points"} for item in items)
    assert all(sum(i["points"] for i in s["items"] if i["kind"] != "penalty") == s["points"] for s in data["sections"])


def test_show_table_lists_every_item():
    result = run("rubrics", "show", "jiaozuo-2016")
    assert result.exit_code == 0
    for item_id in ("1.1", "2.5", "3.4", "4.4", "5.4", "6.4"):
        assert f"  {item_id} " in result.output
    assert "会议记录每缺少一个季度扣1分" in result.output


def test_list_json():
    result = run("rubrics", "list", "--json")
    assert result.exit_code == 0
    ids = [r["id"] for r in json.loads(result.output)]
    assert ids[:1] == ["jiaozuo-2016"]


def test_unknown_rubric_is_a_chinese_error():
    result = run("rubrics", "show", "nope")
    assert result.exit_code == 1
    assert "没有编号为 nope 的规则库" in result.output
    assert "Traceback" not in result.output


def test_usage_error_exit_code_2():
    result = run("rubrics", "show", "--bogus")
    assert result.exit_code == 2
    assert "没有选项" in result.output


def test_check_bundled():
    result = run("rubrics", "check")
    assert result.exit_code == 0
    assert "检查通过" in result.output


def test_check_broken_file(tmp_path):
    broken = tmp_path / "my.json"
    broken.write_text('{"format": 1, "rubrics": [{"id": "x", "sections": []}]}', encoding="utf-8")
    result = run("rubrics", "check", str(broken))
    assert result.exit_code == 1
    assert "[my.json › 规则库 x › sections] 至少需要一个部分" in result.output


def test_check_invalid_json(tmp_path):
    broken = tmp_path / "bad.json"
    broken.write_text('{"format": 1,', encoding="utf-8")
    result = run("rubrics", "check", str(broken))
    assert result.exit_code == 1
    assert "[bad.json] 不是有效的 JSON" in result.output


def test_other_rubric_file_via_option(tmp_path):
    result = run("--rubrics", str(tmp_path / "missing.json"), "rubrics", "list")
    assert result.exit_code == 1
    assert "无法读取规则库文件" in result.output
