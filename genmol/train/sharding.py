"""Data parallelism with ``jax.sharding``: one mesh axis ``data`` over all devices.

The batch carries a leading shard axis ``[S, ...]`` with ``S`` = number of devices
(one padded sub-batch per device); it is sharded ``P("data")`` while parameters and
optimizer state are replicated ``P()``. The same code runs on 1 CPU, many GPUs or a
multi-host TPU slice. Multi-host: :func:`maybe_initialize_distributed` calls
``jax.distributed.initialize()`` when the usual environment variables are set, each
process builds the shards for its local devices, and :func:`shard_batch` assembles the
global array with ``jax.make_array_from_process_local_data``.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from genmol.errors import GenmolError

__all__ = ["maybe_initialize_distributed", "create_mesh", "shard_batch", "num_local_shards"]

_DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS")


def maybe_initialize_distributed() -> bool:
    """Initialises multi-host JAX if a coordinator (or SLURM/OpenMPI multi-task job) is configured."""
    multi = any(os.environ.get(k) for k in _DISTRIBUTED_ENV)
    multi |= int(os.environ.get("SLURM_NTASKS", "1")) > 1 or int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1")) > 1
    if multi and not jax.distributed.is_initialized():
        jax.distributed.initialize()
        return True
    return False


def create_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh with axis ``data`` over the first ``num_devices`` devices (default all)."""
    devices = jax.devices()
    n = len(devices) if num_devices is None else num_devices
    if not 1 <= n <= len(devices):
        raise GenmolError(f"{n} devices asked for: choose 1 … {len(devices)} (the devices JAX sees here)")
    return Mesh(np.asarray(devices[:n]), ("data",))


def num_local_shards(mesh: Mesh) -> int:
    """How many batch shards this process must build (its devices in the mesh)."""
    return sum(d.process_index == jax.process_index() for d in mesh.devices.flat)


def shard_batch(batch, mesh: Mesh):
    """Places a host batch with leading local shard axis on the mesh, sharded over ``data``."""
    sharding = NamedSharding(mesh, P("data"))
    if jax.process_count() == 1:
        return jax.device_put(batch, sharding)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)
