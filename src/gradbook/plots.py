"""One look for every figure in the book.

:func:`set_theme` applies a seaborn theme with the colour-blind-safe palette
below (Okabe & Ito's eight colours, minus black); :data:`PALETTE` and
:func:`layer_colours` give the colours by name and by layer, so the same layer
has the same colour in every chapter.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ._validate import check_positive_int

__all__ = [
    "PALETTE",
    "ORDER",
    "ACTIVATION_COLOURS",
    "set_theme",
    "layer_colours",
    "new_figure",
    "log_axis",
    "layer_log_axis",
    "tile_images",
]

# Okabe, M. & Ito, K. (2008), "Color universal design": distinguishable under
# the common forms of colour blindness.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "grey": "#7F7F7F",
}
ORDER = ["blue", "orange", "green", "vermillion", "sky", "purple", "yellow", "grey"]
ACTIVATION_COLOURS = {"sigmoid": PALETTE["blue"], "tanh": PALETTE["orange"], "relu": PALETTE["green"]}


def set_theme(context: str = "notebook") -> None:
    """Apply the book's seaborn theme and palette (call once per chapter)."""
    sns.set_theme(context=context, style="whitegrid", palette=[PALETTE[c] for c in ORDER])
    plt.rcParams.update(
        {
            "figure.dpi": 80,
            "savefig.dpi": 80,
            "figure.figsize": (7.0, 3.6),
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
        }
    )


def layer_colours(n_layers: int) -> list[str]:
    """``n_layers`` colours from light (first layer) to dark (last layer).

    A sequential blue ramp, so that "first" and "last" read at a glance in
    every per-layer plot, whatever the depth.
    """
    n_layers = check_positive_int(n_layers, "n_layers")
    ramp = sns.color_palette("crest", n_colors=n_layers)
    return [matplotlib.colors.to_hex(c) for c in ramp]


def new_figure(ncols: int = 1, width: float | None = None, height: float = 3.4, **kw):
    """``plt.subplots(1, ncols)`` at the book's sizes; returns ``(fig, axes)``."""
    ncols = check_positive_int(ncols, "ncols")
    width = width if width is not None else 3.6 * ncols + 0.6
    return plt.subplots(1, ncols, figsize=(width, height), **kw)


def log_axis(ax, values: Sequence[float] | None = None) -> None:
    """Put ``ax``'s y axis on a log scale with readable powers of ten."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, numticks=12))


def layer_log_axis(ax, n_layers: int, exponents: Sequence[int], ylim: tuple[float, float], *,
                   plain_labels: bool = False) -> None:
    """Format ``ax`` for a per-layer profile: hidden layers 1..``n_layers`` on
    x, a log y axis over ``ylim`` with major ticks at ``10**k`` for ``k`` in
    ``exponents`` and no minor ticks. Fixed limits keep the frames of an
    interactive figure comparable. ``plain_labels`` writes "1e-8" instead of
    mathtext powers, which renders several times faster."""
    n_layers = check_positive_int(n_layers, "n_layers")
    exponents = list(exponents)
    ax.set_yscale("log")
    ax.set_ylim(*ylim)
    ticks = [10.0 ** k for k in exponents]
    if plain_labels:
        ax.set_yticks(ticks, [f"1e{k}" if k else "1" for k in exponents])
    else:
        ax.set_yticks(ticks)
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlim(0.5, n_layers + 0.5)
    ax.set_xticks(range(1, n_layers + 1))
    ax.set_xlabel("hidden layer (1 = next to the input)")


def tile_images(images: Any, shape: tuple[int, int] = (8, 8), n_cols: int = 10, pad: int = 1,
                normalise: bool = True) -> np.ndarray:
    """Tile rows of ``images`` (n, h*w) into one 2-D picture, ``n_cols`` per row.

    With ``normalise`` every image is scaled to [0, 1] on its own (for
    filters, whose sign and scale are arbitrary); gaps are NaN (blank), so one
    ``imshow`` draws the whole grid.
    """
    images = np.asarray(images, dtype=np.float64)
    h, w = shape
    if images.ndim != 2 or images.shape[1] != h * w or images.shape[0] == 0:
        raise ValueError(f"images must have shape (n >= 1, {h * w}); got {images.shape}")
    n_cols = check_positive_int(n_cols, "n_cols")
    n_rows = math.ceil(len(images) / n_cols)
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), np.nan)
    for k, img in enumerate(images):
        if normalise:
            span = img.max() - img.min()
            img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
        r, col = divmod(k, n_cols)
        out[r * (h + pad):r * (h + pad) + h, col * (w + pad):col * (w + pad) + w] = img.reshape(h, w)
    return out
