"""Generic trainer: learning, exact resume after SIGKILL, non-finite guard, multi-device equality."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genmol.config import load_config
from genmol.errors import GenmolError, TrainingDiverged
from genmol.models.property import PropertyTask
from genmol.train.checkpoint import Checkpointer
from genmol.train.metrics_writer import read_jsonl
from genmol.train.export import load_run_model
from genmol.train.trainer import merge_params, train_and_evaluate

ROOT = Path(__file__).resolve().parents[2]
TEST_CONFIG = ROOT / "configs" / "property" / "test.py"


def _config(*overrides):
    return load_config(TEST_CONFIG, list(overrides))


def test_loss_goes_down(tmp_path):
    cfg = _config("data.limit=24", "data.num_valid=8", "data.target='r2'", "train.steps=120", "train.batch_size=8",
                  "optim.learning_rate=3e-3", "optim.schedule='constant'", "train.checkpoint_every=1000",
                  "train.eval_every=120")
    result = train_and_evaluate(PropertyTask(cfg), cfg, tmp_path, progress=False)
    losses = np.array([result.losses[s] for s in sorted(result.losses)])
    assert losses[-20:].mean() < 0.5 * losses[:20].mean()
    assert "eval/mae" in result.eval_metrics and np.isfinite(result.eval_metrics["eval/mae"])
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows if "train/loss" in r] == list(range(1, 121))
    assert json.loads((tmp_path / "config.json").read_text())["train"]["steps"] == 120
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    # the checkpoint rebuilds a working model: the run's final EMA weights (the test config keeps an EMA),
    # predicting what the returned EMA parameters predict, with the logged validation MAE
    assert float(cfg.train.ema_decay) > 0 and result.ema_params is not None
    task = PropertyTask(cfg)
    model = load_run_model(cfg, tmp_path)
    loaded = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(result.ema_params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    batch = jax.tree.map(jnp.asarray, task.eval_batch(range(task.eval_size()), task.eval_size()))
    real = np.asarray(batch.graph_mask)
    assert real.sum() == 8
    pred = np.asarray(nnx.jit(lambda m, b: m(b))(model, batch))[real]
    ema_pred = np.asarray(_predict(task, cfg, result.ema_params, batch))[real]
    raw_pred = np.asarray(_predict(task, cfg, result.params, batch))[real]
    np.testing.assert_allclose(pred, ema_pred, rtol=0, atol=1e-6)
    assert np.abs(raw_pred - ema_pred).max() > 1e-4  # the comparison can tell EMA from raw weights
    y = np.asarray(batch.graph_features["y"])[real]
    mae = float(np.mean(np.abs(pred - y)) * task.std)
    logged = [r["eval/mae"] for r in rows if "eval/mae" in r]
    assert len(logged) == 1 and logged[0] == result.eval_metrics["eval/mae"]
    np.testing.assert_allclose(mae, logged[0], rtol=1e-5)


def _predict(task, cfg, params, batch):
    """``task``'s model with the pure-dict ``params`` applied to ``batch``."""
    graphdef, template, rest = nnx.split(task.create_model(nnx.Rngs(int(cfg.seed))), nnx.Param, ...)
    return merge_params(graphdef, template, rest, params)(batch)


def test_logged_metrics_are_window_means(tmp_path):
    cfg = _config("data.limit=24", "data.num_valid=8", "train.steps=12", "train.batch_size=8", "train.log_every=5",
                  "train.checkpoint_every=1000")
    result = train_and_evaluate(PropertyTask(cfg), cfg, tmp_path, progress=False)
    rows = {r["step"]: r for r in read_jsonl(tmp_path / "metrics.jsonl") if "train/loss" in r}
    assert sorted(rows) == [5, 10, 12]  # every log_every steps and the last step
    for end, start in ((5, 1), (10, 6), (12, 11)):
        expected = np.mean([result.losses[s] for s in range(start, end + 1)])
        assert abs(rows[end]["train/loss"] - expected) < 1e-5 * max(1.0, abs(expected))


def test_existing_workdir_needs_resume(tmp_path):
    cfg = _config("train.steps=10")
    train_and_evaluate(PropertyTask(cfg), cfg, tmp_path, progress=False)
    with pytest.raises(GenmolError, match="resume it"):
        train_and_evaluate(PropertyTask(cfg), cfg, tmp_path, progress=False)
    cfg20 = _config("train.steps=20")
    result = train_and_evaluate(PropertyTask(cfg20), cfg20, tmp_path, resume=True, progress=False)
    assert min(result.losses) == 11 and result.step == 20


class _PoisonedTask(PropertyTask):
    """Targets become NaN from step 7 on: the loss turns non-finite there."""

    def train_batch(self, step, slots):
        b = super().train_batch(step, slots)
        if step >= 7:
            b.graph_features["y"] = np.full_like(b.graph_features["y"], np.nan)
        return b


