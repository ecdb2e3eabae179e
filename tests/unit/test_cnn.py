"""gradbook.models.cnn and gradbook.chapters.ch05_cnn: the maths of convolution and weight sharing, the nets,
LeNet-5's counts, the training loop, and chapter 5's experiments run with
tiny settings (the qualitative results are in tests/claims/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from gradbook.chapters import ch05_cnn as ch05
from gradbook.models import cnn
from gradbook.data import permute_pixels, pixel_permutation
from gradbook.diagnostics import layer_gradient_table
from gradbook.models.mlp import count_parameters, permute_first_layer
from gradbook.diagnostics import weight_gradient_norms
from gradbook.data import label_subset
from gradbook.models.mlp import mlp
from gradbook.train import History, evaluate, train

# ------------------------------------------------------------------ counting


@pytest.mark.parametrize("size,kernel,padding,stride,expected", [
    (8, 3, 1, 1, 8), (32, 5, 0, 1, 28), (28, 2, 0, 2, 14), (16, 5, 2, 2, 8), (5, 5, 0, 1, 1),
])
def test_conv_output_size(size, kernel, padding, stride, expected):
    assert cnn.conv_output_size(size, kernel, padding, stride) == expected
    out = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding)(torch.zeros(1, 1, size, size))
    assert out.shape[-1] == expected


def test_conv_output_size_errors():
    with pytest.raises(ValueError, match="kernel .* is larger than the padded input"):
        cnn.conv_output_size(4, 7)
    with pytest.raises(ValueError, match="padding must be an integer >= 0"):
        cnn.conv_output_size(8, 3, -1)
    with pytest.raises(TypeError, match="size must be an integer"):
        cnn.conv_output_size(8.0, 3)


@pytest.mark.parametrize("c_in,c_out,k,bias", [(1, 6, 5, True), (6, 16, 5, True), (3, 4, 3, False)])
def test_conv_parameter_count_matches_torch(c_in, c_out, k, bias):
    layer = nn.Conv2d(c_in, c_out, k, bias=bias)
    assert cnn.conv_parameter_count(c_in, c_out, k, bias) == count_parameters(layer)


def test_counting_errors_and_buffers():
    with pytest.raises(TypeError, match="bias must be True or False"):
        cnn.conv_parameter_count(1, 1, 3, bias=1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module; got list"):
        count_parameters([1, 2])
    # the RBF output's codes are a buffer, not a parameter
    assert count_parameters(cnn.RBFOutput(84, 10)) == 0
    frozen = nn.Linear(3, 2).requires_grad_(False)
    assert count_parameters(frozen) == 0


# ------------------------------------------------------------- the maths


@pytest.mark.parametrize("shape,c_out,k,padding", [
    ((2, 1, 8, 8), 3, 3, 1), ((1, 2, 6, 5), 4, 3, 0), ((3, 3, 5, 5), 2, 5, 2),
])
def test_conv2d_loops_equals_torch(shape, c_out, k, padding):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    w = torch.randn(c_out, shape[1], k, k, generator=gen, dtype=torch.float64)
    b = torch.randn(c_out, generator=gen, dtype=torch.float64)
    ours = cnn.conv2d_loops(x, w, b, padding=padding)
    torch.testing.assert_close(ours, F.conv2d(x, w, b, padding=padding))
    torch.testing.assert_close(cnn.conv2d_loops(x, w, padding=padding),
                               F.conv2d(x, w, padding=padding))


def test_conv2d_loops_errors():
    x = torch.zeros(1, 2, 5, 5)
    with pytest.raises(ValueError, match="weight expects 3 input channels; x has 2"):
        cnn.conv2d_loops(x, torch.zeros(1, 3, 3, 3))
    with pytest.raises(ValueError, match=r"x must be a 4-D array"):
        cnn.conv2d_loops(torch.zeros(5, 5), torch.zeros(1, 1, 3, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor; got ndarray"):
        cnn.conv2d_loops(np.zeros((1, 1, 5, 5)), torch.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"bias must be a tensor of shape \(1,\)"):
        cnn.conv2d_loops(x, torch.zeros(1, 2, 3, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="does not fit"):
        cnn.conv2d_loops(x, torch.zeros(1, 2, 7, 7))


@pytest.mark.parametrize("padding", [0, 1])
def test_shared_kernel_gradient_equals_autograd(padding):
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(3, 2, 6, 6, generator=gen, dtype=torch.float64)
    w = torch.randn(4, 2, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    z = F.conv2d(a, w, padding=padding)
    target = torch.randn(z.shape, generator=gen, dtype=torch.float64)
    loss = ((z - target) ** 2).sum() / 2
    delta = torch.autograd.grad(loss, z, retain_graph=True)[0]
    auto = torch.autograd.grad(loss, w)[0]
    torch.testing.assert_close(cnn.shared_kernel_gradient(delta, a, 3, padding), auto)


def test_shared_kernel_gradient_errors():
    a = torch.zeros(2, 1, 6, 6)
    with pytest.raises(ValueError, match=r"delta must have spatial shape \(4, 4\)"):
        cnn.shared_kernel_gradient(torch.zeros(2, 1, 6, 6), a, 3)
    with pytest.raises(ValueError, match="delta has 3 samples, a has 2"):
        cnn.shared_kernel_gradient(torch.zeros(3, 1, 4, 4), a, 3)


# ------------------------------------------------------------------ the nets


def test_small_cnn_shape_parameters_and_determinism():
    net = cnn.small_cnn(8, seed=3)
    assert count_parameters(net) == 1898
    assert count_parameters(net) == (cnn.conv_parameter_count(1, 8, 3)
                                         + cnn.conv_parameter_count(8, 16, 3) + 16 * 4 * 10 + 10)
    X = torch.rand(5, 64)
    assert net(X).shape == (5, 10)
    torch.testing.assert_close(net(X), cnn.small_cnn(8, seed=3)(X))
    assert not torch.equal(net(X), cnn.small_cnn(8, seed=4)(X))


def test_net_builders_errors():
    with pytest.raises(ValueError, match="activation must be one of"):
        cnn.small_cnn(8, "softplus")
    with pytest.raises(ValueError, match="init must be one of"):
        cnn.deep_cnn(3, init="orthogonal")
    with pytest.raises(ValueError, match="init must be one of .* or a finite number > 0"):
        cnn.deep_cnn(3, init=-0.1)
    with pytest.raises(ValueError, match="depth must be an integer from 1 to 1,000"):
        cnn.deep_cnn(0)
    with pytest.raises(TypeError, match="channels must be an integer"):
        cnn.small_cnn(2.5)


def test_deep_cnn_structure_and_init():
    net = cnn.deep_cnn(5, channels=6, activation="sigmoid", seed=0)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5 and all(c.padding == (1, 1) and c.kernel_size == (3, 3) for c in convs)
    assert net(torch.rand(2, 64)).shape == (2, 10)
    # Nielsen's rule on a conv: weights N(0, 1/fan_in), fan_in = 6 * 3 * 3; biases N(0, 1)
    w = torch.cat([c.weight.flatten() for c in convs[1:]])
    assert w.std().item() == pytest.approx(1 / 54 ** 0.5, rel=0.1)
    assert torch.cat([c.bias for c in convs]).std().item() == pytest.approx(1.0, rel=0.35)
    he = cnn.deep_cnn(5, channels=6, activation="relu", seed=0)
    w = torch.cat([m.weight.flatten() for m in he.modules() if isinstance(m, nn.Conv2d)][1:])
    assert w.std().item() == pytest.approx((2 / 54) ** 0.5, rel=0.1)
    assert all(float(m.bias.detach().abs().max()) == 0 for m in he.modules() if isinstance(m, nn.Conv2d))


def test_deep_mlp_is_nets_mlp():
    net = cnn.deep_mlp(3, width=20, activation="tanh", seed=2)
    ref = mlp([64, 20, 20, 20, 10], activation="tanh", init="xavier", seed=2)
    X = torch.rand(4, 64)
    torch.testing.assert_close(net(X), ref(X))


# -------------------------------------------------------------- LeNet-5


def test_lenet5_paper_counts():
    table = cnn.lenet5_table("paper").set_index("layer")
    for layer, count in cnn.LENET5_PAPER["parameters"].items():
        assert table.loc[layer, "parameters"] == count
    assert table.loc["total", "parameters"] == 60000
    assert table.loc["total", "connections"] == 340908
    assert table.loc["C1", "connections"] == 122304 and table.loc["C3", "connections"] == 151600
    assert count_parameters(cnn.lenet5("paper")) == 60000


def test_lenet5_torch_variant():
    table = cnn.lenet5_table("torch").set_index("layer")
    assert table.loc["C3", "parameters"] == 16 * (6 * 25 + 1) == 2416
    assert table.loc["S2", "parameters"] == 0 and table.loc["output", "parameters"] == 850
    assert table.loc["total", "parameters"] == 61706
    assert "paper says" not in table.columns


@pytest.mark.parametrize("variant", ["paper", "torch"])
def test_lenet5_forward_and_determinism(variant):
    x = torch.rand(3, 1, 32, 32)
    out = cnn.lenet5(variant, seed=1)(x)
    assert out.shape == (3, 10) and torch.isfinite(out).all()
    torch.testing.assert_close(out, cnn.lenet5(variant, seed=1)(x))
    state = torch.random.get_rng_state()
    cnn.lenet5(variant)
    assert torch.equal(state, torch.random.get_rng_state())  # global generator untouched


def test_lenet5_parts():
    table = cnn.LENET5_C3_TABLE
    assert len(table) == 16 and sum(len(t) for t in table) == 60
    assert [len(t) for t in table] == [3] * 6 + [4] * 9 + [6]
    conv = cnn.PartialConv2d(table, 6, 5)
    x = torch.rand(2, 6, 14, 14, requires_grad=True)
    out = conv(x)
    assert out.shape == (2, 16, 10, 10)
    # map 0 sees S2 maps 0, 1, 2 only
    g = torch.autograd.grad(out[:, 0].sum(), x)[0]
    assert g[:, 3:].abs().max() == 0 and g[:, :3].abs().max() > 0
    sub = cnn.Subsampling(6)
    assert count_parameters(sub) == 12
    torch.testing.assert_close(sub(torch.ones(1, 6, 4, 4)), torch.full((1, 6, 2, 2), 4.0))
    assert cnn.ScaledTanh()(torch.tensor([1.0])).item() == pytest.approx(1.0, abs=2e-4)
    with pytest.raises(ValueError, match=r"table\[0\] must list distinct input maps in 0..5"):
        cnn.PartialConv2d([(0, 6)], 6, 5)
    with pytest.raises(ValueError, match="variant must be one of 'paper', 'torch'"):
        cnn.lenet5("modern")


# ----------------------------------------------------------------- training


def test_train_trains_a_cnn_and_records(digits_split):
    """gradbook.train.train takes a CNN (its first layer is a Conv2d, not a Linear)."""
    X_tr, X_te, y_tr, y_te = digits_split
    h = train(cnn.small_cnn(4, seed=0), X_tr[:400], y_tr[:400], epochs=5, lr=0.05,
              batch_size=32, momentum=0.9, X_test=X_te, y_test=y_te, record_every=2)
    assert isinstance(h, History)
    assert h.epoch == [0, 2, 4, 5]
    assert h.train_loss[-1] < h.train_loss[0] and len(h.step_loss) == 5 * 13
    net = cnn.small_cnn(4, seed=0)
    h2 = train(net, X_tr[:400], y_tr[:400], epochs=5, lr=0.05, batch_size=32, momentum=0.9,
               X_test=X_te, y_test=y_te, record_every=2)
    assert h2.step_loss == h.step_loss  # deterministic
    assert evaluate(net, X_te, y_te)[1] == h2.test_acc[-1]


def test_train_and_evaluate_errors_for_a_cnn(digits_split):
    X_tr, X_te, y_tr, y_te = digits_split
    net = cnn.small_cnn(2)
    with pytest.raises(ValueError, match="X must have 64 features"):  # rows of 8x8 images
        train(net, X_tr[:, :32], y_tr)
    with pytest.raises(ValueError, match="give both X_test and y_test"):
        train(net, X_tr, y_tr, X_test=X_te)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module; got str"):
        train("net", X_tr, y_tr)
    with pytest.raises(ValueError, match="model has no layer with parameters"):
        train(nn.Sequential(nn.ReLU()), X_tr, y_tr)
    with pytest.raises(ValueError, match="record_every must be an integer >= 1"):
        train(net, X_tr, y_tr, record_every=0)
    with pytest.raises(ValueError, match="model has no trainable parameter"):
        train(cnn.small_cnn(2).requires_grad_(False), X_tr, y_tr)
    with pytest.raises(ValueError, match="y must hold labels >= 0"):
        evaluate(net, X_tr, -y_tr - 1)
    with pytest.raises(ValueError, match="y holds label 10, but the model has only 10 outputs"):
        evaluate(net, X_tr, y_tr + 1)


# ---------------------------------------------------------------- permutation


def test_pixel_permutation_and_permute_pixels():
    perm = pixel_permutation(0)
    assert torch.equal(torch.sort(perm).values, torch.arange(64))
    assert torch.equal(perm, pixel_permutation(0)) and not torch.equal(perm, pixel_permutation(1))
    X = torch.arange(128.0).reshape(2, 64)
    assert torch.equal(permute_pixels(X, perm)[1], X[1, perm])
    with pytest.raises(ValueError, match="perm must be a permutation of 0..63"):
        permute_pixels(X, torch.zeros(64, dtype=torch.long))
    with pytest.raises(TypeError, match="perm must be a 1-D torch tensor"):
        permute_pixels(X, list(range(64)))


def test_permute_first_layer_is_a_relabelling():
    net = mlp([64, 16, 10], activation="relu", init="he", seed=0)
    perm = pixel_permutation(5)
    twin = permute_first_layer(net, perm)
    X = torch.rand(7, 64)
    torch.testing.assert_close(twin(permute_pixels(X, perm)), net(X), rtol=1e-6, atol=1e-6)
    assert twin is not net and not torch.equal(twin[0].weight, net[0].weight)
    with pytest.raises(TypeError, match="first weighted layer is nn.Linear"):
        permute_first_layer(cnn.small_cnn(2), perm)


def test_permutation_check_tiny():
    out = ch05.permutation_check(n_labels=40, steps=6)
    assert set(out) == {"cnn", "cnn_shuffled", "mlp", "mlp_shuffled", "mlp_twin", "max_loss_gap"}
    assert out["max_loss_gap"] < 1e-5
    assert out["mlp"].test_acc[-1] == pytest.approx(out["mlp_twin"].test_acc[-1], abs=1e-6)


# ------------------------------------------------------------ gradients


def test_layer_gradients_mlp_matches_diagnostics(digits_split):
    X_tr, _, y_tr, _ = digits_split
    net = mlp([64, 20, 20, 10], seed=0)
    frame = layer_gradient_table(net, X_tr[:100], y_tr[:100])
    assert list(frame["layer"]) == [1, 2] and set(frame["kind"]) == {"linear"}
    np.testing.assert_allclose(frame["weight grad norm"],
                               weight_gradient_norms(net, X_tr[:100], y_tr[:100]), rtol=1e-5)
    assert (frame["terms per weight"] == 100).all()


def test_layer_gradients_cnn_against_autograd(digits_split):
    X_tr, _, y_tr, _ = digits_split
    net = cnn.deep_cnn(3, channels=2, seed=1)
    frame = layer_gradient_table(net, X_tr[:50], y_tr[:50])
    assert (frame["terms per weight"] == 50 * 64).all() and set(frame["kind"]) == {"conv"}
    loss = F.cross_entropy(net(X_tr[:50]), y_tr[:50])
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    grads = torch.autograd.grad(loss, [c.weight for c in convs])
    np.testing.assert_allclose(frame["weight grad norm"], [float(g.norm()) for g in grads], rtol=1e-5)
    np.testing.assert_allclose(frame["weight grad rms"],
                               [float(g.pow(2).mean().sqrt()) for g in grads], rtol=1e-5)
    assert all(c.weight.grad is None for c in convs)  # nothing written into .grad
    # the bias gradient is the error signal summed over samples and positions
    act = {}
    convs[1].register_forward_hook(lambda m, i, o: act.setdefault("z", o))
    z_loss = F.cross_entropy(net(X_tr[:50]), y_tr[:50])
    dz, db = torch.autograd.grad(z_loss, [act["z"], convs[1].bias])
    torch.testing.assert_close(dz.sum(dim=(0, 2, 3)), db)
    assert float(dz.pow(2).mean().sqrt()) == pytest.approx(frame["delta rms"][1], rel=1e-5)


def test_layer_gradients_errors(digits_split):
    X_tr, _, y_tr, _ = digits_split
    with pytest.raises(ValueError, match="model has no hidden layer"):
        layer_gradient_table(nn.Sequential(nn.Linear(64, 10)), X_tr[:5], y_tr[:5])
    with pytest.raises(ValueError, match="y has 4 labels but X has 5 samples"):
        layer_gradient_table(cnn.deep_cnn(2), X_tr[:5], y_tr[:4])


def test_gradient_profile_columns_and_memo():
    prof = ch05.sharing_profile(2, "relu", seeds=(0,), n_samples=40, channels=2, width=8)
    assert list(prof.columns) == ["net", "layer", "delta rms", "weight grad rms", "terms per weight"]
    assert len(prof) == 4 and set(prof["net"]) == {"CNN", "MLP"}
    again = ch05.sharing_profile(2, "relu", seeds=(0,), n_samples=40, channels=2, width=8)
    pd.testing.assert_frame_equal(prof, again)
    with pytest.raises(ValueError, match="seeds must be a list or tuple of 1 to 1000"):
        ch05.sharing_profile(2, seeds=())


def test_training_profiles_tiny():
    tp = ch05.training_profiles(2, "relu", epochs=1, n_samples=30, channels=2, width=8)
    assert set(tp["epoch"]) == {0, 1} and len(tp) == 2 * 2 * 2
    assert {"delta rms", "weight grad rms", "test accuracy", "net"} <= set(tp.columns)
    with pytest.raises(ValueError, match="activation must be one of"):
        ch05.training_profiles(2, "gelu")


# ---------------------------------------------------------------- experiments


def test_label_sweep_and_capacity_tiny():
    sweep = ch05.label_sweep((20, 40), seeds=(0,), steps=4)
    assert len(sweep) == 2 * 2 * 2
    assert set(sweep["pixels"]) == {"original", "shuffled"} and set(sweep["labels"]) == {20, 40}
    assert sweep["test accuracy"].between(0, 1).all()
    cap = ch05.capacity_comparison((2,), (8,), seeds=(0,), steps=4)
    assert list(cap["parameters"]) == [count_parameters(cnn.small_cnn(2)), 610]
    with pytest.raises(ValueError, match="n_labels must be .* each an integer from 10 to 1,438 or None; got \\(2000,\\)"):
        ch05.label_sweep((2000,), steps=4)
    with pytest.raises(ValueError, match=r"n_labels must be .* each an integer from 10 to 1,438 or None; got \(5,\)"):
        ch05.label_sweep((5,), steps=4)


def test_label_subset_is_balanced_and_nested(digits_split):
    y = digits_split[2]
    small, big = label_subset(y, 30, 0), label_subset(y, 100, 0)
    assert torch.equal(big[:30], small)
    assert torch.bincount(y[small], minlength=10).tolist() == [3] * 10


# ------------------------------------------------------------------- figures


def test_figures_return_figures():
    assert isinstance(ch05.sharing_profile_figure(2, "relu"), Figure)
    fig = ch05.labels_figure(20, "shuffled", n_labels=(20, 40), seeds=(0,), steps=4)
    assert isinstance(fig, Figure)
    assert isinstance(ch05.feature_maps_figure(3, "original", steps=4), Figure)
    with pytest.raises(ValueError, match="labels must be one of n_labels"):
        ch05.labels_figure(30, "original", n_labels=(20, 40), seeds=(0,), steps=4)
    with pytest.raises(ValueError, match="pixels must be one of 'original', 'shuffled'"):
        ch05.labels_figure(20, "scrambled", n_labels=(20,), seeds=(0,), steps=4)
    with pytest.raises(ValueError, match="digit must be an integer from 0 to 9; got 12"):
        ch05.feature_maps_figure(12, "original", steps=4)


def test_feature_maps_content():
    maps = ch05.feature_maps(0, "shuffled", steps=4)
    assert maps["image"].shape == (8, 8) and maps["filters"].shape == (8, 3, 3)
    assert maps["maps1"].shape == (8, 8, 8) and maps["maps2"].shape == (16, 4, 4)
    assert 0 <= maps["predicted"] <= 9
    with pytest.raises(ValueError, match="index must be an integer from 0 to 358; got 400"):
        ch05.feature_maps(400)


def test_count_connections():
    assert cnn.count_connections(cnn.lenet5("paper"), torch.zeros(1, 1, 32, 32)) == 340908
    # small_cnn: 8 maps x 64 positions x 10, 16 maps x 16 positions x 73, 10 x 65
    assert cnn.count_connections(cnn.small_cnn(8), torch.zeros(1, 64)) == 5120 + 18688 + 650
    assert cnn.count_connections(mlp([64, 30, 10]), torch.zeros(1, 64)) == count_parameters(
        mlp([64, 30, 10]))
    with pytest.raises(TypeError, match="x must be a torch.Tensor; got list"):
        cnn.count_connections(cnn.small_cnn(2), [0.0] * 64)


def test_first_last_ratio_and_ratios_by_epoch():
    prof = pd.DataFrame({"net": ["CNN"] * 3 + ["MLP"] * 2, "layer": [3, 1, 2, 1, 2],
                         "delta rms": [8.0, 2.0, 4.0, 1.0, 5.0]})
    assert ch05.first_last_ratio(prof, "CNN") == 4.0  # sorted by layer: 2 ... 8
    assert ch05.first_last_ratio(prof, "MLP") == 5.0
    with pytest.raises(ValueError, match="profile has no rows for net 'RNN'"):
        ch05.first_last_ratio(prof, "RNN")
    with pytest.raises(ValueError, match="profile must be a DataFrame with columns net, layer"):
        ch05.first_last_ratio(prof, "CNN", "weight grad rms")
    tp = ch05.training_profiles(2, "relu", epochs=1, n_samples=30, channels=2, width=8)
    summary = ch05.ratios_by_epoch(tp)
    assert list(summary.columns) == ["net", "epoch", "ratio", "test accuracy"] and len(summary) == 4
    first = tp[(tp.net == "CNN") & (tp.epoch == 0)]
    assert summary.iloc[0]["ratio"] == pytest.approx(first["delta rms"].iloc[-1] / first["delta rms"].iloc[0])
    with pytest.raises(ValueError, match="profiles must be the DataFrame of training_profiles"):
        ch05.ratios_by_epoch(prof)


def test_net_colours_are_the_book_palette():
    from gradbook.plots import PALETTE

    assert ch05.NET_COLOURS == {"CNN": PALETTE["vermillion"], "MLP": PALETTE["blue"]}


# ----------------------------------------------- cached runs, bounds, divergence


def test_permutation_check_results_cannot_be_corrupted():
    small = dict(cnn_channels=2, mlp_width=4, n_labels=20, steps=3, batch_size=10)
    first = ch05.permutation_check(**small)
    expected = {k: (v.test_acc[:], v.step_loss[:]) for k, v in first.items() if k != "max_loss_gap"}
    for key, history in first.items():
        if key != "max_loss_gap":
            history.test_acc[:] = [-1.0] * len(history.test_acc)
            history.step_loss.clear()
    again = ch05.permutation_check(**small)
    assert {k: (v.test_acc, v.step_loss) for k, v in again.items() if k != "max_loss_gap"} == expected
    assert again["max_loss_gap"] == first["max_loss_gap"]


def test_feature_maps_cannot_be_corrupted():
    first = ch05.feature_maps(0, steps=3)
    expected = {k: np.copy(v) for k, v in first.items()}
    for key in ("image", "filters", "maps1", "maps2"):
        first[key] /= np.abs(first[key]).max() + 1.0  # a reader normalising an image in place
    again = ch05.feature_maps(0, steps=3)
    for key, value in expected.items():
        np.testing.assert_array_equal(again[key], value)
    # and the figure, drawn after, shows the trained filters
    ch05.feature_maps_figure(int(again["label"]), "original", steps=3)
    np.testing.assert_array_equal(ch05.feature_maps(0, steps=3)["filters"], expected["filters"])


def test_sequences_may_be_lists():
    sweep = ch05.label_sweep([20], seeds=[0], cnn_channels=2, mlp_width=4, steps=2)
    assert len(sweep) == 4
    fig = ch05.labels_figure(20, "original", n_labels=[20], seeds=[0], steps=2)
    assert isinstance(fig, Figure)
    settings = ch05.CnnSettings(seeds=[0, 1], label_budgets=[20, 40])
    assert settings.seeds == (0, 1) and settings.label_budgets == (20, 40)


def test_runs_too_long_or_too_large_are_refused_before_training():
    with pytest.raises(ValueError, match="steps=10,000,000 with batch_size=1,438 on 10 labels"):
        ch05.label_sweep((10,), seeds=(0,), steps=10**7, batch_size=1438)
    with pytest.raises(ValueError, match="depth=1,000 with channels=512"):
        ch05.sharing_profile(1000, channels=512)
    with pytest.raises(ValueError, match="epochs=10,000,000 with batch_size=1"):
        ch05.training_profiles(2, epochs=10**7, batch_size=1)


def test_a_diverged_run_says_so(monkeypatch):
    # the book's ReLU nets die rather than diverge at any lr up to the bound,
    # so a diverged run is simulated
    diverged = History(steps=3, diverged=True, diverged_at=3, reason="loss is nan at step 3",
                       epoch=[0], test_acc=[0.1], train_acc=[0.1])
    monkeypatch.setattr(ch05, "_run", lambda *args: (diverged, mlp([64, 4, 10])))
    with pytest.raises(ValueError, match=r"the mlp run \(4, 1438 labels, seed 0\) diverged at lr=5.0: loss is nan"):
        ch05.capacity_comparison((), (4,), seeds=(0,), steps=3, lr=5.0)


def test_first_last_ratio_of_a_zero_first_layer():
    prof = pd.DataFrame({"net": ["CNN", "CNN"], "layer": [1, 2], "delta rms": [0.0, 1.0]})
    with pytest.raises(ValueError, match="not finite"):
        ch05.first_last_ratio(prof, "CNN")
