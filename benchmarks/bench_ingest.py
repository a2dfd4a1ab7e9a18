"""Benchmark: checking and ranking returned workbooks, against python-calamine's raw reading.

    python benchmarks/bench_ingest.py                 # Jiaozuo 2016: 4 workbooks, 82 units
    python benchmarks/bench_ingest.py --units 10000   # synthetic: 400 workbooks of 25 units

The campaign is generated and filled (seeded, openpyxl) before the clock starts. The
baseline reads every sheet's values of the same files with python-calamine and does
nothing else; kaohe does every check (identity, structure, locked cells, entries),
reconciles, scores, ranks and writes the ranking workbook. Each runs in a fresh
process; peak memory is that process's maximum resident set.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench_generate import make_campaign, measure  # noqa: E402
from filling import fill, random_entries  # noqa: E402

from kaohe_xlsx.generate import generate_campaign  # noqa: E402
from kaohe_xlsx.layout import build_sheet_layout  # noqa: E402


def prepare(units: int, per_group: int, folder: Path) -> tuple[Path, list[Path]]:
    campaign = make_campaign(units, per_group)
    manifest = generate_campaign(campaign, folder / "issued")
    layout = build_sheet_layout(campaign.rubric, campaign.rubric.items)
    rng = random.Random(1)
    returned = folder / "returned"
    returned.mkdir()
    files = []
    for index, workbook in enumerate(manifest.workbooks):
        entries = {sheet["name"]: random_entries(layout, rng, busy=0.2) for sheet in workbook["sheets"]}
        files.append(fill(folder / "issued" / workbook["file"], returned / f"{index:03d}-返回.xlsx", entries))
    return manifest.path, files


def _child(kind: str, manifest_path: Path, files: list[Path], queue: Any) -> None:
    if kind == "baseline":
        from python_calamine import CalamineWorkbook

        start = time.perf_counter()
        for path in files:
            workbook = CalamineWorkbook.from_path(str(path))
            for name in workbook.sheet_names:
                workbook.get_sheet_by_name(name).to_python()
            workbook.close()
    else:
        from kaohe_xlsx.ingest import load_manifest
        from kaohe_xlsx.reconcile import check_campaign
        from kaohe_xlsx.report import write_ranking

        start = time.perf_counter()
        result = check_campaign(files, load_manifest(manifest_path))
        write_ranking(result, Path(tempfile.mkdtemp()) / "综合排名.xlsx")
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=0, help="synthetic campaign size (0: the Jiaozuo 2016 sample)")
    parser.add_argument("--per-group", type=int, default=25)
    parser.add_argument("--keep", type=Path, help="prepare the files into this folder once and reuse them afterwards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kaohe-bench-") as scratch:
        folder = args.keep or Path(scratch)
        manifests = sorted((folder / "issued").glob("*.kaohe.json"))
        if manifests:
            manifest, files = manifests[0], sorted((folder / "returned").glob("*.xlsx"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            manifest, files = prepare(args.units, args.per_group, folder)
        print(f"核对并排名：{len(files)} 个文件")
        baseline = measure("python-calamine 只读取数值（基线）", _child, "baseline", manifest, files)
        ours = measure("kaohe 核对 + 排名 + 写排名表", _child, "kaohe", manifest, files)
        print(f"  比值 kaohe / 基线 = {ours / baseline:.2f}")


if __name__ == "__main__":
    main()