def test_non_finite_guard_keeps_last_good_checkpoint(tmp_path):
    cfg = _config("train.steps=30", "train.checkpoint_every=5")
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 8.*step 5"):
        train_and_evaluate(_PoisonedTask(cfg), cfg, tmp_path, progress=False)
    ckpt = Checkpointer(tmp_path)
    assert ckpt.latest_step() == 5
    ckpt.close()
    model = load_run_model(cfg, tmp_path)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def _cli(workdir, *extra, steps=150):
    return [sys.executable, "-m", "genmol.cli", "train", "property", "--config", str(TEST_CONFIG),
            "--workdir", str(workdir), "--no-progress", "--set", f"train.steps={steps}",
            "--set", "train.checkpoint_every=7", *extra]


def test_resume_after_sigkill_gives_identical_losses(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ref = tmp_path / "ref"
    subprocess.run(_cli(ref), check=True, env=env, cwd=ROOT, capture_output=True)
    ref_loss = {r["step"]: r["train/loss"] for r in read_jsonl(ref / "metrics.jsonl") if "train/loss" in r}

    run = tmp_path / "run"
    proc = subprocess.Popen(_cli(run), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill as soon as a second checkpoint exists, mid-run
        ck = run / "checkpoints"
        if ck.exists() and len([p for p in ck.iterdir() if p.name.isdigit()]) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_steps = [r["step"] for r in read_jsonl(run / "metrics.jsonl")]
    assert killed_steps and max(killed_steps) < 150, "the run finished before it could be killed"

    out = subprocess.run(_cli(run, "--resume"), env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = read_jsonl(run / "metrics.jsonl")
    steps = [r["step"] for r in rows if "train/loss" in r]
    assert steps == list(range(1, 151))  # no gap, no duplicate: log rewound to the checkpoint
    got = {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}
    assert got == ref_loss  # bitwise-identical continuation
    json.loads((run / "config.json").read_text())
    assert not list(run.rglob("*.tmp"))


def test_ctrl_c_keeps_only_complete_checkpoints_and_resumes(tmp_path):
    """SIGINT while checkpointing every step: the step and its checkpoint finish, exit 130 with one
    sentence naming the step, no partial checkpoint left, and --resume continues from exactly there."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = tmp_path / "run"
    every_step = ["--set", "train.checkpoint_every=1", "--set", "train.log_every=1"]
    proc = subprocess.Popen(_cli(run, steps=100000) + every_step,
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and len(read_jsonl(run / "metrics.jsonl")) < 5:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    kept = int(err.split("training interrupted at step ")[1].split(";")[0])
    names = [p.name for p in (run / "checkpoints").iterdir()]
    assert all(n.isdigit() for n in names), names  # no *.orbax-checkpoint-tmp* left behind
    assert max(int(n) for n in names) == kept
    out = subprocess.run(_cli(run, "--resume", steps=kept + 2), env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"trained to step {kept + 2}" in out.stderr


MULTI_DEVICE = r"""
import json, sys
import jax
from genmol.config import load_config
from genmol.models.property import PropertyTask
from genmol.train.trainer import merge_params, train_and_evaluate
assert len(jax.devices()) == 4, jax.devices()
out = {}
for n in (1, 4):
    cfg = load_config(sys.argv[1], ["train.steps=5", "train.batch_size=8", "train.checkpoint_every=100"])
    r = train_and_evaluate(PropertyTask(cfg), cfg, sys.argv[2] + f"/d{n}", num_devices=n, progress=False)
    out[n] = [r.losses[s] for s in sorted(r.losses)]
print(json.dumps(out))
"""


def test_four_devices_match_one_device(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", MULTI_DEVICE, str(TEST_CONFIG), str(tmp_path)], env=env,
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    losses = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(losses["1"]) == 5
    np.testing.assert_allclose(losses["4"], losses["1"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["adamw", "muon"])
def test_optimizers_from_config(tmp_path, name):
    cfg = _config("train.steps=25", "train.checkpoint_every=100", "data.limit=24", "data.num_valid=8",
                  f"optim.name='{name}'", "optim.learning_rate=2e-3", "optim.schedule='cosine'",
                  "optim.weight_decay=1e-4")
    result = train_and_evaluate(PropertyTask(cfg), cfg, tmp_path, progress=False)
    losses = [result.losses[s] for s in sorted(result.losses)]
    assert len(losses) == 25 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_unknown_optimizer_is_a_config_error(tmp_path):
    cfg = _config("optim.name='sgdd'")
    with pytest.raises(GenmolError, match="unknown optimizer 'sgdd'"):
        train_and_evaluate(PropertyTask(cfg), cfg, tmp_path, progress=False)


def jax_leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree.leaves(tree)]
