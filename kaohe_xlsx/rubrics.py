"""Load ``rubrics.json`` into the model and validate it.

Numbers are read as :class:`~decimal.Decimal` straight from the JSON text, so
0.1 stays 0.1. Every problem is reported with the place it was found, in the
form ``[文件 › 规则库 › 项目 › 规则 › 字段]``, so an office that edits its own
rubric file knows where to look.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from .issues import KaoheError
from .model import (
    NONE_CHOICE,
    RULE_TYPES,
    AnyRule,
    Award,
    Component,
    Converted,
    CountBonus,
    CountDeduction,
    GradeBand,
    Item,
    LevelBonus,
    RangeDeduction,
    Rubric,
    Section,
    ShortfallDeduction,
    StepDeduction,
    Veto,
    WeightedPart,
    fmt,
)
from .resources import resource_path

FORMAT_VERSION = 1
RUBRIC_STATUS = ("complete", "partial", "needs_allocation")
ITEM_KINDS = ("deduct", "earn", "convert", "weighted", "penalty")
DEFAULT_MAX_COUNT = 10


class RubricError(KaoheError):
    """A rubric file that cannot be used; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("规则库文件有误：\n" + "\n".join(problems))


class _Place:
    """Where we are in the file, for messages: 文件 › 规则库 › 项目 › 规则 › 字段."""

    def __init__(self, parts: tuple[str, ...], problems: list[str]):
        self.parts = parts
        self.problems = problems

    def at(self, part: str) -> _Place:
        return _Place((*self.parts, part), self.problems)

    def fail(self, message: str) -> None:
        self.problems.append(f"[{' › '.join(self.parts)}] {message}")


def default_rubrics_path() -> Path:
    return resource_path("rubrics.json")


def load_rubrics(path: Path | None = None) -> dict[str, Rubric]:
    """Read and validate a rubric file; raise :class:`RubricError` listing every problem."""
    path = path or default_rubrics_path()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise KaoheError(f"无法读取规则库文件 {path}：{exc.strerror or exc}") from exc
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise RubricError([f"[{path.name}] 不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列，{exc.msg}"]) from exc
    return parse_rubrics(data, path.name)


def parse_rubrics(data: Any, file_name: str = "rubrics.json") -> dict[str, Rubric]:
    problems: list[str] = []
    place = _Place((file_name,), problems)
    if not isinstance(data, dict) or not isinstance(data.get("rubrics"), list):
        place.fail("顶层应为对象，并含有 rubrics 列表")
        raise RubricError(problems)
    if data.get("format") != FORMAT_VERSION:
        place.at("format").fail(f"格式版本应为 {FORMAT_VERSION}，实际为 {data.get('format')!r}")
    rubrics: dict[str, Rubric] = {}
    for index, raw in enumerate(data["rubrics"]):
        rubric_id = raw.get("id") if isinstance(raw, dict) else None
        here = place.at(f"规则库 {rubric_id or index + 1}")
        rubric = _parse_rubric(raw, here)
        if rubric is None:
            continue
        if rubric.id in rubrics:
            here.at("id").fail(f"规则库编号 {rubric.id} 重复")
            continue
        validate_rubric(rubric, here)
        rubrics[rubric.id] = rubric
    if problems:
        raise RubricError(problems)
    return rubrics


# --- building objects -------------------------------------------------------------------


def _number(value: Any, place: _Place, *, integer: bool = False) -> Decimal | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        place.fail(f"应为数字，实际为 {value!r}")
        return None
    if integer:
        if isinstance(value, Decimal) and value != value.to_integral_value():
            place.fail(f"应为整数，实际为 {fmt(value)}")
            return None
        return int(value)
    return Decimal(value)


