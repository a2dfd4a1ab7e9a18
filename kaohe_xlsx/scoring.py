"""The scoring arithmetic: pure Python, exact decimals, no I/O.

Given a rubric and one unit's inputs this module returns item scores, section
subtotals, the bonus total, the total, the grade and the vetoes, and for each
number the rule that produced it. The workbook generator writes formulas that
compute the same numbers and the ingest recomputes every score here, so this
module is the single source of truth.

Inputs are a mapping ``(item_id, rule_id) -> value`` (``UNIT_SCOPE`` as the
item id for rubric-level rules). Values: ``int`` for counts, ``Decimal`` for
amounts and imported scores, ``bool`` for 是/否, ``str`` for a bonus level or
``NOT_PARTICIPATING``; ``None`` or a missing key means nothing was entered,
which scores as 0 / 否 / 无.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TypeVar

from .issues import KaoheError
from .model import (
    NOT_PARTICIPATING,
    UNIT_SCOPE,
    Award,
    Converted,
    CountBonus,
    CountDeduction,
    FixedBonus,
    FixedDeduction,
    Item,
    LevelBonus,
    RangeDeduction,
    Rubric,
    ShortfallDeduction,
    StepDeduction,
    Veto,
    WeightedPart,
    ZeroItem,
    fmt,
)

Value = int | Decimal | bool | str | None
Inputs = Mapping[tuple[str, str], Value]
ZERO = Decimal(0)


class NotScorableError(KaoheError):
    """The rubric has no points yet (Jiaozuo 2020): the office must allocate them first."""

    def __init__(self, rubric: Rubric):
        super().__init__(
            f"规则库 {rubric.id}（{rubric.title}）的考评要点原文没有分值，不能直接打分。"
            f"请用 --allocation 指定分值分配文件（示例见 samples/{rubric.id}-allocation.example.json）。"
        )


@dataclass(frozen=True)
class Line:
    """One number and the rule that produced it."""

    rule_id: str
    amount: Decimal
    text: str


@dataclass(frozen=True)
class ItemScore:
    item_id: str
    score: Decimal
    bonus: Decimal
    lines: tuple[Line, ...]
    zeroed: bool = False
    used_average: bool = False

    @property
    def deduction(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount < 0), ZERO)


@dataclass(frozen=True)
class UnitScore:
    items: dict[str, ItemScore]
    sections: dict[str, Decimal]
    bonus_total: Decimal
    workbook_total: Decimal
    components: dict[str, Decimal | None]
    total: Decimal | None
    grade: str
    excellence_eligible: bool
    vetoes: tuple[str, ...] = field(default=())


def quantize(value: Decimal, decimals: int) -> Decimal:
    """Round half away from zero to ``decimals`` places, as the spreadsheet's ROUND does."""
    exponent = Decimal(1).scaleb(-decimals)
    return (
        value.quantize(exponent, rounding=ROUND_HALF_UP)
        if value >= 0
        else -(-value).quantize(exponent, rounding=ROUND_HALF_UP)
    )


def _decimal(value: Value) -> Decimal:
    if value is None or isinstance(value, (bool, str)):
        return ZERO
    return Decimal(value)


def _flag(value: Value) -> bool:
    return value is True


def deduction_amount(
    rule: CountDeduction | ShortfallDeduction | StepDeduction | FixedDeduction | RangeDeduction, value: Value
) -> Decimal:
    """What one deduction rule takes off for one input (before the item's floor at zero)."""
    if isinstance(rule, CountDeduction):
        amount = _decimal(value) * rule.per
        return min(amount, rule.cap) if rule.cap is not None else amount
    if isinstance(rule, ShortfallDeduction):
        if value is None:
            return ZERO
        return max(ZERO, rule.target - _decimal(value)) * rule.per
    if isinstance(rule, StepDeduction):
        if value is None:
            return ZERO
        gap = rule.threshold - _decimal(value) if rule.direction == "below" else _decimal(value) - rule.threshold
        steps = (max(ZERO, gap) / rule.step).to_integral_value(rounding=ROUND_FLOOR)
        return steps * rule.per
    if isinstance(rule, FixedDeduction):
        return rule.amount if _flag(value) else ZERO
    return _decimal(value)


