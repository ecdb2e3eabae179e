"""What twenty seeds cost: an ensemble trained as one batched model against
the same nets trained one at a time (one torch thread).

Two nets the claim checks train over seeds:

- chapter 1's depth-sweep net (``[64] + [30] * 5 + [10]``, sigmoid, Nielsen's
  initialisation, SGD at lr 1.0 in mini-batches of 32, per-epoch diagnostics:
  bias-gradient norms, weight change, saturation);
- chapter 4's fix-comparison net (8 hidden layers of 32 sigmoid units, weights
  N(0, 0.1^2), SGD with momentum 0.9 at lr 0.02, test accuracy every epoch).

For 1, 5, 20 and 50 seeds it prints the wall time of both ways and their ratio,
and the batched time over the batched time of one seed (the issue's goal: 20
seeds cost at most 3x one seed). ``--epochs`` shortens the runs (the default
is the chapters' own: 30 and 12 epochs).

    .venv/bin/python benchmarks/ensemble.py [--seeds 1 5 20 50] [--epochs N]
    .venv/bin/python benchmarks/ensemble.py --cnn [--seeds 1 5 20] [--steps 100]

``--cnn`` times chapter 5's CNNs instead (``small_cnn(8)`` with ReLU, the
label-sweep net, and ``deep_cnn(6, 4)`` with sigmoids, the gradient-profile
net), ``--steps`` SGD steps (momentum 0.9) on mini-batches of 32 digits, three
ways: one net at a time, one :class:`~gradbook.models.ensemble.Ensemble`
(the members' convolutions as one grouped convolution, ``groups=N``), and
``torch.func.vmap`` over ``functional_call`` of the stacked parameters.
The grouped convolution is the one the library uses; the closing note of
issue 11 gives the table measured with ``--cnn``.
"""

from __future__ import annotations

import argparse
import time

from gradbook.chapters import ch01_vanishing_gradients as ch01
from gradbook.chapters import ch04_relu_dropout as ch04
from gradbook.data import digits_split
from gradbook.models.ensemble import ensemble
from gradbook.models.mlp import mlp
from gradbook.train import set_threads, train


def _ch01(seed: int):
    width, depth = ch01.SETTINGS.training.width, max(ch01.SETTINGS.training.depths)
    return mlp([64] + [width] * depth + [10], "sigmoid", "nielsen", seed=seed)


def _ch04(seed: int):
    return ch04.deep_net("sigmoid", seed=seed)


def _settings(name: str, epochs: int | None) -> dict:
    if name == "ch01":
        tr = ch01.SETTINGS.training
        return dict(epochs=epochs or tr.epochs, lr=tr.lr, batch_size=tr.batch_size, diagnostics_every=1)
    deep = ch04.SETTINGS.deep
    return dict(epochs=epochs or deep.epochs, lr=deep.lr, batch_size=deep.batch_size, momentum=deep.momentum)


def _time(builder, seeds, settings, batched: bool) -> float:
    X_train, X_test, y_train, y_test = digits_split()
    t = time.perf_counter()
    if batched:
        train(ensemble(builder, seeds), X_train, y_train, X_test=X_test, y_test=y_test, progress=False,
              **settings)
    else:
        for s in seeds:
            train(builder(s), X_train, y_train, X_test=X_test, y_test=y_test, seed=s, progress=False,
                  **settings)
    return time.perf_counter() - t