def _convert(value: Any, annotation: Any, place: _Place) -> Any:
    """Turn one JSON value into the type a dataclass field declares."""
    args = typing.get_args(annotation)
    if type(None) in args:
        if value is None:
            return None
        annotation = next(arg for arg in args if arg is not type(None))
    if value is None:
        place.fail("不能为空")
        return None
    origin = typing.get_origin(annotation)
    if annotation is Decimal:
        return _number(value, place)
    if annotation is int:
        return _number(value, place, integer=True)
    if annotation is bool:
        if not isinstance(value, bool):
            place.fail(f"应为 true 或 false，实际为 {value!r}")
        return value
    if annotation is str or origin is Literal:
        if not isinstance(value, str):
            place.fail(f"应为文字，实际为 {value!r}")
            return ""
        if origin is Literal and value not in typing.get_args(annotation):
            place.fail(f"应为 {'、'.join(typing.get_args(annotation))} 之一，实际为 {value!r}")
        return value
    if origin is tuple:
        element = typing.get_args(annotation)[0]
        if not isinstance(value, list):
            place.fail("应为列表")
            return ()
        if element is str:
            return tuple(_convert(v, str, place.at(str(index + 1))) for index, v in enumerate(value))
        return tuple(_build(element, raw, place.at(str(index + 1)), {}) for index, raw in enumerate(value))
    raise AssertionError(f"unhandled annotation {annotation}")  # pragma: no cover


def _build(cls: type, raw: Any, place: _Place, nested: dict[str, Any]) -> Any:
    """Build a frozen dataclass from a JSON object, reporting unknown and missing keys."""
    if not isinstance(raw, dict):
        place.fail("应为对象")
        return None
    known = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    allowed = set(known) | {"kind"}
    for key in raw:
        if key not in allowed:
            place.at(key).fail(f"未知字段（可用字段：{'、'.join(sorted(known))}）")
    values: dict[str, Any] = dict(nested)
    for name, spec in known.items():
        if name in nested:
            continue
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                place.at(name).fail("缺少此字段")
                return None
            continue
        values[name] = _convert(raw[name], hints[name], place.at(name))
    try:
        return cls(**values)
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        place.fail(f"无法构造：{exc}")
        return None


def _parse_rule(raw: Any, item_points: Decimal | None, penalty_max: Decimal | None, place: _Place) -> AnyRule | None:
    if not isinstance(raw, dict):
        place.fail("规则应为对象")
        return None
    kind = raw.get("kind")
    cls = RULE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        place.at("kind").fail(f"未知的规则类型 {kind!r}（可用：{'、'.join(RULE_TYPES)}）")
        return None
    rule = _build(cls, raw, place, {})
    if rule is None:
        return None
    # Where the seed states no largest count, allow enough to use up the item, and at least
    # DEFAULT_MAX_COUNT so the true number of cases can be recorded (the score floors anyway).
    budget = penalty_max if penalty_max is not None else item_points
    if isinstance(rule, (CountDeduction, CountBonus)) and "max_count" not in raw:
        limit = rule.cap if rule.cap is not None else budget
        if limit is not None and rule.per > 0:
            rule = dataclasses.replace(rule, max_count=max(DEFAULT_MAX_COUNT, math.ceil(limit / rule.per)))
    if isinstance(rule, ShortfallDeduction) and "max_value" not in raw:
        rule = dataclasses.replace(rule, max_value=rule.target * 10)
    if isinstance(rule, RangeDeduction) and "maximum" not in raw and budget is not None:
        rule = dataclasses.replace(rule, maximum=budget)
    return rule


def _parse_item(raw: Any, place: _Place) -> Item | None:
    if not isinstance(raw, dict):
        place.fail("项目应为对象")
        return None
    points = _convert(raw.get("points"), Decimal | None, place.at("points"))
    penalty_max = _convert(raw.get("penalty_max"), Decimal | None, place.at("penalty_max"))
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        place.at("rules").fail("应为规则列表")
        rules_raw = []
    rules = []
    for index, rule_raw in enumerate(rules_raw):
        rule_id = rule_raw.get("id") if isinstance(rule_raw, dict) else None
        rule = _parse_rule(rule_raw, points, penalty_max, place.at(f"规则 {rule_id or index + 1}"))
        if rule is not None:
            rules.append(rule)
    return _build(Item, raw, place, {"rules": tuple(rules), "points": points, "penalty_max": penalty_max})


