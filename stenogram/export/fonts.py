"""Finding a TrueType font that has every Kazakh and Russian letter, to embed in the PDF.

Searched in order: $COURTROOM_PDF_FONT (a .ttf; its bold twin is looked for beside it), the
package's own stenogram/fonts/ folder (a court may drop its own font there), then the usual
system folders (Debian's fonts-dejavu-core puts DejaVu Sans in /usr/share/fonts/truetype/dejavu).
A font is accepted only if its character map covers every letter in REQUIRED."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

KAZAKH = "әғқңөұүһіӘҒҚҢӨҰҮҺІ"
REQUIRED = KAZAKH + "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ№«»–—"

CANDIDATES = [
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    ("FreeSans.ttf", "FreeSansBold.ttf"),
]
SYSTEM_DIRS = [
    "/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF",
    "/usr/share/fonts/truetype/noto", "/usr/share/fonts/noto", "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/truetype/freefont", "/usr/local/share/fonts", "/Library/Fonts",
    "C:/Windows/Fonts",
]


class FontNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class FontPair:
    regular: Path
    bold: Path


def covers(path: Path, chars: str = REQUIRED) -> bool:
    from reportlab.pdfbase.ttfonts import TTFont
    try:
        face = TTFont("probe", str(path)).face
    except Exception:  # noqa: BLE001 - an unreadable font is just not a candidate
        return False
    cmap = face.charToGlyph
    return all(ord(c) in cmap for c in chars)


def _pair_in(folder: Path) -> FontPair | None:
    for regular, bold in CANDIDATES:
        r, b = folder / regular, folder / bold
        if r.is_file() and covers(r):
            return FontPair(r, b if b.is_file() and covers(b) else r)
    return None


@lru_cache(maxsize=1)
def find_fonts() -> FontPair:
    env = os.environ.get("COURTROOM_PDF_FONT")
    if env:
        r = Path(env)
        if not r.is_file() or not covers(r):
            raise FontNotFound(f"COURTROOM_PDF_FONT={env} is not a TrueType font with all "
                               "Kazakh and Russian letters")
        bold = r.with_name(r.stem + "-Bold" + r.suffix)
        return FontPair(r, bold if bold.is_file() and covers(bold) else r)
    for folder in [Path(__file__).resolve().parent.parent / "fonts", *map(Path, SYSTEM_DIRS)]:
        pair = _pair_in(folder)
        if pair:
            return pair
    raise FontNotFound(
        "No TrueType font with the Kazakh letters (ә ғ қ ң ө ұ ү һ і) was found for the PDF. "
        "Install one (Debian/Ubuntu: apt-get install fonts-dejavu-core) or set "
        "COURTROOM_PDF_FONT to a .ttf file that has them.")
