"""Reading a rendered PDF the way a person would: pages as pictures, and the text on them.

pages_as_png(pdf) -> PNG bytes per page (pdftoppm -r 40); not_blank(png) -> the page shows
something (its pixels are not all one colour); pixels_of(png, colour) -> how many pixels show a
chart's colour (a drawn line or bar, not text); pdf_text(pdf) -> the text (pdftotext -layout).
"""

from __future__ import annotations

import io
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
