"""Play the inspector: put entries into a generated workbook's input cells with openpyxl.

``random_entries`` draws valid entries for every input cell of a unit sheet (seeded),
``engine_inputs`` turns those entries into the scoring engine's inputs, and ``fill``
writes them into a copy of a workbook, as Excel would store them.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from kaohe_xlsx.layout import SheetLayout
from kaohe_xlsx.model import NO, NOT_PARTICIPATING, YES, InputSpec
from kaohe_xlsx.roster import Group, Member, Roster
from kaohe_xlsx.sample import fill_workbook
from kaohe_xlsx.scoring import Inputs

Entry = str | int | float


def small_roster(groups: int, per_group: int) -> Roster:
    """A roster of ``groups`` groups with ``per_group`` units each ("1组单位1" …), one 组长 each."""
    return Roster(
        tuple(
            Group(
                f"第{g + 1}考核组",
                (Member("组长", f"组长{g + 1}", ""),),
                "3568226",
                tuple(f"{g + 1}组单位{u + 1}" for u in range(per_group)),
            )
            for g in range(groups)
        )
    )


def random_value(spec: InputSpec, rng: random.Random, busy: float = 0.5) -> Entry | None:
    """A valid entry for ``spec``, or None (left blank) with probability 1 − busy."""
    if rng.random() > busy:
        return None
    if spec.kind == "flag":
        return rng.choice((YES, YES, NO))
    if spec.kind == "choice":
        return rng.choice(spec.choices)
    if spec.allow_not_participating and rng.random() < 0.2:
        return NOT_PARTICIPATING
    if spec.kind == "count":
        return rng.randint(int(spec.minimum), int(spec.maximum))
    steps = int((spec.maximum - spec.minimum) / spec.step)
    value = spec.minimum + spec.step * rng.randint(0, steps)
    if spec.nonzero_minimum and 0 < value < spec.nonzero_minimum:
        value = spec.nonzero_minimum
    return int(value) if value == value.to_integral_value() else float(value)


def random_entries(layout: SheetLayout, rng: random.Random, busy: float = 0.5) -> dict[str, Entry]:
    """Entries by cell address for one unit sheet, the completion cell set to 是."""
    entries: dict[str, Entry] = {}
    for cell in layout.inputs:
        if cell.field == "done":
            entries[cell.address] = YES
        elif cell.field == "reason":
            if rng.random() < busy / 2:
                entries[cell.address] = "现场检查发现问题"
        elif cell.spec is not None:
            value = random_value(cell.spec, rng, busy)
            if value is not None:
                entries[cell.address] = value
    return entries


def engine_inputs(layout: SheetLayout, entries: dict[str, Entry]) -> Inputs:
    """The scoring engine's inputs for the entries of one unit sheet."""
    inputs: dict[tuple[str, str], object] = {}
    for cell in layout.inputs:
        value = entries.get(cell.address)
        if value is None or cell.field != "value":
            continue
        if value in (YES, NO):
            inputs[cell.key] = value == YES
        elif isinstance(value, str):
            inputs[cell.key] = value
        elif cell.spec is not None and cell.spec.kind == "count":
            inputs[cell.key] = int(value)
        else:
            inputs[cell.key] = Decimal(str(value))
    return inputs  # type: ignore[return-value]


def fill(src: Path, dest: Path, entries_by_sheet: dict[str, dict[str, Entry]]) -> Path:
    """Copy ``src`` to ``dest`` with the entries written into the named sheets."""
    return fill_workbook(src, dest, entries_by_sheet)
