"""Benchmark: generating a campaign's workbooks, against a bare xlsxwriter script.

    python benchmarks/bench_generate.py            # Jiaozuo 2016 (4 workbooks, 82 units)
    python benchmarks/bench_generate.py --units 10000 --per-group 25

The baseline writes the same cells (labels, numbers, formulas with their cached
values, blank inputs), the same validations and highlights and the same sheets
with xlsxwriter directly, from lists prepared before the clock starts. The ratio
kaohe / baseline is what the tool's own work costs. Each runs in a fresh process;
peak memory is that process's maximum resident set.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xlsxwriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kaohe_xlsx.generate import Campaign, assignments, generate_campaign, validation_plan  # noqa: E402
from kaohe_xlsx.layout import META_SHEET, build_sheet_layout, sheet_names  # noqa: E402
from kaohe_xlsx.roster import Group, Member, Roster, default_roster  # noqa: E402
from kaohe_xlsx.rubrics import load_rubrics  # noqa: E402


def synthetic_roster(units: int, per_group: int) -> Roster:
    groups = []
    for start in range(0, units, per_group):
        names = tuple(f"单位{index:05d}" for index in range(start, min(units, start + per_group)))
        groups.append(Group(f"第{start // per_group + 1}组", (Member("组长", "组长甲", ""),), "0000000", names))
    return Roster(tuple(groups))


def bare_writer(campaign: Campaign) -> Callable[[Path], None]:
    """A plain xlsxwriter script writing the same content, prepared ahead of timing."""
    rubric = campaign.rubric
    layout = build_sheet_layout(rubric, rubric.items)
    cells: list[tuple[str, int, int, Any, Any]] = []
    for cell in layout.cells:
        if cell.role == "formula":
            cached = float(cell.value) if not isinstance(cell.value, str) else cell.value
            cells.append(("formula", cell.row, cell.col, cell.formula, cached))
        elif cell.role == "input":
            cells.append(("blank", cell.row, cell.col, None, None))
        elif cell.role == "number":
            cells.append(("number", cell.row, cell.col, float(cell.value), None))  # type: ignore[arg-type]
        else:
            cells.append(("string", cell.row, cell.col, str(cell.value), None))
    validations, highlights = validation_plan(layout)
    plan = [(a, sheet_names(a.units)) for a in assignments(campaign)]
    input_rows = [(c.address, c.item_id, c.rule_id, c.field) for c in layout.inputs]

    def write(out: Path) -> None:
        for index, (assignment, names) in enumerate(plan):
            workbook = xlsxwriter.Workbook(str(out / f"{index}.xlsx"))
            plain = workbook.add_format({"border": 1})
            unlocked = workbook.add_format({"border": 1, "locked": False})
            red = workbook.add_format({"bg_color": "#FF5050"})
            workbook.add_worksheet("说明").write_string(0, 0, campaign.title)
            summary = workbook.add_worksheet("汇总")
            for row, (unit, name) in enumerate(zip(assignment.units, names, strict=True)):
                ws = workbook.add_worksheet(name)
                ws.write_string(0, 0, unit)
                for kind, r, c, value, cached in cells:
                    if kind == "formula":
                        ws.write_formula(r, c, value, plain, cached)
                    elif kind == "blank":
                        ws.write_blank(r, c, None, unlocked)
                    elif kind == "number":
                        ws.write_number(r, c, value, plain)
                    else:
                        ws.write_string(r, c, value, plain)
                for r, c, options in validations:
                    ws.data_validation(r, c, r, c, dict(options))
                for r, c, options, _ in highlights:
                    ws.conditional_format(r, c, r, c, {**options, "format": red})
                ws.protect()
                summary.write_string(row, 0, unit)
                summary.write_formula(row, 1, f"='{name}'!{layout.total_cell}", None, 100)
            meta = workbook.add_worksheet(META_SHEET)
            row = 0
            for name, unit in zip(names, assignment.units, strict=True):
                for address, item, rule, field in input_rows:
                    for col, value in enumerate((name, address, unit, item, rule, field)):
                        meta.write_string(row, col, value)
                    row += 1
            meta.very_hidden()
            workbook.close()

    return write


def _child(kind: str, units: int, per_group: int, queue: Any) -> None:
    """Runs in a fresh process: prepare, then time one writer; report seconds and peak RSS."""
    campaign = make_campaign(units, per_group)
    run = bare_writer(campaign) if kind == "baseline" else (lambda out: generate_campaign(campaign, out))
    out = Path(tempfile.mkdtemp(prefix="kaohe-bench-"))
    try:
        start = time.perf_counter()
        run(out)
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(out)
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(label: str, child: Callable[..., None], *args: Any) -> float:
    """Run ``child(*args, queue)`` in a fresh process, so peak memory is its own; print and
    return the seconds it reports."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=child, args=(*args, queue))
    process.start()
    seconds, peak = queue.get()
    process.join()
    print(f"  {label:<30} {seconds:8.2f} s   峰值内存 {peak:7.1f} MiB")
    return seconds


def make_campaign(units: int, per_group: int) -> Campaign:
    rubric = load_rubrics()["jiaozuo-2016"]
    roster = synthetic_roster(units, per_group) if units else default_roster()
    return Campaign(rubric, roster, rubric.title, 2016, "2017年6月10日", rubric.issuer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=0, help="synthetic campaign size (0: the Jiaozuo 2016 sample)")
    parser.add_argument("--per-group", type=int, default=25)
    args = parser.parse_args()
    campaign = make_campaign(args.units, args.per_group)
    print(
        f"生成：{len(campaign.roster.groups)} 份工作簿，{len(campaign.roster.units)} 个单位（规则库 {campaign.rubric.id}）"
    )
    baseline = measure("xlsxwriter 直写（基线）", _child, "baseline", args.units, args.per_group)
    ours = measure("kaohe generate", _child, "kaohe", args.units, args.per_group)
    print(f"  比值 kaohe / 基线 = {ours / baseline:.2f}")


if __name__ == "__main__":
    main()
