"""gradbook.widgets: the explorer's grid checks, the static HTML rendering (one
range input per slider, every frame precomputed), the frame cache, and the live
ipywidgets rendering."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import pytest

from gradbook.widgets import MAX_FRAMES, Explorer, explore, render_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOURS = {"red": "#d00000", "green": "#00a000", "blue": "#0000d0"}


class Counter:
    """A cheap figure function: a tiny figure whose colour and bar encode the
    parameters, so that different grid points give different frames."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, n, colour="red"):
        self.calls.append({"n": n, "colour": colour})
        fig, ax = plt.subplots(figsize=(1.0, 0.8))
        ax.bar([0], [n], color=COLOURS[colour])
        ax.set_ylim(0, 4)
        ax.set_axis_off()
        return fig


@pytest.fixture
def figure():
    return Counter()


@pytest.fixture
def explorer(figure):
    return explore(figure, {"n": [1, 2, 3], "colour": ["red", "green"]},
                   initial={"n": 2, "colour": "green"}, caption="a <caption>", alt="bars", dpi=30)


class _Parse(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.script: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script.append(data)


def _parse(html_text):
    p = _Parse()
    p.feed(html_text)
    return p


# ---------------------------------------------------------------- the grid


def test_frame_count_and_order(explorer):
    assert isinstance(explorer, Explorer)
    assert explorer.names == ["n", "colour"]
    assert explorer.sizes == [3, 2]
    assert explorer.frame_count == 6
    # row-major: the last slider varies fastest
    assert explorer.all_indices() == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert explorer.params_at((2, 1)) == {"n": 3, "colour": "green"}
    assert explorer.initial_index == [1, 1]


def test_max_frames(figure):
    assert MAX_FRAMES == 48
    ok = Explorer(figure, {"a": list(range(6)), "b": list(range(8))})
    assert ok.frame_count == 48
    with pytest.raises(ValueError, match=r"49 frames \(7 x 7\).*at most 48"):
        Explorer(figure, {"a": list(range(7)), "b": list(range(7))})
    assert figure.calls == []  # nothing drawn by construction


@pytest.mark.parametrize(
    "grid, message",
    [
        ({}, "non-empty mapping"),
        ([("n", [1, 2])], "non-empty mapping"),
        ({"not valid": [1]}, "Python identifiers"),
        ({"1st": [1]}, "Python identifiers"),
        ({3: [1]}, "Python identifiers"),
        ({"n": []}, "non-empty list"),
        ({"n": "abc"}, "non-empty list"),
        ({"n": 3}, "non-empty list"),
        ({"n": [1, 2, 1]}, "repeated values"),
        ({"n": [1.0, 1]}, "repeated values"),
    ],
)
def test_bad_grids(figure, grid, message):
    with pytest.raises(ValueError, match=message):
        Explorer(figure, grid)


def test_bad_initial(figure):
    with pytest.raises(ValueError, match=r"initial value 5 of 'n' is not in \[1, 2, 3\]"):
        Explorer(figure, {"n": [1, 2, 3]}, initial={"n": 5})
    with pytest.raises(ValueError, match="unknown slider 'm'"):
        Explorer(figure, {"n": [1, 2, 3]}, initial={"m": 1})


def test_figure_must_be_callable():
    with pytest.raises(TypeError, match="figure must be callable"):
        Explorer("not a function", {"n": [1]})


def test_params_at_checks_the_index(explorer):
    with pytest.raises(ValueError, match="index needs 2 entries"):
        explorer.params_at((0,))
    with pytest.raises(ValueError, match=r"index\[0\] \(n\) must lie in 0..2; got 3"):
        explorer.params_at((3, 0))
    with pytest.raises(ValueError, match=r"index\[1\]"):
        explorer.params_at((0, -1))


# ------------------------------------------------------------- static HTML


def _frames_of(html_text):
    p = _parse(html_text)
    scripts = [a for t, a in p.tags if t == "script"]
    assert scripts == [{"type": "application/json", "class": "gbx-frames"}]
    return json.loads("".join(p.script)), p


def test_static_html_structure(explorer):
    html_text = explorer.static_html()
    assert html_text.startswith('<figure class="gradbook-explorer"')
    assert html_text.endswith("</figure>")
    frames, p = _frames_of(html_text)
    figure_attrs = [a for t, a in p.tags if t == "figure"][0]
    assert figure_attrs["class"] == "gradbook-explorer"
    assert json.loads(figure_attrs["data-sizes"]) == [3, 2]
    assert re.fullmatch(r"gbx-[0-9a-f]{10}", figure_attrs["id"])

    inputs = [a for t, a in p.tags if t == "input"]
    assert len(inputs) == 2  # one per slider
    assert all(a["type"] == "range" and a["min"] == "0" and a["step"] == "1" for a in inputs)
    assert [a["max"] for a in inputs] == ["2", "1"]
    assert [a["data-param"] for a in inputs] == ["n", "colour"]
    assert [a["value"] for a in inputs] == ["1", "1"]  # the initial values' positions
    assert json.loads(inputs[0]["data-labels"]) == ["1", "2", "3"]
    assert json.loads(inputs[1]["data-labels"]) == ["red", "green"]

    assert isinstance(frames, list) and len(frames) == explorer.frame_count
    for f in frames:
        assert base64.b64decode(f, validate=True).startswith(PNG_SIGNATURE)
    assert len(set(frames)) == len(frames)  # every grid point gives its own frame


def test_static_html_frames_follow_the_grid_order(explorer):
    frames, _ = _frames_of(explorer.static_html())
    for k, index in enumerate(explorer.all_indices()):
        assert base64.b64decode(frames[k]) == explorer.frame(index)


def test_static_html_initial_frame(explorer):
    frames, p = _frames_of(explorer.static_html())
    img = [a for t, a in p.tags if t == "img"]
    assert len(img) == 1
    start = 1 * 2 + 1  # n=2 (position 1 of 3), colour=green (position 1 of 2)
    assert img[0]["data-frame"] == str(start)
    assert img[0]["src"] == "data:image/png;base64," + frames[start]
    assert img[0]["alt"] == "bars"


def test_static_html_default_initial_is_the_first_frame(figure):
    ex = Explorer(figure, {"n": [1, 2], "colour": ["red", "blue"]}, dpi=30)
    frames, p = _frames_of(ex.static_html())
    img = [a for t, a in p.tags if t == "img"][0]
    assert img["data-frame"] == "0" and img["src"].endswith(frames[0])
    assert img["alt"] == "Figure over n, colour"
    assert [a["value"] for t, a in p.tags if t == "input"] == ["0", "0"]


def test_static_html_escapes_text(explorer):
    html_text = explorer.static_html()
    assert "<figcaption>a &lt;caption&gt;</figcaption>" in html_text
    assert "<caption>" not in html_text


def test_static_html_uses_no_external_script(explorer):
    html_text = explorer.static_html()
    p = _parse(html_text)
    assert all("src" not in a for t, a in p.tags if t == "script")
    # outside the base64 frames, nothing points to the network
    markup = re.sub(r'<script type="application/json" class="gbx-frames">.*?</script>', "",
                    html_text)
    markup = re.sub(r'data:image/png;base64,[A-Za-z0-9+/=]+', "", markup)
    assert "http" not in markup and "//" not in markup


def test_float_labels(figure):
    ex = Explorer(lambda s: figure(1), {"s": [0.1, 1.0, 2.5e-3]}, dpi=30)
    p = _parse(ex.static_html())
    (inp,) = [a for t, a in p.tags if t == "input"]
    assert json.loads(inp["data-labels"]) == ["0.1", "1", "0.0025"]


# -------------------------------------------------------------------- cache


def test_figure_is_drawn_once_per_grid_point(explorer, figure):
    assert explorer.renders == 0
    explorer.frame((0, 0))
    explorer.frame((0, 0))
    assert explorer.renders == 1 and len(figure.calls) == 1
    explorer.static_html()
    assert explorer.renders == 6 and len(figure.calls) == 6
    explorer.static_html()  # every frame already drawn: no re-render
    assert explorer.renders == 6 and len(figure.calls) == 6
    assert sorted((c["n"], c["colour"]) for c in figure.calls) == sorted(
        (n, c) for n in (1, 2, 3) for c in ("red", "green")
    )


def test_frames_are_closed_after_rendering(explorer):
    explorer.static_html()
    assert plt.get_fignums() == []


def test_figure_function_must_return_a_figure():
    ex = Explorer(lambda n: "not a figure", {"n": [1, 2]})
    with pytest.raises(TypeError, match="must return a matplotlib Figure; got str"):
        ex.static_html()
    with pytest.raises(TypeError, match="matplotlib Figure"):
        ex.frame((0,))


def test_render_png():
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    png = render_png(fig, dpi=20)
    assert png.startswith(PNG_SIGNATURE)
    assert fig.number not in plt.get_fignums()  # closed
    with pytest.raises(TypeError, match="matplotlib Figure"):
        render_png(ax)


# ------------------------------------------------------------------- widget


def test_widget_sliders_change_the_image(explorer):
    box = explorer.widget()
    assert len(box.sliders) == 2
    assert [s.description for s in box.sliders] == ["n", "colour"]
    assert [s.value for s in box.sliders] == [1, 1]  # the initial positions
    assert box.image.value == explorer.frame((1, 1))
    assert box.image.format == "png"
    box.sliders[0].value = 2
    assert box.image.value == explorer.frame((2, 1))
    box.sliders[1].value = 0
    assert box.image.value == explorer.frame((2, 0))
    renders = explorer.renders
    box.sliders[1].value = 1  # back to an earlier frame: from the cache
    box.sliders[0].value = 1
    assert box.image.value == explorer.frame((1, 1))
    assert explorer.renders == renders


def test_widget_slider_labels(explorer):
    box = explorer.widget()
    assert [label for label, _ in box.sliders[0].options] == ["1", "2", "3"]
    assert [label for label, _ in box.sliders[1].options] == ["red", "green"]


def test_mimebundle_has_both_renderings(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "text/html" in bundle
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"].startswith('<figure class="gradbook-explorer"')
    assert bundle["text/plain"] == "<gradbook explorer over n, colour: 6 frames>"
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert "model_id" in view
    assert explorer.renders == 6


def test_repr(explorer):
    assert repr(explorer) == "Explorer(n=[1, 2, 3], colour=['red', 'green'])"


# ------------------------------------------------------------ bad arguments


def test_render_png_bounds_its_resolution_and_palette():
    from matplotlib.figure import Figure

    for kwargs, message in [(dict(dpi=0), "dpi"), (dict(dpi=10**5), "dpi"), (dict(colours=1), "colours"),
                            (dict(colours=10**4), "colours"), (dict(dpi=80.0), "dpi")]:
        with pytest.raises((TypeError, ValueError), match=message):
            render_png(Figure(figsize=(1, 1)), **kwargs)
    with pytest.raises(ValueError, match="pixels; at most"):
        render_png(Figure(figsize=(200, 200)), dpi=100)  # 4e8 pixels: refused before drawing


@pytest.mark.timeout(10)
def test_a_grid_beyond_max_frames_is_refused_at_once(figure):
    with pytest.raises(ValueError, match=f"at most {MAX_FRAMES}"):
        explore(figure, {"n": list(range(10**6))})
    with pytest.raises(ValueError, match="grid"):
        explore(figure, {"a": [1, 2, 3, 4, 5, 6, 7], "b": list(range(7))})
    assert figure.calls == []


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(caption=3), TypeError, "caption"),
    (dict(alt=None), TypeError, "alt"),
    (dict(dpi=1), ValueError, "dpi"),
    (dict(initial="n"), TypeError, "initial"),
])
def test_explorer_checks_its_options(figure, kwargs, exc, name):
    with pytest.raises(exc, match=name):
        Explorer(figure, {"n": [1, 2]}, **kwargs)
