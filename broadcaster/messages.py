"""The message catalogue for `check` and `next`: English and Vietnamese, chosen by locale.

Every message a technician or editor reads from these commands is a template here,
so a translation is a table to fill, not code to change.
"""

from __future__ import annotations

import os

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "warning": "warning",
        "error": "error",
        "slot_over": 'the slot for "{bulletin}" ended on {end}: it will not play again (change end or remove the slot)',
        "slot_quiet": 'zone {zone}: "{bulletin}" at {time} falls in the quiet hours {quiet} and will not play '
                      '(move it, or make it urgent)',
        "overlap": 'zone {zone}: "{first}" and "{second}" (line {other}) overlap on {when}: '
                   '"{first}" lasts {duration}; move one of them',
        "not_rendered": 'bulletin "{bulletin}" has not been rendered yet (run broadcaster build)',
        "stale": 'bulletin "{bulletin}": the rendered audio is older than its script (run broadcaster build)',
        "no_slots": "no [[slots]] are defined: nothing will be aired",
        "summary_clean": "{path}: no problems found ({bulletins} bulletins, {zones} zones, {slots} slots).",
        "summary": "{path}: {errors} errors, {warnings} warnings.",
        "next_none": "No airings in the next {days} days.",
        "next_header": ["time", "zone", "bulletin", "title", "priority", "duration"],
    },
    "vi": {
        "warning": "cảnh báo",
        "error": "lỗi",
        "slot_over": 'khung giờ phát "{bulletin}" đã kết thúc ngày {end}: sẽ không phát nữa '
                     '(sửa end hoặc xóa khung giờ)',
        "slot_quiet": 'vùng {zone}: "{bulletin}" lúc {time} rơi vào giờ nghỉ {quiet} nên sẽ không phát '
                      '(đổi giờ, hoặc đặt priority = "urgent")',
        "overlap": 'vùng {zone}: "{first}" và "{second}" (dòng {other}) trùng giờ ngày {when}: '
                   '"{first}" dài {duration}; hãy dời một bản tin',
        "not_rendered": 'bản tin "{bulletin}" chưa được tạo âm thanh (chạy broadcaster build)',
        "stale": 'bản tin "{bulletin}": âm thanh cũ hơn kịch bản (chạy broadcaster build)',
        "no_slots": "chưa có khung giờ [[slots]] nào: sẽ không phát gì",
        "summary_clean": "{path}: không có lỗi ({bulletins} bản tin, {zones} vùng, {slots} khung giờ).",
        "summary": "{path}: {errors} lỗi, {warnings} cảnh báo.",
        "next_none": "Không có lượt phát nào trong {days} ngày tới.",
        "next_header": ["giờ phát", "vùng", "bản tin", "tiêu đề", "mức ưu tiên", "thời lượng"],
    },
}


def language(environ=os.environ) -> str:
    """'vi' when the locale is Vietnamese (LC_ALL, LC_MESSAGES, LANG), else 'en'."""
    for var in ("BROADCASTER_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var)
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return "en"


def text(key: str, lang: str | None = None, **values) -> str:
    template = CATALOGUE[lang or language()][key]
    return template.format(**values) if isinstance(template, str) else template
