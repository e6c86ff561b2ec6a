"""The one generic trainer used by every model family.

``train_and_evaluate(task, config, workdir)`` runs a jitted, data-parallel training loop
with an optax optimizer, gradient clipping, parameter EMA, orbax checkpoints (every
``train.checkpoint_every`` steps, last ``train.keep_checkpoints`` kept, exact resume),
optional warm start from an exported model (``train.init_from``: parameters and EMA start
from its weights; optimizer state and step start fresh), metrics (training metrics averaged
over each ``train.log_every`` window) to JSONL and TensorBoard, a tqdm progress bar with the
loss and steps/s, and a guard that stops on a non-finite loss while keeping the last good
checkpoint. The global batch of ``train.batch_size`` examples is split into one contiguous
range of slots per device (:func:`shard_slots`); the task builds each shard's padded batch.
Nothing is written to the run directory before the model, optimizer and warm start are set up,
so a wrong config leaves no empty folder behind.

Config fields used: ``seed``; ``train.{steps, batch_size, log_every, checkpoint_every,
keep_checkpoints, eval_every, ema_decay, ema_warmup, init_from}``; ``optim.*`` (:mod:`genmol.train.optim`).

EMA: ``e_{t+1} = d_t e_t + (1 − d_t) p_{t+1}`` from ``e_0 = p_0``, with ``d_t = ema_decay``, or with
``train.ema_warmup`` ``d_t = min(ema_decay, (1 + t) / (10 + t))`` (``t`` counts this run's steps from 0; the
num_updates rule of TensorFlow's ``ExponentialMovingAverage``). Without the warm-up the EMA keeps
``ema_decay^steps`` of the starting weights — 13.5 % after 2,000 steps at 0.999 — which for a freshly initialised
model (or part of one, ``--init-fresh``) is an untrained network averaged in; the trainer says so at the start
of such a run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import queue
import signal
import threading
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P
from tqdm.auto import tqdm

from genmol.config import TRAIN_DEFAULTS, save_config
from genmol.io.atomic import atomic_write_text
from genmol.data.graph import stack_batches
from genmol.errors import ConfigError, GenmolError, Interrupted, TrainingDiverged
from genmol.train.checkpoint import Checkpointer
from genmol.train.metrics_writer import MetricWriter
from genmol.train.optim import create_optimizer
from genmol.train.sharding import create_mesh, num_local_shards, shard_batch
from genmol.train.task import Task
from genmol.train.warm_start import INIT_FROM_FILE, initial_params

__all__ = ["train_and_evaluate", "TrainResult", "make_steps", "merge_params", "shard_slots"]


@dataclasses.dataclass
class TrainResult:
    """What a finished run returns: final step, per-step training losses and last eval metrics."""

    step: int
    losses: dict[int, float]
    eval_metrics: dict[str, float]
    params: dict
    ema_params: dict | None


def merge_params(graphdef, template_params, rest, params):
    """Rebuilds an nnx model from a pure-dict ``params`` (works under jit)."""
    state = jax.tree.map(lambda v: v, template_params)
    nnx.replace_by_pure_dict(state, params)
    return nnx.merge(graphdef, state, rest)


class _Prefetcher:
    """Builds host batches for upcoming steps in a background thread."""

    def __init__(self, make, start: int, stop: int, depth: int = 2):
        self._q: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()

        def run():
            for step in range(start, stop):
                if self._stop.is_set():
                    return
                try:
                    item = (step, make(step), None)
                except BaseException as e:  # re-raised in the consumer
                    item = (step, None, e)
                while not self._stop.is_set():
                    try:
                        self._q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if item[2] is not None:
                    return

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def get(self):
        step, batch, err = self._q.get()
        if err is not None:
            raise err
        return step, batch

    def close(self):
        self._stop.set()


def make_steps(task: Task, graphdef, template, rest, tx, ema_decay: float, squeeze_single_shard: bool = True,
               ema_warmup: bool = False):
    """``(train_step(state, batch, rng) -> (state, metrics), eval_step(params, batch, rng) -> (sums, count))``,
    unjitted; ``batch`` is stacked over local shards (leading axis ``[S, ...]``).

    The loss is ``vmap``ped over the shards; with a single shard (one device) it is called on the
    shard directly (``squeeze_single_shard``): the same values, without the batched gathers and
    scatters that a size-1 ``vmap`` costs on CPU (``scripts/bench_symphony.py --shard-vmap-cost``)."""
    def per_example_means(params, batch, rng):
        model = merge_params(graphdef, template, rest, params)
        keys = jax.random.split(rng, batch.example_mask.shape[0])
        if squeeze_single_shard and batch.example_mask.shape[0] == 1:
            one = task.loss(model, jax.tree.map(lambda x: x[0], batch), keys[0])
            out = jax.tree.map(lambda x: x[None], one)
        else:
            out = jax.vmap(lambda b, k: task.loss(model, b, k))(batch, keys)
        mask = batch.example_mask
        count = jnp.maximum(mask.astype(jnp.float32).sum(), 1.0)
        return {k: jnp.sum(jnp.where(mask, v, 0.0)) / count for k, v in out.items()}, count

    def loss_fn(params, batch, rng):
        means, _ = per_example_means(params, batch, rng)
        return means["loss"], means

    def train_step(state, batch, rng):
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"], batch, rng)
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        new = dict(state, params=params, opt_state=opt_state, step=state["step"] + 1)
        if ema_decay > 0:
            d = ema_decay
            if ema_warmup:
                t = state["step"].astype(jnp.float32)
                d = jnp.minimum(ema_decay, (1.0 + t) / (10.0 + t))
            new["ema"] = jax.tree.map(lambda e, p: d * e + (1 - d) * p, state["ema"], params)
        metrics = dict(metrics, grad_norm=optax.tree.norm(grads))
        return new, metrics

    def eval_step(params, batch, rng):
        means, count = per_example_means(params, batch, rng)
        return {k: v * count for k, v in means.items()}, count

    return train_step, eval_step


class _StopOnCtrlC:
    """While training, the first Ctrl-C (SIGINT) only asks the loop to stop after the current step and
    its checkpoint are complete (interrupting orbax mid-write leaves its threads printing tracebacks);
    a second Ctrl-C interrupts at once. Installed only in the main thread."""

    def __init__(self):
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def shard_slots(batch_size: int, num_shards: int) -> list[range]:
    """The slots of the global batch each shard holds: ``num_shards`` equal contiguous ranges.

    Raises:
        ConfigError: ``batch_size`` is not a positive multiple of ``num_shards``.
    """
    if batch_size < 1 or batch_size % num_shards:
        raise ConfigError(f"train.batch_size={batch_size} must be a positive multiple of the {num_shards} "
                          "device(s) of the data mesh")
    per = batch_size // num_shards
    return [range(i * per, (i + 1) * per) for i in range(num_shards)]


def _remove_if_empty(*dirs: Path) -> None:
    for d in dirs:
        try:
            d.rmdir()  # only empty directories
        except OSError:
            pass


def train_and_evaluate(
    task: Task,
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike,
    *,
    resume: bool = False,
    num_devices: int | None = None,
    progress: bool = True,
    log=None,
) -> TrainResult:
    """Trains ``task`` for ``config.train.steps`` steps of ``config.train.batch_size`` examples in ``workdir``.

    Args:
        task: the model family (see :class:`genmol.train.task.Task`).
        config: resolved config; saved to ``workdir/config.json``.
        workdir: run directory (checkpoints, metrics, TensorBoard events).
        resume: continue from the latest checkpoint in ``workdir`` (a workdir without one starts at
            step 0, and ``log`` says so).
        num_devices: devices in the data mesh (default: all).
        progress: show a progress bar.
        log: ``log(text)`` for notes to the user (default: print).

    Raises:
        GenmolError: ``workdir`` already has checkpoints and ``resume`` is False, or the config is wrong.
        TrainingDiverged: the loss became non-finite (the last good checkpoint is kept).
        Interrupted: Ctrl-C (the last complete checkpoint is kept).
    """
    log = log or print
    workdir = Path(workdir)
    tc = config.train
    total = int(tc.steps)
    if total < 1:
        raise ConfigError(f"train.steps={total}: train at least one step")
    mesh = create_mesh(num_devices)
    num_shards = mesh.size
    slots = shard_slots(int(tc.batch_size), num_shards)
    local = [i for i, d in enumerate(mesh.devices.flat) if d.process_index == jax.process_index()]
    if len(local) != num_local_shards(mesh):
        raise GenmolError("this process's devices do not match the mesh (multi-host setup)")

    existed = workdir.exists()
    latest = Checkpointer.latest_in(workdir)
    if latest is not None and not resume:
        raise GenmolError(f"{workdir} already holds checkpoints (latest step {latest}); "
                          "resume it or choose a new run directory")
    if resume and latest is None:
        log(f"{workdir} holds no checkpoint: starting at step 0")
    restoring = resume and latest is not None

    # everything that can fail on a user's config runs before the run directory is touched
    model = task.create_model(nnx.Rngs(int(config.seed)))
    graphdef, template, rest = nnx.split(model, nnx.Param, ...)
    params = nnx.to_pure_dict(template)
    init_from = tc.get("init_from") if not restoring else None  # a resume restores its own weights
    if init_from:  # warm start (fine-tuning, or continuing an exported model)
        params, metadata = initial_params(init_from, config, params)
        params = jax.tree.map(jnp.asarray, params)
        init_record = {"path": str(init_from), "metadata": metadata}
    tx = create_optimizer(config.optim, total)
    ema_decay = float(tc.get("ema_decay", 0.0))
    state = dict(params=params, opt_state=tx.init(params), step=jnp.asarray(0, jnp.int32))
    if ema_decay > 0:
        state["ema"] = jax.tree.map(jnp.array, params)
    replicated = NamedSharding(mesh, P())
    state = jax.device_put(state, replicated)

    ckpt = Checkpointer(workdir, keep=int(tc.keep_checkpoints))
    start = 0
    if restoring:
        state = ckpt.restore(state)
        start = int(state["step"])
    save_config(config, workdir / "config.json")
    if init_from:  # what this run started from, kept even if that directory is re-exported later
        atomic_write_text(workdir / INIT_FROM_FILE, json.dumps(init_record, indent=2) + "\n")
    writer = MetricWriter(workdir, resume_step=start if resume else None)

    ema_warmup = bool(tc.get("ema_warmup", TRAIN_DEFAULTS["ema_warmup"]))
    if ema_decay > 0 and not ema_warmup and not restoring and ema_decay ** (total - start) > 0.01:
        log(f"note: train.ema_decay={ema_decay} over {total - start} steps keeps "
            f"{100 * ema_decay ** (total - start):.0f} % of the starting weights in the EMA (the weights exported by "
            "default); set train.ema_warmup=True, or export with --no-ema")
    train_step, eval_step = make_steps(task, graphdef, template, rest, tx, ema_decay, ema_warmup=ema_warmup)
    train_step = jax.jit(train_step, donate_argnums=(0,))
    eval_step = jax.jit(eval_step)
    base_key = jax.random.key(int(config.seed))

    def host_batch(step):
        return stack_batches([task.train_batch(step, slots[i]) for i in local])

    def evaluate(state) -> dict[str, float]:
        params = state["ema"] if ema_decay > 0 else state["params"]
        sums: dict[str, float] = {}
        count = 0.0
        n, size, per = task.eval_size(), int(tc.batch_size), len(slots[0])
        for first in range(0, n, size):
            shards = [task.eval_batch(range(min(first + s.start, n), min(first + s.stop, n)), per)
                      for s in (slots[i] for i in local)]
            s, c = eval_step(params, shard_batch(stack_batches(shards), mesh), jax.random.key(0))
            for k, v in s.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            count += float(c)
        return {f"eval/{k}": v / count for k, v in sums.items()} if count else {}

    losses: dict[int, float] = {}
    eval_metrics: dict[str, float] = {}
    last_saved = start if restoring else None
    prefetch = _Prefetcher(host_batch, start, total)
    bar = tqdm(total=total, initial=start, disable=not progress, desc="train", unit="step", dynamic_ncols=True)
    t0, n0 = time.perf_counter(), start
    window: dict[str, float] = {}  # metric sums since the last log line
    stop = _StopOnCtrlC()
    try:
        for _ in range(start, total):
            step, batch = prefetch.get()
            rng = jax.random.fold_in(base_key, step)
            new_state, metrics = train_step(state, shard_batch(batch, mesh), rng)
            loss = float(metrics["loss"])
            if not math.isfinite(loss):
                kept = (f"The last good checkpoint (step {last_saved}) is kept in {ckpt.directory}"
                        if last_saved is not None else "No checkpoint had been saved yet")
                raise TrainingDiverged(
                    f"loss became {loss} at step {step + 1}; stopped without saving it. {kept}; lower "
                    "optim.learning_rate or set optim.grad_clip, then resume the run or start again"
                )
            state = new_state
            done = step + 1
            losses[done] = loss
            for k, v in jax.device_get(metrics).items():
                window[k] = window.get(k, 0.0) + float(v)
            if done % int(tc.log_every) == 0 or done == total:
                dt = time.perf_counter() - t0
                rate = (done - n0) / dt if dt > 0 else 0.0
                means = {f"train/{k}": v / (done - n0) for k, v in window.items()}
                writer.write(done, {**means, "steps_per_s": rate})
                window = {}
                bar.set_postfix(loss=f"{loss:.4g}")
                t0, n0 = time.perf_counter(), done
            if int(tc.get("eval_every", 0)) and (done % int(tc.eval_every) == 0 or done == total):
                eval_metrics = evaluate(state)
                if eval_metrics:
                    writer.write(done, eval_metrics)
            if done % int(tc.checkpoint_every) == 0 or done == total:
                ckpt.save(done, state)
                last_saved = done
            bar.update(1)
            if stop.requested:  # the step and its checkpoint are complete: save where we are and stop
                if last_saved != done:
                    ckpt.save(done, state)
                    last_saved = done
                raise Interrupted(f"training interrupted at step {done}; its checkpoint is in {ckpt.directory}; "
                                  "resume the run to continue")
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the step loop's handler
        ckpt.discard_partial()
        last_saved = Checkpointer.latest_in(workdir)
        kept = (f"the last complete checkpoint (step {last_saved}) is in {ckpt.directory}; resume the run to "
                "continue" if last_saved is not None else "no checkpoint had been saved yet")
        raise Interrupted(f"training interrupted; {kept}") from None
    finally:
        stop.restore()
        prefetch.close()
        bar.close()
        writer.close()
        ckpt.close()
        if last_saved is None:  # nothing saved: leave no empty folders behind
            _remove_if_empty(ckpt.directory, *(() if existed else (workdir,)))
    params = jax.device_get(state["params"])
    ema = jax.device_get(state["ema"]) if ema_decay > 0 else None
    return TrainResult(step=int(state["step"]), losses=losses, eval_metrics=eval_metrics, params=params,
                       ema_params=ema)