def _cnn_time(builder, n: int, steps: int, how: str) -> float:
    import torch
    from torch.func import functional_call, grad_and_value, stack_module_state, vmap

    X_train, _, y_train, _ = digits_split()
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, len(X_train), (32,), generator=gen) for _ in range(steps)]
    loss = torch.nn.functional.cross_entropy
    t = time.perf_counter()
    if how == "loop":
        for s in range(n):
            net = builder(s)
            opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
            for idx in batches:
                opt.zero_grad()
                loss(net(X_train[idx]), y_train[idx]).backward()
                opt.step()
    elif how == "grouped":
        e = ensemble(builder, list(range(n)))
        opt = torch.optim.SGD(e.parameters(), lr=0.05, momentum=0.9)
        for idx in batches:
            opt.zero_grad()
            out = e(X_train[idx].expand(n, -1, -1))
            loss(out.flatten(0, 1), y_train[idx].repeat(n), reduction="sum").div(32).backward()
            opt.step()
    else:
        nets = [builder(s) for s in range(n)]
        params, buffers = stack_module_state(nets)
        base = nets[0]

        def member_loss(p, b, x, y):
            return loss(functional_call(base, (p, b), (x,)), y)

        step = vmap(grad_and_value(member_loss), in_dims=(0, 0, None, None))
        opt = torch.optim.SGD(list(params.values()), lr=0.05, momentum=0.9)
        for idx in batches:
            grads, _ = step(params, buffers, X_train[idx], y_train[idx])
            for name, p in params.items():
                p.grad = grads[name]
            opt.step()
    return time.perf_counter() - t


def cnn_main(seeds, steps: int) -> None:
    from gradbook.models.cnn import deep_cnn, small_cnn

    nets = {"small_cnn(8)": lambda seed: small_cnn(8, "relu", seed=seed),
            "deep_cnn(6,4)": lambda seed: deep_cnn(6, 4, "sigmoid", seed=seed)}
    print(f"{'net':<14} {'seeds':>5} {'one at a time s':>16} {'grouped s':>10} {'vmap s':>8}")
    for name, builder in nets.items():
        for how in ("loop", "grouped", "vmap"):
            _cnn_time(builder, 1, 5, how)  # warm-up
        for n in seeds:
            times = [_cnn_time(builder, n, steps, how) for how in ("loop", "grouped", "vmap")]
            print(f"{name:<14} {n:>5} {times[0]:>16.2f} {times[1]:>10.2f} {times[2]:>8.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5, 20, 50])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the chapter's)")
    parser.add_argument("--cnn", action="store_true", help="time chapter 5's CNN ensembles instead")
    parser.add_argument("--steps", type=int, default=100, help="SGD steps per CNN run (with --cnn)")
    args = parser.parse_args()
    set_threads(1)
    if args.cnn:
        cnn_main(args.seeds, args.steps)
        return
    print(f"{'net':<6} {'seeds':>5} {'one at a time s':>16} {'batched s':>10} {'speed-up':>9} "
          f"{'batched / 1 seed':>17}")
    for name, builder in (("ch01", _ch01), ("ch04", _ch04)):
        settings = _settings(name, args.epochs)
        for batched in (False, True):  # warm-up: the first calls of torch's kernels
            _time(builder, [0], dict(settings, epochs=1), batched)
        one = None
        for n in args.seeds:
            seeds = list(range(n))
            loop = _time(builder, seeds, settings, False)
            batched = _time(builder, seeds, settings, True)
            one = batched if one is None and n == 1 else one
            against_one = f"{batched / one:17.2f}" if one else f"{'':>17}"
            print(f"{name:<6} {n:>5} {loop:>16.2f} {batched:>10.2f} {loop / batched:>9.1f} {against_one}",
                  flush=True)
        print(f"       ({settings})")


if __name__ == "__main__":
    main()


# --------------------------------------------------------------------------
# RNN section: chapter 6's recurrent nets (run after the MLP section, same --seeds)
# --------------------------------------------------------------------------
#
# Chapter 6's net: a tanh VanillaRNN of 32 units on the adding problem (T = 10,
# 1,024 training sequences, batch 32, 400 steps of SGD with momentum 0.9,
# clipped by norm at 0.1). Two tables:
#
# 1. how to batch: the time of 400 forward and backward passes of N members,
#    hand-batched (gradbook.models.ensemble_rnn: one torch.baddbmm over
#    (N, hidden, hidden) per time step) against torch.func.vmap of the same
#    recurrence written as a function of stacked parameters (vmap cannot run
#    VanillaRNN's own forward: its input checks read values);
# 2. what it buys: the whole training run (gradbook.train.train) of an
#    ensemble against the same nets trained one at a time.

import sys

import torch