def _parse_rubric(raw: Any, place: _Place) -> Rubric | None:
    if not isinstance(raw, dict):
        place.fail("规则库应为对象")
        return None
    sections = []
    for s_index, s_raw in enumerate(raw.get("sections") or []):
        s_place = place.at(f"部分 {s_raw.get('id', s_index + 1) if isinstance(s_raw, dict) else s_index + 1}")
        if not isinstance(s_raw, dict):
            s_place.fail("部分应为对象")
            continue
        items = []
        for i_index, i_raw in enumerate(s_raw.get("items") or []):
            item_id = i_raw.get("id") if isinstance(i_raw, dict) else None
            item = _parse_item(i_raw, s_place.at(f"项目 {item_id or i_index + 1}"))
            if item is not None:
                items.append(item)
        section = _build(Section, s_raw, s_place, {"items": tuple(items)})
        if section is not None:
            sections.append(section)
    if not sections:
        place.at("sections").fail("至少需要一个部分")
    nested: dict[str, Any] = {"sections": tuple(sections)}
    nested["grade_bands"] = tuple(
        band
        for index, band_raw in enumerate(raw.get("grade_bands") or [])
        if (band := _build(GradeBand, band_raw, place.at(f"等次 {index + 1}"), {})) is not None
    )
    nested["components"] = tuple(
        comp
        for index, comp_raw in enumerate(raw.get("components") or [])
        if (comp := _build(Component, comp_raw, place.at(f"组成部分 {index + 1}"), {})) is not None
    )
    unit_rules = []
    for index, rule_raw in enumerate(raw.get("unit_rules") or []):
        rule = _parse_rule(rule_raw, None, None, place.at(f"否决规则 {index + 1}"))
        if rule is not None and not isinstance(rule, Veto):
            place.at(f"否决规则 {index + 1}").fail("单位级规则只能是 veto（否决/降档）")
        elif rule is not None:
            unit_rules.append(rule)
    nested["unit_rules"] = tuple(unit_rules)
    return _build(Rubric, raw, place, nested)


# --- validation ---------------------------------------------------------------------------


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _check_unique(ids: Iterable[str], what: str, place: _Place) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            place.fail(f"{what}编号 {value} 重复")
        seen.add(value)


def validate_rubric(rubric: Rubric, place: _Place | None = None) -> list[str]:
    """Check sums, ids and every rule; report into ``place`` (or return the problems)."""
    place = place or _Place((rubric.id,), [])
    scorable = rubric.status != "needs_allocation"
    _check_unique((s.id for s in rubric.sections), "部分", place)
    _check_unique((i.id for i in rubric.items), "项目", place)
    for section in rubric.sections:
        s_place = place.at(f"部分 {section.id}")
        for item in section.items:
            _validate_item(rubric, item, s_place.at(f"项目 {item.id}"), scorable)
        if scorable and section.points is not None:
            item_sum = sum((i.points for i in section.items if i.kind != "penalty" and i.points), Decimal(0))
            if item_sum != section.points:
                s_place.at("points").fail(f"各项目分值之和为 {fmt(item_sum)}，与本部分分值 {fmt(section.points)} 不符")
        elif scorable:
            s_place.at("points").fail("缺少本部分分值")
    if scorable:
        section_sum = sum((s.points or Decimal(0) for s in rubric.sections), Decimal(0))
        if rubric.total != section_sum:
            place.at("total").fail(f"各部分分值之和为 {fmt(section_sum)}，与总分 {fmt(rubric.total)} 不符")
    elif any(item.points is not None for item in rubric.items):
        place.at("status").fail("needs_allocation 的规则库不应写分值；请另用分值分配文件")
    bands = [band.minimum for band in rubric.grade_bands]
    if bands != sorted(bands, reverse=True):
        place.at("grade_bands").fail("等次应按最低分从高到低排列")
    grades = {band.grade for band in rubric.grade_bands}
    if rubric.excellence_grade and grades and rubric.excellence_grade not in grades:
        place.at("excellence_grade").fail(f"先进等次 {rubric.excellence_grade} 不在等次列表中")
    vetoes = [*rubric.unit_rules, *(r for i in rubric.items for r in i.rules if isinstance(r, Veto))]
    for veto in vetoes:
        if veto.effect == "force_grade" and veto.grade not in grades:
            place.at(f"规则 {veto.id}").fail(f"强制等次 {veto.grade!r} 不在等次列表中")
    _check_unique((r.id for r in rubric.unit_rules), "否决规则", place)
    if rubric.components:
        weights = sum((c.weight for c in rubric.components), Decimal(0))
        if weights != 1:
            place.at("components").fail(f"各组成部分权重之和应为 1，实际为 {fmt(weights)}")
        if sum(1 for c in rubric.components if c.source == "workbook") != 1:
            place.at("components").fail("应恰有一个组成部分来自考核工作簿（source 为 workbook）")
        _check_unique((c.id for c in rubric.components), "组成部分", place)
    return place.problems


