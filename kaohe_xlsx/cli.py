"""The ``kaohe`` command: parses arguments, calls the library, prints. Nothing else.

Library errors (:class:`KaoheError`) become click errors here and nowhere else,
so a user sees one Chinese line, never a traceback. Set ``KAOHE_DEBUG=1`` to
see the traceback of an unexpected error.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from . import __version__, click_zh
from .annotate import annotated_copy
from .click_zh import display_width
from .generate import Campaign, assignments, generate_campaign, load_template
from .ingest import collect_files, find_manifest, load_manifest
from .issues import KaoheError
from .model import Rubric, fmt
from .office import to_pdf
from .reconcile import CampaignResult, Options, check_campaign
from .report import write_ranking
from .roster import default_roster, load_roster
from .rubrics import default_rubrics_path, load_allocation, load_rubrics, rubric_to_dict
from .sample import fill_campaign

click_zh.install()  # before the decorators below build their help texts

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
GROUP_METAVARS = {"options_metavar": "[选项]", "subcommand_metavar": "命令 [参数]..."}
STATUS_LABELS = {"complete": "完整", "partial": "部分（原文不全）", "needs_allocation": "待分配分值"}
KIND_LABELS = {"deduct": "", "earn": "按达标得分", "convert": "折算", "weighted": "加权", "penalty": "倒扣分"}


class KaoheGroup(click.Group):
    """A click group that turns library errors into one-line Chinese messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KaoheError as exc:
            raise click.ClickException(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise
        except Exception as exc:
            if os.environ.get("KAOHE_DEBUG"):
                raise
            raise click.ClickException(
                f"内部错误（{type(exc).__name__}: {exc}）。请把这条信息和所用的文件发给维护人员；"
                "设置环境变量 KAOHE_DEBUG=1 可看到详细信息。"
            ) from exc


@dataclass
class Settings:
    rubrics_file: Path | None

    def rubrics(self) -> dict[str, Rubric]:
        return load_rubrics(self.rubrics_file)

    def rubric(self, rubric_id: str, allocation: Path | None = None) -> Rubric:
        rubrics = self.rubrics()
        if allocation is not None:
            rubric = load_allocation(allocation, rubrics)
            if rubric.id != rubric_id:
                raise KaoheError(f"分值分配文件 {allocation.name} 属于规则库 {rubric.id}，不是 {rubric_id}")
            return rubric
        if rubric_id not in rubrics:
            raise KaoheError(
                f"没有编号为 {rubric_id} 的规则库。可用的规则库：{'、'.join(rubrics)}（用 kaohe rubrics list 查看）"
            )
        return rubrics[rubric_id]


def wrap(text: str, width: int) -> list[str]:
    """Wrap mixed Chinese text to ``width`` terminal columns."""
    lines: list[str] = []
    current = ""
    for ch in text.replace("\n", " "):
        if display_width(current + ch) > width:
            lines.append(current)
            current = ""
        current += ch
    return [*lines, current] if current else lines or [""]


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(cls=KaoheGroup, context_settings=CONTEXT, **GROUP_METAVARS)
@click.version_option(__version__, "--version", "-V", prog_name="kaohe", message="%(prog)s 版本 %(version)s")
@click.option(
    "--rubrics",
    "rubrics_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="文件",
    help="使用另一个规则库文件（默认为随附的 rubrics.json）。",
)
@click.pass_context
def cli(ctx: click.Context, rubrics_file: Path | None) -> None:
    """kaohe：用 Excel 考核表完成机关年度考核（考评细则、生成考核表、回收核对、汇总排名）。"""
    ctx.obj = Settings(rubrics_file)


@cli.group(cls=KaoheGroup, context_settings=CONTEXT, **GROUP_METAVARS)
def rubrics() -> None:
    """查看和检查考评细则（规则库）。"""


@rubrics.command("list", options_metavar="[选项]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_obj
def rubrics_list(settings: Settings, as_json: bool) -> None:
    """列出规则库中的全部考评细则。"""
    found = settings.rubrics()
    if as_json:
        echo_json(
            [
                {
                    "id": r.id,
                    "title": r.title,
                    "source": r.source,
                    "issuer": r.issuer,
                    "year": r.year,
                    "total": None if r.total is None else float(r.total),
                    "status": r.status,
                    "items": len(r.items),
                }
                for r in found.values()
            ]
        )
        return
    rows = [("编号", "年度", "总分", "项目", "状态", "标题")]
    rows += [
        (r.id, str(r.year or "—"), fmt(r.total) or "—", str(len(r.items)), STATUS_LABELS[r.status], r.title)
        for r in found.values()
    ]
    widths = [max(display_width(row[col]) for row in rows) for col in range(5)]
    for row in rows:
        click.echo("  ".join(pad(cell, widths[col]) for col, cell in enumerate(row[:5])) + "  " + row[5])


@rubrics.command("show", options_metavar="[选项]")
@click.argument("rubric_id", metavar="编号")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（含全部规则）。")
@click.option(
    "--allocation",
    type=EXISTING_FILE,
    metavar="文件",
    help="分值分配文件（原文没有分值的细则，如 jiaozuo-2020）。",
)
@click.pass_obj
def rubrics_show(settings: Settings, rubric_id: str, as_json: bool, allocation: Path | None) -> None:
    """显示一个考评细则：部分、项目、分值和评分规则。"""
    rubric = settings.rubric(rubric_id, allocation)
    if as_json:
        echo_json(rubric_to_dict(rubric))
        return
    width = max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))
    click.echo(click.style(rubric.title, bold=True))
    facts = [
        f"编号 {rubric.id}",
        f"来源 {rubric.source}",
        rubric.issuer or "发文单位不详",
        f"{rubric.year} 年度" if rubric.year else "年度不详",
        f"总分 {fmt(rubric.total) or '未分配'}",
        f"{len(rubric.items)} 项",
        STATUS_LABELS[rubric.status],
    ]
    click.echo(" · ".join(facts))
    for note in rubric.notes:
        for line in wrap(f"说明：{note}", width):
            click.echo(line)
    text_width = width - 14
    for section in rubric.sections:
        click.echo()
        assessor = f"（{section.assessor}考核）" if section.assessor else ""
        points = f"{fmt(section.points)} 分" if section.points is not None else "分值待分配"
        if section.penalty_max is not None:
            points = f"倒扣分 {fmt(section.penalty_max)} 分"
        click.echo(click.style(f"{section.title}  {points}{assessor}", bold=True))
        for item in section.items:
            if item.kind == "penalty":
                label = f"倒扣≤{fmt(item.penalty_max)}"
            else:
                label = f"{fmt(item.points)} 分" if item.points is not None else "待分配"
            first = True
            for line in wrap(item.text, text_width):
                click.echo(f"  {pad(item.id if first else '', 6)}{pad(label if first else '', 8)}{line}")
                first = False
            extra = KIND_LABELS[item.kind]
            if item.assessor:
                extra = f"{extra} 考核单位：{item.assessor}".strip()
            if extra:
                click.echo(" " * 16 + extra)
            for rule in item.rules:
                for index, line in enumerate(wrap(f"· {rule.label}——{rule.summary()}", text_width)):
                    click.echo(" " * (16 if index == 0 else 18) + line)
                if rule.note:
                    for line in wrap(f"注：{rule.note}", text_width - 2):
                        click.echo(" " * 18 + line)
    if rubric.unit_rules or rubric.grade_bands or rubric.components:
        click.echo()
    for component in rubric.components:
        click.echo(
            f"组成：{component.title} 占 {fmt(component.weight * 100)}%"
            + ("（导入）" if component.source == "import" else "")
        )
    if rubric.grade_bands:
        bands = "；".join(f"{fmt(band.minimum)} 分及以上 {band.grade}" for band in rubric.grade_bands)
        click.echo(f"等次：{bands}")
    for veto in rubric.unit_rules:
        click.echo(f"否决：{veto.label}——{veto.summary()}")


