"""The transferable jump simulator on mdCATH (GPU/TPU cluster scale; DeepJump's recipe, notes/proteins.md §3).

    genmol train jump --config configs/jump/mdcath.py --workdir runs/jump_mdcath --set data.path=/data/mdcath

``data.path``: a directory of ``mdcath_dataset_*.h5`` files (5,398 domains, 3.3 TB; one frame per ns, which the
published files do not record: ``data.frame_interval_ps=1000``). 10 % of the domains are held out for
evaluation; invalid frames (the int32-overflow and all-zero frames of 48 files) are excluded and counted in the
summary the training log prints. The global batch is split over all devices and hosts (``train.batch_size``);
``data.cache_dir`` keeps the frame-validity scans between runs.
"""

from pathlib import Path

from genmol.config import load_config


def get_config():
    c = load_config(Path(__file__).with_name("ala2.py"))
    c.data.update(dict(
        path="",                  # required: --set data.path=/data/mdcath
        jumps_ps=(1000.0, 10000.0, 100000.0),  # 1, 10, 100 ns
        crop=256,
        frame_interval_ps=1000.0,
        valid_fraction=0.1,
        cache_dir="",             # e.g. /scratch/mdcath_cache
        eval_examples=1024,
    ))
    c.model.update(dict(
        hidden_irreps="128x0e + 64x1o + 32x2e",
        cond_depth=6,
        depth=6,
        k=16,
        cutoff=16.0,
        num_basis=16,
        kernel=5,
        sequence_span=16.0,
        condition_features=16,
        time_features=16,
        source_noise=1.2,         # DeepJump's var_coords = 1.5 Å²
        num_steps=64,
    ))
    c.optim.update(dict(learning_rate=3e-3, grad_clip=0.1, warmup_steps=2000))
    c.train.update(dict(steps=500000, batch_size=128, log_every=100, checkpoint_every=5000, eval_every=10000,
                        keep_checkpoints=3, ema_decay=0.9995))
    return c
