"""gradbook.models: the bad inputs a careful user found, each refused at once
with an error that names the setting at fault; constructors that draw nothing
from torch's global generator and still build the same weights, bit for bit.

(The declared checks of every public callable are exercised by
``test_bad_input.py``; these are the cases behind them, spelled out.)
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from gradbook.models import cnn, mlp, rbm, rnn, stacks

#: A small binary data set in [0, 1].
X_SMALL = (np.random.default_rng(0).random((30, 6)) < 0.5).astype(np.float32)


# ------------------------------------------------------------ torch's global generator

CONSTRUCTORS = {
    "small_cnn": lambda: cnn.small_cnn(4, "relu", seed=1),
    "small_cnn sigmoid": lambda: cnn.small_cnn(2, "sigmoid", 0.3, seed=2),
    "deep_cnn": lambda: cnn.deep_cnn(3, 2, "tanh", seed=1),
    "deep_mlp": lambda: cnn.deep_mlp(3, 8, "relu", seed=1),
    "VanillaRNN orthogonal": lambda: rnn.VanillaRNN(2, 5, 1, seed=1),
    "VanillaRNN gaussian": lambda: rnn.VanillaRNN(2, 5, 3, "linear", init="gaussian", radius=1.2, seed=1),
    "LSTMNet": lambda: rnn.LSTMNet(2, 5, 2, seed=1),
    "mlp": lambda: mlp.mlp([4, 3, 2], seed=1),
    "dropout_mlp": lambda: mlp.dropout_mlp([4, 3, 3, 2], 0.5, seed=1),
    "batchnorm_mlp": lambda: mlp.batchnorm_mlp([4, 3, 3, 2], seed=1),
    "ResidualMLP": lambda: mlp.ResidualMLP(4, 3, 2, 2, seed=1),
    "InvertedDropout": lambda: mlp.InvertedDropout(0.5, seed=1),
    "lenet5 paper": lambda: cnn.lenet5("paper", seed=1),
    "lenet5 torch": lambda: cnn.lenet5("torch", seed=1),
    "RBFOutput": lambda: cnn.RBFOutput(5, 3, seed=1),
    "recurrent_matrix": lambda: rnn.recurrent_matrix(4, 0.9, "gaussian", seed=1),
}


@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_constructors_leave_torchs_global_generator_alone(name):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    CONSTRUCTORS[name]()
    assert torch.equal(torch.random.get_rng_state(), before), f"{name} drew from torch's global generator"


def _digest(net: torch.nn.Module) -> str:
    state = net.state_dict()
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


#: sha256 of the state dicts the constructors built before they stopped drawing
#: from torch's global generator (measured on the code of commit 8af6a8c).
SAME_WEIGHTS = [
    (lambda: cnn.small_cnn(8, "relu", seed=0), "0a04255944fe618e"),
    (lambda: cnn.small_cnn(8, "sigmoid", seed=7), "3a144edf3fb0af0a"),
    (lambda: cnn.small_cnn(8, "tanh", seed=2**32 - 1), "5c124d6e5f589942"),
    (lambda: cnn.small_cnn(3, "relu", 0.3, seed=1), "5db4382fdb7f4bc6"),
    (lambda: cnn.deep_cnn(3, 4, "sigmoid", seed=0), "f54d16ebe0cc11bd"),
    (lambda: cnn.deep_cnn(3, 4, "relu", seed=1), "796a48b62884e2cc"),
    (lambda: cnn.deep_cnn(3, 4, "tanh", seed=7), "30ce739586f08f5f"),
    (lambda: cnn.deep_mlp(3, 16, "sigmoid", seed=0), "8d939c6f22e04731"),
    (lambda: rnn.LSTMNet(2, 8, 3, forget_bias=2.0, seed=0), "b55b4b144829a39b"),
    (lambda: rnn.LSTMNet(2, 8, 3, forget_bias=2.0, seed=1), "ce0aecdd829a9416"),
    (lambda: rnn.LSTMNet(3, 5, seed=7), "e265e1d883cf6b04"),
    (lambda: rnn.VanillaRNN(2, 8, 1, "tanh", init="orthogonal", radius=1.3, input_scale=0.5, seed=0),
     "1d5d64a4f0e4a626"),
    (lambda: rnn.VanillaRNN(2, 8, 1, "linear", init="gaussian", radius=1.3, input_scale=0.5, seed=7),
     "0d40843f612a1314"),
    (lambda: mlp.ResidualMLP(64, 16, 4, 10, seed=1), "0ae3241310c27be3"),
    (lambda: mlp.dropout_mlp([64, 16, 16, 10], 0.3, seed=7), "14030aee195fa7e9"),
    (lambda: mlp.batchnorm_mlp([64, 16, 16, 10], seed=0), "b8fd597dc02380d9"),
]


@pytest.mark.parametrize("build, digest", SAME_WEIGHTS)
def test_constructors_build_the_same_weights_as_before(build, digest):
    assert _digest(build()) == digest


def test_the_recurrent_nets_weights_follow_their_recipe():
    """The same, from the recipe (independent of the platform's QR): W from
    recurrent_matrix, U and the readout from a generator seeded seed + 1."""
    net = rnn.VanillaRNN(3, 6, 2, init="gaussian", radius=0.8, input_scale=0.5, seed=4)
    assert torch.equal(net.weight_hh, rnn.recurrent_matrix(6, 0.8, "gaussian", 4))
    gen = torch.Generator().manual_seed(5)
    assert torch.equal(net.weight_ih, torch.randn(6, 3, generator=gen) * (0.5 / 3 ** 0.5))
    assert torch.equal(net.readout.weight, torch.randn(2, 6, generator=gen) / 6 ** 0.5)
    assert torch.equal(net.readout.bias, torch.zeros(2)) and torch.equal(net.bias, torch.zeros(6))


def test_an_lstm_built_without_drawing_runs_like_torchs():
    net = rnn.LSTMNet(2, 4, 1, seed=0)
    x = torch.rand(3, 5, 2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(net.last_output(x), net(x)[0][:, -1])


# ------------------------------------------------------------------- sizes and depths


@pytest.mark.timeout(10)
@pytest.mark.parametrize("call, name", [
    (lambda: mlp.ResidualMLP(64, 8, 10**6, 10), "depth"),
    (lambda: cnn.deep_cnn(10**6), "depth"),
    (lambda: cnn.deep_mlp(10**6), "depth"),
    (lambda: rnn.VanillaRNN(2, 10**9), "hidden_size"),
    (lambda: rnn.LSTMNet(2, 10**9), "hidden_size"),
    (lambda: mlp.ResidualMLP(64, 10**5, 3, 10), "width"),
    (lambda: cnn.deep_cnn(3, channels=10**5), "channels"),
    (lambda: cnn.small_cnn(10**5), "channels"),
    (lambda: cnn.deep_mlp(3, width=10**5), "width"),
    (lambda: rnn.VanillaRNN(10**8, 2000), "input_size"),
    (lambda: rnn.orthogonal_matrix(10**5), "n"),
    (lambda: mlp.mlp([64, 10**9, 10]), "sizes"),
    (lambda: cnn.RBFOutput(10**5, 10**5), "in_features"),
    (lambda: cnn.conv2d_loops(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), padding=5000), "x and padding"),
    (lambda: cnn.shared_kernel_gradient(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), 1, padding=5000),
     "a and padding"),
])
def test_huge_sizes_are_refused_before_anything_is_built(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_the_setting_at_fault_is_named():
    with pytest.raises(ValueError, match="width must be an integer from 1"):
        cnn.deep_mlp(2, width=0)
    with pytest.raises(ValueError, match="init must be one of 'orthogonal', 'gaussian'"):
        rnn.VanillaRNN(2, 3, init="x")
    with pytest.raises(TypeError, match="sizes must be a list or tuple"):
        mlp.mlp({64: "a", 10: "b"})
    with pytest.raises(ValueError, match="init must be one of"):
        mlp.mlp([64, 8, 10], init=1e38)
    with pytest.raises(ValueError, match="forget_bias"):
        rnn.LSTMNet(2, 3, forget_bias=1e300)
    with pytest.raises(ValueError, match="radius"):
        rnn.VanillaRNN(2, 3, radius=1e300)


# ----------------------------------------------------------------- NaN and infinities


def test_nan_inputs_are_refused():
    nan = torch.tensor([[[[0.0, float("nan")], [0.0, 0.0]]]])
    with pytest.raises(ValueError, match="h contains NaN"):
        mlp.inverted_dropout(torch.tensor([1.0, float("nan")]), 0.5)
    with pytest.raises(ValueError, match="x contains NaN"):
        cnn.conv2d_loops(nan, torch.ones(1, 1, 1, 1))
    with pytest.raises(ValueError, match="weight contains NaN"):
        cnn.conv2d_loops(torch.ones(1, 1, 2, 2), nan)
    with pytest.raises(ValueError, match="bias"):
        cnn.conv2d_loops(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 1, 1), torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="delta contains NaN"):
        cnn.shared_kernel_gradient(nan, torch.ones(1, 1, 2, 2), 1)
    with pytest.raises(ValueError, match="x contains NaN"):
        cnn.count_connections(cnn.lenet5("torch"), torch.full((1, 1, 32, 32), float("nan")))


def test_a_dropout_layer_lets_a_diverging_net_be_reported_by_training():
    """In a net, NaN activations are a divergence that the training loop
    reports naming the learning rate: the layer passes them on."""
    layer = mlp.InvertedDropout(0.5, seed=0)
    assert torch.isnan(layer(torch.full((2, 3), float("nan")))).all()


def test_a_wrong_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"W must be .* got shape \(3,\)|b must have shape"):
        rbm.free_energy(X_SMALL, np.zeros((2, 6)), np.zeros(5), np.zeros(2))
    with pytest.raises(ValueError, match=r"v must have shape \(rows, 6\)"):
        rbm.free_energy(X_SMALL[:, :5], np.zeros((2, 6)), np.zeros(6), np.zeros(2))
    with pytest.raises(ValueError, match="c must have shape"):
        rbm.ais_log_partition(np.zeros((2, 6)), np.zeros(6), np.zeros(3), runs=2, steps=3)
    with pytest.raises(ValueError, match="does not fit the model"):
        cnn.count_connections(cnn.lenet5("torch"), torch.zeros(1, 1, 8, 8))


# ---------------------------------------------------------------- training that overflows


@pytest.mark.timeout(30)
@pytest.mark.parametrize("make, setting", [
    (lambda: stacks.StackedAutoencoder((4,), learning_rate=1e38, n_iter=3, random_state=0), "learning_rate"),
    (lambda: stacks.StackedAutoencoder((4, 3), contraction=1e30, n_iter=3, random_state=0), "contraction"),
    (lambda: rbm.BernoulliRBM(4, learning_rate=1e38, n_iter=3, random_state=0), "learning_rate must be"),
    (lambda: stacks.DBN((4, 3), learning_rate=1e38, n_iter=3, random_state=0), "learning_rate must be"),
    (lambda: rbm.BernoulliRBM(4, learning_rate=10.0, weight_decay=1.0, n_iter=30, random_state=0),
     r"diverged in epoch \d+: .* lower learning_rate \(now 10\) or weight_decay \(now 1\)"),
])
def test_training_that_overflows_names_the_setting_not_the_data(make, setting):
    with pytest.raises(ValueError, match=setting) as info:
        make().set_params(progress=False).fit(X_SMALL)
    assert "X contains" not in str(info.value)


def test_an_estimators_memory_is_estimated_before_it_fits():
    with pytest.raises(ValueError, match="n_components=100000000 on 6 features"):
        rbm.BernoulliRBM(10**8, progress=False).fit(X_SMALL)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        stacks.StackedAutoencoder((10**8,), progress=False).fit(X_SMALL)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        stacks.DBN((10**8,), progress=False).fit(X_SMALL)
    fitted = rbm.BernoulliRBM(3, n_iter=1, random_state=0, progress=False).fit(X_SMALL)
    with pytest.raises(ValueError, match="n_samples"):
        fitted.sample(10**9, 1)
    with pytest.raises(ValueError, match="n_steps"):
        fitted.sample(1, 10**12)
    with pytest.raises(ValueError, match="n_betas"):
        fitted.ais_log_partition(n_betas=10**12)


@pytest.mark.parametrize("cls, params", [
    (rbm.BernoulliRBM, dict(n_components=0, learning_rate=-1.0, k=10**12, progress="x")),
    (stacks.DBN, dict(hidden_layer_sizes=(0,), batch_size=0, momentum=2.0)),
    (stacks.StackedAutoencoder, dict(hidden_layer_sizes="12", corruption=1.0, tied="yes")),
])
def test_estimators_store_bad_parameters_and_fit_refuses_them(cls, params):
    est = cls(**params)
    assert all(getattr(est, k) == v for k, v in params.items())  # stored as given
    with pytest.raises((TypeError, ValueError)):
        est.fit(X_SMALL)


def test_an_rbm_whose_weights_overflow_names_the_learning_rate(monkeypatch):
    """Below MAX_LEARNING_RATE an RBM cannot overflow; should its weights ever
    become inf or NaN, fit raises naming the learning rate."""
    real_epoch = rbm._ContrastiveDivergence.epoch

    def overflowing_epoch(self):
        real_epoch(self)
        self.A[0, 0] = float("inf")

    monkeypatch.setattr(rbm._ContrastiveDivergence, "epoch", overflowing_epoch)
    with pytest.raises(ValueError, match=r"diverged in epoch 1: .* lower learning_rate \(now 0.1\)"):
        rbm.BernoulliRBM(3, n_iter=2, random_state=0, progress=False).fit(X_SMALL)
