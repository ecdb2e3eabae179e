"""Interactive figures that work both live and on the static page.

A chapter cell ends with ``explore(figure, grid)``: ``figure(**params)`` draws
one matplotlib figure for one choice of the sliders, and ``grid`` lists the
values each slider can take. The object it returns displays as one MIME bundle
with two renderings of the same figure:

- ``application/vnd.jupyter.widget-view+json``: ipywidgets sliders and an
  image, for a live kernel (JupyterLab, Binder, Thebe). A slider move calls
  ``figure`` again; every frame is cached, so going back is instant.
- ``text/html``: ``<figure class="gradbook-explorer">`` with one
  ``<input type="range">`` per slider and every frame of the grid rendered at
  build time. ``book/_static/gradbook-explorer.js`` swaps the frame when a
  slider moves; it needs no kernel, no network and no other script.

The book's ``_config.yml`` gives ``text/html`` the first place for the HTML
builder, so the static page shows the second; a notebook shows the first.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
from typing import Any, Callable, Mapping, Sequence

from ._validate import Constraint, Function, Instance, Int, Optional, Text, check_positive_int, declare

__all__ = [
    "MAX_FRAMES",
    "MIN_DPI",
    "MAX_DPI",
    "MAX_PIXELS",
    "render_png",
    "Explorer",
    "explore",
]

MAX_FRAMES = 48

#: The resolutions a frame may be drawn at (dots per inch).
MIN_DPI, MAX_DPI = 10, 600
#: The most pixels one frame may have (about a 4,000 x 4,000 image).
MAX_PIXELS = 16_000_000


def _check_grid(grid: Any, name: str = "grid") -> tuple[list[str], list[list[Any]]]:
    """The slider names and their values, or a ValueError naming ``name``."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(f"{name} must be a non-empty mapping of slider name -> list of values; "
                         f"got {type(grid).__name__}")
    names: list[str] = []
    values: list[list[Any]] = []
    for key, vals in grid.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"{name}'s slider names must be Python identifiers; got {key!r:.80}")
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence) or len(vals) == 0:
            raise ValueError(f"{name}[{key!r}] must be a non-empty list of values; got {vals!r:.80}")
        if len(vals) > MAX_FRAMES:
            raise ValueError(f"{name}[{key!r}] has {len(vals)} values; at most {MAX_FRAMES} frames in all")
        labels = [_label(v) for v in vals]
        if len(set(labels)) != len(labels):
            raise ValueError(f"{name}[{key!r}] has repeated values: {labels}")
        names.append(key)
        values.append(list(vals))
    sizes = [len(v) for v in values]
    n = math.prod(sizes)
    if n > MAX_FRAMES:
        raise ValueError(
            f"the {name} has {n} frames ({' x '.join(map(str, sizes))}); "
            f"at most {MAX_FRAMES} keep the static page light"
        )
    return names, values


class _Grid(Constraint):
    """A non-empty mapping of slider name (an identifier) -> distinct values,
    at most :data:`MAX_FRAMES` grid points in all."""

    def check(self, value: Any, name: str) -> None:
        _check_grid(value, name)

    def bad_values(self) -> list[Any]:
        return [None, {}, [("n", [1, 2])], {"not valid": [1]}, {3: [1]}, {"n": []}, {"n": "abc"},
                {"n": 3}, {"n": [1, 2, 1]}, {"a": list(range(7)), "b": list(range(7))},
                {"n": list(range(10**6))}]

    def describe(self) -> str:
        return f"a mapping of slider name -> list of values, at most {MAX_FRAMES} frames"


def _check_dpi(dpi: Any, name: str = "dpi") -> int:
    dpi = check_positive_int(dpi, name)
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise ValueError(f"{name} must be an integer from {MIN_DPI} to {MAX_DPI}; got {dpi}")
    return dpi


def _example_figure(**params: Any):
    from matplotlib.figure import Figure

    return Figure(figsize=(0.5, 0.5))


_FIGURE_FUNCTION = Function()
_GRID = _Grid()
_DPI = Int(MIN_DPI, MAX_DPI)


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _figure_class():
    from matplotlib.figure import Figure

    return Figure


@declare(fig=Instance(_figure_class(), what="a matplotlib Figure"), dpi=_DPI, colours=Int(2, 256),
         example=lambda: dict(fig=_example_figure(), dpi=20))
