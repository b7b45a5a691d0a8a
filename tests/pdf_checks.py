"""Reading a rendered PDF the way a person would: pages as pictures, and the text on them.

pages_as_png(pdf) -> PNG bytes per page (pdftoppm -r 40); not_blank(png) -> the page shows
something (its pixels are not all one colour); pixels_of(png, colour) -> how many pixels show a
chart's colour (a drawn line or bar, not text); pdf_text(pdf) -> the text (pdftotext -layout);
saved_pages(pdf, test) -> the pages as PNGs in tests/artifacts/ (<test>-page-<n>.png), to look at;
units_first(text) -> the cells and lines that start with a unit (its value left on the line above).
"""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from pathlib import Path

from PIL import Image


def pages_as_png(pdf: bytes, resolution: int = 40) -> list[bytes]:
    """Every page of the PDF as a PNG, in page order."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "report.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(resolution), "-png", str(source), str(Path(tmp) / "page")],
            check=True,
            capture_output=True,
        )
        pages = sorted(Path(tmp).glob("page*.png"), key=lambda p: int(p.stem.split("-")[-1]))
        return [page.read_bytes() for page in pages]


def not_blank(png: bytes) -> bool:
    """True when the page shows something: more than one colour, and not only specks."""
    with Image.open(io.BytesIO(png)) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    total = sum(histogram)
    commonest = max(histogram)
    return total > 0 and (total - commonest) / total > 0.002


def pixels_of(png: bytes, colour: str, tolerance: int = 40) -> int:
    """How many pixels are within `tolerance` (per channel) of the colour "#rrggbb": a chart's
    line in that colour shows as at least a few dozen at 40 dpi, black text as none."""
    wanted = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        pixels = (rgb.getpixel((x, y)) for y in range(height) for x in range(width))
        return sum(
            1
            for pixel in pixels
            if all(abs(p - w) <= tolerance for p, w in zip(pixel, wanted, strict=True))
        )


def pdf_text(pdf: bytes) -> str:
    """The PDF's text as pdftotext reads it (layout kept, so table rows stay on one line)."""
    result = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        check=True,
        capture_output=True,
    )
    return result.stdout.decode("utf-8")


def page_texts(pdf: bytes) -> list[str]:
    """The text of each page, in page order."""
    return pdf_text(pdf).split("\f")[: page_count(pdf)]


def page_count(pdf: bytes) -> int:
    return len(pages_as_png(pdf, resolution=10))


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
UNIT_FIRST = re.compile(r"(%|pp|days|a month|lakh|crore)(\s.*)?")


def saved_pages(pdf: bytes, test_name: str, resolution: int = 60) -> list[Path]:
    """Every page of the PDF saved as tests/artifacts/<test>-page-<n>.png (not committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")
    paths = []
    for number, png in enumerate(pages_as_png(pdf, resolution), start=1):
        path = ARTIFACTS / f"{name}-page-{number}.png"
        path.write_bytes(png)
        paths.append(path)
    return paths


def units_first(text: str) -> list[str]:
    """The pieces of text that start with a unit, e.g. "%", "% fav" or "% against 79.5 %":
    -layout text sets the cells of a row apart by two spaces or more, so a unit wrapped below
    its value, in a cell or in a paragraph, starts such a piece."""
    cells = (cell.strip() for line in text.splitlines() for cell in re.split(r"\s{2,}", line))
    return [cell for cell in cells if UNIT_FIRST.fullmatch(cell)]