def bonus_amount(rule: FixedBonus | LevelBonus | CountBonus, value: Value) -> Decimal:
    """What one bonus rule adds for one input."""
    if isinstance(rule, FixedBonus):
        return rule.amount if _flag(value) else ZERO
    if isinstance(rule, LevelBonus):
        return rule.points_for(value) if isinstance(value, str) else ZERO
    amount = _decimal(value) * rule.per
    return min(amount, rule.cap) if rule.cap is not None else amount


def converted_score(item: Item, rule: Converted, value: Decimal, decimals: int) -> Decimal:
    """折算: scale another assessment's score to this item (a penalty item scales the shortfall)."""
    if item.kind == "penalty":
        assert item.penalty_max is not None
        return -quantize(item.penalty_max * (rule.source_max - value) / rule.source_max, decimals)
    return quantize(item.max_points * value / rule.source_max, decimals)


def score_item(item: Item, inputs: Inputs, decimals: int = 2, average: Decimal | None = None) -> ItemScore:
    """Score one item. ``average`` is what a non-participant gets on a 折算 item."""
    lines: list[Line] = []
    deductions = ZERO
    bonus = ZERO
    zeroed = False
    award_groups: dict[str, Decimal] = {}
    converted: Decimal | None = None
    used_average = False
    weighted = ZERO
    for rule in item.rules:
        value = inputs.get((item.id, rule.id))
        if rule.is_deduction:
            amount = deduction_amount(rule, value)  # type: ignore[arg-type]
            if amount:
                deductions += amount
                lines.append(Line(rule.id, -amount, f"{rule.label}：扣 {fmt(amount)} 分"))
        elif rule.is_bonus:
            amount = bonus_amount(rule, value)  # type: ignore[arg-type]
            if amount:
                bonus += amount
                lines.append(Line(rule.id, amount, f"{rule.label}：加 {fmt(amount)} 分"))
        elif isinstance(rule, ZeroItem):
            zeroed = zeroed or _flag(value)
        elif isinstance(rule, Award):
            if _flag(value):
                award_groups[rule.group] = award_groups.get(rule.group, ZERO) + rule.amount
                lines.append(Line(rule.id, rule.amount, f"{rule.label}：得 {fmt(rule.amount)} 分"))
        elif isinstance(rule, Converted):
            if value is None:  # nothing imported yet: neither points nor penalty
                continue
            if value == NOT_PARTICIPATING and rule.average_for_non_participants:
                used_average = True
                converted = average if average is not None else ZERO
            else:
                converted = converted_score(item, rule, _decimal(value), decimals)
            lines.append(
                Line(
                    rule.id,
                    converted,
                    f"{rule.label}：{'不参加，取平均分' if used_average else '折算'} {fmt(converted)} 分",
                )
            )
        elif isinstance(rule, WeightedPart):
            weighted += rule.weight * _decimal(value)

    if item.kind == "penalty":
        if converted is not None:
            score = converted
        else:
            assert item.penalty_max is not None
            score = -min(deductions, item.penalty_max)
    elif item.kind == "convert":
        score = converted if converted is not None else ZERO
    elif item.kind == "weighted":
        score = quantize(weighted, decimals)
    elif item.kind == "earn":
        earned = max(award_groups.values(), default=ZERO)
        score = max(ZERO, min(item.max_points, earned) - deductions)
    else:
        score = max(ZERO, item.max_points - deductions)

    if zeroed:
        zero_rule = next(r for r in item.rules if isinstance(r, ZeroItem))
        lines.append(Line(zero_rule.id, -score, f"{zero_rule.label}：此项不得分"))
        score = ZERO
        if not zero_rule.bonus_survives:
            bonus = ZERO
    return ItemScore(item.id, score, bonus, tuple(lines), zeroed, used_average)


def _vetoes(rubric: Rubric, inputs: Inputs) -> list[Veto]:
    scoped = [(UNIT_SCOPE, rule) for rule in rubric.unit_rules]
    scoped += [(item.id, rule) for item in rubric.items for rule in item.rules if isinstance(rule, Veto)]
    return [rule for scope, rule in scoped if _flag(inputs.get((scope, rule.id)))]


