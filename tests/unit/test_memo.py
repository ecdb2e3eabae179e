"""gradbook.memo: memoised runs hand out copies, so no caller can corrupt what
the next one gets; and the chapters' runners use it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gradbook.chapters import ch01_vanishing_gradients as ch01
from gradbook.chapters import ch03_pretraining as ch03
from gradbook.chapters import ch04_relu_dropout as ch04
from gradbook.chapters import ch05_cnn as ch05
from gradbook.memo import memoised


def test_memoised_runs_once_and_hands_out_copies():
    calls = []

    @memoised
    def run(n):
        calls.append(n)
        return {"values": [n, n + 1], "net": torch.nn.Linear(2, 1)}

    first = run(3)
    first["values"].append(99)
    with torch.no_grad():
        first["net"].weight.zero_()
    second = run(3)
    assert calls == [3]
    assert second["values"] == [3, 4]
    assert second["net"].weight.abs().sum() > 0
    run.cache_clear()
    run(3)
    assert calls == [3, 3]


def test_memoised_rejects_unhashable_arguments_clearly():
    @memoised
    def run(sizes):
        return sizes

    with pytest.raises(TypeError, match=r"run takes hashable arguments .* got a list"):
        run([1, 2])


def test_ch01_runs_cannot_be_corrupted():
    small = dict(depths=(1,), seeds=(0,), epochs=2, early_epoch=1)
    table = ch01.depth_sweep(**small)
    h = ch01._run(1, 0, 2, 1.0, 32, "sigmoid", "nielsen", 0, 30)
    h.test_acc[-1] = -1.0
    h.bias_grad[0][0] = -1.0
    again = ch01.depth_sweep(**small)
    assert again.equals(table)


def test_ch04_runs_cannot_be_corrupted(monkeypatch):
    monkeypatch.setattr(ch04, "SETTINGS", ch04.ReluDropoutSettings(
        deep=dataclasses.replace(ch04.SETTINGS.deep, depth=2, width=8, epochs=1, seeds=(0,),
                                 diagnostic_samples=50),
        wide=dataclasses.replace(ch04.SETTINGS.wide, width=8, updates=4)))
    ch04.clear_cache()
    try:
        run = ch04.fix_run("ReLU + He")
        run.history.test_acc[-1] = -1.0
        run.profiles[:] = 0.0
        fresh = ch04.fix_run("ReLU + He")
        assert fresh.history.test_acc[-1] >= 0 and (fresh.profiles > 0).all()
        wide = ch04.wide_run(50)
        wide.history.train_acc[-1] = -1.0
        assert ch04.wide_run(50).history.train_acc[-1] >= 0
    finally:
        ch04.clear_cache()


def test_ch03_stacks_and_runs_cannot_be_corrupted(monkeypatch):
    monkeypatch.setattr(ch03, "SETTINGS", dataclasses.replace(
        ch03.SETTINGS, hidden=(6, 4), epochs=1, updates=1,
        autoencoder=dataclasses.replace(ch03.SETTINGS.autoencoder, n_iter=1)))
    ch03.clear_cache()
    try:
        stack = ch03.pretrained("SAE", 0)
        stack.coefs_[0][:] = 0.0
        assert ch03.pretrained("SAE", 0).coefs_[0].any()
        net = ch03.initial_net("SAE", 0)
        assert net[0].weight.abs().sum() > 0
        run = ch03.finetune("SAE", 20, 0)
        run.history.test_acc.clear()
        run.test_accuracy = -1.0
        fresh = ch03.finetune("SAE", 20, 0)
        assert fresh.test_accuracy >= 0
    finally:
        ch03.clear_cache()


def test_ch05_runs_cannot_be_corrupted():
    history, net = ch05._run("mlp", 4, 20, False, 0, 3, 0.05, 10)
    history.test_acc[-1] = -1.0
    with torch.no_grad():
        net[0].weight.zero_()
    again, net2 = ch05._run("mlp", 4, 20, False, 0, 3, 0.05, 10)
    assert again.test_acc[-1] >= 0 and net2[0].weight.abs().sum() > 0