@rubrics.command("check", options_metavar="[选项]")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[文件]")
@click.pass_obj
def rubrics_check(settings: Settings, file: Path | None) -> None:
    """检查规则库文件：分值之和、编号唯一、每条规则完整（默认检查当前使用的规则库）。"""
    path = file or settings.rubrics_file or default_rubrics_path()
    found = load_rubrics(path)
    click.echo(f"规则库文件 {path.name} 检查通过：{len(found)} 个考评细则。")
    for rubric in found.values():
        click.echo(
            f"  {rubric.id}：{len(rubric.sections)} 个部分，{len(rubric.items)} 项，总分 {fmt(rubric.total) or '待分配'}"
        )


@cli.command(options_metavar="[选项]")
@click.option("--rubric", "rubric_id", default="jiaozuo-2016", show_default=True, metavar="编号", help="考评细则编号。")
@click.option(
    "--allocation",
    type=EXISTING_FILE,
    metavar="文件",
    help="分值分配文件（原文没有分值的细则）。",
)
@click.option(
    "--units",
    "units_file",
    type=EXISTING_FILE,
    metavar="文件",
    help="单位名单（.csv 或 .xlsx）；默认为随附的焦作 2016 名单。",
)
@click.option(
    "--groups",
    "groups_file",
    type=EXISTING_FILE,
    metavar="文件",
    help="考核组成员名单（.csv 或 .xlsx）。",
)
@click.option("--title", help="考核名称（默认为细则标题）。")
@click.option("--year", type=int, help="考核年度（默认为细则年度）。")
@click.option("--deadline", default="", help="报送截止日期，如 2017年6月10日。")
@click.option("--office", help="组织单位（默认为细则的发文单位）。")
@click.option(
    "--by",
    "split",
    type=click.Choice(["group", "assessor"]),
    help="按考核组分（group）或按考核部门分（assessor）；默认按细则。",
)
@click.option(
    "--template",
    type=EXISTING_FILE,
    metavar="文件",
    help="样式模板（默认 templates/default.json）。",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("考核表"),
    show_default=True,
    metavar="文件夹",
    help="输出文件夹。",
)
@click.option("--force", is_flag=True, help="覆盖输出文件夹中的同名文件。")
@click.pass_obj
def generate(
    settings: Settings,
    rubric_id: str,
    allocation: Path | None,
    units_file: Path | None,
    groups_file: Path | None,
    title: str | None,
    year: int | None,
    deadline: str,
    office: str | None,
    split: str | None,
    template: Path | None,
    out_dir: Path,
    force: bool,
) -> None:
    """生成各考核组（或各考核部门）的考核表和考核清单。"""
    rubric = settings.rubric(rubric_id, allocation)
    roster = load_roster(units_file, groups_file) if units_file else default_roster()
    campaign = Campaign(
        rubric=rubric,
        roster=roster,
        title=title or rubric.title,
        year=year or rubric.year,
        deadline=deadline,
        office=office or rubric.issuer,
        split=split or rubric.split,  # type: ignore[arg-type]
    )
    look = load_template(template) if template else None
    count = len(assignments(campaign))
    if count < 8:
        manifest = generate_campaign(campaign, out_dir, force=force, template=look)
    else:
        with click.progressbar(length=count, label="生成考核表", show_pos=True, file=sys.stderr) as bar:
            manifest = generate_campaign(
                campaign, out_dir, force=force, template=look, progress=lambda *_: bar.update(1)
            )
    units = sum(len(w["units"]) for w in manifest.workbooks)
    click.echo(f"已生成 {len(manifest.workbooks)} 份考核表（共 {units} 个单位表）到 {out_dir}：")
    for workbook in manifest.workbooks:
        click.echo(f"  {workbook['file']}（{workbook['assessor']}，{len(workbook['units'])} 个单位）")
    click.echo(f"考核清单：{manifest.path}（回收核对时需要，请妥善保存，不要发给考核组）")


