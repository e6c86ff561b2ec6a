"""Parameter EMA: the weights the trainer keeps are the recursion e_{t+1} = d_t e_t + (1-d_t) p_{t+1}, e_0 = p_0,
with d_t = ema_decay, or min(ema_decay, (1 + t) / (10 + t)) with ``train.ema_warmup``."""

import pytest

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genmol.config import load_config
from genmol.models.property import PropertyTask
from genmol.train.checkpoint import Checkpointer
from genmol.train.export import load_run_model
from genmol.train.optim import create_optimizer
from genmol.train.trainer import train_and_evaluate
from tests.helpers import ROOT

DECAY = 0.7  # neither 0, 1 nor 1/2: a swapped d and 1-d, or a plain mean, gives other weights
STEPS = 3


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("warmup", [False, True])
def test_ema_is_the_exponential_moving_average_of_the_step_parameters(tmp_path, warmup):
    cfg = load_config(ROOT / "configs" / "property" / "test.py",
                      [f"train.ema_decay={DECAY}", f"train.steps={STEPS}", "train.checkpoint_every=1",
                       f"train.ema_warmup={warmup}",
                       f"train.keep_checkpoints={STEPS}", "optim.learning_rate=1e-2", "optim.schedule='constant'",
                       "data.limit=24", "data.num_valid=8"])
    task = PropertyTask(cfg)
    notes = []
    result = train_and_evaluate(task, cfg, tmp_path, progress=False, log=notes.append)
    # 0.7³ = 34 % of the initial weights stay in a plain EMA: the run says so, unless the warm-up is on
    assert any("keeps 34 % of the starting weights" in n for n in notes) != warmup, notes

    # p_0: the initial parameters, built as the trainer builds them (the config's seed)
    p0 = nnx.to_pure_dict(nnx.state(task.create_model(nnx.Rngs(int(cfg.seed))), nnx.Param))
    template = dict(params=p0, opt_state=create_optimizer(cfg.optim, STEPS).init(p0),
                    step=jnp.asarray(0, jnp.int32), ema=p0)
    ckpt = Checkpointer(tmp_path, keep=STEPS, create=False)
    try:
        stored = {t: ckpt.restore(template, step=t) for t in range(1, STEPS + 1)}
    finally:
        ckpt.close()

    expected = _leaves(p0)
    prev_p = expected
    for t in range(1, STEPS + 1):
        assert int(stored[t]["step"]) == t
        p = _leaves(stored[t]["params"])
        assert max(np.abs(a - b).max() for a, b in zip(p, prev_p)) > 1e-4  # the parameters really move each step
        prev_p = p
        d = min(DECAY, t / (9.0 + t)) if warmup else DECAY  # (1 + t') / (10 + t') with t' = t - 1 steps before
        expected = [d * e + (1 - d) * q for e, q in zip(expected, p)]
        got = _leaves(stored[t]["ema"])
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7, err_msg=f"EMA at step {t}")
        assert max(np.abs(g - q).max() for g, q in zip(got, p)) > 1e-5  # EMA is not the raw parameters

    for g, e in zip(_leaves(result.ema_params), expected, strict=True):  # what the run returns is the same EMA
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    for g, q in zip(_leaves(result.params), _leaves(stored[STEPS]["params"]), strict=True):
        np.testing.assert_array_equal(g, q)
    # and the model a run's checkpoint rebuilds carries these EMA weights
    rebuilt = _leaves(nnx.to_pure_dict(nnx.state(load_run_model(cfg, tmp_path), nnx.Param)))
    for g, e in zip(rebuilt, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
