"""Resumable training checkpoints with orbax ``CheckpointManager``.

A checkpoint is the whole training state as a pytree of arrays: parameters, optimizer
state, EMA parameters, step and RNG key data. Orbax writes each step to a temporary
directory and renames it when complete, so a run killed at any moment leaves only whole
checkpoints; the manager keeps the last ``keep`` of them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jax
import orbax.checkpoint as ocp

__all__ = ["Checkpointer"]


class Checkpointer:
    """Saves and restores training state under ``workdir/checkpoints``."""

    def __init__(self, workdir: str | os.PathLike, keep: int = 3, create: bool = True):
        """``create=False`` reads an existing run only: no ``checkpoints/`` folder is made."""
        self.directory = Path(workdir).absolute() / "checkpoints"
        if self.directory.is_dir():
            self.discard_partial()  # left by a run killed while writing
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=create, enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    @staticmethod
    def latest_in(workdir: str | os.PathLike) -> int | None:
        """The latest complete checkpoint step in ``workdir`` (``None`` if none), creating nothing."""
        directory = Path(workdir) / "checkpoints"
        steps = [int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit()] \
            if directory.is_dir() else []
        return max(steps, default=None)

    def discard_partial(self) -> None:
        """Removes checkpoints that were being written when the run stopped (orbax's temporary folders)."""
        for tmp in self.directory.glob("*.orbax-checkpoint-tmp*"):
            shutil.rmtree(tmp, ignore_errors=True)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state) -> None:
        self._manager.save(step, args=ocp.args.StandardSave(state))
        self._manager.wait_until_finished()

    def restore(self, template, step: int | None = None):
        """Restores ``step`` (default latest) into the structure, shapes and shardings of ``template``."""
        step = self.latest_step() if step is None else step
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def close(self) -> None:
        self._manager.close()
