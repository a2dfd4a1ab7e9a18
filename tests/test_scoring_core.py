"""The engine's own arithmetic: exact decimals, rounding, ranking."""

from __future__ import annotations

from decimal import Decimal as D

from kaohe_xlsx.scoring import competition_rank, quantize


def test_decimal_arithmetic_is_exact():
    # Rules use 0.1-point steps: 0.1 + 0.2 must be 0.3, not 0.30000000000000004
    assert D("0.1") + D("0.2") == D("0.3")
    assert quantize(D("0.1") + D("0.2"), 2) == D("0.30")


def test_quantize_rounds_half_away_from_zero_like_excel():
    assert quantize(D("88.875"), 2) == D("88.88")
    assert quantize(D("2.345"), 2) == D("2.35")
    assert quantize(D("-2.345"), 2) == D("-2.35")
    assert quantize(D("1.075"), 2) == D("1.08")


def test_competition_ranking_shares_ranks():
    # DOMAIN rule 15: "依据量化分数进行综合排名" with equal totals sharing a rank: 1, 2, 2, 4
    ranks = competition_rank({"甲": [D(98)], "乙": [D("95.5")], "丙": [D("95.5")], "丁": [D(90)]})
    assert ranks == {"甲": 1, "乙": 2, "丙": 2, "丁": 4}


def test_tie_breakers_separate_equal_totals_only():
    ranks = competition_rank(
        {"甲": [D(95), D(20)], "乙": [D(95), D(25)], "丙": [D(96), D(0)], "丁": [D(95), D(25)]}
    )
    assert ranks == {"丙": 1, "乙": 2, "丁": 2, "甲": 4}
