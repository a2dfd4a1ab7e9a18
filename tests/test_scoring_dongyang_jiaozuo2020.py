"""Dongyang 2013 (seed 004) and Jiaozuo 2020 (seed 003): rules scored by hand from the seeds' words."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from kaohe_xlsx.model import NOT_PARTICIPATING
from kaohe_xlsx.resources import resource_path
from kaohe_xlsx.rubrics import RubricError, apply_allocation, load_allocation, load_rubrics
from kaohe_xlsx.scoring import NotScorableError, score_campaign, score_item, score_unit


@pytest.fixture(scope="module")
def rubrics():
    return load_rubrics()


@pytest.fixture(scope="module")
def dongyang(rubrics):
    return rubrics["dongyang-2013"]


def item_score(rubric, item_id, **values):
    return score_item(rubric.item(item_id), {(item_id, rule): value for rule, value in values.items()}).score


def test_dongyang_is_partial_and_split_by_assessor(dongyang):
    assert dongyang.status == "partial"
    assert dongyang.split == "assessor"
    # seed 004: "(二)领导班子和干部队伍建设(8分)(由组织部考核)"
    assert dongyang.item("3.2.1").assessor == "组织部"
    # seed 004 自身建设 table: 食品药品安全 is assessed by 食品药品监管局
    assert dongyang.item("3.6.7").assessor == "食品药品监管局"
    assert {item.assessor for item in dongyang.items} >= {"市纪委", "组织部", "五创办", "人才办", "编委办", "司法局"}


def test_dongyang_tenth_point_deductions_add_exactly(dongyang):
    # seed 004 三(一): "未建立组织或明确分管领导、职能科室及工作人员的各扣0.2分;
    # 班子专题研究服务效能和作风建设工作不少于2次,少一次扣0.1分" — DOMAIN's worked example
    # one 0.2 miss and one meeting short: 10 − 0.2 − 0.1 = 9.7 exactly
    assert item_score(dongyang, "3.1.1", r1=1, r2=1) == D("9.7")
    assert item_score(dongyang, "3.1.1", r1=3, r2=0) == D("9.2")


def test_dongyang_penalty_item(dongyang):
    # seed 004 一(四)4: "农村“两富”局级指导员工作(倒扣分1分)… 扣0.5分; … 每人次扣0.1分"
    assert item_score(dongyang, "1.4.4", d1=True, d2=2) == D("-0.7")
    # deductions beyond the 倒扣分 limit stop at −1
    assert item_score(dongyang, "1.4.4", d1=True, d2=4, d3=3) == D(-1)


def test_dongyang_converted_score(dongyang):
    # seed 004 一(三)1: "工业竞赛(2分)。按工业竞赛活动考核得分折算" — 85 of 100 → 1.7
    assert item_score(dongyang, "1.3.1", c1=D(85)) == D("1.7")
    # seed 004 二2: "未完成的按完成情况得分" — 92.5% of 30 = 27.75
    assert item_score(dongyang, "2.2", c1=D("92.5")) == D("27.75")


def test_dongyang_converted_penalty(dongyang):
    # seed 004 一(五): "五城同创(倒扣分5分)… 考核折算" — 90 of 100 loses 10% of 5
    assert item_score(dongyang, "1.5.1", c1=D(90)) == D("-0.5")
    assert item_score(dongyang, "1.5.1", c1=D(100)) == D(0)
    assert item_score(dongyang, "1.5.1") == D(0)  # not yet imported: no penalty


def test_dongyang_non_participants_get_the_average(dongyang):
    # seed 004: "不参加的部门单位得参加部门单位考核得分的平均分"
    units = {
        "甲": {("1.3.1", "c1"): D(90)},  # 1.8
        "乙": {("1.3.1", "c1"): D(75)},  # 1.5
        "丙": {("1.3.1", "c1"): NOT_PARTICIPATING},
    }
    scores = score_campaign(dongyang, units)
    assert scores["丙"].items["1.3.1"].score == D("1.65")
    assert scores["丙"].items["1.3.1"].used_average is True
    assert scores["甲"].items["1.3.1"].score == D("1.8")


def test_dongyang_half_year_and_year_end_weights(dongyang):
    # seed 004 三(七)2: "半年进行一次初评,分值占年度的1/4; 年终进行年度综合评议,分值占年度的3/4"
    # 4.2 at half year, 4.6 at year end: 1.05 + 3.45 = 4.5
    assert item_score(dongyang, "3.7.2", w1=D("4.2"), w2=D("4.6")) == D("4.5")
    # 4.3 and 4.4: 1.075 + 3.3 = 4.375 → 4.38 (rounded half up to the rubric's 2 decimals)
    assert item_score(dongyang, "3.7.2", w1=D("4.3"), w2=D("4.4")) == D("4.38")


def test_dongyang_award_groups_do_not_add(dongyang):
    # seed 004 一(四)2: 成员单位 "得0.5分" ×4, 非成员单位 "得1分" ×2 — a unit is one or the other
    assert item_score(dongyang, "1.4.2", a1=True, a2=True, a3=True) == D("1.5")
    assert item_score(dongyang, "1.4.2", a5=True, a6=True) == D(2)
    assert item_score(dongyang, "1.4.2", a1=True, a5=True) == D(1)  # the higher group only


def test_dongyang_steps_above_a_threshold(dongyang):
    # seed 004 食品药品安全 1: "每扣2分，相应的扣0.1分" — 7 points deducted there: 3 full steps
    assert item_score(dongyang, "3.6.7", d1=7) == D("-0.3")


def test_dongyang_small_item_cap(dongyang):
    # seed 004 自身建设 "每小项倒扣分2分": 机构编制's five "各扣0.5分" reach 2.5, capped at 2
    assert item_score(dongyang, "3.6.1", d1=True, d2=True, d3=True, d4=True, d5=True) == D(-2)


def test_dongyang_penalties_come_off_the_total(dongyang):
    result = score_unit(dongyang, {("1.5.1", "c1"): D(80), ("2.1", "c1"): D(100), ("2.2", "c1"): D(100)})
    # 2.1 and 2.2 full (35), everything else untouched; 五城同创 80 → −1
    assert result.sections["1.5"] == D(-1)
    assert result.sections["2"] == D(35)


def test_jiaozuo_2020_refuses_to_score_without_allocation(rubrics):
    # seed 003 附件2: the 考评要点 carry no points
    rubric = rubrics["jiaozuo-2020"]
    assert rubric.status == "needs_allocation" and rubric.total is None
    assert len(rubric.items) == 24
    with pytest.raises(NotScorableError, match="没有分值"):
        score_unit(rubric, {})


def test_jiaozuo_2020_example_allocation(rubrics):
    path = resource_path("samples/jiaozuo-2020-allocation.example.json")
    assert json.loads(path.read_text(encoding="utf-8"))["example"] is True
    rubric = load_allocation(path, rubrics)
    assert rubric.total == 100 and rubric.scorable
    first = rubric.items[0]
    result = score_unit(rubric, {(first.id, "d0"): D("1.5")})
    assert result.total == D("98.5")


def test_allocation_that_does_not_add_up(rubrics):
    data = json.loads(resource_path("samples/jiaozuo-2020-allocation.example.json").read_text(encoding="utf-8"))
    data["items"]["1.1"] += 1
    with pytest.raises(RubricError, match=r"部分 1 › points\] 各项目分值之和为 15，与本部分分值 14 不符"):
        apply_allocation(rubrics["jiaozuo-2020"], data)
