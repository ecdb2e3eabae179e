"""The floor under an RBM update on MNIST-sized data: what the matrix products cost.

``benchmarks/rbm_vs_sklearn.py`` compares whole fits. This script times the
pieces that bound them, for one mini-batch of the MNIST-sized setting (batch
100, 784 visible units plus the constant unit, 256 hidden units), on one
thread by default:

* the dense float32 product, in the three layouts a PCD-1 update uses;
* the same product when the binary operand is given as an index of its ones
  (``torch.nn.functional.embedding_bag``, the fastest gather torch has), with
  the index prebuilt, and the cost of building that index from a sampled layer;
* the product in int8 (``torch._int_mm``), bfloat16 and float16, in case a
  lower precision had a fast kernel on this CPU;
* the resulting floor: 5 products x 100 updates x 10 epochs.

Each time is the median of many calls after a warm-up, in milliseconds.

Run: ``.venv/bin/python benchmarks/rbm_floor.py [--threads N] [--density D]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

BATCH, VISIBLE, HIDDEN = 100, 785, 256
UPDATES_PER_FIT = 10 * 10_000 // BATCH  # 10 epochs of 10,000 rows


def median_ms(call, repeats: int = 300) -> float:
    for _ in range(20):
        call()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return 1e3 * statistics.median(times)


def main(threads: int, density: float) -> None:
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    v = (torch.rand(BATCH, VISIBLE, generator=gen) < density).float()
    h = torch.rand(BATCH, HIDDEN + 1, generator=gen)
    A = torch.randn(HIDDEN + 1, VISIBLE, generator=gen) * 0.01  # hidden-major, as in gradbook.models.rbm
    A_t = A.T.contiguous()  # visible-major: rows are what a binary visible layer selects
    print(f"python {platform.python_version()}, torch {torch.__version__}; "
          f"{os.cpu_count()} CPUs, threads={threads}; binary operand density {density:.2f}; "
          f"load average {os.getloadavg()[0]:.1f}")
    rows: list[tuple[str, float]] = []
    dense = {
        "dense: v @ A[:m].T (data or sampled v to hidden)": lambda: v @ A[:HIDDEN].T,
        "dense: h @ A (hidden to visible)": lambda: h @ A,
        "dense: h.T @ v (gradient)": lambda: h.T @ v,
    }
    for name, call in dense.items():
        rows.append((name, median_ms(call)))

    ones = v.nonzero()
    index, counts = ones[:, 1].contiguous(), torch.bincount(ones[:, 0], minlength=BATCH)
    offsets = torch.cumsum(counts, 0) - counts
    gathered = F.embedding_bag(index, A_t, offsets, mode="sum")
    assert torch.allclose(gathered, v @ A_t, atol=1e-4), "embedding_bag disagrees with mm"
    rows.append(("gather: embedding_bag, index prebuilt",
                 median_ms(lambda: F.embedding_bag(index, A_t, offsets, mode="sum"))))
    rows.append(("gather: building the index (nonzero)", median_ms(lambda: (v > 0).nonzero())))

    a8 = v[:, :784].to(torch.int8)  # _int_mm wants inner sizes that are multiples of 8
    b8 = torch.randint(-100, 100, (784, HIDDEN), dtype=torch.int8, generator=gen)
    rows.append(("int8: torch._int_mm", median_ms(lambda: torch._int_mm(a8, b8), repeats=20)))
    for dtype, label in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
        a, b = v.to(dtype), A_t[:, :HIDDEN].to(dtype)
        rows.append((f"{label}: v @ A", median_ms(lambda: a @ b, repeats=20)))

    width = max(len(name) for name, _ in rows)
    print(f"\n| {'one product, batch 100 x 785 x 256':<{width}} | {'ms':>6} |")
    print(f"|{'-' * (width + 2)}|{'-' * 8}|")
    for name, ms in rows:
        print(f"| {name:<{width}} | {ms:6.3f} |")
    floor = 5 * UPDATES_PER_FIT * statistics.median(ms for _, ms in rows[:3]) / 1e3
    print(f"\nFloor of a 10-epoch PCD-1 fit from the dense products alone: "
          f"5 x {UPDATES_PER_FIT} x the median dense product = {floor:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--density", type=float, default=0.22,
                        help="fraction of ones in the binary operand (the MNIST-sized data: 0.22)")
    args = parser.parse_args()
    main(args.threads, args.density)
