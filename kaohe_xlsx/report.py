"""The consolidated ranking workbook (xlsxwriter), printable for the leadership.

Sheets: 综合排名, 分组排名, 明细, 核对报告, 统计 (with a chart), 来源. Every
number comes from the scoring engine; nothing is read back from the returned
workbooks' formulas.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from .generate import checked, close, load_template, print_setup, text_height
from .issues import LEVEL_LABELS, KaoheError
from .model import fmt
from .reconcile import CampaignResult, UnitOutcome
from .scoring import Line

STATUS_LABELS = {"accepted": "已采用", "rejected": "未采用"}


def _number(value: Decimal | None) -> float | int | str:
    if value is None:
        return ""
    return int(value) if value == value.to_integral_value() else float(value)


class _Formats:
    def __init__(self, workbook: Workbook, template: dict[str, Any]):
        fonts = template["fonts"]
        colours = template["colours"]
        body = {"font_name": fonts["body"], "font_size": fonts["body_size"], "valign": "vcenter", "border": 1}
        self.title = workbook.add_format(
            {"font_name": fonts["title"], "font_size": fonts["title_size"], "bold": True, "align": "center"}
        )
        self.subtitle = workbook.add_format(
            {"font_name": fonts["body"], "font_size": fonts["small_size"], "align": "center"}
        )
        self.warning = workbook.add_format(
            {
                "font_name": fonts["title"],
                "font_size": fonts["subtitle_size"],
                "bold": True,
                "font_color": "#C00000",
                "align": "center",
            }
        )
        self.header = workbook.add_format(
            {**body, "bold": True, "align": "center", "text_wrap": True, "bg_color": colours["header"]}
        )
        self.cell = workbook.add_format(body)
        self.wrap = workbook.add_format({**body, "text_wrap": True})
        self.center = workbook.add_format({**body, "align": "center"})
        self.total = workbook.add_format({**body, "align": "center", "bold": True, "bg_color": colours["total"]})


class _Writer:
    def __init__(self, result: CampaignResult, template: dict[str, Any], generated: datetime):
        self.result = result
        self.template = template
        self.generated = generated
        self.campaign = result.manifest.campaign
        self.rubric = result.rubric

    def write(self, path: Path, only_ranking: bool = False) -> None:
        # constant_memory: rows are streamed to disk in order (the 明细 of 10,000 units is 260,000 rows)
        workbook = xlsxwriter.Workbook(
            str(path),
            {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False, "constant_memory": True},
        )
        workbook.set_properties(
            {
                "title": f"{self.campaign['title']}综合排名",
                "author": self.campaign.get("office", ""),
                "created": self.generated,
            }
        )
        formats = _Formats(workbook, self.template)
        self._ranking(workbook.add_worksheet("综合排名"), formats)
        if only_ranking:
            close(workbook, path)
            return
        self._groups(workbook.add_worksheet("分组排名"), formats)
        self._details(workbook.add_worksheet("明细"), formats)
        self._report(workbook.add_worksheet("核对报告"), formats)
        self._statistics(workbook, workbook.add_worksheet("统计"), formats)
        self._sources(workbook.add_worksheet("来源"), formats)
        close(workbook, path)

    # --- helpers ---

    def _title(self, ws: Worksheet, formats: _Formats, title: str, width: int) -> int:
        """Title, status and source lines; returns the header row."""
        checked(ws.merge_range(0, 0, 0, width - 1, "", formats.title), "标题")
        checked(ws.write_string(0, 0, title, formats.title), "标题")
        row = 1
        if not self.result.complete:
            checked(ws.merge_range(row, 0, row, width - 1, "", formats.warning), "状态")
            checked(
                ws.write_string(
                    row, 0, "未完成：尚有单位未考核完毕或存在待处理的问题，本排名仅供核对", formats.warning
                ),
                "状态",
            )
            row += 1
        stamp = self.generated.astimezone().strftime("%Y-%m-%d %H:%M")
        note = f"考评细则：{self.rubric.title}（{self.rubric.id}）　生成时间：{stamp}"
        checked(ws.merge_range(row, 0, row, width - 1, "", formats.subtitle), "说明")
        checked(ws.write_string(row, 0, note, formats.subtitle), "说明")
        return row + 2

    def _print(self, ws: Worksheet, header_row: int, landscape: bool) -> None:
        print_setup(ws, self.template, landscape=landscape)
        ws.repeat_rows(0, header_row)
        ws.freeze_panes(header_row + 1, 2)

    def _ordered(self) -> list[UnitOutcome]:
        outcomes = list(self.result.outcomes.values())
        ranked = sorted((o for o in outcomes if o.rank is not None), key=lambda o: (o.rank, o.unit))
        return ranked + [o for o in outcomes if o.rank is None]

    # --- sheets ---

    def _ranking(self, ws: Worksheet, formats: _Formats) -> None:
        rubric = self.rubric
        sections = rubric.sections
        imported = [c for c in rubric.components if c.source == "import"]
        workbook_part = next((c for c in rubric.components if c.source == "workbook"), None)
        headers = ["名次", "单位", "考核组"]
        headers += [f"{s.title}\n（{fmt(s.points)}分）" if s.points else s.title for s in sections]
        headers += ["加分"]
        if workbook_part is not None:
            headers += [f"{workbook_part.title}\n（{fmt(workbook_part.weight * 100)}%）"]
            headers += [f"{c.title}\n（{fmt(c.weight * 100)}%）" for c in imported]
        headers += ["总分"]
        if rubric.grade_bands:
            headers += ["等次"]
        headers += ["说明"]
        header_row = self._title(ws, formats, f"{self.campaign['title']}综合排名", len(headers))
        ws.set_row(header_row, 62)  # before the row is written: rows stream out in order
        for col, text in enumerate(headers):
            checked(ws.write_string(header_row, col, text, formats.header), "表头")
        remark_width = 34
        for index, outcome in enumerate(self._ordered(), start=header_row + 1):
            score = outcome.score
            values: list[Any] = [outcome.rank or "", outcome.unit, outcome.group]
            values += [_number(score.sections.get(s.id)) if score else "" for s in sections]
            values += [_number(score.bonus_total) if score else ""]
            if workbook_part is not None:
                values += [_number(score.workbook_total) if score else ""]
                values += [_number(score.components.get(c.id)) if score else "" for c in imported]
            values += [_number(score.total) if score and outcome.complete else ""]
            if rubric.grade_bands:
                values += [score.grade if score and outcome.complete else ""]
            values += [self._remarks(outcome)]
            if values[-1]:
                ws.set_row(index, text_height(values[-1], remark_width, self.template["fonts"]["body_size"]))
            for col, value in enumerate(values):
                style = formats.total if headers[col] == "总分" else formats.center
                if headers[col] in ("单位", "考核组"):
                    style = formats.cell
                if col == len(values) - 1:
                    style = formats.wrap
                _put(ws, index, col, value, style)
        ws.set_column(0, 0, 6)
        ws.set_column(1, 1, 20)
        ws.set_column(2, 2, 14)
        ws.set_column(3, len(headers) - 2, 10)
        ws.set_column(len(headers) - 1, len(headers) - 1, remark_width)
        self._print(ws, header_row, landscape=len(headers) > 10)

    def _remarks(self, outcome: UnitOutcome) -> str:
        parts = []
        if outcome.score is not None and outcome.score.vetoes:
            parts.append("；".join(outcome.score.vetoes))
            if not self.rubric.grade_bands:
                parts.append("不得评先")
        if not outcome.complete:
            parts.append(f"{outcome.status}：" + "；".join(outcome.problems or ["尚未完成"]))
        return "；".join(parts)

    def _groups(self, ws: Worksheet, formats: _Formats) -> None:
        headers = ["考核组", "组内名次", "综合名次", "单位", "总分"]
        header_row = self._title(ws, formats, f"{self.campaign['title']}分组排名", len(headers))
        for col, text in enumerate(headers):
            checked(ws.write_string(header_row, col, text, formats.header), "表头")
        row = header_row + 1
        groups: dict[str, list[UnitOutcome]] = {}
        for outcome in self.result.outcomes.values():
            groups.setdefault(outcome.group, []).append(outcome)
        for group, members in groups.items():
            members.sort(key=lambda o: (o.group_rank is None, o.group_rank or 0, o.unit))
            for outcome in members:
                total = outcome.score.total if outcome.score and outcome.complete else None
                values: list[Any] = [
                    group,
                    outcome.group_rank or "",
                    outcome.rank or "",
                    outcome.unit,
                    _number(total) if total is not None else outcome.status,
                ]
                for col, value in enumerate(values):
                    _put(ws, row, col, value, formats.cell if col in (0, 3) else formats.center)
                row += 1
        ws.set_column(0, 0, 18)
        ws.set_column(1, 2, 9)
        ws.set_column(3, 3, 22)
        ws.set_column(4, 4, 10)
        self._print(ws, header_row, landscape=False)

    def _details(self, ws: Worksheet, formats: _Formats) -> None:
        headers = [
            "单位",
            "考核组",
            "项目",
            "分值",
            "填写",
            "得分",
            "加分",
            "扣分、加分说明",
            "来源文件",
            "工作表",
            "填写格",
        ]
        row = 0
        for col, text in enumerate(headers):
            checked(ws.write_string(row, col, text, formats.header), "表头")
        items = [(item, [(item.id, rule.id) for rule in item.rules]) for item in self.rubric.items]
        text, number = formats.cell, formats.center
        for outcome in self.result.outcomes.values():
            if outcome.score is None:
                continue
            by_item = {item_id: record for record in outcome.records for item_id in record.item_ids}
            for item, keys in items:
                scored = outcome.score.items[item.id]
                record = by_item.get(item.id)
                row += 1
                values: list[Any] = [outcome.unit, outcome.group, item.id, _number(item.points), "", _number(scored.score)]
                values.append(_number(scored.bonus) if scored.bonus else "")
                if record is None:
                    values[4] = _explain(scored.lines)
                else:
                    entries = "；".join(f"{key[1]}={record.entries[key]}" for key in keys if key in record.entries)
                    cells = "、".join(record.addresses[key] for key in keys if key in record.addresses)
                    values[4] = entries or _explain(scored.lines)
                    values += [record.reasons.get(item.id, ""), record.file, record.sheet, cells]
                # 260,000 rows for 10,000 units: write directly, and leave empty cells empty
                for col, value in enumerate(values):
                    if isinstance(value, str):
                        if value:
                            ws.write_string(row, col, value, text)
                    else:
                        ws.write_number(row, col, value, number)
        if row >= ws.xls_rowmax:
            raise KaoheError(f"明细超过 Excel 的行数上限（{ws.xls_rowmax} 行），请分批汇总")
        ws.set_column(0, 1, 16)
        ws.set_column(2, 3, 6)
        ws.set_column(4, 4, 24)
        ws.set_column(5, 6, 6)
        ws.set_column(7, 7, 30)
        ws.set_column(8, 10, 18)
        ws.autofilter(0, 0, max(row, 1), len(headers) - 1)
        ws.freeze_panes(1, 1)

    def _report(self, ws: Worksheet, formats: _Formats) -> None:
        headers = ["级别", "文件", "工作表", "单元格", "说明", "代码"]
        for col, text in enumerate(headers):
            checked(ws.write_string(0, col, text, formats.header), "表头")
        order = {"error": 0, "warning": 1, "info": 2}
        issues = sorted(self.result.all_issues, key=lambda i: order[i.level])
        for row, issue in enumerate(issues, start=1):
            for col, value in enumerate(
                (LEVEL_LABELS[issue.level], issue.file, issue.sheet, issue.cell, issue.message, issue.code)
            ):
                checked(ws.write_string(row, col, value, formats.wrap if col == 4 else formats.cell), "核对报告")
        ws.set_column(0, 0, 6)
        ws.set_column(1, 1, 26)
        ws.set_column(2, 2, 16)
        ws.set_column(3, 3, 8)
        ws.set_column(4, 4, 70)
        ws.set_column(5, 5, 18)
        ws.autofilter(0, 0, max(len(issues), 1), len(headers) - 1)
        ws.freeze_panes(1, 0)

    def _statistics(self, workbook: Workbook, ws: Worksheet, formats: _Formats) -> None:
        headers = ["考核组", "单位数", "平均分", "中位数", "标准差", "最低分", "最高分", "提示"]
        header_row = self._title(ws, formats, "各考核组评分统计", len(headers))
        for col, text in enumerate(headers):
            checked(ws.write_string(header_row, col, text, formats.header), "表头")
        stats = self.result.group_stats
        for index, row in enumerate(stats, start=header_row + 1):
            values = [row.group, row.count, row.mean, row.median, row.std, row.min, row.max, row.flag]
            for col, value in enumerate(values):
                if isinstance(value, float):
                    value = round(value, 2)
                elif value is None:  # a group of one has no spread
                    value = "—"
                _put(ws, index, col, value, formats.cell if col in (0, 7) else formats.center)
        ws.set_column(0, 0, 18)
        ws.set_column(1, 6, 9)
        ws.set_column(7, 7, 12)
        if len(stats):
            first, last = header_row + 1, header_row + len(stats)
            chart = workbook.add_chart({"type": "column"})
            for col, name in ((5, "最低分"), (2, "平均分"), (6, "最高分")):
                chart.add_series(
                    {"name": name, "categories": ["统计", first, 0, last, 0], "values": ["统计", first, col, last, col]}
                )
            chart.set_title({"name": "各考核组得分分布"})
            chart.set_y_axis({"name": "得分"})
            chart.set_legend({"position": "bottom"})
            ws.insert_chart(last + 2, 0, chart, {"x_scale": 1.6, "y_scale": 1.2})

    def _sources(self, ws: Worksheet, formats: _Formats) -> None:
        headers = ["文件", "sha256", "大小（字节）", "保存时间", "保存程序", "考核组", "处理", "原因"]
        for col, text in enumerate(headers):
            checked(ws.write_string(0, col, text, formats.header), "表头")
        for row, result in enumerate(self.result.files, start=1):
            values: list[Any] = [
                result.name,
                result.sha256,
                result.size,
                result.saved_at,
                result.application,
                result.assessor,
                "待确认" if result.tampered else STATUS_LABELS[result.status],
                "公式或锁定内容被改动" if result.tampered and not result.reason else result.reason,
            ]
            for col, value in enumerate(values):
                _put(ws, row, col, value, formats.cell if isinstance(value, str) else formats.center)
        ws.set_column(0, 0, 30)
        ws.set_column(1, 1, 20)
        ws.set_column(2, 6, 12)
        ws.set_column(7, 7, 50)


def _put(ws: Worksheet, row: int, col: int, value: Any, style: Any) -> None:
    """Text as text (a unit named "=1+1" stays text), numbers as numbers."""
    if isinstance(value, str):
        checked(ws.write_string(row, col, value, style), ws.name)
    else:
        checked(ws.write_number(row, col, value, style), ws.name)


def _explain(lines: tuple[Line, ...]) -> str:
    return "；".join(line.text for line in lines)


def write_ranking(
    result: CampaignResult,
    path: Path,
    *,
    template: dict[str, Any] | None = None,
    now: datetime | None = None,
    only_ranking: bool = False,
) -> None:
    """Write the ranking workbook to ``path`` (the caller checks it may be written);
    ``only_ranking`` writes the 综合排名 sheet alone, for printing."""
    writer = _Writer(result, template or load_template(), now or datetime.now(UTC).replace(microsecond=0))
    writer.write(path, only_ranking)
