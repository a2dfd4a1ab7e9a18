"""The rubric as frozen dataclasses: rubric, sections, items and scoring rules.

Nothing here reads files or computes scores; ``rubrics.py`` builds these
objects from ``rubrics.json`` and ``scoring.py`` does the arithmetic.

Every rule that needs a value from the inspector (or from an imported table)
describes that value with an :class:`InputSpec`, so the workbook generator can
write data validation and the ingest can check what comes back, from one
definition.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Literal

YES = "是"
NO = "否"
NONE_CHOICE = "无"
NOT_PARTICIPATING = "不参加"

# The key under which rubric-level rules (vetoes that belong to no item) are stored.
UNIT_SCOPE = "unit"

InputKind = Literal["count", "number", "flag", "choice"]
ItemKind = Literal["deduct", "earn", "convert", "weighted", "penalty"]
VetoEffect = Literal["no_excellence", "force_grade"]


@dataclass(frozen=True)
class InputSpec:
    """What one input cell accepts."""

    kind: InputKind
    minimum: Decimal = Decimal(0)
    maximum: Decimal = Decimal(0)
    step: Decimal = Decimal(1)
    choices: tuple[str, ...] = ()
    allow_not_participating: bool = False
    nonzero_minimum: Decimal = Decimal(0)

    def describe(self) -> str:
        """The accepted values in the words of the input message."""
        if self.kind == "flag":
            return f"请选择“{YES}”或“{NO}”"
        if self.kind == "choice":
            return "请选择：" + "、".join(self.choices)
        if self.kind == "count":
            text = f"请填写 {fmt(self.minimum)}–{fmt(self.maximum)} 之间的整数"
        elif self.nonzero_minimum:
            text = f"请填写 0 或 {fmt(self.nonzero_minimum)}–{fmt(self.maximum)} 之间的数，最小单位 {fmt(self.step)}"
        else:
            text = f"请填写 {fmt(self.minimum)}–{fmt(self.maximum)} 之间的数，最小单位 {fmt(self.step)}"
        if self.allow_not_participating:
            text += f"；不参加的填“{NOT_PARTICIPATING}”"
        return text


def fmt(value: Decimal | int | None) -> str:
    """A number as people write it: 3, 0.5, 12.25 (no trailing zeros, no exponent)."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(frozen=True)
class Rule(ABC):
    """Common part of every rule: a stable id, the seed words it encodes, a note."""

    id: str
    label: str
    note: str = ""

    kind = "rule"
    is_deduction = False
    is_bonus = False

    @abstractmethod
    def input_spec(self, item_points: Decimal) -> InputSpec:
        """The value this rule asks for."""

    @abstractmethod
    def summary(self) -> str:
        """How the rule scores, in one Chinese phrase (CLI tables, workbook input messages)."""


@dataclass(frozen=True)
class CountDeduction(Rule):
    """ "少一项扣1分": count × per, capped at ``cap`` when the seed caps it."""

    per: Decimal = Decimal(1)
    max_count: int = 0
    cap: Decimal | None = None

    kind = "count_deduction"
    is_deduction = True

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("count", Decimal(0), Decimal(self.max_count))

    def summary(self) -> str:
        text = f"每次扣 {fmt(self.per)} 分，最多填 {self.max_count} 次"
        return text + (f"，累计不超过 {fmt(self.cap)} 分" if self.cap is not None else "")


@dataclass(frozen=True)
class ShortfallDeduction(Rule):
    """ "不少于6次，缺一次扣2分": record the actual number, the shortfall is deducted."""

    target: int = 0
    per: Decimal = Decimal(1)
    max_value: int = 0

    kind = "shortfall_deduction"
    is_deduction = True

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("count", Decimal(0), Decimal(self.max_value))

    def summary(self) -> str:
        return f"填实际数：应不少于 {self.target}，每少 1 扣 {fmt(self.per)} 分"


@dataclass(frozen=True)
class StepDeduction(Rule):
    """ "低于90%的，每少10个百分点扣1分": full steps beyond a threshold, ``per`` each.

    ``direction`` "below" counts steps under the threshold, "above" steps over it.
    """

    threshold: Decimal = Decimal(0)
    step: Decimal = Decimal(1)
    per: Decimal = Decimal(1)
    direction: Literal["below", "above"] = "below"
    minimum: Decimal = Decimal(0)
    maximum: Decimal = Decimal(100)
    input_step: Decimal = Decimal("0.1")

    kind = "step_deduction"
    is_deduction = True

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("number", self.minimum, self.maximum, self.input_step)

    def summary(self) -> str:
        side = "低于" if self.direction == "below" else "超过"
        return f"填实际数：{side} {fmt(self.threshold)} 的部分每满 {fmt(self.step)} 扣 {fmt(self.per)} 分"


