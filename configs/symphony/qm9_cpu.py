"""Symphony-style generator sized for CPU training on QM9 (E3SchNet focus head, NequIP position head).

Measured choices (scripts/bench_symphony.py, 2-core CPU, batch of 32 fragments): 2 interactions
instead of 3 makes a training step 2.3x faster (1460 -> 640 ms); NequIP lmax 2 instead of 3 would
save another 35 % but halves the angular resolution of the position head, so lmax 3 is kept; a
smaller training grid (18 x 39) saved nothing measurable. The shipped model was trained with
``data.source='qm9pack' data.split='edm_train'`` (experiments/symphony_qm9/README.md).
"""

import ml_collections

from genmol.nn import encoder_config
from genmol.train.optim import optim_config


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model_name = "symphony"
    c.seed = 0
    # elements: the atomic number of each species index (recorded in an exported model's metadata)
    c.data = ml_collections.ConfigDict(dict(source="embedded", split="all", elements=(1, 6, 7, 8, 9),
                                            orderings_per_molecule=8, packing="fixed", packing_block=1000,
                                            nn_tolerance=0.125, position_noise=0.05,
                                            limit=ml_collections.FieldReference(None, field_type=int)))
    # packing: "fixed" (train.batch_size fragments per step) or "dynamic" (a variable number packed into the
    # budget of batch_size mean fragments; less padding; genmol.models.symphony.task)
    c.model = ml_collections.ConfigDict()
    c.model.num_species = 5
    c.model.focus_encoder = encoder_config("e3schnet", channels=32, lmax=2, num_interactions=2, cutoff=5.0,
                                           avg_num_neighbors=12.0)
    c.model.position_encoder = encoder_config("nequip", channels=32, lmax=3, num_interactions=2, cutoff=5.0,
                                              avg_num_neighbors=12.0)
    c.model.focus_hidden = 64
    c.model.num_radii = 64
    c.model.radius_min = 0.9
    c.model.radius_max = 2.03
    c.model.num_channels = 2
    c.model.position_lmax = 3
    c.model.res_beta = 30
    c.model.res_alpha = 59
    # focus_weight / position_weight: a head of weight 0 is skipped (e.g. continue the cheap focus head
    # alone with larger batches: it costs ~15 % of a full step, experiments/symphony_qm9/README.md)
    c.loss = ml_collections.ConfigDict(dict(radial_var=1e-5, beta=20.0, target_lmax=3, focus_weight=1.0,
                                            position_weight=1.0))
    c.optim = optim_config(name="adam", learning_rate=1e-3, schedule="warmup_cosine", warmup_steps=200,
                           grad_clip=10.0)
    c.train = ml_collections.ConfigDict(dict(steps=8000, batch_size=32, log_every=50, checkpoint_every=1000,
                                             keep_checkpoints=3, eval_every=0, ema_decay=0.999))
    return c