def _validate_item(rubric: Rubric, item: Item, place: _Place, scorable: bool) -> None:
    if item.kind not in ITEM_KINDS:
        place.at("kind").fail(f"项目类型应为 {'、'.join(ITEM_KINDS)} 之一")
    if not item.text.strip():
        place.at("text").fail("考核内容不能为空")
    _check_unique((r.id for r in item.rules), "规则", place)
    if item.kind == "penalty":
        if item.penalty_max is None or item.penalty_max <= 0:
            place.at("penalty_max").fail("倒扣分项目须写明最多倒扣的分值")
        if item.points:
            place.at("points").fail("倒扣分项目没有基本分，points 应为 0 或不写")
    elif scorable and (item.points is None or item.points <= 0):
        place.at("points").fail("缺少分值")
    converted = [r for r in item.rules if isinstance(r, Converted)]
    weighted = [r for r in item.rules if isinstance(r, WeightedPart)]
    if item.kind == "convert" and len(converted) != 1:
        place.at("rules").fail("折算项目应恰有一条 converted 规则")
    if converted and item.kind not in ("convert", "penalty"):
        place.at("rules").fail("converted 规则只用于折算项目或倒扣分项目")
    if item.kind == "penalty" and converted and len(item.rules) != 1:
        place.at("rules").fail("按折算倒扣的项目只能有一条 converted 规则")
    if item.kind == "weighted" and sum((r.weight for r in weighted), Decimal(0)) != 1:
        place.at("rules").fail("加权项目各部分权重之和应为 1")
    if weighted and item.kind != "weighted":
        place.at("rules").fail("weighted_part 规则只用于加权项目")
    if any(isinstance(r, Award) for r in item.rules) and item.kind != "earn":
        place.at("rules").fail("award 规则只用于得分项目（kind 为 earn）")
    budget = item.penalty_max if item.kind == "penalty" else item.points
    for rule in item.rules:
        _validate_rule(rubric, rule, budget, place.at(f"规则 {rule.id}"))


def _validate_rule(rubric: Rubric, rule: AnyRule, budget: Decimal | None, place: _Place) -> None:
    if not rule.label.strip():
        place.at("label").fail("规则须引用原文（label 不能为空）")
    amounts: dict[str, Decimal | None] = {}
    for spec in dataclasses.fields(rule):
        value = getattr(rule, spec.name)
        if isinstance(value, Decimal):
            amounts[spec.name] = value
    for name, value in amounts.items():
        if value is not None and value < 0:
            place.at(name).fail(f"不能为负数，实际为 {fmt(value)}")
        if (
            value is not None
            and name not in ("threshold", "minimum", "maximum", "source_max")
            and _decimals(value) > rubric.decimals
        ):
            place.at(name).fail(f"小数位数超过规则库精度（{rubric.decimals} 位）")
    for name in ("per", "amount", "step", "input_step"):
        if name in amounts and amounts[name] == 0:
            place.at(name).fail("应大于 0")
    if isinstance(rule, (CountDeduction, CountBonus)) and rule.max_count <= 0:
        place.at("max_count").fail("最大次数应大于 0")
    if isinstance(rule, ShortfallDeduction) and (rule.target <= 0 or rule.max_value < rule.target):
        place.at("target").fail("目标数应大于 0，且不大于 max_value")
    if isinstance(rule, StepDeduction) and not rule.minimum <= rule.threshold <= rule.maximum:
        place.at("threshold").fail("阈值应在可填范围之内")
    if isinstance(rule, RangeDeduction):
        if not 0 <= rule.minimum <= rule.maximum:
            place.at("minimum").fail("扣分范围应满足 0 ≤ 最小值 ≤ 最大值")
        if budget is not None and rule.maximum > budget:
            place.at("maximum").fail(f"扣分上限 {fmt(rule.maximum)} 超过本项分值 {fmt(budget)}")
        for name in ("minimum", "maximum"):
            if (getattr(rule, name) / rule.step) % 1:
                place.at(name).fail(f"应为步长 {fmt(rule.step)} 的整数倍")
    if isinstance(rule, LevelBonus):
        labels = [level.label for level in rule.levels]
        if not labels or len(set(labels)) != len(labels) or NONE_CHOICE in labels:
            place.at("levels").fail(f"等级不能为空、不能重复，也不能叫“{NONE_CHOICE}”")
    if isinstance(rule, Converted) and rule.source_max <= 0:
        place.at("source_max").fail("来源满分应大于 0")
    if isinstance(rule, WeightedPart) and rule.weight <= 0:
        place.at("weight").fail("权重应大于 0")


