"""HOMO-LUMO gap regression on the embedded QM9 subset (E3SchNet encoder, CPU-sized)."""

import ml_collections

from genmol.nn import encoder_config
from genmol.train.optim import optim_config


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.model_name = "property"
    c.seed = 0
    c.data = ml_collections.ConfigDict(dict(source="embedded", target="gap", num_valid=200, split_seed=0,
                                            limit=ml_collections.FieldReference(None, field_type=int)))
    c.model = ml_collections.ConfigDict()
    c.model.encoder = encoder_config("e3schnet", channels=32, lmax=2, num_interactions=3, cutoff=5.0,
                                     avg_num_neighbors=15.0)
    c.model.readout_hidden = 64
    c.model.intensive = True
    c.optim = optim_config(name="adam", learning_rate=2e-3, schedule="warmup_cosine", warmup_steps=100,
                           grad_clip=10.0)
    c.train = ml_collections.ConfigDict(dict(steps=2000, batch_size=32, log_every=50, checkpoint_every=500,
                                             keep_checkpoints=3, eval_every=500, ema_decay=0.99))
    return c
