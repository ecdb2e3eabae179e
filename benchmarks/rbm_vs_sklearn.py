"""gradbook.models.rbm.BernoulliRBM against scikit-learn's BernoulliRBM: time and quality.

Two settings:

* digits: scikit-learn's 8x8 digits (1,797 x 64) scaled to [0, 1]; 100 hidden
  units, batch 10, learning rate 0.06, 20 epochs (scikit-learn's RBM example).
  1,500 rows train, 297 are held out.
* MNIST-sized: 10,000 x 784 binary images made from the digits (each upsampled
  to 24 x 24, placed at a random offset in a 28 x 28 frame, thresholded at
  0.5), plus 2,000 held out, made from digits that training never saw; 256
  hidden units, batch 100, learning rate 0.1, 10 epochs.

Each fit is repeated with seeds ``seed, seed + 1, ...`` (interleaved, so that a
busy spell of the machine hits all implementations alike); the table gives
the fastest run, and the held-out pseudo-likelihood (scikit-learn's
definition, mean over the held-out rows) as mean and spread over the seeds.
For a given seed both estimators start from the same weights and flip the
same unit of each held-out row. The rows:

* scikit-learn PCD-1: ``sklearn.neural_network.BernoulliRBM`` on the float64
  data, as a user would call it; the reference of the speed-up column.
* scikit-learn f32: the same on a float32 copy of the data (scikit-learn then
  computes in float32 too), to show how much of the gap is precision.
* gradbook PCD-1: ``BernoulliRBM(persistent=True)``, scikit-learn's algorithm.
* gradbook CD-1: ``BernoulliRBM()``, the book's default.

A second table answers "how long to reach scikit-learn's quality?". The
target is scikit-learn PCD-1's held-out pseudo-likelihood after all its epochs
(mean over the seeds). For each gradbook variant, a callback records the
held-out pseudo-likelihood after every epoch; the fewest epochs whose mean
reaches the target are then fitted afresh and timed end to end (input
validation included), and the script checks that these fits reproduce the
recorded values exactly.

Why both tables: at equal work the speed-up has a ceiling. Each PCD-1 update
is five float32 products of batch x features x hidden multiply-adds (on
MNIST-sized data 5 x 100 x 785 x 256, about 0.5 ms each on one core of the
book's CPU, near its float32 peak), so 10 epochs cost at least 2.5 s of
products alone. Every product has a binary operand (data, sampled visible or
sampled hidden units), but at the 20-26 % density of these units a gather of
rows (``torch.nn.functional.embedding_bag``) is only 1.3-1.6 times faster than
the dense product and building its index costs more than it saves; int8,
bfloat16 and float16 products have no fast kernel on this AVX2 CPU (18-34 ms
against 0.5 ms). The book's default, CD-1, reaches scikit-learn's quality in
fewer epochs, which is where the rest of the speed-up comes from.

Pseudo-likelihood is scikit-learn's yardstick, and a rough one. With
``--ais N_BETAS`` a third table gives the held-out log-likelihood of the same
models, with log Z estimated by annealed importance sampling
(``BernoulliRBM.ais_log_partition``, Salakhutdinov and Murray 2008), for the
binary data only (the digits' grey levels have no probability under a
Bernoulli RBM). An "inf" in its bounds column means the importance weights
vary so much that log Z's lower bound is undefined; AIS then tends to
underestimate log Z, so the log-likelihood is an optimistic estimate. Gaps
of tens of nats between models survive that; check small gaps with more
steps.

Threads: ``--threads N`` (default 1) sets torch's threads and, through
threadpoolctl, the BLAS threads numpy uses. On a 2-core machine that other
processes share, two threads can be several times *slower* than one (each
parallel region waits for the busiest core), so one thread is the fair and
stable default; try ``--threads 2`` on an idle machine.

Run: ``.venv/bin/python benchmarks/rbm_vs_sklearn.py [--threads N] [--repeats R] [--ais N_BETAS]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM
from threadpoolctl import threadpool_limits

from gradbook.models.rbm import BernoulliRBM


def digits_data() -> tuple[np.ndarray, np.ndarray]:
    X = load_digits().data / 16.0
    return X[:1500], X[1500:]


def mnist_sized_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    images = torch.as_tensor(load_digits().data / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    big = torch.nn.functional.interpolate(images, size=(24, 24), mode="bilinear",
                                          align_corners=False)[:, 0]
    rng = np.random.default_rng(seed)

    def draw(sources: np.ndarray, n: int) -> np.ndarray:
        out = np.zeros((n, 28, 28), dtype=np.float32)
        picks = rng.choice(sources, n)
        dy, dx = rng.integers(0, 5, n), rng.integers(0, 5, n)
        for i in range(n):
            out[i, dy[i]:dy[i] + 24, dx[i]:dx[i] + 24] = big[picks[i]].numpy()
        return (out.reshape(n, 784) > 0.5).astype(np.float64)

    return draw(np.arange(1500), 10_000), draw(np.arange(1500, 1797), 2_000)


SETTINGS = {
    "digits 1797x64": (digits_data,
                       dict(n_components=100, learning_rate=0.06, batch_size=10, n_iter=20)),
    "MNIST-sized 10000x784": (mnist_sized_data,
                              dict(n_components=256, learning_rate=0.1, batch_size=100,
                                   n_iter=10)),
}

# name: (make the estimator, dtype of the training data)
IMPLEMENTATIONS = {
    "scikit-learn PCD-1": (lambda p: SkBernoulliRBM(**p), np.float64),
    "scikit-learn f32": (lambda p: SkBernoulliRBM(**p), np.float32),
    "gradbook PCD-1": (lambda p: BernoulliRBM(**p, persistent=True, progress=False), np.float64),
    "gradbook CD-1": (lambda p: BernoulliRBM(**p, progress=False), np.float64),
}


def table_header(columns: str) -> None:
    print()
    print(columns)
    print("|" + "|".join("-" * len(c) for c in columns.split("|")[1:-1]) + "|")


def timed_fits(make, params: dict, X_train: np.ndarray, X_test: np.ndarray,
               seeds: list[int]) -> tuple[float, list[float], list]:
    """Fit one model per seed: the fastest fit's seconds, each model's held-out PL, the models."""
    best, quality, models = np.inf, [], []
    for seed in seeds:
        model = make(dict(params, random_state=seed))
        began = time.perf_counter()
        model.fit(X_train)
        best = min(best, time.perf_counter() - began)
        quality.append(float(model.score_samples(X_test).mean()))
        models.append(model)
    return best, quality, models


def held_out_curve(make, params: dict, X_train: np.ndarray, X_test: np.ndarray,
                   seed: int) -> list[float]:
    """The held-out pseudo-likelihood after each epoch of one fit (via the callback)."""
    curve: list[float] = []
    model = make(dict(params, random_state=seed,
                      callback=lambda m, epoch: curve.append(float(m.score_samples(X_test).mean()))))
    model.fit(X_train)
    return curve


def as_gradbook(model, X_train: np.ndarray) -> BernoulliRBM:
    """A fitted gradbook RBM holding ``model``'s parameters (for its likelihood methods)."""
    if isinstance(model, BernoulliRBM):
        return model
    copy = BernoulliRBM(n_components=model.n_components, n_iter=1, progress=False,
                        random_state=0).fit(X_train[:2])
    copy.components_ = model.components_.astype(np.float32)
    copy.intercept_hidden_ = model.intercept_hidden_.astype(np.float32)
    copy.intercept_visible_ = model.intercept_visible_.astype(np.float32)
    return copy