CAMPAIGN_TARGETS = click.argument(
    "targets", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path), metavar="文件或文件夹..."
)


def campaign_options(command: Any) -> Any:
    """The options shared by check and rank."""
    for option in reversed(
        [
            click.option(
                "--manifest",
                type=EXISTING_FILE,
                metavar="文件",
                help="考核清单（默认在所给文件夹中查找 *.kaohe.json）。",
            ),
            click.option(
                "--imports",
                type=EXISTING_FILE,
                metavar="文件",
                help="导入成绩表（.xlsx 或 .csv，按单位）：如网上考核、折算项目。",
            ),
            click.option(
                "--prefer",
                default="",
                metavar="newest|文件名",
                help="同一考核表收到不同版本时：newest 采用最后保存的，或指定采用的文件名。",
            ),
            click.option(
                "--accept", multiple=True, metavar="文件名", help="确认接受公式或锁定内容被改动的文件（可多次使用）。"
            ),
            click.option(
                "--annotate",
                "annotate_dir",
                type=click.Path(file_okay=False, path_type=Path),
                metavar="文件夹",
                help="为有问题的考核表另存一份标注了问题的副本（原文件不动）。",
            ),
            click.option("-v", "--verbose", is_flag=True, help="也显示提示信息。"),
        ]
    ):
        command = option(command)
    return command


