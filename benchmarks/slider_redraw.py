"""How long a live slider move takes to redraw, in a kernel.

For chapter 1's interactive figure: the time of a move to a grid point not
seen before (the figure function runs and the PNG is rendered), and of a move
back to a point already shown (served from the cache), measured through the
ipywidgets rendering itself (setting a slider's value, as a user's move does).

    .venv/bin/python benchmarks/slider_redraw.py
"""

from __future__ import annotations

import statistics
import time

import matplotlib

matplotlib.use("Agg")

from gradbook.chapters import ch01_vanishing_gradients as ch01
from gradbook.plots import set_theme  # noqa: E402
from gradbook.train import set_threads  # noqa: E402
from gradbook.widgets import explore  # noqa: E402

GRID = {"depth": [2, 4, 6, 8], "activation": ["sigmoid", "tanh", "relu"],
        "weight_std": [0.1, 0.25, 0.5, 1.0]}


def main() -> None:
    set_theme()
    set_threads(1)
    explorer = explore(ch01.delta_profile_figure, GRID)
    box = explorer.widget()
    depth, activation, scale = box.sliders
    fresh, cached = [], []
    for k in range(1, 4):  # moves to new grid points
        t = time.perf_counter()
        depth.value = k
        fresh.append(time.perf_counter() - t)
        t = time.perf_counter()
        scale.value = k
        fresh.append(time.perf_counter() - t)
    # Retrace the path: (3,0,2), (2,0,2), (2,0,1), (1,0,1) were all drawn above.
    for slider, k in ((scale, 2), (depth, 2), (scale, 1), (depth, 1)):
        before = explorer.renders
        t = time.perf_counter()
        slider.value = k
        cached.append(time.perf_counter() - t)
        assert explorer.renders == before, "a move back redrew a frame"
    t = time.perf_counter()
    html = explorer.static_html()
    build = time.perf_counter() - t
    print(f"{'slider move':32} {'median (ms)':>12} {'max (ms)':>10} {'moves':>6}")
    for name, xs in (("to a new grid point", fresh), ("to a point already shown", cached)):
        print(f"{name:32} {1e3 * statistics.median(xs):12.1f} {1e3 * max(xs):10.1f} {len(xs):6d}")
    print(f"static rendering: all {explorer.frame_count} frames in {build:.1f} s "
          f"({explorer.renders} drawn), {len(html) / 1e6:.2f} MB of HTML")


if __name__ == "__main__":
    main()
