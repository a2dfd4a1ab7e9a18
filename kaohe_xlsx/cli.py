"""The ``kaohe`` command: parses arguments, calls the library, prints. Nothing else.

Library errors (:class:`KaoheError`) become click errors here and nowhere else,
so a user sees one Chinese line, never a traceback. Set ``KAOHE_DEBUG=1`` to
see the traceback of an unexpected error.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from . import __version__, click_zh
from .click_zh import display_width
from .generate import Campaign, assignments, generate_campaign, load_template
from .issues import KaoheError
from .model import Rubric, fmt
from .roster import default_roster, load_roster
from .rubrics import default_rubrics_path, load_allocation, load_rubrics, rubric_to_dict

click_zh.install()  # before the decorators below build their help texts

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
            raise KaoheError(f"没有编号为 {rubric_id} 的规则库。可用的规则库：{'、'.join(rubrics)}（用 kaohe rubrics list 查看）")
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
        (r.id, str(r.year or "—"), fmt(r.total) or "—", str(len(r.items)), STATUS_LABELS[r.status], r.title) for r in found.values()
    ]
    widths = [max(display_width(row[col]) for row in rows) for col in range(5)]
    for row in rows:
        click.echo("  ".join(pad(cell, widths[col]) for col, cell in enumerate(row[:5])) + "  " + row[5])


@rubrics.command("show", options_metavar="[选项]")
@click.argument("rubric_id", metavar="编号")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（含全部规则）。")
@click.option(
    "--allocation",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
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
        click.echo(f"组成：{component.title} 占 {fmt(component.weight * 100)}%" + ("（导入）" if component.source == "import" else ""))
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
        click.echo(f"  {rubric.id}：{len(rubric.sections)} 个部分，{len(rubric.items)} 项，总分 {fmt(rubric.total) or '待分配'}")


@cli.command(options_metavar="[选项]")
@click.option("--rubric", "rubric_id", default="jiaozuo-2016", show_default=True, metavar="编号", help="考评细则编号。")
@click.option("--allocation", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="文件", help="分值分配文件（原文没有分值的细则）。")
@click.option("--units", "units_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="文件", help="单位名单（.csv 或 .xlsx）；默认为随附的焦作 2016 名单。")
@click.option("--groups", "groups_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="文件", help="考核组成员名单（.csv 或 .xlsx）。")
@click.option("--title", help="考核名称（默认为细则标题）。")
@click.option("--year", type=int, help="考核年度（默认为细则年度）。")
@click.option("--deadline", default="", help="报送截止日期，如 2017年6月10日。")
@click.option("--office", help="组织单位（默认为细则的发文单位）。")
@click.option("--by", "split", type=click.Choice(["group", "assessor"]), help="按考核组分（group）或按考核部门分（assessor）；默认按细则。")
@click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="文件", help="样式模板（默认 templates/default.json）。")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("考核表"), show_default=True, metavar="文件夹", help="输出文件夹。")
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
    with click.progressbar(length=len(assignments(campaign)), label="生成考核表", show_pos=True) as bar:
        manifest = generate_campaign(campaign, out_dir, force=force, template=look, progress=lambda *_: bar.update(1))
    units = sum(len(w["units"]) for w in manifest.workbooks)
    click.echo(f"已生成 {len(manifest.workbooks)} 份考核表（共 {units} 个单位表）到 {out_dir}：")
    for workbook in manifest.workbooks:
        click.echo(f"  {workbook['file']}（{workbook['assessor']}，{len(workbook['units'])} 个单位）")
    click.echo(f"考核清单：{manifest.path}（回收核对时需要，请妥善保存，不要发给考核组）")


def main() -> None:
    """Console entry point."""
    try:
        cli(prog_name="kaohe")
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
