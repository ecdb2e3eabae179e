"""gradbook.models.mlp: structure of the nets, the statistics of each initialisation,
seeding, and the error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from gradbook.models.mlp import ACTIVATIONS, INITS, activation_of, hidden_layers, linear_layers, mlp


def test_mlp_structure():
    net = mlp([64, 30, 20, 10])
    assert isinstance(net, nn.Sequential)
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.Sigmoid, nn.Linear, nn.Sigmoid, nn.Linear]
    shapes = [tuple(m.weight.shape) for m in net if isinstance(m, nn.Linear)]
    assert shapes == [(30, 64), (20, 30), (10, 20)]
    assert net(torch.zeros(7, 64)).shape == (7, 10)


def test_mlp_without_hidden_layer_is_linear():
    net = mlp([5, 3])
    assert [type(m) for m in net] == [nn.Linear]


def test_mlp_accepts_tuple_and_numpy_sizes():
    a = mlp((4, 3, 2), seed=1)
    b = mlp(np.array([4, 3, 2]), seed=1)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("activation, cls", [("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh), ("relu", nn.ReLU)])
def test_mlp_activations(activation, cls):
    net = mlp([8, 6, 6, 2], activation=activation)
    acts = [m for m in net if not isinstance(m, nn.Linear)]
    assert len(acts) == 2 and all(isinstance(m, cls) for m in acts)
    assert activation_of(net) == activation


def test_activation_and_init_tables():
    assert ACTIVATIONS == ("sigmoid", "tanh", "relu")
    assert set(INITS) == {"nielsen", "standard", "xavier", "he"}


# ------------------------------------------------------------- initialisations
# One wide layer (1000 x 1000 = 10^6 weights, 1000 biases): the sample standard
# deviation of the weights is within 0.5 % of the target, of the biases within ~7 %.

N_IN, N_OUT = 1000, 1000


def _first_layer(init):
    return mlp([N_IN, N_OUT, 10], init=init, seed=0)[0]


@pytest.mark.parametrize(
    "init, w_std, b_std",
    [
        ("nielsen", 1 / math.sqrt(N_IN), 1.0),
        ("standard", 1.0, 1.0),
        ("xavier", math.sqrt(2 / (N_IN + N_OUT)), 0.0),
        ("he", math.sqrt(2 / N_IN), 0.0),
        (0.37, 0.37, 0.0),
        (2, 2.0, 0.0),
    ],
)
def test_init_statistics(init, w_std, b_std):
    layer = _first_layer(init)
    w, b = layer.weight.detach(), layer.bias.detach()
    assert float(w.mean()) == pytest.approx(0.0, abs=5 * w_std / math.sqrt(w.numel()))
    assert float(w.std()) == pytest.approx(w_std, rel=0.01)
    if b_std == 0.0:
        assert torch.count_nonzero(b) == 0
    else:
        assert float(b.std()) == pytest.approx(b_std, rel=0.1)
        assert float(b.mean()) == pytest.approx(0.0, abs=5 / math.sqrt(b.numel()))


def test_xavier_uses_fan_out_too():
    # a 1000 -> 10 layer: Xavier's std sqrt(2/1010) is about sqrt(2)x Nielsen's 1/sqrt(1000)
    layer = mlp([1000, 10], init="xavier")[0]
    assert float(layer.weight.detach().std()) == pytest.approx(math.sqrt(2 / 1010), rel=0.03)


def test_every_layer_is_initialised():
    # the nielsen rule applies to every layer, with that layer's own fan-in
    net = mlp([400, 900, 100, 10], init="nielsen")
    for layer in linear_layers(net):
        n_in = layer.in_features
        assert float(layer.weight.detach().std()) == pytest.approx(1 / math.sqrt(n_in), rel=0.1)


def test_seed_reproducible_and_seeds_differ():
    a = mlp([20, 10, 5], seed=3)
    b = mlp([20, 10, 5], seed=3)
    c = mlp([20, 10, 5], seed=4)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_seed_does_not_depend_on_the_global_rng():
    torch.manual_seed(0)
    a = mlp([6, 4, 2], seed=5)
    torch.manual_seed(1)
    torch.rand(100)
    b = mlp([6, 4, 2], seed=5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_parameters_are_trainable_float32():
    for p in mlp([4, 3, 2]).parameters():
        assert p.requires_grad and p.dtype == torch.float32


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "sizes, exc, message",
    [
        ([64], ValueError, "sizes must be a list or tuple of 2 to 1002 item"),
        ([], ValueError, "sizes must be a list or tuple of 2 to 1002 item"),
        ([64, 0, 10], ValueError, r"sizes\[1\] must be an integer >= 1"),
        ([64, -3, 10], ValueError, r"sizes\[1\]"),
        ([64, 30.0, 10], TypeError, r"sizes\[1\] must be an integer"),
        ([64, True, 10], TypeError, r"sizes\[1\]"),
        ("64,10", TypeError, "sizes must be a list or tuple"),
        (64, TypeError, "sizes must be a list or tuple"),
        ({64: "a", 10: "b"}, TypeError, "sizes must be a list or tuple"),
        ([64, 10**9, 10], ValueError, r"sizes \[64, 1000000000, 10\] would need about 838.2 GiB"),
    ],
)
def test_mlp_bad_sizes(sizes, exc, message):
    with pytest.raises(exc, match=message):
        mlp(sizes)


@pytest.mark.parametrize("activation", ["Sigmoid", "softplus", "", None])
def test_mlp_bad_activation(activation):
    with pytest.raises(ValueError, match="activation must be one of 'sigmoid', 'tanh', 'relu'"):
        mlp([4, 3, 2], activation=activation)


@pytest.mark.parametrize(
    "init, exc",
    [("glorot", ValueError), ("", ValueError), (0.0, ValueError), (-1.0, ValueError),
     (float("nan"), ValueError), (1e38, ValueError), (None, ValueError), (True, ValueError)],
)
def test_mlp_bad_init(init, exc):
    with pytest.raises(exc, match="init"):
        mlp([4, 3, 2], init=init)


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (1.5, TypeError), ("0", TypeError)])
def test_mlp_bad_seed(seed, exc):
    with pytest.raises(exc, match="seed"):
        mlp([4, 3, 2], seed=seed)


# ------------------------------------------------------------- layer accessors


def test_linear_and_hidden_layers():
    net = mlp([8, 7, 6, 5, 2])
    lin = linear_layers(net)
    assert [l.out_features for l in lin] == [7, 6, 5, 2]
    assert all(l is m for l, m in zip(lin, [net[0], net[2], net[4], net[6]]))
    assert hidden_layers(net) == lin[:-1]


def test_layer_accessors_errors():
    with pytest.raises(ValueError, match="no nn.Linear"):
        linear_layers(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="no hidden layer"):
        hidden_layers(mlp([4, 2]))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        linear_layers([nn.Linear(2, 2)])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        activation_of("sigmoid")
    with pytest.raises(ValueError, match="no sigmoid, tanh or relu"):
        activation_of(mlp([4, 2]))



def test_init_layer_is_the_rule_mlp_uses():
    """mlp draws its first layer first from a generator seeded with ``seed``."""
    from gradbook.models.mlp import init_layer

    net = mlp([5, 4, 3], activation="relu", init="he", seed=7)
    again = nn.Linear(5, 4)
    init_layer(again, "he", torch.Generator().manual_seed(7))
    assert torch.equal(net[0].weight, again.weight) and torch.equal(net[0].bias, again.bias)


@pytest.mark.parametrize("layer, init, error, message", [
    ("not a layer", "he", TypeError, "layer must be a torch.nn.Linear"),
    (None, "glorot", ValueError, "init must be one of"),
    (None, -0.1, ValueError, r"init must be one of .* or a finite number > 0 and <= 1e\+06"),
    (None, float("nan"), ValueError, r"init must be one of .* or a finite number > 0 and <= 1e\+06"),
    (None, True, ValueError, "init must be one of"),
])
def test_init_layer_rejects_bad_input(layer, init, error, message):
    from gradbook.models.mlp import init_layer

    with pytest.raises(error, match=message):
        init_layer(nn.Linear(3, 2) if layer is None else layer, init, torch.Generator())


def test_init_layer_needs_a_generator_and_a_bias():
    from gradbook.models.mlp import init_layer

    with pytest.raises(TypeError, match="gen must be a torch.Generator"):
        init_layer(nn.Linear(3, 2), "he", 0)
    with pytest.raises(ValueError, match="must have a bias"):
        init_layer(nn.Linear(3, 2, bias=False), "he", torch.Generator())


def test_init_layer_draws_a_conv_like_the_linear_rule():
    import torch
    from torch import nn

    from gradbook.models.mlp import init_layer

    conv = nn.Conv2d(2, 3, 3)
    init_layer(conv, "he", torch.Generator().manual_seed(0))
    expected = torch.randn(3, 2, 3, 3, generator=torch.Generator().manual_seed(0)) * (2 / 18) ** 0.5
    assert torch.allclose(conv.weight, expected) and bool((conv.bias == 0).all())