@dataclass(frozen=True)
class FixedDeduction(Rule):
    """ "分工不清、职责不明扣2分": 是 deducts ``amount``."""

    amount: Decimal = Decimal(0)

    kind = "fixed_deduction"
    is_deduction = True

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("flag", choices=(YES, NO))

    def summary(self) -> str:
        return f"选“{YES}”扣 {fmt(self.amount)} 分"


@dataclass(frozen=True)
class RangeDeduction(Rule):
    """ "扣1—3分" or "酌情扣分": an amount of 0 or within [minimum, maximum] on ``step``.

    A discretionary deduction ("酌情扣分") has ``minimum`` 0 and ``maximum`` the item's points.
    """

    minimum: Decimal = Decimal(0)
    maximum: Decimal = Decimal(0)
    step: Decimal = Decimal("0.5")

    kind = "range_deduction"
    is_deduction = True

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("number", Decimal(0), self.maximum, self.step, nonzero_minimum=self.minimum)

    def summary(self) -> str:
        if self.minimum == 0:
            return f"酌情扣 0–{fmt(self.maximum)} 分，最小单位 {fmt(self.step)}"
        return f"不扣填 0，扣分填 {fmt(self.minimum)}–{fmt(self.maximum)}，最小单位 {fmt(self.step)}"


@dataclass(frozen=True)
class ZeroItem(Rule):
    """ "此项不得分": 是 sets the item to 0; its bonuses go too unless ``bonus_survives``."""

    bonus_survives: bool = False

    kind = "zero_item"

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("flag", choices=(YES, NO))

    def summary(self) -> str:
        return f"选“{YES}”此项不得分" + ("（加分照计）" if self.bonus_survives else "（加分一并取消）")


@dataclass(frozen=True)
class FixedBonus(Rule):
    """ "论文被省里表彰的加2分": 是 adds ``amount`` beyond the item maximum."""

    amount: Decimal = Decimal(0)

    kind = "fixed_bonus"
    is_bonus = True

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("flag", choices=(YES, NO))

    def summary(self) -> str:
        return f"选“{YES}”加 {fmt(self.amount)} 分"


@dataclass(frozen=True)
class Level:
    label: str
    points: Decimal


@dataclass(frozen=True)
class LevelBonus(Rule):
    """ "国家级加5分，省、市、工委分别加3、2、1分": one choice, the highest level only."""

    levels: tuple[Level, ...] = ()

    kind = "level_bonus"
    is_bonus = True

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("choice", choices=(NONE_CHOICE, *(level.label for level in self.levels)))

    def points_for(self, choice: str) -> Decimal:
        for level in self.levels:
            if level.label == choice:
                return level.points
        return Decimal(0)

    def summary(self) -> str:
        levels = "、".join(f"{level.label} {fmt(level.points)} 分" for level in self.levels)
        return f"选最高一级：{levels}"


@dataclass(frozen=True)
class CountBonus(Rule):
    """ "每条加0.5分，累计不超过3分": count × per, capped at ``cap``."""

    per: Decimal = Decimal(1)
    max_count: int = 0
    cap: Decimal | None = None

    kind = "count_bonus"
    is_bonus = True

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("count", Decimal(0), Decimal(self.max_count))

    def summary(self) -> str:
        text = f"每项加 {fmt(self.per)} 分，最多填 {self.max_count} 项"
        return text + (f"，累计不超过 {fmt(self.cap)} 分" if self.cap is not None else "")


@dataclass(frozen=True)
class Award(Rule):
    """ "按时完成……的得0.5分": 是 earns ``amount`` on an item scored upwards from 0.

    Awards of one ``group`` exclude the other groups' (成员单位 / 非成员单位).
    """

    amount: Decimal = Decimal(0)
    group: str = ""

    kind = "award"

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("flag", choices=(YES, NO))

    def summary(self) -> str:
        group = f"（{self.group}）" if self.group else ""
        return f"达到选“{YES}”，得 {fmt(self.amount)} 分{group}"


@dataclass(frozen=True)
class Veto(Rule):
    """ "出现违法案件的取消当年评先资格": 是 leaves the score but limits the grade.

    ``no_excellence`` bars the top grade and commendation; ``force_grade`` sets ``grade``.
    """

    effect: VetoEffect = "no_excellence"
    grade: str = ""

    kind = "veto"

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("flag", choices=(YES, NO))

    def summary(self) -> str:
        if self.effect == "force_grade":
            return f"选“{YES}”定为{self.grade}（分数照计）"
        return f"选“{YES}”取消评先资格（分数照计）"