def _run_checks(
    targets: tuple[Path, ...], manifest_path: Path | None, imports: Path | None, prefer: str, accept: tuple[str, ...]
) -> CampaignResult:
    manifest = load_manifest(manifest_path or find_manifest(list(targets)))
    files = collect_files(targets)
    if not files:
        raise KaoheError("没有找到要核对的文件")
    options = Options(prefer=prefer, accept=frozenset(accept), imports=imports)
    if len(files) < 8:
        return check_campaign(files, manifest, options)
    with click.progressbar(length=len(files), label="核对考核表", show_pos=True, file=sys.stderr) as bar:
        return check_campaign(files, manifest, options, progress=lambda _: bar.update(1))


def _print_result(result: CampaignResult, verbose: bool, annotate_dir: Path | None) -> None:
    issues = [i for i in result.all_issues if verbose or i.level != "info"]
    for issue in sorted(issues, key=lambda i: ("error", "warning", "info").index(i.level)):
        click.echo(issue.line())
    accepted = sum(1 for f in result.files if f.status == "accepted")
    done = sum(1 for o in result.outcomes.values() if o.complete)
    counts = {level: sum(1 for i in result.all_issues if i.level == level) for level in ("error", "warning", "info")}
    click.echo(
        f"共读取 {len(result.files)} 个文件（采用 {accepted}，未采用 {len(result.files) - accepted}）；"
        f"{len(result.outcomes)} 个单位中 {done} 个已完成评分。错误 {counts['error']} 个，警告 {counts['warning']} 个，提示 {counts['info']} 个。"
    )
    if annotate_dir is not None:
        for file_result in result.files:
            copy = annotated_copy(file_result, annotate_dir)
            if copy is not None:
                click.echo(f"已生成标注副本：{copy}")


@cli.command(options_metavar="[选项]")
@CAMPAIGN_TARGETS
@campaign_options
def check(
    targets: tuple[Path, ...],
    manifest: Path | None,
    imports: Path | None,
    prefer: str,
    accept: tuple[str, ...],
    annotate_dir: Path | None,
    verbose: bool,
) -> None:
    """核对收回的考核表（只读，不生成排名）：身份、结构、公式、每个填写值。"""
    result = _run_checks(targets, manifest, imports, prefer, accept)
    _print_result(result, verbose, annotate_dir)
    if result.complete:
        warned = any(issue.level == "warning" for issue in result.all_issues)
        click.echo("核对通过：全部单位已评分，没有阻止排名的错误" + ("；请留意上面的警告。" if warned else "。"))
    else:
        click.echo("尚不能形成可靠的排名：请处理上面的错误，或补齐未完成的单位。")
        raise SystemExit(1)


@cli.command(options_metavar="[选项]")
@CAMPAIGN_TARGETS
@campaign_options
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("综合排名.xlsx"),
    show_default=True,
    metavar="文件",
    help="排名工作簿。",
)
@click.option("--force", is_flag=True, help="覆盖已有的排名文件。")
@click.option("--allow-incomplete", is_flag=True, help="有未完成或有问题时仍写出排名（标明“未完成”）。")
@click.option("--pdf", is_flag=True, help="同时用 LibreOffice 生成综合排名的 PDF。")
def rank(
    targets: tuple[Path, ...],
    manifest: Path | None,
    imports: Path | None,
    prefer: str,
    accept: tuple[str, ...],
    annotate_dir: Path | None,
    verbose: bool,
    out_file: Path,
    force: bool,
    allow_incomplete: bool,
    pdf: bool,
) -> None:
    """核对收回的考核表，汇总各组成绩，排名并写出可打印的排名工作簿。"""
    if out_file.exists() and not force:
        raise click.UsageError(f"排名文件 {out_file} 已存在；确需覆盖请加 --force")
    result = _run_checks(targets, manifest, imports, prefer, accept)
    _print_result(result, verbose, annotate_dir)
    if not result.complete and not allow_incomplete:
        click.echo("排名未写出：请处理上面的错误，或加 --allow-incomplete 写出标明“未完成”的排名。")
        raise SystemExit(1)
    try:
        out_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KaoheError(f"无法创建文件夹 {out_file.parent}：{exc.strerror or exc}") from exc
    write_ranking(result, out_file)
    click.echo(f"综合排名已写入 {out_file}" + ("（未完成）" if not result.complete else ""))
    _print_top(result)
    if pdf:
        with tempfile.TemporaryDirectory() as scratch:
            printable = Path(scratch) / out_file.name
            write_ranking(result, printable, only_ranking=True)
            produced = to_pdf(printable, Path(scratch))
            target = out_file.with_suffix(".pdf")
            shutil.copyfile(produced, target)
        click.echo(f"PDF 已写入 {target}")
    if not result.complete:
        raise SystemExit(1)


