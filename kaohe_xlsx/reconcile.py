"""Reconcile the returned workbooks into one campaign result, then score and rank.

Every (unit, item) cell the manifest assigned must be scored exactly once: this
module settles duplicates and conflicts, lists what is missing or unfinished,
merges imported scores (Luoyang 网上考核, Dongyang 折算), scores every unit with
the engine, ranks the complete ones and measures each group's leniency.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .ingest import TAMPERING, CampaignManifest, FileResult, LayoutCache, UnitRecord, read_workbook
from .issues import Issue, KaoheError
from .model import NOT_PARTICIPATING, Converted, Rubric, WeightedPart, fmt
from .scoring import UnitScore, Value, competition_rank, score_campaign

OFFICE = "全部考核表"  # the "file" of findings about the campaign as a whole


@dataclass(frozen=True)
class Options:
    """What the office decided: which file wins a conflict, which tampered files to accept."""

    prefer: str = ""  # "newest" or a file name
    accept: frozenset[str] = frozenset()
    imports: Path | None = None


@dataclass
class UnitOutcome:
    unit: str
    group: str
    records: list[UnitRecord] = field(default_factory=list)
    score: UnitScore | None = None
    rank: int | None = None
    group_rank: int | None = None
    status: str = "未完成"
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == "完成"


@dataclass
class CampaignResult:
    manifest: CampaignManifest
    files: list[FileResult]
    outcomes: dict[str, UnitOutcome]
    issues: list[Issue]
    group_stats: list[GroupStats]
    imported: dict[str, dict[str, Decimal | None]] = field(default_factory=dict)

    @property
    def rubric(self) -> Rubric:
        return self.manifest.rubric

    @property
    def all_issues(self) -> list[Issue]:
        return [issue for result in self.files for issue in result.issues] + self.issues

    @property
    def blocking(self) -> list[Issue]:
        return [issue for issue in self.all_issues if issue.level == "error"]

    @property
    def complete(self) -> bool:
        """Every unit scored and nothing blocking: the ranking can be trusted."""
        return not self.blocking and all(o.complete for o in self.outcomes.values())


def _add(issues: list[Issue], level: str, code: str, file: str, message: str, sheet: str = "", cell: str = "") -> None:
    issues.append(Issue(level, code, file, message, sheet, cell))  # type: ignore[arg-type]


def _settle_duplicates(files: Sequence[FileResult], options: Options, issues: list[Issue]) -> list[FileResult]:
    """The files whose records count: identical copies merged, conflicts settled or reported."""
    seen_bytes: dict[str, FileResult] = {}
    by_workbook: dict[str, list[FileResult]] = {}
    for result in files:
        if result.status != "accepted":
            continue
        if result.sha256 in seen_bytes:
            first = seen_bytes[result.sha256]
            _add(
                issues, "info", "duplicate-file", result.name, f"与 {first.name} 完全相同（同一文件收到两次），只计一次"
            )
            continue
        seen_bytes[result.sha256] = result
        by_workbook.setdefault(result.workbook_id, []).append(result)
    chosen: list[FileResult] = []
    for copies in by_workbook.values():
        if len(copies) == 1:
            chosen.append(copies[0])
            continue
        first = copies[0]
        different = [c for c in copies[1:] if _entries(c) != _entries(first)]
        if not different:
            names = "、".join(c.name for c in copies[1:])
            _add(
                issues, "info", "duplicate-identical", first.name, f"{names} 是同一份考核表，填写内容完全相同，只计一次"
            )
            chosen.append(first)
            continue
        pick = _pick(copies, options)
        if pick is not None:
            others = "、".join(c.name for c in copies if c is not pick)
            _add(
                issues,
                "info",
                "duplicate-conflict",
                pick.name,
                f"同一份考核表收到多个不同版本（{others}），按办公室的选择采用本文件",
            )
            chosen.append(pick)
            continue
        for other in different:
            for line in _differences(first, other)[:10]:
                _add(issues, "error", "duplicate-conflict", other.name, line[2], line[0], line[1])
        names = "、".join(c.name for c in copies)
        _add(
            issues,
            "error",
            "duplicate-conflict",
            first.name,
            f"同一份考核表（{copies[0].assessor}）收到填写不同的多个版本：{names}。请用 --prefer newest 采用最后保存的，或 --prefer 文件名 指定",
        )
    return chosen


def _entries(result: FileResult) -> dict[tuple[str, str, str], Any]:
    entries: dict[tuple[str, str, str], Any] = {}
    for record in result.units:
        entries[(record.unit, "unit", "done")] = record.done
        for key, value in record.inputs.items():
            entries[(record.unit, *key)] = value
    return entries


def _differences(a: FileResult, b: FileResult) -> list[tuple[str, str, str]]:
    """(sheet, cell, message) for each input that differs between two copies."""
    lines = []
    records_a = {r.unit: r for r in a.units}
    for record in b.units:
        other = records_a.get(record.unit)
        if other is None:
            continue
        for key in sorted(set(record.inputs) | set(other.inputs)):
            if record.inputs.get(key) != other.inputs.get(key):
                cell = record.addresses.get(key) or other.addresses.get(key, "")
                lines.append(
                    (
                        record.sheet,
                        cell,
                        f"与 {a.name} 不同：本文件为 {_show(record.inputs.get(key))}，{a.name} 为 {_show(other.inputs.get(key))}",
                    )
                )
    return lines


def _show(value: Value) -> str:
    if value is None:
        return "空"
    if value is True:
        return "是"
    if value is False:
        return "否"
    return fmt(value) if isinstance(value, Decimal) else str(value)


def _pick(copies: Sequence[FileResult], options: Options) -> FileResult | None:
    if options.prefer == "newest":  # the time the application saved it; the file's own time breaks ties
        return max(copies, key=lambda c: (c.saved_at, c.path.stat().st_mtime_ns))
    return next((c for c in copies if options.prefer and c.name == options.prefer), None)


def load_imports(
    path: Path, rubric: Rubric, units: Iterable[str]
) -> tuple[dict[str, dict[str, Decimal | None]], dict[str, dict[tuple[str, str], Value]], list[Issue]]:
    """An office table of imported scores, by unit: components (网上考核) and 折算/加权 items.

    Columns: 单位, then component titles, item ids ("1.3.1") or item titles ("工业竞赛"),
    and "项目编号/规则编号" for a weighted part ("3.7.2/w1"). A cell may say 不参加.
    """
    import pandas as pd  # only an import table needs it; check and rank start faster without

    issues: list[Issue] = []
    try:
        table = (
            pd.read_csv(path, dtype=str, encoding="utf-8-sig")
            if path.suffix.lower() == ".csv"
            else pd.read_excel(path, dtype=str)
        )
    except Exception as exc:  # pandas raises many kinds; all mean "cannot read this table"
        raise KaoheError(f"无法读取导入成绩表 {path.name}：{exc}") from exc
    table.columns = [str(c).strip() for c in table.columns]
    if "单位" not in table.columns:
        raise KaoheError(f"导入成绩表 {path.name} 缺少“单位”列")
    targets: dict[str, tuple[str, str] | str] = {}
    for component in rubric.components:
        if component.source == "import":
            targets[component.title] = component.id
    for item in rubric.items:
        for rule in item.rules:
            if isinstance(rule, Converted):
                targets[item.id] = targets[item.title] = (item.id, rule.id)
            if isinstance(rule, WeightedPart):
                targets[f"{item.id}/{rule.id}"] = (item.id, rule.id)
    unknown = [c for c in table.columns if c != "单位" and c not in targets]
    for column in unknown:
        _add(issues, "warning", "import-column", path.name, f"列“{column}”不是本细则的导入项，已忽略")
    known_units = set(units)
    components: dict[str, dict[str, Decimal | None]] = {}
    inputs: dict[str, dict[tuple[str, str], Value]] = {}
    for index, row in table.iterrows():
        unit = str(row["单位"]).strip()
        line = int(index) + 2  # type: ignore[call-overload]
        if unit not in known_units:
            _add(
                issues,
                "warning",
                "import-unit",
                path.name,
                f"第 {line} 行单位“{unit}”不在名单中，已忽略",
                cell=f"第{line}行",
            )
            continue
        for column, target in targets.items():
            if column not in table.columns:
                continue
            raw = row[column]
            if raw is None or (isinstance(raw, float) and pd.isna(raw)) or str(raw).strip() == "":
                continue
            text = str(raw).strip()
            value: Value
            if text == NOT_PARTICIPATING:
                value = NOT_PARTICIPATING
            else:
                try:
                    value = Decimal(text)
                except ArithmeticError:
                    _add(
                        issues,
                        "error",
                        "import-value",
                        path.name,
                        f"第 {line} 行“{column}”的值“{text}”不是数字",
                        cell=f"第{line}行",
                    )
                    continue
            if isinstance(target, str):
                components.setdefault(unit, {})[target] = value if isinstance(value, Decimal) else None
            else:
                inputs.setdefault(unit, {})[target] = value
    return components, inputs, issues


def reconcile(manifest: CampaignManifest, files: Sequence[FileResult], options: Options = Options()) -> CampaignResult:
    """Settle duplicates and tampering, check coverage, merge imports, score and rank."""
    rubric = manifest.rubric
    issues: list[Issue] = []
    for result in files:
        if result.tampered and result.name in options.accept:
            result.issues = [
                Issue("warning", i.code, i.file, i.message + "（办公室已确认接受此文件）", i.sheet, i.cell)
                if i.code in TAMPERING
                else i
                for i in result.issues
            ]
            result.tampered = False
    chosen = _settle_duplicates(files, options, issues)
    group_of = {unit: group["group"] for group in manifest.data["roster"] for unit in group["units"]}
    outcomes = {unit: UnitOutcome(unit, group_of[unit]) for unit in manifest.units}
    for result in chosen:
        for record in result.units:
            if record.unit in outcomes:
                outcomes[record.unit].records.append(record)
    components: dict[str, dict[str, Decimal | None]] = {}
    imported_inputs: dict[str, dict[tuple[str, str], Value]] = {}
    if options.imports is not None:
        components, imported_inputs, import_issues = load_imports(options.imports, rubric, manifest.units)
        issues += import_issues
    received = {result.workbook_id for result in chosen}
    for workbook in manifest.data["workbooks"]:
        if workbook["id"] not in received:
            _add(
                issues,
                "error",
                "workbook-missing",
                workbook["file"],
                f"没有收到“{workbook['assessor']}”的考核表（编号 {workbook['id']}），其 {len(workbook['units'])} 个单位没有成绩",
            )
    expected_items = {w["id"]: w for w in manifest.data["workbooks"]}
    for outcome in outcomes.values():
        _check_coverage(outcome, expected_items, issues)
        _check_imports(outcome, rubric, components, imported_inputs, issues)
    units_inputs = {}
    for unit, outcome in outcomes.items():
        merged: dict[tuple[str, str], Value] = dict(imported_inputs.get(unit, {}))
        for record in outcome.records:
            merged.update(record.inputs)
        units_inputs[unit] = merged
    scores = score_campaign(rubric, units_inputs, components)
    for unit, outcome in outcomes.items():
        outcome.score = scores[unit]
        if not outcome.problems and outcome.score.total is not None:
            outcome.status = "完成"
    for result in chosen:
        wrong = {issue.sheet for issue in result.issues if issue.level == "error" and issue.sheet}
        for record in result.units:
            if record.sheet in wrong and record.unit in outcomes:
                outcomes[record.unit].problems.append(f"考核表 {result.name} 的“{record.sheet}”有填写错误待更正")
                outcomes[record.unit].status = "待更正"
    tampered = [r for r in chosen if r.tampered]
    for result in tampered:
        for record in result.units:
            outcome = outcomes.get(record.unit)
            if outcome is not None:
                outcome.problems.append(f"考核表 {result.name} 的公式或锁定内容被改动，待办公室确认")
                outcome.status = "待确认"
    _rank(outcomes)
    stats = group_statistics(outcomes.values())
    for row in stats:
        if row.flag:
            _add(
                issues,
                "warning",
                "group-leniency",
                OFFICE,
                f"{row.group}的平均分 {row.mean:.2f} 与其他组相差较大（{row.flag}），请留意评分尺度是否一致",
            )
    return CampaignResult(manifest, list(files), outcomes, issues, stats, components)


def _check_coverage(outcome: UnitOutcome, workbooks: Mapping[str, dict[str, Any]], issues: list[Issue]) -> None:
    """Every workbook that should score this unit did, once, and marked it finished."""
    expected = [w for w in workbooks.values() if outcome.unit in w["units"]]
    by_workbook: dict[str, list[UnitRecord]] = {}
    for record in outcome.records:
        by_workbook.setdefault(record.workbook_id, []).append(record)
    for workbook in expected:
        records = by_workbook.get(workbook["id"], [])
        if not records:
            outcome.problems.append(f"缺少“{workbook['assessor']}”的评分")
        elif not any(r.done for r in records):
            outcome.problems.append(f"“{workbook['assessor']}”尚未完成考核")
            _add(
                issues,
                "warning",
                "unit-unfinished",
                records[0].file,
                f"单位“{outcome.unit}”尚未标记考核完成，不计入排名",
                records[0].sheet,
                "D3",
            )
    if not outcome.records and expected:
        _add(issues, "error", "unit-missing", OFFICE, f"单位“{outcome.unit}”（{outcome.group}）没有成绩")
    items: dict[str, str] = {}
    for record in outcome.records:
        for item_id in record.item_ids:
            if item_id in items and items[item_id] != record.workbook_id:
                _add(
                    issues,
                    "error",
                    "unit-duplicate",
                    record.file,
                    f"单位“{outcome.unit}”的第 {item_id} 项被两份考核表评分",
                    record.sheet,
                )
                outcome.problems.append(f"第 {item_id} 项被重复评分")
            items[item_id] = record.workbook_id


def _check_imports(
    outcome: UnitOutcome,
    rubric: Rubric,
    components: Mapping[str, Mapping[str, Decimal | None]],
    imported: Mapping[str, Mapping[tuple[str, str], Value]],
    issues: list[Issue],
) -> None:
    for component in rubric.components:
        if component.source == "import" and components.get(outcome.unit, {}).get(component.id) is None:
            outcome.problems.append(f"缺少导入的{component.title}成绩")
            _add(
                issues,
                "error",
                "import-missing",
                OFFICE,
                f"单位“{outcome.unit}”没有{component.title}成绩，请用 --imports 导入成绩表",
            )
    assessed = {item_id for record in outcome.records for item_id in record.item_ids}
    for item in rubric.items:
        if item.id in assessed:
            continue
        for rule in item.rules:
            if isinstance(rule, Converted | WeightedPart) and (item.id, rule.id) not in imported.get(outcome.unit, {}):
                outcome.problems.append(f"缺少第 {item.id} 项的导入成绩")


def _rank(outcomes: Mapping[str, UnitOutcome]) -> None:
    complete = {
        unit: o for unit, o in outcomes.items() if o.complete and o.score is not None and o.score.total is not None
    }
    ranks = competition_rank({unit: [o.score.total] for unit, o in complete.items()})  # type: ignore[union-attr]
    for unit, rank in ranks.items():
        outcomes[unit].rank = rank
    groups: dict[str, dict[str, list[Decimal]]] = {}
    for unit, outcome in complete.items():
        groups.setdefault(outcome.group, {})[unit] = [outcome.score.total]  # type: ignore[union-attr,list-item]
    for members in groups.values():
        for unit, rank in competition_rank(members).items():
            outcomes[unit].group_rank = rank


@dataclass(frozen=True)
class GroupStats:
    group: str
    count: int
    mean: float
    median: float
    std: float | None  # None for a group of one
    min: float
    max: float
    flag: str = ""


def group_statistics(outcomes: Iterable[UnitOutcome]) -> list[GroupStats]:
    """Per group: count, mean, median, spread; a group whose mean stands apart is flagged.

    Groups score different units, so some difference is expected. A group is flagged when
    its mean lies further from the median of the other groups' means than 2.5 times the
    uncertainty of the comparison: the spread of the other groups' means and the group's
    own standard error (only with at least 3 groups of at least 3 units).
    """
    totals: dict[str, list[float]] = {}
    for o in outcomes:
        if o.complete and o.score is not None and o.score.total is not None:
            totals.setdefault(o.group, []).append(float(o.score.total))
    means = {group: statistics.fmean(values) for group, values in totals.items()}
    comparable = len(totals) >= 3 and all(len(values) >= 3 for values in totals.values())
    stats = []
    for group, values in totals.items():
        spread = statistics.stdev(values) if len(values) > 1 else None
        flag = ""
        if comparable and spread is not None:
            others = [mean for g, mean in means.items() if g != group]
            uncertainty = (statistics.pvariance(others) + spread**2 / len(values)) ** 0.5
            distance = means[group] - statistics.median(others)
            if abs(distance) > max(2.5 * uncertainty, 1.0):
                flag = "明显偏高" if distance > 0 else "明显偏低"
        stats.append(
            GroupStats(
                group, len(values), means[group], statistics.median(values), spread, min(values), max(values), flag
            )
        )
    return stats


PARALLEL_FROM = 8  # files; fewer are read in this process (starting workers costs more)

_worker_manifest: CampaignManifest | None = None
_worker_layouts: LayoutCache | None = None


def _start_worker(manifest: CampaignManifest) -> None:
    global _worker_manifest, _worker_layouts
    _worker_manifest, _worker_layouts = manifest, LayoutCache(manifest.rubric)


def _read_in_worker(path: Path) -> FileResult:
    assert _worker_manifest is not None
    return read_workbook(path, _worker_manifest, _worker_layouts)


def read_files(
    files: Sequence[Path], manifest: CampaignManifest, progress: Callable[[Path], None] | None = None
) -> list[FileResult]:
    """Read and check every file, in input order; many files are read by one process per core."""
    workers = min(os.cpu_count() or 1, 8)
    if len(files) < PARALLEL_FROM or workers < 2:
        layouts = LayoutCache(manifest.rubric)
        results = []
        for path in files:
            results.append(read_workbook(path, manifest, layouts))
            if progress is not None:
                progress(path)
        return results
    results = []
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(manifest,)) as pool:
        for path, result in zip(files, pool.map(_read_in_worker, files, chunksize=4), strict=True):
            results.append(result)
            if progress is not None:
                progress(path)
    return results


def check_campaign(
    files: Sequence[Path],
    manifest: CampaignManifest,
    options: Options = Options(),
    progress: Callable[[Path], None] | None = None,
) -> CampaignResult:
    """Read and check every file, then reconcile them into the campaign result."""
    return reconcile(manifest, read_files(files, manifest, progress), options)