def render_png(fig, *, dpi: int = 80, colours: int = 128) -> bytes:
    """Render a matplotlib figure to a small PNG and close it.

    The image is quantised to at most ``colours`` colours (2 to 256): plots
    use few colours, and this makes frames about three times lighter. ``dpi``
    lies in 10..600, and a frame has at most :data:`MAX_PIXELS` pixels.
    """
    return _render(fig, dpi, colours)


def _render(fig: Any, dpi: Any, colours: Any = 128) -> bytes:
    """:func:`render_png`'s body; an explorer's frames come here directly, so
    that a figure function returning something else is named as such."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from PIL import Image

    if not isinstance(fig, Figure):
        raise TypeError(
            f"the figure function must return a matplotlib Figure; got {type(fig).__name__}"
        )
    dpi = _check_dpi(dpi)
    colours = check_positive_int(colours, "colours", minimum=2)
    if colours > 256:
        raise ValueError(f"colours must be an integer from 2 to 256 (a PNG palette); got {colours}")
    width, height = fig.get_size_inches()
    if width * height * dpi * dpi > MAX_PIXELS:
        raise ValueError(f"a {width:g} x {height:g} inch figure at dpi={dpi} would have "
                         f"{width * height * dpi * dpi:,.0f} pixels; at most {MAX_PIXELS:,}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    buf.seek(0)
    image = Image.open(buf).convert("RGB").quantize(colors=colours, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


@declare(figure=_FIGURE_FUNCTION, grid=_GRID, initial=Optional(Instance(Mapping, what="a mapping of slider name -> value")),
         caption=Text("a str (plain text)"), alt=Text("a str (plain text)"), dpi=_DPI,
         example=lambda: dict(figure=_example_figure, grid={"a": [1, 2]}, initial={"a": 2}))
class Explorer:
    """A figure over a grid of slider values; see the module docstring.

    Parameters
    ----------
    figure : callable
        ``figure(**params)`` returns a matplotlib ``Figure``.
    grid : mapping of str to sequence
        Slider name -> the values it can take, in slider order. The grid's
        size (the product of the lengths) is at most :data:`MAX_FRAMES`.
    initial : mapping, optional
        Starting value per slider (default: each slider's first value).
    caption : str, optional
        Text under the figure (plain text; it is HTML-escaped).
    alt : str, optional
        Alternative text of the image, for screen readers.
    dpi : int
        Resolution of the frames.
    """

    def __init__(
        self,
        figure: Callable[..., Any],
        grid: Mapping[str, Sequence[Any]],
        *,
        initial: Mapping[str, Any] | None = None,
        caption: str = "",
        alt: str = "",
        dpi: int = 80,
    ) -> None:
        if not callable(figure):
            raise TypeError(f"figure must be callable; got {type(figure).__name__}")
        self.names, self.values = _check_grid(grid)
        self.sizes = [len(v) for v in self.values]
        if initial is not None and not isinstance(initial, Mapping):
            raise TypeError(f"initial must be a mapping of slider name -> value, or None; "
                            f"got {type(initial).__name__}")
        for name, text in (("caption", caption), ("alt", alt)):
            if not isinstance(text, str):
                raise TypeError(f"{name} must be a str (plain text); got {type(text).__name__}")
        dpi = _check_dpi(dpi)
        self.initial_index = [0] * len(self.names)
        for name, value in (initial or {}).items():
            if name not in self.names:
                raise ValueError(f"initial names unknown slider {name!r}; sliders: {self.names}")
            k = self.names.index(name)
            if value not in self.values[k]:
                raise ValueError(f"initial value {value!r} of {name!r} is not in {self.values[k]}")
            self.initial_index[k] = self.values[k].index(value)
        self.figure = figure
        self.caption = caption
        self.alt = alt or f"Figure over {', '.join(self.names)}"
        self.dpi = dpi
        self._cache: dict[tuple[int, ...], bytes] = {}
        self.renders = 0  # how many times figure() ran: the cache's effect is testable

    @property
    def frame_count(self) -> int:
        return math.prod(self.sizes)

    def params_at(self, index: Sequence[int]) -> dict[str, Any]:
        """The slider values at grid position ``index`` (one int per slider)."""
        if len(index) != len(self.names):
            raise ValueError(f"index needs {len(self.names)} entries; got {list(index)}")
        for k, (i, size) in enumerate(zip(index, self.sizes)):
            if not 0 <= i < size:
                raise ValueError(f"index[{k}] ({self.names[k]}) must lie in 0..{size - 1}; got {i}")
        return {name: vals[i] for name, vals, i in zip(self.names, self.values, index)}

    def frame(self, index: Sequence[int]) -> bytes:
        """The PNG for grid position ``index``, drawn once and then cached."""
        key = tuple(int(i) for i in index)
        if key not in self._cache:
            params = self.params_at(key)
            self._cache[key] = _render(self.figure(**params), self.dpi)
            self.renders += 1
        return self._cache[key]

    def all_indices(self) -> list[tuple[int, ...]]:
        """Every grid position in row-major order (the last slider varies fastest)."""
        return list(itertools.product(*(range(s) for s in self.sizes)))

    # ------------------------------------------------------------ static HTML
    def static_html(self) -> str:
        """The kernel-free rendering: every frame, and one range input per slider."""
        frames = [base64.b64encode(self.frame(ix)).decode("ascii") for ix in self.all_indices()]
        digest = hashlib.sha1("".join(frames).encode()).hexdigest()[:10]
        controls = []
        for name, vals, i0 in zip(self.names, self.values, self.initial_index):
            labels = [_label(v) for v in vals]
            controls.append(
                '<label class="gbx-control">'
                f'<span class="gbx-name">{html.escape(name)}</span>'
                f'<input type="range" min="0" max="{len(vals) - 1}" step="1" value="{i0}" '
                f'data-param="{html.escape(name)}" '
                f"data-labels='{html.escape(json.dumps(labels), quote=True)}' "
                f'aria-label="{html.escape(name)}">'
                f'<output class="gbx-value">{html.escape(labels[i0])}</output>'
                "</label>"
            )
        start = 0
        for i, size in zip(self.initial_index, self.sizes):
            start = start * size + i
        caption = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return (
            f'<figure class="gradbook-explorer" id="gbx-{digest}" '
            f"data-sizes='{json.dumps(self.sizes)}'>"
            f'<div class="gbx-controls">{"".join(controls)}</div>'
            f'<img class="gbx-frame" data-frame="{start}" alt="{html.escape(self.alt)}" '
            f'src="data:image/png;base64,{frames[start]}">'
            f'<script type="application/json" class="gbx-frames">{json.dumps(frames)}</script>'
            f"{caption}</figure>"
        )

    # ------------------------------------------------------------ live widget
    def widget(self):
        """The live rendering: ipywidgets sliders over an image."""
        import ipywidgets as w

        image = w.Image(value=self.frame(self.initial_index), format="png")
        sliders = []
        for name, vals, i0 in zip(self.names, self.values, self.initial_index):
            sliders.append(
                w.SelectionSlider(
                    options=[(_label(v), i) for i, v in enumerate(vals)],
                    value=i0,
                    description=name,
                    continuous_update=False,
                    style={"description_width": "initial"},
                )
            )

        def redraw(_change=None) -> None:
            image.value = self.frame([s.value for s in sliders])

        for s in sliders:
            s.observe(redraw, names="value")
        parts = [w.HBox(sliders), image]
        if self.caption:
            parts.append(w.HTML(f"<small>{html.escape(self.caption)}</small>"))
        box = w.VBox(parts)
        box.sliders = sliders  # handles for tests and benchmarks
        box.image = image
        return box

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "text/plain": f"<gradbook explorer over {', '.join(self.names)}: {self.frame_count} frames>",
            "text/html": self.static_html(),
        }
        live = self.widget()._repr_mimebundle_()
        if live:  # ipywidgets returns None when the widget cannot be shown
            bundle.update({k: v for k, v in live.items() if k != "text/plain"})
        return bundle

    def __repr__(self) -> str:
        return f"Explorer({', '.join(f'{n}={v}' for n, v in zip(self.names, self.values))})"


@declare(figure=_FIGURE_FUNCTION, grid=_GRID, example=lambda: dict(figure=_example_figure, grid={"a": [1, 2]}))
def explore(
    figure: Callable[..., Any], grid: Mapping[str, Sequence[Any]], **kwargs: Any
) -> Explorer:
    """Make an interactive figure; see :class:`Explorer` for the arguments.

    Example
    -------
    >>> def fig(depth, activation):                       # doctest: +SKIP
    ...     ...                                           # draw, return the Figure
    >>> explore(fig, {"depth": [2, 4, 6], "activation": ["sigmoid", "relu"]})  # doctest: +SKIP
    """
    return Explorer(figure, grid, **kwargs)
