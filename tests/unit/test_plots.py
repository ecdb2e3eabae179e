"""gradbook.plots: the theme applies, layer colours are distinct hex colours from
light to dark, helpers check their arguments."""

from __future__ import annotations

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from gradbook.plots import (
    ACTIVATION_COLOURS,
    PALETTE,
    layer_colours,
    log_axis,
    new_figure,
    set_theme,
)

HEX = re.compile(r"#[0-9a-f]{6}")


@pytest.fixture
def restore_rc():
    """set_theme changes matplotlib's global settings: put them back afterwards."""
    saved = matplotlib.rcParams.copy()
    yield
    matplotlib.rcParams.update(saved)


def test_set_theme_runs(restore_rc):
    set_theme()
    assert plt.rcParams["figure.dpi"] == 80
    assert plt.rcParams["axes.spines.top"] is False
    cycle = [matplotlib.colors.to_hex(c) for c in plt.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert cycle[:3] == [PALETTE["blue"].lower(), PALETTE["orange"].lower(), PALETTE["green"].lower()]
    set_theme("paper")  # other seaborn contexts work too
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.canvas.draw()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 8, 12])
def test_layer_colours_are_distinct_hex(n):
    colours = layer_colours(n)
    assert len(colours) == n
    assert all(HEX.fullmatch(c) for c in colours)
    assert len(set(colours)) == n


def _luminance(hex_colour):
    r, g, b = matplotlib.colors.to_rgb(hex_colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_layer_colours_go_from_light_to_dark():
    lum = [_luminance(c) for c in layer_colours(6)]
    assert all(a > b for a, b in zip(lum, lum[1:]))


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (2.0, TypeError), ("3", TypeError)])
def test_layer_colours_bad_n(bad, exc):
    with pytest.raises(exc, match="n_layers"):
        layer_colours(bad)


def test_palette_and_activation_colours():
    assert len(set(PALETTE.values())) == len(PALETTE)
    assert all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in PALETTE.values())
    assert set(ACTIVATION_COLOURS) == {"sigmoid", "tanh", "relu"}
    assert len(set(ACTIVATION_COLOURS.values())) == 3


def test_new_figure_and_log_axis():
    fig, axes = new_figure(2)
    assert len(axes) == 2
    assert fig.get_size_inches()[0] == pytest.approx(3.6 * 2 + 0.6)
    log_axis(axes[0])
    assert axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="ncols"):
        new_figure(0)


def test_layer_log_axis_formats_a_per_layer_profile():
    import matplotlib.pyplot as plt

    from gradbook.plots import layer_log_axis

    fig, ax = plt.subplots()
    layer_log_axis(ax, 6, range(-8, 3, 2), (1e-9, 1e2), plain_labels=True)
    assert ax.get_yscale() == "log" and ax.get_ylim() == pytest.approx((1e-9, 1e2))
    assert list(ax.get_xticks()) == [1, 2, 3, 4, 5, 6] and ax.get_xlim() == (0.5, 6.5)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1e-8", "1e-6", "1e-4", "1e-2", "1", "1e2"]
    assert ax.get_xlabel() == "hidden layer (1 = next to the input)"
    with pytest.raises(ValueError, match="n_layers"):
        layer_log_axis(ax, 0, range(2), (1e-2, 1.0))
    plt.close(fig)



# ------------------------------------------------------------ tile_images


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("normalise", [True, False])
def test_tile_images_refuses_values_that_are_not_finite(bad, normalise):
    from gradbook.plots import tile_images

    images = np.eye(4)
    images[2, 1] = bad
    with pytest.raises(ValueError, match="images contains .*NaN or infinite value"):
        tile_images(images, (2, 2), 2, normalise=normalise)


@pytest.mark.timeout(10)
def test_tile_images_refuses_a_picture_beyond_memory_before_drawing_it():
    from gradbook.plots import tile_images

    with pytest.raises(ValueError, match="would need .* GiB"):
        tile_images(np.zeros((10**6, 1)), (1, 1), n_cols=10_000, pad=100)  # 80 GB of gaps
    with pytest.raises(ValueError, match="n_cols"):
        tile_images(np.zeros((1, 4)), (2, 2), n_cols=10**12)


@pytest.mark.parametrize("shape", [(2,), (2, 2, 1), "ab", (0, 4), (2.0, 2)])
def test_tile_images_checks_its_shape(shape):
    from gradbook.plots import tile_images

    with pytest.raises((TypeError, ValueError), match="shape"):
        tile_images(np.zeros((1, 4)), shape)


@pytest.mark.parametrize("ylim", [(1.0, 0.1), (0.0, 1.0), (1e-3, float("inf")), (1.0,), "ab"])
def test_layer_log_axis_checks_its_limits(ylim):
    from gradbook.plots import layer_log_axis

    fig, ax = plt.subplots()
    with pytest.raises((TypeError, ValueError), match="ylim"):
        layer_log_axis(ax, 3, range(-2, 1), ylim)
    plt.close(fig)


def test_figure_sizes_are_bounded():
    with pytest.raises(ValueError, match="ncols"):
        new_figure(10**6)
    with pytest.raises(ValueError, match="height"):
        new_figure(1, height=1e4)
    with pytest.raises(ValueError, match="context"):
        set_theme("huge")