def _rnn_settings():
    from gradbook.chapters import ch06_exploding_gradients as ch06

    a = ch06.SETTINGS.adding
    return a, dict(steps=a.steps, lr=0.1, batch_size=a.batch_size, momentum=a.momentum, clip=("norm", 0.1),
                   loss="mse", progress=False)


def _rnn_members(seeds):
    from gradbook.models.rnn import VanillaRNN

    a, _ = _rnn_settings()
    return [VanillaRNN(2, a.hidden_size, 1, "tanh", init="orthogonal", radius=1.0, seed=s) for s in seeds]


def _rnn_pass_times(n: int, length: int = 10, repeats: int = 400) -> tuple[float, float]:
    """Seconds of ``repeats`` forward and backward passes of n members: hand-batched, vmap."""
    from gradbook.data import adding_problem
    from gradbook.models.ensemble import Ensemble

    a, _ = _rnn_settings()
    seeds = list(range(n))
    x = torch.stack([adding_problem(a.batch_size, length, seed=s)[0] for s in seeds])
    y = torch.stack([adding_problem(a.batch_size, length, seed=s)[1] for s in seeds])
    model = Ensemble(_rnn_members(seeds), seeds)
    t = time.perf_counter()
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        ((model(x) - y) ** 2).sum(2).mean(1).sum().backward()
    hand = time.perf_counter() - t

    body = model.body
    params = [p.detach().clone().requires_grad_(True)
              for p in (body.weight_hh, body.weight_ih, body.bias, body.readout.weight, body.readout.bias)]

    def member(W, U, b, V, c, xs):
        u = xs @ U.T + b
        h = torch.zeros(xs.shape[0], W.shape[0])
        for step in range(xs.shape[1]):
            h = torch.tanh(h @ W.T + u[:, step])
        return h @ V.T + c

    batched = torch.func.vmap(member)
    t = time.perf_counter()
    for _ in range(repeats):
        for p in params:
            p.grad = None
        ((batched(*params, x) - y) ** 2).sum(2).mean(1).sum().backward()
    return hand, time.perf_counter() - t


def _rnn_train_time(n: int, batched: bool) -> float:
    from gradbook.data import adding_problem
    from gradbook.models.ensemble import Ensemble, stack_inputs

    a, settings = _rnn_settings()
    seeds = list(range(n))
    data = [adding_problem(a.n_train, 10, seed=s) for s in seeds]
    t = time.perf_counter()
    if batched:
        train(Ensemble(_rnn_members(seeds), seeds), stack_inputs([d[0] for d in data]),
              stack_inputs([d[1] for d in data]), **settings)
    else:
        for s, net, (x, y) in zip(seeds, _rnn_members(seeds), data):
            train(net, x, y, seed=s, **settings)
    return time.perf_counter() - t


def rnn_main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5, 20, 50])
    args, _ = parser.parse_known_args(sys.argv[1:])
    set_threads(1)
    _rnn_pass_times(1, repeats=20)  # warm-up
    print("\nch06 RNN, 400 forward+backward passes (T = 10, batch 32, 32 tanh units)")
    print(f"{'seeds':>5} {'hand-batched s':>15} {'vmap s':>8} {'vmap / hand':>12}")
    for n in args.seeds:
        hand, vmapped = _rnn_pass_times(n)
        print(f"{n:>5} {hand:>15.2f} {vmapped:>8.2f} {vmapped / hand:>12.2f}", flush=True)
    print("\nch06 RNN, whole training run (train.train, 400 steps, clip ('norm', 0.1))")
    print(f"{'seeds':>5} {'one at a time s':>16} {'batched s':>10} {'speed-up':>9} {'batched / 1 seed':>17}")
    one = None
    for n in args.seeds:
        loop, batched = _rnn_train_time(n, False), _rnn_train_time(n, True)
        one = batched if one is None and n == 1 else one
        against_one = f"{batched / one:17.2f}" if one else f"{'':>17}"
        print(f"{n:>5} {loop:>16.2f} {batched:>10.2f} {loop / batched:>9.1f} {against_one}", flush=True)


if __name__ == "__main__":
    rnn_main()
