"""Hand-written autoencoder gradients against autograd, at chapter 3's settings.

``gradbook.models.stacks`` trains each autoencoder layer with gradients
written by hand (``_autoencoder_gradients``) instead of autograd on
``autoencoder_objective``. They are worth keeping only if they are faster.
This script trains one layer as chapter 3 does (the settings come from
``gradbook.chapters.ch03_pretraining.SETTINGS``: layer sizes, epochs, batch
size, learning rate, momentum, corruption of the DAE, contraction of the CAE;
the data are the training images of ``gradbook.data.digits_split()``) with
the same training loop twice, once with each gradient:

* hand-written: ``stacks._autoencoder_gradients``, as the library trains;
* autograd: ``torch.autograd.grad`` of ``autoencoder_objective`` on fresh
  leaf tensors, built here.

Checks, before any timing:

* the loop below, with the hand-written gradients, gives exactly the weights
  of the library's ``StackedAutoencoder`` for the same seed (so what is timed
  is the library's training);
* the two gradients agree to float32 rounding, at the initial weights and at
  the trained ones, on every mini-batch of one epoch (the largest difference,
  relative to the largest gradient entry, is printed).

Each time is the best of ``--repeats`` runs (default 5) of the layer's whole
training (all epochs, without the per-epoch monitoring), on one torch thread,
the two methods interleaved so that a busy spell of the machine hits both.
Layer 1 is 64 -> 100 on the pixels, layer 2 100 -> 100 on layer 1's codes
(those of the hand-written layer 1, the same for both methods), each with
the seed the library gives that layer of the chapter's seed-0 stack.

This script imports one private name, ``_autoencoder_gradients``: it measures
that implementation detail of ``gradbook.models.stacks``, as a test of that
module would.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/autoencoder_gradients.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
import torch

from gradbook.chapters.ch03_pretraining import SETTINGS
from gradbook.data import digits_split
from gradbook.models.stacks import (
    StackedAutoencoder,
    _autoencoder_gradients,  # what is measured (see above)
    autoencoder_objective,
    mask_noise,
)


def hand_written(x, x_in, W, c, b, contraction):
    """(gW, gc, gb) of the tied autoencoder, by hand, as the library trains."""
    gW, gc, _, gb = _autoencoder_gradients(x, x_in, W, c, W, b, contraction, True)
    return gW, gc, gb


def autograd(x, x_in, W, c, b, contraction):
    """(gW, gc, gb) of the same objective, by autograd (tied: the decoder is W)."""
    leaves = [p.detach().requires_grad_() for p in (W, c, b)]
    with torch.enable_grad():
        J = autoencoder_objective(x, x_in, leaves[0], leaves[1], leaves[0], leaves[2], contraction)
        return torch.autograd.grad(J, leaves)


def layer_seed(random_state: int, depth: int) -> int:
    """The seed ``StackedAutoencoder(random_state=...)`` gives its layer ``depth``."""
    return int(np.random.SeedSequence(random_state).generate_state(depth + 1, dtype=np.uint32)[depth])


def initialise(n_in, n_hidden, gen):
    """The library's initial (W, c, b): Glorot's range times 4, zero biases."""
    bound = 4 * math.sqrt(6.0 / (n_in + n_hidden))
    W = (torch.rand(n_hidden, n_in, generator=gen) * 2 - 1) * bound
    return W, torch.zeros(n_hidden), torch.zeros(n_in)


def train_layer(X, n_hidden, gradients, *, corruption, contraction, seed):
    """One tied autoencoder layer trained as ``gradbook.models.stacks`` trains it
    (same initialisation, batches, noise and momentum SGD), with ``gradients``.
    Returns (seconds of training, (W, c, b))."""
    settings = SETTINGS.autoencoder
    n_rows, n_in = X.shape
    gen = torch.Generator().manual_seed(seed)
    W, c, b = params = list(initialise(n_in, n_hidden, gen))
    velocity = [torch.zeros_like(p) for p in params]
    began = time.perf_counter()
    with torch.no_grad():
        for _ in range(settings.n_iter):
            order = torch.randperm(n_rows, generator=gen)
            for start in range(0, n_rows, settings.batch_size):
                x = X[order[start:start + settings.batch_size]]
                x_in = mask_noise(x, corruption, gen) if corruption else x
                for p, v, g in zip(params, velocity, gradients(x, x_in, W, c, b, contraction)):
                    v.mul_(settings.momentum).add_(g)
                    p.sub_(v, alpha=settings.learning_rate)
    return time.perf_counter() - began, (W, c, b)


def gradient_gap(X, params, *, corruption, contraction, seed) -> float:
    """Largest |hand-written - autograd| over one epoch of mini-batches at ``params``,
    relative to the largest gradient entry of the same parameter."""
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    for start in range(0, len(X), SETTINGS.autoencoder.batch_size):
        x = X[start:start + SETTINGS.autoencoder.batch_size]
        x_in = mask_noise(x, corruption, gen) if corruption else x
        for g1, g2 in zip(hand_written(x, x_in, *params, contraction),
                          autograd(x, x_in, *params, contraction)):
            worst = max(worst, float((g1 - g2).abs().max() / g2.abs().max()))
    return worst


def main(repeats: int) -> None:
    torch.set_num_threads(1)
    X = digits_split()[0].float()
    n_hidden_1, n_hidden_2 = SETTINGS.hidden[:2]
    a = SETTINGS.autoencoder
    settings = {
        "AE (SAE)": {"corruption": 0.0, "contraction": 0.0},
        f"DAE, corruption {SETTINGS.corruption:g}": {"corruption": float(SETTINGS.corruption),
                                                    "contraction": 0.0},
        f"CAE, contraction {SETTINGS.contraction:g}": {"corruption": 0.0,
                                                      "contraction": float(SETTINGS.contraction)},
    }
    print(f"python {platform.python_version()}, torch {torch.__version__}; {os.cpu_count()} CPUs, "
          f"1 torch thread; best of {repeats}")
    print(f"{len(X)} training digits; layers {X.shape[1]} -> {n_hidden_1} -> {n_hidden_2}; "
          f"{a.n_iter} epochs of batches of {a.batch_size} "
          f"({a.n_iter * math.ceil(len(X) / a.batch_size)} updates per layer), "
          f"learning rate {a.learning_rate:g}, momentum {a.momentum:g}")

    rows = []
    for name, kw in settings.items():
        # Chapter 3's stack for seed 0; the loop here must give its weights, to the bit.
        library = StackedAutoencoder((n_hidden_1, n_hidden_2), random_state=0, progress=False,
                                     **kw, **{k: getattr(a, k) for k in
                                              ("learning_rate", "momentum", "n_iter", "batch_size")})
        library.fit(X)
        data = X
        for depth, n_hidden in enumerate((n_hidden_1, n_hidden_2)):
            seed, label = layer_seed(0, depth), f"layer {depth + 1}"
            _, (W, c, _) = train_layer(data, n_hidden, hand_written, seed=seed, **kw)
            assert np.array_equal(W.numpy(), library.coefs_[depth]), f"{label}: not the library's"
            initial = initialise(data.shape[1], n_hidden, torch.Generator().manual_seed(seed))
            times = {"hand-written": [], "autograd": []}
            trained = {}
            for _ in range(repeats):
                for method, gradients in (("hand-written", hand_written), ("autograd", autograd)):
                    seconds, trained[method] = train_layer(data, n_hidden, gradients, seed=seed,
                                                           **kw)
                    times[method].append(seconds)
            gap = max(gradient_gap(data, params, seed=seed, **kw)
                      for params in (initial, trained["hand-written"]))
            assert gap < 1e-5, f"{name}, {label}: gradients differ by {gap:.1e}"
            drift = float((trained["hand-written"][0] - trained["autograd"][0]).abs().max())
            hand, auto = min(times["hand-written"]), min(times["autograd"])
            rows.append((name, label, hand, auto, auto / hand, gap, drift))
            data = torch.addmm(c, data, W.T).sigmoid_()  # the next layer's input, as the library

    header = ("setting", "layer", "hand-written s", "autograd s", "autograd / hand",
              "max grad gap", "max dW after")
    print()
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name, label, hand, auto, ratio, gap, drift in rows:
        print(f"{name} | {label} | {hand:.3f} | {auto:.3f} | {ratio:.2f} | {gap:.1e} | {drift:.1e}")
    print("\nmax grad gap: largest |hand-written - autograd| relative to the largest gradient "
          "entry, over one epoch of mini-batches at the initial and at the trained weights.")
    print("max dW after: largest difference of the trained W between the two methods "
          "(float32 rounding, carried through every update).")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
