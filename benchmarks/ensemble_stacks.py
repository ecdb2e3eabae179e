"""Wall time of pretraining chapter 3's stacks for many seeds: batched
(``gradbook.models.stacks.fit_stacks``, one model whose weights are
(N, n_in, n_out)) against one seed at a time (``clone(stack).fit`` per seed),
on one torch thread, at 1, 5 and 20 seeds, for chapter 3's DBN and DAE
settings (``gradbook.chapters.ch03_pretraining.SETTINGS``) on the digits'
training images. Each cell is the best of ``--repeats`` runs.

    .venv/bin/python benchmarks/ensemble_stacks.py [--repeats 2] [--seeds 1 5 20]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

import torch
from sklearn.base import clone

from gradbook.chapters.ch03_pretraining import SETTINGS
from gradbook.data import digits_split
from gradbook.models.stacks import DBN, StackedAutoencoder, fit_stacks


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 5, 20])
    args = parser.parse_args()
    torch.set_num_threads(1)
    X = digits_split()[0]
    stacks = {
        "DBN": DBN(SETTINGS.hidden, progress=False, **asdict(SETTINGS.dbn)),
        f"DAE (corruption {SETTINGS.corruption})": StackedAutoencoder(
            SETTINGS.hidden, corruption=SETTINGS.corruption, progress=False, **asdict(SETTINGS.autoencoder)),
    }
    print(f"{X.shape[0]} images x {X.shape[1]} pixels, hidden {SETTINGS.hidden}, one torch thread, "
          f"best of {args.repeats}")
    print(f"{'stack':<22} {'seeds':>5} {'one at a time (s)':>18} {'batched (s)':>12} {'speed-up':>9}")
    for name, stack in stacks.items():
        for n in args.seeds:
            seeds = list(range(n))
            alone = _best(lambda: [clone(stack).set_params(random_state=s).fit(X) for s in seeds], args.repeats)
            batched = _best(lambda: fit_stacks(stack, X, seeds), args.repeats)
            print(f"{name:<22} {n:>5} {alone:>18.2f} {batched:>12.2f} {alone / batched:>8.1f}x")


if __name__ == "__main__":
    main()