def grade_for(rubric: Rubric, total: Decimal | None, vetoes: Sequence[Veto]) -> tuple[str, bool]:
    """The grade for a total after vetoes, and whether the unit may be commended (评先)."""
    eligible = not vetoes
    grades = [band.grade for band in rubric.grade_bands]
    forced = [v.grade for v in vetoes if v.effect == "force_grade"]
    if forced:
        return max(forced, key=grades.index), False
    if total is None or not grades:
        return "", eligible
    grade = next((band.grade for band in rubric.grade_bands if total >= band.minimum), grades[-1])
    if grade == rubric.excellence_grade and any(v.effect == "no_excellence" for v in vetoes):
        grade = grades[grades.index(grade) + 1]
    return grade, eligible


def score_unit(
    rubric: Rubric,
    inputs: Inputs,
    imported: Mapping[str, Decimal | None] | None = None,
    averages: Mapping[str, Decimal] | None = None,
) -> UnitScore:
    """Score one unit.

    ``imported`` holds the imported components' scores by component id (Luoyang 网上考核);
    ``averages`` the average item score of participants, by item id, for non-participants.
    """
    if not rubric.scorable:
        raise NotScorableError(rubric)
    averages = averages or {}
    items: dict[str, ItemScore] = {}
    sections: dict[str, Decimal] = {}
    for section in rubric.sections:
        subtotal = ZERO
        for item in section.items:
            result = score_item(item, inputs, rubric.decimals, averages.get(item.id))
            items[item.id] = result
            subtotal += result.score
        sections[section.id] = subtotal
    bonus_total = sum((result.bonus for result in items.values()), ZERO)
    workbook_total = sum(sections.values(), ZERO) + bonus_total
    components: dict[str, Decimal | None] = {}
    total: Decimal | None = workbook_total
    if rubric.components:
        total = ZERO
        for component in rubric.components:
            value = workbook_total if component.source == "workbook" else (imported or {}).get(component.id)
            components[component.id] = value
            total = None if value is None or total is None else total + component.weight * value
        total = None if total is None else quantize(total, rubric.decimals)
    vetoes = _vetoes(rubric, inputs)
    grade, eligible = grade_for(rubric, total, vetoes)
    return UnitScore(
        items=items,
        sections=sections,
        bonus_total=bonus_total,
        workbook_total=workbook_total,
        components=components,
        total=total,
        grade=grade,
        excellence_eligible=eligible,
        vetoes=tuple(v.label for v in vetoes),
    )


def participant_averages(rubric: Rubric, units: Mapping[str, Inputs]) -> dict[str, Decimal]:
    """ "不参加的部门单位得参加部门单位考核得分的平均分": the participants' average, by item."""
    averages: dict[str, Decimal] = {}
    for item in rubric.items:
        rule = next((r for r in item.rules if isinstance(r, Converted) and r.average_for_non_participants), None)
        if rule is None:
            continue
        scores = [
            converted_score(item, rule, _decimal(inputs.get((item.id, rule.id))), rubric.decimals)
            for inputs in units.values()
            if inputs.get((item.id, rule.id)) not in (None, NOT_PARTICIPATING)
        ]
        if scores:
            averages[item.id] = quantize(sum(scores, ZERO) / len(scores), rubric.decimals)
    return averages


def score_campaign(
    rubric: Rubric,
    units: Mapping[str, Inputs],
    imported: Mapping[str, Mapping[str, Decimal | None]] | None = None,
) -> dict[str, UnitScore]:
    """Score every unit, giving non-participants the participants' average where the rubric says so."""
    averages = participant_averages(rubric, units)
    imported = imported or {}
    return {unit: score_unit(rubric, inputs, imported.get(unit), averages) for unit, inputs in units.items()}


K = TypeVar("K", bound=Hashable)


def competition_rank(keys: Mapping[K, Sequence[Decimal]]) -> dict[K, int]:
    """Standard competition ranking, highest first: equal keys share a rank (1, 2, 2, 4).

    Each key is (total, tie-breaker, ...): later entries only separate equal totals.
    """
    ordered = sorted(keys.values(), key=tuple, reverse=True)
    first_position: dict[tuple[Decimal, ...], int] = {}
    for position, key in enumerate(ordered, start=1):
        first_position.setdefault(tuple(key), position)
    return {unit: first_position[tuple(key)] for unit, key in keys.items()}
