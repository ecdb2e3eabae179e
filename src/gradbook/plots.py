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

from ._validate import (
    MAX_DEPTH,
    Array,
    Bool,
    Choice,
    Instance,
    Int,
    Optional,
    Positive,
    Unchecked,
    check_choice,
    check_memory,
    check_positive_int,
    declare,
)
from ._validate import (
    Sequence as SequenceOf,
)

__all__ = [
    "PALETTE",
    "ORDER",
    "ACTIVATION_COLOURS",
    "CONTEXTS",
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

#: seaborn's plotting contexts.
CONTEXTS = ("paper", "notebook", "talk", "poster")

#: The largest figure side, in inches (80 dpi: 4,000 pixels).
_MAX_INCHES = 50.0
#: The most panels in a row.
_MAX_COLUMNS = 50
#: The widest image side :func:`tile_images` tiles, its most columns and widest gap.
_MAX_SIDE = 4096
_MAX_TILE_COLUMNS = 10_000
_MAX_PAD = 100

_AXES = Instance(matplotlib.axes.Axes, what="a matplotlib Axes")


def _example_axes() -> Any:
    """An Axes outside pyplot's registry (nothing to close), for the examples."""
    return matplotlib.figure.Figure().add_subplot()


#: The settings the declared example of :func:`set_theme` puts back.
_SAVED_RC: dict[str, Any] = {}


def _example_theme() -> dict[str, Any]:
    _SAVED_RC.update(matplotlib.rcParams)
    return dict(context="paper")


@declare(context=Choice(CONTEXTS), example=_example_theme,
         then=lambda _: matplotlib.rcParams.update(_SAVED_RC))
def set_theme(context: str = "notebook") -> None:
    """Apply the book's seaborn theme and palette (call once per chapter)."""
    check_choice(context, "context", CONTEXTS)
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


@declare(n_layers=Int(1, MAX_DEPTH), example=dict(n_layers=3))
def layer_colours(n_layers: int) -> list[str]:
    """``n_layers`` colours from light (first layer) to dark (last layer).

    A sequential blue ramp, so that "first" and "last" read at a glance in
    every per-layer plot, whatever the depth.
    """
    n_layers = check_positive_int(n_layers, "n_layers")
    if n_layers > MAX_DEPTH:
        raise ValueError(f"n_layers must be at most {MAX_DEPTH}; got {n_layers}")
    ramp = sns.color_palette("crest", n_colors=n_layers)
    return [matplotlib.colors.to_hex(c) for c in ramp]


@declare(ncols=Int(1, _MAX_COLUMNS), width=Optional(Positive(_MAX_INCHES)), height=Positive(_MAX_INCHES),
         example=dict(ncols=1), then=lambda made: plt.close(made[0]))
def new_figure(ncols: int = 1, width: float | None = None, height: float = 3.4, **kw):
    """``plt.subplots(1, ncols)`` at the book's sizes (at most 50 panels and 50
    inches a side); returns ``(fig, axes)``."""
    ncols = check_positive_int(ncols, "ncols")
    if ncols > _MAX_COLUMNS:
        raise ValueError(f"ncols must be at most {_MAX_COLUMNS}; got {ncols}")
    width = width if width is not None else min(3.6 * ncols + 0.6, _MAX_INCHES)
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number of inches; got {value!r:.80}")
        if not 0 < value <= _MAX_INCHES:
            raise ValueError(f"{name} must be a number of inches in (0, {_MAX_INCHES:g}]; got {value!r}")
    return plt.subplots(1, ncols, figsize=(width, height), **kw)


@declare(ax=_AXES, values=Unchecked("not used: the axis scales itself; kept so that older calls work"),
         example=lambda: dict(ax=_example_axes()))
def log_axis(ax, values: Sequence[float] | None = None) -> None:
    """Put ``ax``'s y axis on a log scale with readable powers of ten."""
    if not isinstance(ax, matplotlib.axes.Axes):
        raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, numticks=12))


@declare(ax=_AXES, n_layers=Int(1, MAX_DEPTH), exponents=SequenceOf(Int(-300, 300), 1, 100),
         ylim=SequenceOf(Positive(), 2, 2), plain_labels=Bool(),
         example=lambda: dict(ax=_example_axes(), n_layers=3, exponents=range(-2, 1), ylim=(1e-3, 10.0)))