def _print_top(result: CampaignResult, count: int = 10) -> None:
    ranked = sorted((o for o in result.outcomes.values() if o.rank is not None), key=lambda o: (o.rank, o.unit))
    if not ranked:
        return
    click.echo(f"前 {min(count, len(ranked))} 名：")
    for outcome in ranked[:count]:
        total = outcome.score.total if outcome.score else None
        grade = f"  {outcome.score.grade}" if outcome.score and outcome.score.grade else ""
        click.echo(f"  {outcome.rank:>3}  {pad(outcome.unit, 24)}{pad(outcome.group, 18)}{fmt(total):>7}{grade}")


@cli.command("fill-sample", options_metavar="[选项]")
@click.argument("issued", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="考核表文件夹")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("收回的考核表"),
    show_default=True,
    metavar="文件夹",
    help="填好的考核表存放处。",
)
@click.option("--seed", type=int, default=2017, show_default=True, help="随机种子（同一种子填写结果相同）。")
@click.option("--force", is_flag=True, help="覆盖同名文件。")
def fill_sample(issued: Path, out_dir: Path, seed: int, force: bool) -> None:
    """模拟各考核组填写考核表（培训和演示用）：大多数项目不扣分，部分扣分写明理由，少量加分，一个单位有否决情形，一个组略宽松。"""
    manifest = load_manifest(find_manifest([issued]))
    filled = fill_campaign(manifest, issued, out_dir, seed=seed, force=force)
    click.echo(f"已模拟填写 {len(filled)} 份考核表到 {out_dir}：")
    for path in filled:
        click.echo(f"  {path.name}")


@cli.command(options_metavar="[选项]")
@click.argument(
    "folder",
    required=False,
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kaohe-demo"),
    metavar="[文件夹]",
)
@click.option("--force", is_flag=True, help="文件夹已有演示文件时覆盖。")
def demo(folder: Path, force: bool) -> None:
    """用随附的焦作 2016 样例走一遍全流程：生成考核表、模拟填写、核对、排名。"""
    rubric = load_rubrics()["jiaozuo-2016"]
    campaign = Campaign(rubric, default_roster(), rubric.title, rubric.year, "2017年6月10日", rubric.issuer)
    issued, returned, ranking = folder / "1-下发的考核表", folder / "2-收回的考核表", folder / "3-综合排名.xlsx"
    if ranking.exists() and not force:
        raise click.UsageError(f"{folder} 中已有演示结果；确需重新演示请加 --force")
    click.echo(f"第 1 步  生成考核表 → {issued}")
    manifest = generate_campaign(campaign, issued, force=force)
    for workbook in manifest.workbooks:
        click.echo(f"         {workbook['file']}（{len(workbook['units'])} 个单位）")
    click.echo(f"第 2 步  模拟各考核组填写并交回 → {returned}")
    filled = fill_campaign(load_manifest(manifest.path), issued, returned, force=True)
    for path in filled:
        click.echo(f"         {path.name}")
    click.echo("第 3 步  核对交回的考核表")
    result = check_campaign(filled, load_manifest(manifest.path))
    _print_result(result, verbose=False, annotate_dir=None)
    click.echo(f"第 4 步  排名 → {ranking}")
    write_ranking(result, ranking)
    _print_top(result)
    click.echo(f"演示完成。用 Excel 或 WPS 打开 {ranking} 查看综合排名、分组排名、明细和核对报告。")


def main() -> None:
    """Console entry point."""
    try:
        cli(prog_name="kaohe")
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