def ais_log_likelihood(model, X_train: np.ndarray, X_test: np.ndarray,
                       n_betas: int) -> tuple[float, float]:
    """Mean held-out log-likelihood with log Z by AIS, and the width of AIS's +-3 se bounds."""
    rbm = as_gradbook(model, X_train)
    estimate = rbm.ais_log_partition(X_train, n_betas=n_betas, random_state=0)
    return (float(rbm.log_likelihood(X_test, log_z=estimate.log_z).mean()),
            estimate.high - estimate.low)


def run(threads: int, repeats: int, seed: int, ais_betas: int = 0) -> None:
    torch.set_num_threads(threads)
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"scikit-learn {sklearn.__version__}, numpy {np.__version__}; "
          f"{os.cpu_count()} CPUs, threads={threads}, best of {repeats}, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    print("\nSame algorithm settings, same number of epochs:")
    table_header(f"| {'data':<22} | {'implementation':<18} | {'fit s':>6} | {'s/epoch':>7} | "
                 f"{'held-out PL':>15} | {'speed-up':>8} |")
    seeds = [seed + repeat for repeat in range(repeats)]
    targets = {}
    kept: dict[tuple[str, str], list] = {}  # (setting, row) -> fitted models, for AIS
    for setting, (make_data, params) in SETTINGS.items():
        X_train, X_test = make_data()
        train = {np.float64: X_train, np.float32: X_train.astype(np.float32)}
        best: dict[str, float] = {name: np.inf for name in IMPLEMENTATIONS}
        quality: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
        with threadpool_limits(threads):
            for repeat_seed in seeds:  # interleaved, so that a busy spell hits all alike
                for name, (make, dtype) in IMPLEMENTATIONS.items():
                    seconds, pl, models = timed_fits(make, params, train[dtype], X_test,
                                                     [repeat_seed])
                    best[name] = min(best[name], seconds)
                    quality[name] += pl
                    if name == "scikit-learn PCD-1":
                        kept.setdefault((setting, f"{name}, {params['n_iter']} epochs"),
                                        []).extend(models)
        reference = best["scikit-learn PCD-1"]
        targets[setting] = (reference, float(np.mean(quality["scikit-learn PCD-1"])))
        for name in IMPLEMENTATIONS:
            pl = f"{np.mean(quality[name]):.2f} +- {np.std(quality[name]):.2f}"
            print(f"| {setting:<22} | {name:<18} | {best[name]:6.2f} | "
                  f"{best[name] / params['n_iter']:7.3f} | {pl:>15} | "
                  f"{reference / best[name]:7.1f}x |")

    print("\nTime to scikit-learn's quality: the fewest epochs after which gradbook's held-out\n"
          "PL (mean over the seeds) is at least scikit-learn PCD-1's after all its epochs;\n"
          "then fresh fits of that many epochs are timed end to end (validation included).")
    table_header(f"| {'data':<22} | {'implementation':<18} | {'epochs':>6} | {'fit s':>6} | "
                 f"{'held-out PL':>15} | {'target PL':>9} | {'speed-up':>8} |")
    for setting, (make_data, params) in SETTINGS.items():
        X_train, X_test = make_data()
        reference, target = targets[setting]
        for name in ("gradbook PCD-1", "gradbook CD-1"):
            make = IMPLEMENTATIONS[name][0]
            with threadpool_limits(threads):
                curves = np.array([held_out_curve(make, params, X_train, X_test, s) for s in seeds])
            reached = np.flatnonzero(curves.mean(axis=0) >= target)
            if not len(reached):
                print(f"| {setting:<22} | {name:<18} | {'never':>6} | {'':>6} | {'':>15} | "
                      f"{target:9.2f} | {'':>8} |")
                continue
            epochs = int(reached[0]) + 1
            with threadpool_limits(threads):
                best, quality, models = timed_fits(make, dict(params, n_iter=epochs), X_train,
                                                   X_test, seeds)
            kept[(setting, f"{name}, {epochs} epochs")] = models
            # The timed fits must be the very models the curves followed.
            assert np.allclose(quality, curves[:, epochs - 1], rtol=0, atol=1e-9), "not reproducible"
            pl = f"{np.mean(quality):.2f} +- {np.std(quality):.2f}"
            print(f"| {setting:<22} | {name:<18} | {epochs:6d} | {best:6.2f} | {pl:>15} | "
                  f"{target:9.2f} | {reference / best:7.1f}x |")
    if ais_betas:
        print(f"\nHeld-out log-likelihood, log Z by annealed importance sampling ({ais_betas} "
              "inverse temperatures, 100 runs, base\nmodel fitted to the training data), mean "
              "over the seeds; 'AIS bounds' is the width of log Z's +-3 se interval.")
        table_header(f"| {'data':<22} | {'model':<30} | {'held-out log-lik.':>17} | "
                     f"{'AIS bounds':>10} |")
        for setting, (make_data, params) in SETTINGS.items():
            X_train, X_test = make_data()
            if not np.isin(X_train, (0.0, 1.0)).all():
                continue  # a log-likelihood is a log-probability of binary data only
            for (where, row), models in kept.items():
                if where != setting:
                    continue
                with threadpool_limits(threads):
                    values = [ais_log_likelihood(m, X_train, X_test, ais_betas) for m in models]
                ll, width = np.array(values).T
                print(f"| {setting:<22} | {row:<30} | {ll.mean():8.2f} +- {ll.std():5.2f} | "
                      f"{width.mean():10.2f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ais", type=int, default=0, metavar="N_BETAS",
                        help="also estimate held-out log-likelihoods by AIS with this many "
                             "inverse temperatures (e.g. 3000; 0 = skip, the default)")
    args = parser.parse_args()
    run(args.threads, args.repeats, args.seed, args.ais)