# --- writing and allocation ---------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Dataclasses, tuples and Decimals as JSON-ready values (exact numbers kept exact)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        kind = getattr(type(value), "kind", None)
        return {"kind": kind, **data} if isinstance(kind, str) and kind != "rule" else data
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def rubric_to_dict(rubric: Rubric) -> dict[str, Any]:
    """The whole rubric as plain JSON data, in document order."""
    data: dict[str, Any] = _plain(rubric)
    return data


def content_hash(rubric: Rubric) -> str:
    """sha256 of the rubric's canonical JSON: identifies the exact rules a workbook was made from."""
    canonical = json.dumps(rubric_to_dict(rubric), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


ALLOCATION_NOTE = "考评要点原文没有分值和扣分标准：分值按办公室的分配，在分配的分值内酌情扣分"


def load_allocation(path: Path, rubrics: dict[str, Rubric]) -> Rubric:
    """Apply an office's point allocation file to a rubric that needs one (Jiaozuo 2020)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"), parse_float=Decimal)
    except OSError as exc:
        raise KaoheError(f"无法读取分值分配文件 {path}：{exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise RubricError([f"[{path.name}] 不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列，{exc.msg}"]) from exc
    rubric_id = data.get("rubric") if isinstance(data, dict) else None
    if rubric_id not in rubrics:
        raise RubricError([f"[{path.name} › rubric] 未知的规则库 {rubric_id!r}"])
    return apply_allocation(rubrics[rubric_id], data, path.name)


def apply_allocation(rubric: Rubric, data: dict[str, Any], file_name: str = "allocation") -> Rubric:
    """Give every section and item its allocated points and a discretionary deduction rule."""
    problems: list[str] = []
    place = _Place((file_name,), problems)
    if rubric.status != "needs_allocation":
        place.at("rubric").fail(f"规则库 {rubric.id} 已有分值，不需要分配")
        raise RubricError(problems)
    section_points = data.get("sections") or {}
    item_points = data.get("items") or {}
    sections = []
    for section in rubric.sections:
        items = []
        for item in section.items:
            points = _convert(item_points.get(item.id), Decimal, place.at(f"items › {item.id}"))
            if points is None:
                continue
            rule = RangeDeduction(id="d0", label="酌情扣分", note=ALLOCATION_NOTE, minimum=Decimal(0), maximum=points)
            items.append(dataclasses.replace(item, points=points, rules=(rule,)))
        points = _convert(section_points.get(section.id), Decimal, place.at(f"sections › {section.id}"))
        sections.append(dataclasses.replace(section, points=points, items=tuple(items)))
    unknown = set(item_points) - {item.id for item in rubric.items}
    if unknown:
        place.at("items").fail(f"规则库中没有这些项目：{'、'.join(sorted(unknown))}")
    if problems:
        raise RubricError(problems)
    title = data.get("title") or "分值分配"
    allocated = dataclasses.replace(
        rubric,
        sections=tuple(sections),
        total=_convert(data.get("total"), Decimal, place.at("total")),
        status="complete",
        allocation=f"{file_name}：{title}",
    )
    validate_rubric(allocated, place)
    if problems:
        raise RubricError(problems)
    return allocated
