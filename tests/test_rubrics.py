"""Loading and validating rubrics.json: the counts of the seeds, and broken files named precisely."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from kaohe_xlsx.resources import resource_path
from kaohe_xlsx.rubrics import RubricError, content_hash, load_rubrics, parse_rubrics


@pytest.fixture(scope="module")
def raw():
    return json.loads(resource_path("rubrics.json").read_text(encoding="utf-8"), parse_float=Decimal)


def jiaozuo(raw):
    data = copy.deepcopy(raw)
    data["rubrics"] = [r for r in data["rubrics"] if r["id"] == "jiaozuo-2016"]
    return data, data["rubrics"][0]


def problems_of(data):
    with pytest.raises(RubricError) as error:
        parse_rubrics(data)
    return error.value.problems


def test_jiaozuo_2016_counts():
    # seed 000 附件2: six parts 组织领导 25, 学习型 20, 创新型 15, 服务型 15, 和谐型 10, 廉洁型 15
    rubric = load_rubrics()["jiaozuo-2016"]
    assert [(s.title, s.points, len(s.items)) for s in rubric.sections] == [
        ("（一）组织领导", 25, 5),
        ("（二）学习型机关", 20, 5),
        ("（三）创新型机关", 15, 4),
        ("（四）服务型机关", 15, 4),
        ("（五）和谐型机关", 10, 4),
        ("（六）廉洁型机关", 15, 4),
    ]
    assert rubric.total == 100
    assert rubric.source == "000_4d0c5cacc118a8c0.txt"


SEEDS = Path(__file__).parent / "seeds"


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("rubric_id", ["jiaozuo-2016", "luoyang-2016", "jiaozuo-2020", "dongyang-2013"])
def test_item_text_is_verbatim_from_the_seed(rubric_id):
    rubrics = load_rubrics()
    if rubric_id not in rubrics:
        pytest.fail(f"rubric {rubric_id} missing from rubrics.json")
    rubric = rubrics[rubric_id]
    seed = squeeze((SEEDS / rubric.source).read_text(encoding="utf-8"))
    for item in rubric.items:
        # an item may gather several lines or cells (joined by ｜) of a scraped table
        for line in re.split(r"\n|｜", item.text):
            assert squeeze(line) in seed, item.id


def test_section_sum_mismatch_is_named(raw):
    data, rubric = jiaozuo(raw)
    rubric["sections"][0]["items"][0]["points"] = 6
    assert problems_of(data) == ["[rubrics.json › 规则库 jiaozuo-2016 › 部分 1 › points] 各项目分值之和为 26，与本部分分值 25 不符"]


def test_total_mismatch_is_named(raw):
    data, rubric = jiaozuo(raw)
    rubric["total"] = 99
    assert problems_of(data) == ["[rubrics.json › 规则库 jiaozuo-2016 › total] 各部分分值之和为 100，与总分 99 不符"]


def test_unknown_rule_kind_is_named(raw):
    data, rubric = jiaozuo(raw)
    rubric["sections"][1]["items"][2]["rules"][0]["kind"] = "per_item"
    (problem,) = problems_of(data)
    assert problem.startswith("[rubrics.json › 规则库 jiaozuo-2016 › 部分 2 › 项目 2.3 › 规则 d1 › kind] 未知的规则类型 'per_item'")


def test_bad_rule_field_is_named(raw):
    data, rubric = jiaozuo(raw)
    rubric["sections"][0]["items"][1]["rules"][0]["per"] = "一分"
    assert problems_of(data) == ["[rubrics.json › 规则库 jiaozuo-2016 › 部分 1 › 项目 1.2 › 规则 d1 › per] 应为数字，实际为 '一分'"]


def test_negative_amount_and_unknown_field(raw):
    data, rubric = jiaozuo(raw)
    rule = rubric["sections"][5]["items"][1]["rules"][0]
    rule["per"] = -2
    rule["perr"] = 2
    problems = problems_of(data)
    assert "[rubrics.json › 规则库 jiaozuo-2016 › 部分 6 › 项目 6.2 › 规则 d1 › perr] 未知字段（可用字段：cap、id、label、max_count、note、per）" in problems
    assert "[rubrics.json › 规则库 jiaozuo-2016 › 部分 6 › 项目 6.2 › 规则 d1 › per] 不能为负数，实际为 -2" in problems


def test_duplicate_ids(raw):
    data, rubric = jiaozuo(raw)
    rubric["sections"][0]["items"][1]["id"] = "1.1"
    data["rubrics"].append(copy.deepcopy(data["rubrics"][0]))
    problems = problems_of(data)
    assert "[rubrics.json › 规则库 jiaozuo-2016] 项目编号 1.1 重复" in problems
    assert "[rubrics.json › 规则库 jiaozuo-2016 › id] 规则库编号 jiaozuo-2016 重复" in problems


def test_range_beyond_item_points(raw):
    data, rubric = jiaozuo(raw)
    rubric["sections"][5]["items"][3]["rules"][0]["maximum"] = 3
    assert problems_of(data) == ["[rubrics.json › 规则库 jiaozuo-2016 › 部分 6 › 项目 6.4 › 规则 d1 › maximum] 扣分上限 3 超过本项分值 2"]


def test_content_hash_changes_with_any_rule():
    rubric = load_rubrics()["jiaozuo-2016"]
    assert content_hash(rubric) == content_hash(load_rubrics()["jiaozuo-2016"])
    data = json.loads(resource_path("rubrics.json").read_text(encoding="utf-8"), parse_float=Decimal)
    data["rubrics"] = [r for r in data["rubrics"] if r["id"] == "jiaozuo-2016"]
    data["rubrics"][0]["sections"][0]["items"][1]["rules"][0]["per"] = Decimal("0.5")
    assert content_hash(parse_rubrics(data)["jiaozuo-2016"]) != content_hash(rubric)
