"""Play the inspection groups: fill issued workbooks with realistic, seeded entries.

For training inspectors, for the demo and for tests. Most items stay untouched;
some per-occurrence and ranged deductions come with reasons, a few bonuses, one
unit has a veto, and one group is a little more lenient than the others. The
filled copies get the kind of names files come back with (第二组最终版(1).xlsx).
The issued workbooks are only read.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl

from .ingest import CampaignManifest, LayoutCache
from .issues import KaoheError
from .layout import InputCell
from .model import (
    YES,
    Converted,
    CountBonus,
    CountDeduction,
    FixedBonus,
    FixedDeduction,
    LevelBonus,
    RangeDeduction,
    Rule,
    ShortfallDeduction,
    StepDeduction,
    Veto,
    WeightedPart,
    ZeroItem,
)

Entry = str | int | float

RETURNED_NAMES = ("{group}考核表（最终版）.xlsx", "{group}最终版(1).xlsx", "副本-{group}.xlsx", "{group}打分表-改.xlsx")
REASONS = {
    "deduction": ("查阅资料：{label}", "现场核实：{label}", "座谈了解：{label}"),
    "bonus": ("有表彰文件佐证：{label}", "已核对证明材料：{label}"),
}


@dataclass(frozen=True)
class Temper:
    """How often an inspection group deducts and adds points."""

    deduct: float
    bonus: float


STRICT = Temper(deduct=0.12, bonus=0.06)
LENIENT = Temper(deduct=0.04, bonus=0.14)


def _number(value: Decimal) -> Entry:
    return int(value) if value == value.to_integral_value() else float(value)


def _entry(rule: Rule, cell: InputCell, rng: random.Random, temper: Temper) -> Entry | None:
    """A realistic entry for one rule, or None (most rules are left blank)."""
    spec = cell.spec
    assert spec is not None
    if isinstance(rule, (Converted, WeightedPart)):
        top = spec.maximum
        return _number((top * Decimal(rng.randint(80, 100)) / 100).quantize(Decimal("0.1")))
    if isinstance(rule, (FixedBonus, LevelBonus, CountBonus)):
        if rng.random() >= temper.bonus:
            return None
        if isinstance(rule, LevelBonus):
            return rng.choice(spec.choices[1:])
        return YES if isinstance(rule, FixedBonus) else rng.randint(1, min(3, int(spec.maximum)))
    if isinstance(rule, (ZeroItem, Veto)):
        return None
    if rng.random() >= temper.deduct:
        return None
    if isinstance(rule, FixedDeduction):
        return YES
    if isinstance(rule, CountDeduction):
        return rng.choice((1, 1, 1, 2))
    if isinstance(rule, ShortfallDeduction):
        return rule.target - rng.choice((1, 1, 2))
    if isinstance(rule, StepDeduction):
        gap = rule.step * rng.choice((1, 1, 2)) + rule.input_step * rng.randint(0, 9)
        value = rule.threshold - gap if rule.direction == "below" else rule.threshold + gap
        return _number(max(rule.minimum, min(rule.maximum, value)))
    if isinstance(rule, RangeDeduction):
        low = rule.minimum or rule.step
        steps = int((min(rule.maximum, low + 1) - low) / rule.step)
        return _number(low + rule.step * rng.randint(0, steps))
    return None


def sample_entries(
    manifest: CampaignManifest, workbook: dict[str, Any], rng: random.Random, temper: Temper, veto_unit: str | None
) -> dict[str, dict[str, Entry]]:
    """Entries by sheet and cell for every unit sheet of one issued workbook."""
    rubric = manifest.rubric
    layout = LayoutCache(rubric).get(workbook).layout
    by_sheet: dict[str, dict[str, Entry]] = {}
    for sheet in workbook["sheets"]:
        entries: dict[str, Entry] = {}
        touched: dict[str, list[tuple[str, Rule]]] = {}
        for cell in layout.inputs:
            if cell.field == "done":
                entries[cell.address] = YES
                continue
            if cell.field != "value":
                continue
            rules = rubric.unit_rules if cell.item_id == "unit" else rubric.item(cell.item_id).rules
            rule = next(r for r in rules if r.id == cell.rule_id)
            if isinstance(rule, Veto) and sheet["unit"] == veto_unit:
                entries[cell.address] = YES
                veto_unit = None  # one veto is enough
                continue
            value = _entry(rule, cell, rng, temper)
            if value is None:
                continue
            entries[cell.address] = value
            if rule.is_deduction or rule.is_bonus:
                touched.setdefault(cell.item_id, []).append(("bonus" if rule.is_bonus else "deduction", rule))
        for cell in layout.inputs:
            if cell.field == "reason" and cell.item_id in touched:
                kind, rule = touched[cell.item_id][0]
                entries[cell.address] = rng.choice(REASONS[kind]).format(label=rule.label[:30])
            elif cell.field == "self":
                points = rubric.item(cell.item_id).max_points
                entries[cell.address] = _number(max(Decimal(0), points - Decimal(rng.choice((0, 0, 0, 1)))))
        by_sheet[sheet["name"]] = entries
    return by_sheet


def fill_workbook(source: Path, target: Path, entries: dict[str, dict[str, Entry]]) -> Path:
    """Save a copy of ``source`` with the entries typed into their cells (as Excel stores them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workbook = openpyxl.load_workbook(source)
    for sheet, cells in entries.items():
        worksheet = workbook[sheet]
        for address, value in cells.items():
            worksheet[address] = value
    workbook.save(target)
    return target


def fill_campaign(
    manifest: CampaignManifest, issued_dir: Path, out_dir: Path, *, seed: int = 2017, force: bool = False
) -> list[Path]:
    """Fill every issued workbook of the campaign; return the returned files' paths."""
    rng = random.Random(seed)
    workbooks = manifest.data["workbooks"]
    lenient = len(workbooks) // 2 if len(workbooks) > 2 else -1
    units = [unit for w in workbooks for unit in w["units"]]
    veto_unit = rng.choice(units) if units else None
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [
        out_dir / RETURNED_NAMES[i % len(RETURNED_NAMES)].format(group=w["assessor"]) for i, w in enumerate(workbooks)
    ]
    existing = [t.name for t in targets if t.exists()]
    if existing and not force:
        raise KaoheError(f"{out_dir} 中已有 {'、'.join(existing)}；确需覆盖请加 --force")
    filled = []
    for index, (workbook, target) in enumerate(zip(workbooks, targets, strict=True)):
        source = issued_dir / workbook["file"]
        if not source.exists():
            raise KaoheError(f"找不到下发的考核表 {source}")
        temper = LENIENT if index == lenient else STRICT
        entries = sample_entries(manifest, workbook, rng, temper, veto_unit if veto_unit in workbook["units"] else None)
        filled.append(fill_workbook(source, target, entries))
    return filled
