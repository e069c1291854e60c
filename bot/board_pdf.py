"""The monthly report as a PDF for the residents' council, with its charts, drawn by reportlab.

reportlab needs no browser and no network; its built-in CID font STSong-Light renders Chinese without a
font file (the reader's PDF viewer supplies the glyphs, as Adobe's Asian font packs define).
"""

from __future__ import annotations

import io
from typing import Any

from handlers.board.charts import PALETTE, fen_to_yuan
from handlers.board.report import MonthlyReport
from handlers.board.rules import format_yuan

FONT = "STSong-Light"


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _pie(title: str, slices: list[tuple[str, float]]) -> Any:
    from reportlab.graphics.charts.piecharts import Pie
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(240, 190)
    drawing.add(String(120, 175, title, fontName=FONT, fontSize=11, textAnchor="middle"))
    slices = [(name, value) for name, value in slices if value > 0]
    if not slices:
        drawing.add(String(120, 90, "暂无数据", fontName=FONT, fontSize=10, textAnchor="middle"))
        return drawing
    pie = Pie()
    pie.x, pie.y, pie.width, pie.height = 70, 30, 110, 110
    pie.data = [value for _, value in slices]
    total = sum(pie.data)
    pie.labels = [f"{name} {100 * value / total:.0f}%" for name, value in slices]
    pie.simpleLabels = 1
    pie.slices.fontName = FONT
    pie.slices.fontSize = 8
    pie.slices.strokeColor = colors.white
    for i in range(len(slices)):
        pie.slices[i].fillColor = colors.HexColor(PALETTE[i % len(PALETTE)])
    drawing.add(pie)
    return drawing


def _bars(title: str, rows: list[tuple[str, int]]) -> Any:
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    height = max(120, 26 * len(rows) + 50)
    drawing = Drawing(480, height)
    drawing.add(String(240, height - 14, title, fontName=FONT, fontSize=11, textAnchor="middle"))
    if not rows:
        drawing.add(String(240, height / 2, "本月没有报修和反映", fontName=FONT, fontSize=10, textAnchor="middle"))
        return drawing
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 110, 20, 330, height - 50
    # The first row at the top, as it reads.
    chart.data = [[n for _, n in reversed(rows)]]
    chart.categoryAxis.categoryNames = [label for label, _ in reversed(rows)]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 9
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 8
    chart.bars[0].fillColor = colors.HexColor(PALETTE[0])
    chart.barLabelFormat = "%d"
    chart.barLabels.fontSize = 8
    chart.barLabels.nudge = 8
    drawing.add(chart)
    return drawing


def report_pdf(report: MonthlyReport) -> bytes:
    """The report as PDF bytes: figures, three charts and the month's allocations."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    title = ParagraphStyle("title", fontName=FONT, fontSize=18, leading=24, spaceAfter=6)
    heading = ParagraphStyle("heading", fontName=FONT, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=15)
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("FONTSIZE", (0, 0), (-1, -1), 10),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6f4ee")),
            ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ]
    )
    figures = [
        ["项目", "本月"],
        ["收到报修和反映", f"{report.reported} 件"],
        ["办结", f"{report.handled} 件"],
        ["按时办结率", f"{report.on_time_rate}%（{report.on_time}/{report.handled}）"],
        ["居民满意率", f"{report.satisfaction_rate}%（{report.satisfied}/{report.ratings} 条评价）"],
        ["志愿服务", f"{report.volunteer_hours} 小时（{report.volunteers} 人，{report.volunteer_stays} 人次）"],
        ["发放积分 / 兑换积分", f"{report.points_awarded} / {report.points_redeemed}"],
    ]
    if report.participation is not None:
        p = report.participation
        figures += [
            ["居民建议 / 上议事会", f"{p.proposals} / {p.proposals_on_agenda}"],
            ["表决 / 投票户数", f"{p.votes} / {p.ballots}"],
        ]
    money = [
        ["预算总额", format_yuan(report.budget_fen)],
        *[[f"  其中 {name}", format_yuan(fen)] for name, fen in report.by_source],
        ["已分配", format_yuan(report.allocated_fen)],
        ["本月支出", format_yuan(report.spent_in_month_fen)],
    ]
    allocations = [["编号", "本月公示项目", "用途", "金额", "进度", "异议"]] + [
        [a.number, a.title, a.purpose_name, format_yuan(a.amount_fen), f"{a.progress}%", str(a.objections)]
        for a in report.published_in_month
    ]
    satisfaction = [("满意", float(report.satisfied)), ("不满意", float(report.ratings - report.satisfied))]
    purposes = [(name, fen_to_yuan(fen)) for name, fen in report.allocations_by_purpose]
    charts = Table([[_pie("居民评价", satisfaction), _pie("资金用途", purposes)]])
    story: list[Any] = [
        Paragraph(report.title, title),
        Paragraph("给居民议事会的月度报告", body),
        Paragraph("为居民办事、志愿服务和积分", heading),
        Table(figures, colWidths=[60 * mm, 100 * mm], style=grid),
        Spacer(1, 4 * mm),
        _bars("本月工单（按类别）", report.tickets_by_category),
        charts,
        Paragraph("预算和分配", heading),
        Table(money, colWidths=[60 * mm, 100 * mm], style=grid),
        Spacer(1, 3 * mm),
    ]
    if report.published_in_month:
        story.append(Table(allocations, style=grid, repeatRows=1))
    else:
        story.append(Paragraph("本月没有新公示的项目。", body))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, title=report.title, author=report.name, leftMargin=18 * mm, rightMargin=18 * mm
    )
    doc.build(story)
    return out.getvalue()
