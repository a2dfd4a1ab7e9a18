"""Wenzhou (seed 001) and Luoyang 2016 (seed 002): rules scored by hand from the seeds' words."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kaohe_xlsx.model import UNIT_SCOPE
from kaohe_xlsx.rubrics import load_rubrics
from kaohe_xlsx.scoring import score_item, score_unit


@pytest.fixture(scope="module")
def wenzhou():
    return load_rubrics()["wenzhou"]


@pytest.fixture(scope="module")
def luoyang():
    return load_rubrics()["luoyang-2016"]


def item_score(rubric, item_id, **values):
    return score_item(rubric.item(item_id), {(item_id, rule): value for rule, value in values.items()}).score


# --- Wenzhou -------------------------------------------------------------------------------


def test_wenzhou_shortfall_against_a_target(wenzhou):
    # seed 001 一1 (5分): "中心组全年集中学习不少于6次,12天,缺一次扣2分,缺一天扣2分"
    # 5 sessions over 12 days: one session short, −2
    assert item_score(wenzhou, "1.1", d3=5, d4=12) == D(3)
    # more sessions than required deducts nothing
    assert item_score(wenzhou, "1.1", d3=8, d4=14) == D(5)


def test_wenzhou_deductions_beyond_the_item_floor_at_zero(wenzhou):
    # seed 001 一1: 4 sessions (−4) and "年终无总结,扣2分" (−2): 5 − 6 floors at 0
    assert item_score(wenzhou, "1.1", d3=4, d2=True) == D(0)


def test_wenzhou_per_case_deductions(wenzhou):
    # seed 001 三5 (10分): "被查一例扣3分,自查一例扣1分" — one case found, two self-reported: −5
    assert item_score(wenzhou, "3.5", d3=1, d4=2) == D(5)


def test_wenzhou_self_assessment_column_is_recorded_not_scored(wenzhou):
    # seed 001 columns: "自查分 | 扣分 | 得分" — the unit's own score stands beside the assessors'
    assert wenzhou.self_assessment is True
    assert "自查分" in wenzhou.columns
    plain = score_unit(wenzhou, {("1.1", "d1"): True})
    with_self = score_unit(wenzhou, {("1.1", "d1"): True, ("1.1", "self"): D(5)})
    assert plain.total == with_self.total == D(98)


def test_wenzhou_text_is_clean_simplified_chinese(wenzhou):
    # seed 001 is Traditional with debris such as "發(fā)生"; the rubric stores "发生"
    text = " ".join(f"{i.text}{i.scoring_text}{i.method_text}" for i in wenzhou.items)
    assert "发生" in text
    for debris in ("(fā)", "發", "黨", "組", "會", "學", "?"):
        assert debris not in text


# --- Luoyang -------------------------------------------------------------------------------


def test_luoyang_ranged_deduction(luoyang):
    # seed 002 三2 (5分): "无工作计划总结扣1—3分" — the inspector deducts 2.5
    assert item_score(luoyang, "3.2", d1=D("2.5")) == D("2.5")


def test_luoyang_fixed_plus_per_year(luoyang):
    # seed 002 二2 (3分): "班子不健全扣2分；超届1年以上每1年扣1分" — DOMAIN's worked example
    assert item_score(luoyang, "2.2", d1=True) == D(1)
    assert item_score(luoyang, "2.2", d2=1) == D(2)
    assert item_score(luoyang, "2.2", d1=True, d2=2) == D(0)


def test_luoyang_zeroing(luoyang):
    # seed 002 二4 (3分): "发展党员质量有问题无分"
    assert item_score(luoyang, "2.4", z1=True) == D(0)
    assert item_score(luoyang, "2.4", d1=True) == D(2)


def test_luoyang_half_point_per_occurrence(luoyang):
    # seed 002 五2 (5分): "学习少1次扣0.5分；无学习笔记扣1分" — 3 missed and no notes: −2.5
    (d_missed, d_notes) = luoyang.item("5.2").rules
    assert item_score(luoyang, "5.2", **{d_missed.id: 3, d_notes.id: True}) == D("2.5")


def test_luoyang_components_and_grade_bands(luoyang):
    # seed 002: "网上考核与年终分组考评各占50%"; "90分以上的可评选为先进党组织，60至89分的为达标党组织"
    result = score_unit(luoyang, {("3.2", "d1"): D(3)}, imported={"online": D(90)})
    assert result.workbook_total == D(97)
    assert result.total == D("93.5")
    assert result.grade == "先进"
    result = score_unit(luoyang, {("3.2", "d1"): D(3)}, imported={"online": D(80)})
    assert (result.total, result.grade) == (D("88.5"), "达标")
    result = score_unit(luoyang, {}, imported={"online": D(19)})
    assert (result.total, result.grade) == (D("59.5"), "未达标")


def test_luoyang_total_waits_for_the_imported_half(luoyang):
    result = score_unit(luoyang, {})
    assert result.workbook_total == D(100)
    assert result.total is None
    assert result.grade == ""


def test_luoyang_veto_forces_grade(luoyang):
    # seed 002 四(三)1: "出现严重违纪和重大责任事故且影响恶劣的单位，为未达标党组织"
    result = score_unit(luoyang, {(UNIT_SCOPE, "v1"): True}, imported={"online": D(95)})
    assert (result.total, result.grade, result.excellence_eligible) == (D("97.5"), "未达标", False)


def test_luoyang_veto_caps_grade_below_excellence(luoyang):
    # seed 002 四(三)2: "党费没有按时、足额缴纳的，不得评为先进党组织" — 95 points, still only 达标
    result = score_unit(luoyang, {(UNIT_SCOPE, "v3"): True}, imported={"online": D(90)})
    assert (result.total, result.grade) == (D(95), "达标")
