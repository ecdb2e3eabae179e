"""Weigh each built chapter page: its HTML (with the embedded slider frames)
plus the images it references. Budget (DESIGN.md): 4 MB a chapter.

    make book && .venv/bin/python benchmarks/page_weight.py [_build/html]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_MB = 4.0


def weigh(page: Path) -> tuple[int, int, int, int]:
    """(html bytes, image bytes, number of images, number of slider frames)."""
    text = page.read_text()
    images = set(re.findall(r'<img[^>]+src="([^"]+)"', text))
    image_bytes = 0
    count = 0
    for src in images:
        if src.startswith("data:"):
            continue  # already counted in the HTML
        path = (page.parent / src).resolve()
        if path.is_file():
            image_bytes += path.stat().st_size
            count += 1
    frames = sum(len(re.findall(r'"([A-Za-z0-9+/=]{200,})"', block))
                 for block in re.findall(r'class="gbx-frames">(.*?)</script>', text, flags=re.S))
    return len(text.encode()), image_bytes, count, frames


def main() -> int:
    html = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "_build" / "html"
    pages = sorted((html / "chapters").glob("*.html"))
    if not pages:
        print(f"no chapter pages under {html}; run `make book` first")
        return 1
    print(f"{'chapter':36} {'html (KB)':>10} {'images (KB)':>12} {'images':>7} "
          f"{'slider frames':>14} {'total (MB)':>11}  budget")
    for page in pages:
        h, i, n, f = weigh(page)
        total = (h + i) / 1e6
        verdict = "ok" if total <= BUDGET_MB else "OVER"
        print(f"{page.stem:36} {h / 1e3:10.0f} {i / 1e3:12.0f} {n:7d} {f:14d} {total:11.2f}  "
              f"{BUDGET_MB:.0f} MB {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