def layer_log_axis(ax, n_layers: int, exponents: Sequence[int], ylim: tuple[float, float], *,
                   plain_labels: bool = False) -> None:
    """Format ``ax`` for a per-layer profile: hidden layers 1..``n_layers`` on
    x, a log y axis over ``ylim`` with major ticks at ``10**k`` for ``k`` in
    ``exponents`` and no minor ticks. Fixed limits keep the frames of an
    interactive figure comparable. ``plain_labels`` writes "1e-8" instead of
    mathtext powers, which renders several times faster."""
    if not isinstance(ax, matplotlib.axes.Axes):
        raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}")
    n_layers = check_positive_int(n_layers, "n_layers")
    if n_layers > MAX_DEPTH:
        raise ValueError(f"n_layers must be at most {MAX_DEPTH}; got {n_layers}")
    if isinstance(exponents, (str, bytes)) or not hasattr(exponents, "__iter__"):
        raise TypeError(f"exponents must be a sequence of integer powers of ten; got {exponents!r:.80}")
    if isinstance(exponents, (dict, set)):
        raise TypeError(f"exponents must be a sequence of integer powers of ten; got a {type(exponents).__name__}")
    exponents = list(exponents)
    if not exponents or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) for k in exponents):
        raise TypeError(f"exponents must be a non-empty sequence of integer powers of ten; got {exponents!r:.80}")
    if len(exponents) > 100 or any(abs(k) > 300 for k in exponents):
        raise ValueError(f"exponents must be at most 100 powers of ten from -300 to 300; got {exponents!r:.80}")
    if isinstance(ylim, (str, bytes)) or not hasattr(ylim, "__len__") or len(ylim) != 2:
        raise TypeError(f"ylim must be a pair (low, high) of positive numbers; got {ylim!r:.80}")
    low, high = ylim
    if any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) for v in (low, high)):
        raise TypeError(f"ylim must be a pair (low, high) of positive numbers; got {ylim!r:.80}")
    if not (0 < low < high < math.inf):
        raise ValueError(f"ylim must be a pair 0 < low < high of finite numbers (a log axis); got {ylim!r:.80}")
    if not isinstance(plain_labels, (bool, np.bool_)):
        raise TypeError(f"plain_labels must be True or False; got {plain_labels!r:.80}")
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


@declare(images=Array(2), shape=SequenceOf(Int(1, _MAX_SIDE), 2, 2), n_cols=Int(1, _MAX_TILE_COLUMNS),
         pad=Int(0, _MAX_PAD), normalise=Bool(), example=lambda: dict(images=np.eye(4), shape=(2, 2), n_cols=2))
def tile_images(images: Any, shape: tuple[int, int] = (8, 8), n_cols: int = 10, pad: int = 1,
                normalise: bool = True) -> np.ndarray:
    """Tile rows of ``images`` (n, h*w) into one 2-D picture, ``n_cols`` per row.

    With ``normalise`` every image is scaled to [0, 1] on its own (for
    filters, whose sign and scale are arbitrary); gaps are NaN (blank), so one
    ``imshow`` draws the whole grid. The images must be finite: a NaN would
    be drawn as a gap (or, normalised, turn its whole image blank).
    """
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise TypeError(f"shape must be a pair (height, width) of integers; got {shape!r:.80}")
    h, w = (check_positive_int(v, f"shape[{i}]") for i, v in enumerate(shape))
    n_cols = check_positive_int(n_cols, "n_cols")
    pad = check_positive_int(pad, "pad", minimum=0)
    if n_cols > _MAX_TILE_COLUMNS or pad > _MAX_PAD:
        raise ValueError(f"n_cols must be at most {_MAX_TILE_COLUMNS:,} and pad at most {_MAX_PAD}; "
                         f"got n_cols={n_cols:,}, pad={pad:,}")
    if not isinstance(normalise, (bool, np.bool_)):
        raise TypeError(f"normalise must be True or False; got {normalise!r:.80}")
    if isinstance(images, (str, bytes)) or images is None:
        raise TypeError(f"images must be a numeric array of shape (n, h*w); got {type(images).__name__}")
    try:
        images = np.asarray(images, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"images must be a numeric array of shape (n, h*w); got {type(images).__name__}") from exc
    if images.ndim != 2 or images.shape[1] != h * w or images.shape[0] == 0:
        raise ValueError(f"images must have shape (n >= 1, {h * w}); got {images.shape}")
    if not np.isfinite(images).all():
        bad = int((~np.isfinite(images)).sum())
        raise ValueError(f"images contains {bad} NaN or infinite value(s); all values must be finite")
    n_rows = math.ceil(len(images) / n_cols)
    size = (n_rows * (h + pad) - pad) * (n_cols * (w + pad) - pad) * 8
    check_memory(size, f"the tiled picture of {len(images):,} images with n_cols={n_cols} and pad={pad}")
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), np.nan)
    for k, img in enumerate(images):
        if normalise:
            span = img.max() - img.min()
            img = (img - img.min()) / span if span > 0 else np.zeros_like(img)
        r, col = divmod(k, n_cols)
        out[r * (h + pad):r * (h + pad) + h, col * (w + pad):col * (w + pad) + w] = img.reshape(h, w)
    return out
