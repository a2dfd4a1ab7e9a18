"""Jiaozuo 2016 (seed 000): every rule kind it uses, scored by hand from the seed's words."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kaohe_xlsx.rubrics import load_rubrics
from kaohe_xlsx.scoring import score_item, score_unit


@pytest.fixture(scope="module")
def rubric():
    return load_rubrics()["jiaozuo-2016"]


def item_score(rubric, item_id, **values):
    """Score one item with inputs given as rule_id=value."""
    result = score_item(rubric.item(item_id), {(item_id, rule): value for rule, value in values.items()})
    return result.score, result.bonus


def test_untouched_unit_scores_full_marks(rubric):
    result = score_unit(rubric, {})
    assert result.total == D(100)
    assert result.sections == {"1": 25, "2": 20, "3": 15, "4": 15, "5": 10, "6": 15}
    assert result.bonus_total == 0


def test_per_occurrence_deduction(rubric):
    # seed 000 (一)2, 分值4分: "会议记录每缺少一个季度扣1分" — three quarters missing: 4 − 3 = 1
    assert item_score(rubric, "1.2", d1=3) == (D(1), D(0))


def test_per_occurrence_deduction_of_two_points(rubric):
    # seed 000 (一)5, 分值8分: "未按要求完成任务的每项扣2分" — two tasks: 8 − 2×2 = 4
    assert item_score(rubric, "1.5", d1=2) == (D(4), D(0))


def test_deductions_floor_at_zero(rubric):
    # seed 000 (六)2, 分值4分: "被通报批评的1次扣2分" — twice is 4; the item cannot go below 0
    assert item_score(rubric, "6.2", d1=2) == (D(0), D(0))
    # seed 000 (一)1, 分值5分: "少一项内容扣1分" — all five contents missing
    assert item_score(rubric, "1.1", d1=5) == (D(0), D(0))


def test_fixed_deduction(rubric):
    # seed 000 (一)3, 分值4分: "分工不清、职责不明扣2分"
    assert item_score(rubric, "1.3", d1=True) == (D(2), D(0))
    assert item_score(rubric, "1.3", d1=False) == (D(4), D(0))


def test_step_deduction_below_threshold(rubric):
    # seed 000 (五)1, 分值2分: "优称率低于90%的，每少10个百分点扣1分，直至扣完"
    assert item_score(rubric, "5.1", d1=D(95)) == (D(2), D(0))
    assert item_score(rubric, "5.1", d1=D(85)) == (D(2), D(0))  # not a full 10 points below
    assert item_score(rubric, "5.1", d1=D(80)) == (D(1), D(0))
    assert item_score(rubric, "5.1", d1=D("69.9")) == (D(0), D(0))  # 20.1 below: 2 steps
    assert item_score(rubric, "5.1", d1=D(40)) == (D(0), D(0))  # 直至扣完


def test_discretionary_deduction(rubric):
    # seed 000 (六)4, 分值2分: "党务政务公开不正常的酌情扣分" — inspector deducts 1.5
    assert item_score(rubric, "6.4", d1=D("1.5")) == (D("0.5"), D(0))


def test_zeroing(rubric):
    # seed 000 (二)2, 分值4分: "没有参加辩论大赛的此项不得分"
    assert item_score(rubric, "2.2", z1=True) == (D(0), D(0))


def test_zeroing_cancels_its_bonus(rubric):
    # seed 000 (三)4: "未开展此项活动的不得分；…每条加0.5分" — no activity, no adopted suggestions
    assert item_score(rubric, "3.4", z1=True, b1=4) == (D(0), D(0))


def test_zeroing_keeps_unrelated_bonus(rubric):
    # seed 000 (二)4: "没有培训的不得分，论文被省里表彰的加2分" — the paper's bonus stands (noted reading)
    assert item_score(rubric, "2.4", z1=True, b1=True) == (D(0), D(2))


def test_bonus_by_level(rubric):
    # seed 000 (一)1: "单位受国家级表彰的加5分，受省、市、工委表彰的分别加3分、2分、1分"
    assert item_score(rubric, "1.1", b1="国家级") == (D(5), D(5))
    assert item_score(rubric, "1.1", b1="市级") == (D(5), D(2))
    assert item_score(rubric, "1.1", b1="工委", d1=1) == (D(4), D(1))


def test_bonus_highest_tier_only(rubric):
    # seed 000 (二)2: "进入半决赛的加3分，进入决赛的加4分" — a finalist gets 4, not 3 + 4
    assert item_score(rubric, "2.2", b1="进入决赛") == (D(4), D(4))
    assert item_score(rubric, "2.2", b1="进入半决赛") == (D(4), D(3))


def test_bonus_per_achievement_by_highest_level(rubric):
    # seed 000 (三)1: "每项成果分别加1分、2分、3分，同一项成果按最高级别计分"
    # two 市级 achievements and one 国家级: 2×1 + 3 = 5
    assert item_score(rubric, "3.1", b1=2, b3=1) == (D(6), D(5))


def test_capped_bonus(rubric):
    # seed 000 (三)4: "每条加0.5分，累计不超过3分" — 5 suggestions give 2.5, 8 give only 3
    assert item_score(rubric, "3.4", b1=5) == (D(3), D("2.5"))
    assert item_score(rubric, "3.4", b1=8) == (D(3), D(3))


def test_fixed_bonuses_add_up(rubric):
    # seed 000 (一)4: "宣传材料、党建活动信息被工委采用的分别加1分、0.5分"
    assert item_score(rubric, "1.4", b1=True, b2=True) == (D(4), D("1.5"))


def test_bonus_lifts_total_above_100(rubric):
    # seed 000: bonuses are "加分" on top of the item; a commended unit can pass 100
    result = score_unit(rubric, {("1.1", "b1"): "国家级", ("4.1", "b1"): True, ("1.2", "d1"): 1})
    assert result.total == D(100) - 1 + 5 + 2
    assert result.bonus_total == D(7)


def test_veto_keeps_score_but_removes_commendation(rubric):
    # seed 000 (六)1: "出现违法案件的取消当年评先资格"
    result = score_unit(rubric, {("6.1", "v1"): True})
    assert result.total == D(100)
    assert result.excellence_eligible is False
    assert result.vetoes == ("出现违法案件的取消当年评先资格",)
    assert score_unit(rubric, {}).excellence_eligible is True


def test_lines_name_the_rule_behind_each_number(rubric):
    result = score_item(rubric.item("1.1"), {("1.1", "d1"): 2, ("1.1", "b1"): "省级"})
    assert [(line.rule_id, line.amount) for line in result.lines] == [("d1", D(-2)), ("b1", D(3))]


def test_a_whole_unit_by_hand(rubric):
    inputs = {
        ("1.2", "d1"): 1,  # one quarter's minutes missing: −1
        ("2.2", "b1"): "进入半决赛",  # +3 bonus
        ("2.3", "d1"): 2,  # two of four study records missing: −2
        ("3.2", "d1"): True,  # no research material: −2
        ("4.3", "d0"): D("0.5"),  # discretionary −0.5
        ("5.1", "d1"): D(78),  # 12 points below 90: one full step, −1
        ("6.3", "d1"): True,  # −2
    }
    result = score_unit(rubric, inputs)
    assert result.sections == {"1": 24, "2": 18, "3": 13, "4": D("14.5"), "5": 9, "6": 13}
    assert result.bonus_total == 3
    assert result.total == D("94.5")