@dataclass(frozen=True)
class Converted(Rule):
    """ "按工业竞赛活动考核得分折算": another assessment's score scaled to this item.

    On a penalty item the shortfall is scaled: penalty = max × (1 − score / source_max).
    ``average_for_non_participants``: "不参加的部门单位得参加部门单位考核得分的平均分".
    """

    source: str = ""
    source_max: Decimal = Decimal(100)
    average_for_non_participants: bool = False

    kind = "converted"

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec(
            "number",
            Decimal(0),
            self.source_max,
            Decimal("0.01"),
            allow_not_participating=self.average_for_non_participants,
        )

    def summary(self) -> str:
        text = f"填“{self.source}”得分（满分 {fmt(self.source_max)}），按比例折算"
        return text + (
            f"；不参加的填“{NOT_PARTICIPATING}”，得参加单位的平均分" if self.average_for_non_participants else ""
        )


@dataclass(frozen=True)
class WeightedPart(Rule):
    """ "半年进行一次初评,分值占年度的1/4": one part of a weighted item, on the item's scale."""

    weight: Decimal = Decimal(1)

    kind = "weighted_part"

    def input_spec(self, item_points: Decimal) -> InputSpec:
        return InputSpec("number", Decimal(0), item_points, Decimal("0.01"))

    def summary(self) -> str:
        return f"按本项分值填写，占本项的 {fmt(self.weight * 100)}%"


AnyRule = (
    CountDeduction
    | ShortfallDeduction
    | StepDeduction
    | FixedDeduction
    | RangeDeduction
    | ZeroItem
    | FixedBonus
    | LevelBonus
    | CountBonus
    | Award
    | Veto
    | Converted
    | WeightedPart
)

RULE_TYPES: dict[str, type[Rule]] = {
    cls.kind: cls
    for cls in (
        CountDeduction,
        ShortfallDeduction,
        StepDeduction,
        FixedDeduction,
        RangeDeduction,
        ZeroItem,
        FixedBonus,
        LevelBonus,
        CountBonus,
        Award,
        Veto,
        Converted,
        WeightedPart,
    )
}


@dataclass(frozen=True)
class Item:
    """One line of the rubric: its seed text, its points and its rules.

    ``points`` is None where the seed gives none (the office allocates them).
    ``kind``: "deduct" (points minus deductions, floored at 0), "earn" (sum of awards),
    "convert" (scaled from another assessment), "weighted" (weighted parts),
    "penalty" (倒扣分: no base points, up to ``penalty_max`` taken off the total).
    """

    id: str
    title: str
    text: str
    points: Decimal | None
    rules: tuple[AnyRule, ...] = ()
    kind: ItemKind = "deduct"
    penalty_max: Decimal | None = None
    scoring_text: str = ""
    method_text: str = ""
    assessor: str = ""
    notes: tuple[str, ...] = ()

    @property
    def needs_reason(self) -> bool:
        """Whether a deduction, zeroing or bonus here must be explained (扣分、加分说明);
        a score converted from another assessment needs none."""
        return any(rule.is_deduction or rule.is_bonus or isinstance(rule, ZeroItem) for rule in self.rules)

    @property
    def max_points(self) -> Decimal:
        """The most the item can contribute before bonuses (0 for a penalty item)."""
        return self.points or Decimal(0)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    points: Decimal | None
    items: tuple[Item, ...]
    group: str = ""
    assessor: str = ""
    penalty_max: Decimal | None = None


@dataclass(frozen=True)
class GradeBand:
    """Totals at or above ``minimum`` get ``grade`` (bands are checked from the top)."""

    minimum: Decimal
    grade: str


@dataclass(frozen=True)
class Component:
    """A weighted part of the final score: the inspectors' workbook or an imported table."""

    id: str
    title: str
    weight: Decimal
    source: Literal["workbook", "import"]


@dataclass(frozen=True)
class Rubric:
    id: str
    title: str
    source: str
    issuer: str
    year: int | None
    total: Decimal | None
    sections: tuple[Section, ...]
    version: str = "1"
    columns: tuple[str, ...] = ()
    status: Literal["complete", "partial", "needs_allocation"] = "complete"
    split: Literal["group", "assessor"] = "group"
    self_assessment: bool = False
    grade_bands: tuple[GradeBand, ...] = ()
    excellence_grade: str = ""
    unit_rules: tuple[Veto, ...] = ()
    components: tuple[Component, ...] = ()
    decimals: int = 2
    notes: tuple[str, ...] = ()
    allocation: str = ""

    @cached_property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    @cached_property
    def _items_by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    def section(self, section_id: str) -> Section:
        return next(section for section in self.sections if section.id == section_id)

    def item(self, item_id: str) -> Item:
        return self._items_by_id[item_id]

    @property
    def scorable(self) -> bool:
        """False while the office has not allocated points (Jiaozuo 2020)."""
        return self.status != "needs_allocation"
