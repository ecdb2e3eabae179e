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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5, 20, 50])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the chapter's)")
    args = parser.parse_args()
    set_threads(1)
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
