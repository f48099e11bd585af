"""The training kit every loop shares: the weight-decay rule, the schedule, the best checkpoint."""
from __future__ import annotations

import pytest
import torch

from core.training.kit import BestCheckpoint, EvalResult, adamw, linear_schedule, warmup_then_decay


def test_adamw_decays_matrices_only_and_skips_frozen_weights():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2))
    model[2].weight.requires_grad_(False)
    decay, no_decay = adamw(model, lr=1e-3, weight_decay=0.1).param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert [tuple(p.shape) for p in decay["params"]] == [(3, 4)]  # the frozen (2, 3) is left out
    assert sorted(tuple(p.shape) for p in no_decay["params"]) == [(2,), (3,), (3,), (3,)]  # biases, LayerNorm


def test_schedule_warms_up_then_decays_to_zero():
    assert [warmup_then_decay(d, 0.25) for d in (0.0, 0.125, 0.25, 0.625, 1.0)] == [0.0, 0.5, 1.0, 0.5, 0.0]
    assert warmup_then_decay(1.0, 1.0) == 0.0  # warm-up as long as the run: no 0/0
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = linear_schedule(opt, warmup=3, total=10)
    lrs = []
    for _ in range(10):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1 / 4) and lrs[3] == pytest.approx(1.0)  # no step at lr 0; peak at `warmup`
    assert all(a > b for a, b in zip(lrs[3:], lrs[4:])) and lrs[-1] == pytest.approx(1 / 7)
    one = linear_schedule(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0), warmup=1, total=1)
    one.optimizer.step()
    one.step()  # a one-step run whose warm-up is the whole run (a tiny distillation) must not divide by zero
    assert one.get_last_lr()[0] == 0.0


def result(accuracy: float) -> EvalResult:
    return EvalResult(loss=1 - accuracy, accuracy=accuracy, f1=accuracy, confusion=[], predictions=[], probabilities=[])


def test_best_checkpoint_keeps_the_best_weights_and_counts_stale_evaluations():
    model = torch.nn.Linear(2, 1)
    best = BestCheckpoint("accuracy")
    with torch.no_grad():
        assert best.offer(result(0.6), model, step=10)
        model.weight.fill_(1.0)
        assert best.offer(result(0.8), model, step=20)
        model.weight.fill_(2.0)
        assert not best.offer(result(0.8), model, step=30)  # equal is not better
        assert not best.offer(result(0.7), model, step=40)
    assert (best.step, best.stale, best.result.accuracy) == (20, 2, 0.8)
    assert best.state["weight"].device.type == "cpu"
    assert torch.equal(best.restore(model).weight, torch.ones(1, 2)) and not model.training
