"""A certificate as one A4 page of PDF, in Chinese, its font embedded, with a QR code to the
public verification page, the number and the verification code.

reportlab embeds TrueType fonts (a subset of the glyphs used) but not the CFF outlines of Noto
CJK: the font is WenQuanYi Zen Hei (Debian's ``fonts-wqy-zenhei``, installed by
``make tools`` and in the images), the first of ``FONT_PATHS`` found, or
``CERTIFICATE_FONT_PATH``. The gateway renders it from the certificate's frozen content.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import cache
from typing import Any

import qrcode
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT_NAME = "JinguoCJK"
#: TrueType CJK fonts, in order of preference: (path, index of the face in a collection)
FONT_PATHS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
THEME_LABELS = {
    "low_carbon_living": "低碳生活",
    "civilised_traffic": "文明交通",
    "healthy_living": "健康生活",
    "caring_for_the_vulnerable": "关爱弱势群体",
    "rights_mutual_aid": "维权互助",
    "legal_aid": "法律援助",
    "family_education": "家庭教育",
    "entrepreneurship_mentoring": "创业导师",
    "other": "其他",
}
#: the most activities listed by name on the page (the rest are counted in one line)
MAX_ACTIVITY_LINES = 12
RED = HexColor("#b3261e")
GREY = HexColor("#555555")


class FontMissing(RuntimeError):
    """No TrueType CJK font: run ``make tools`` (fonts-wqy-zenhei)."""


def font_path() -> tuple[str, int]:
    configured = os.environ.get("CERTIFICATE_FONT_PATH")
    candidates: Sequence[tuple[str, int]] = (
        ((configured, 0), *FONT_PATHS) if configured else FONT_PATHS
    )
    for path, index in candidates:
        if os.path.exists(path):
            return path, index
    raise FontMissing("no TrueType CJK font for certificates: install fonts-wqy-zenhei")


@cache
def _register_font() -> str:
    path, index = font_path()
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
    return FONT_NAME


def _date(text: str) -> str:
    year, month, day = text.split("-")
    return f"{int(year)}年{int(month)}月{int(day)}日"


def _qr(url: str) -> ImageReader:
    image = qrcode.make(url, box_size=6, border=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return ImageReader(buffer)


def _hours(value: Any) -> str:
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _activity_lines(content: dict[str, Any]) -> list[str]:
    rows = content.get("activities") or []
    lines = []
    for row in rows[:MAX_ACTIVITY_LINES]:
        place = f"（{row['place']}）" if row.get("place") else ""
        theme = THEME_LABELS.get(row.get("theme", ""), row.get("theme", ""))
        lines.append(f"· {row['title']}{place}  {theme}  {_hours(row['hours'])} 小时")
    if len(rows) > MAX_ACTIVITY_LINES:
        lines.append(f"……另有 {len(rows) - MAX_ACTIVITY_LINES} 项活动")
    return lines


def render(content: dict[str, Any], code: str, verify_url: str, *, revoked: bool = False) -> bytes:
    """The certificate's PDF: one A4 page."""
    font = _register_font()
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=font)
    pdf.setTitle(f"志愿服务证明 {content['number']}")
    pdf.setAuthor(content.get("issuer_name") or "")
    _heading(pdf, font, content)
    _body(pdf, font, content)
    _footer(pdf, font, content, code, verify_url)
    if revoked:
        _revoked_stamp(pdf, font)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _heading(pdf: Canvas, font: str, content: dict[str, Any]) -> None:
    width, height = A4
    pdf.setStrokeColor(RED)
    pdf.setLineWidth(2)
    pdf.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)
    pdf.setFillColor(RED)
    pdf.setFont(font, 30)
    pdf.drawCentredString(width / 2, height - 50 * mm, "志愿服务证明")
    pdf.setFillColor(GREY)
    pdf.setFont(font, 10.5)
    pdf.drawRightString(width - 25 * mm, height - 62 * mm, f"证明编号：{content['number']}")


def _body(pdf: Canvas, font: str, content: dict[str, Any]) -> None:
    left, height = 25 * mm, A4[1]
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setFont(font, 13)
    masked = content.get("masked_id_number")
    id_text = f"（身份证号 {masked}）" if masked else ""
    themes = "、".join(THEME_LABELS.get(t, t) for t in content.get("themes") or []) or "—"
    places = "、".join(content.get("places") or []) or "—"
    lines = [
        f"兹证明 {content['volunteer_name']}{id_text}",
        f"于 {_date(content['period_from'])} 至 {_date(content['period_to'])} 期间参加志愿服务，",
        f"经核验的服务时长共计 {_hours(content['total_hours'])} 小时"
        f"（{content['total_minutes']} 分钟，{content['entries']} 次）。",
        f"服务领域：{themes}",
        f"服务地点：{places}",
    ]
    y = height - 80 * mm
    for line in lines:
        pdf.drawString(left, y, line)
        y -= 9 * mm
    pdf.setFont(font, 12)
    pdf.drawString(left, y, "服务活动：")
    y -= 7 * mm
    pdf.setFont(font, 10.5)
    for line in _activity_lines(content):
        pdf.drawString(left + 5 * mm, y, line)
        y -= 6 * mm


def _footer(pdf: Canvas, font: str, content: dict[str, Any], code: str, url: str) -> None:
    left, right = 25 * mm, A4[0] - 25 * mm
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setFont(font, 13)
    pdf.drawRightString(right, 82 * mm, f"出具单位：{content['issuer_name']}")
    pdf.drawRightString(right, 73 * mm, f"出具日期：{_date(content['issued_on'])}")
    size = 32 * mm
    text_x = left + size + 5 * mm
    pdf.drawImage(_qr(url), left, 30 * mm, size, size)
    pdf.setFont(font, 10)
    pdf.drawString(text_x, 54 * mm, f"验证码：{code}")
    pdf.drawString(text_x, 47 * mm, "扫描二维码，或在“证明查验”页输入编号与验证码，")
    pdf.drawString(text_x, 41 * mm, "核验本证明的真伪与是否有效。")
    pdf.setFillColor(GREY)
    pdf.setFont(font, 8)
    pdf.drawString(text_x, 34 * mm, url[:90])


def _revoked_stamp(pdf: Canvas, font: str) -> None:
    width, height = A4
    pdf.saveState()
    pdf.setFillColor(RED)
    pdf.setFont(font, 12)
    pdf.drawString(25 * mm, height - 62 * mm, "本证明已撤销，不再有效")
    pdf.setFont(font, 60)
    pdf.translate(width / 2, height / 2)
    pdf.rotate(30)
    pdf.drawCentredString(0, 0, "已撤销")
    pdf.restoreState()
