"""Metric writers: JSONL always, TensorBoard event files (tensorboardX), wandb optional.

Not clu: its writers import TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from genmol.io.atomic import atomic_write_text

__all__ = ["MetricWriter", "read_jsonl"]


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Reads a metrics JSONL file; a torn last line (from a killed run) is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


class MetricWriter:
    """Writes scalar metrics to ``workdir/metrics.jsonl`` and ``workdir/tensorboard/``.

    Args:
        workdir: run directory.
        resume_step: on resume, records with ``step > resume_step`` (logged after the last
            checkpoint by a killed run) are dropped so the log matches the restored state.
        tensorboard: also write TensorBoard event files.
        wandb_run: an optional ``wandb`` run to log to.
    """

    def __init__(self, workdir: str | os.PathLike, *, resume_step: int | None = None, tensorboard: bool = True,
                 wandb_run=None):
        self.path = Path(workdir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            kept = [r for r in read_jsonl(self.path) if r.get("step", 0) <= resume_step]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        elif self.path.exists():
            self.path.unlink()
        self._file = open(self.path, "a")
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(Path(workdir) / "tensorboard"))
        self._wandb = wandb_run

    def write(self, step: int, metrics: dict[str, float]) -> None:
        clean = {k: (float(v) if math.isfinite(float(v)) else str(float(v))) for k, v in metrics.items()}
        self._file.write(json.dumps({"step": int(step), **clean}) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, float(v), int(step))
        if self._wandb is not None:
            self._wandb.log(dict(metrics), step=int(step))

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
