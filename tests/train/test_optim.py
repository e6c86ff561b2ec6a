"""Optimizer config: frozen parameters get no update and do not count in the clipping norm."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmol.errors import ConfigError
from genmol.train.optim import create_optimizer, frozen_prefixes, optim_config


def params():
    return {"encoder": {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}, "encoders": {"w": jnp.ones(3)},
            "decoder": {"layers": [{"w": jnp.ones(2)}, {"w": jnp.ones(2)}]}}


def test_frozen_prefixes_parse_strings_and_sequences():
    assert frozen_prefixes("") == () and frozen_prefixes(None) == ()
    assert frozen_prefixes(" encoder, decoder.layers.0 ,") == ("encoder", "decoder.layers.0")
    assert frozen_prefixes(("encoder",)) == ("encoder",)


def test_frozen_parameters_get_zero_updates_and_others_train():
    p = params()
    config = optim_config(name="adam", learning_rate=0.1, grad_clip=1.0, frozen="encoder,decoder.layers.1")
    tx = create_optimizer(config, 10)
    grads = jax.tree.map(lambda x: 100.0 * jnp.ones_like(x), p)
    updates, _ = tx.update(grads, tx.init(p), p)
    assert np.all(np.asarray(updates["encoder"]["w"]) == 0) and np.all(np.asarray(updates["encoder"]["b"]) == 0)
    assert np.all(np.asarray(updates["decoder"]["layers"][1]["w"]) == 0)
    # a prefix is a whole path component: "encoder" does not freeze "encoders"
    assert np.all(np.asarray(updates["encoders"]["w"]) != 0)
    assert np.all(np.asarray(updates["decoder"]["layers"][0]["w"]) != 0)


def test_clipping_sees_only_the_trained_gradients():
    p = {"a": jnp.zeros(1), "b": jnp.zeros(1)}
    config = optim_config(name="adam", learning_rate=1.0, grad_clip=1.0, frozen="a")
    plain = optim_config(name="adam", learning_rate=1.0, grad_clip=1.0)
    grads = {"a": jnp.array([1e6]), "b": jnp.array([0.5])}
    frozen_updates, _ = create_optimizer(config, 10).update(grads, create_optimizer(config, 10).init(p), p)
    only_b = {"b": p["b"]}
    updates, _ = create_optimizer(plain, 10).update({"b": grads["b"]}, create_optimizer(plain, 10).init(only_b),
                                                    only_b)
    np.testing.assert_allclose(frozen_updates["b"], updates["b"], rtol=1e-6)


def test_a_prefix_that_matches_nothing_is_a_config_error():
    tx = create_optimizer(optim_config(frozen="encoder,enc_mix"), 10)
    with pytest.raises(ConfigError, match="'enc_mix' matches no parameter.*decoder, encoder, encoders"):
        tx.init(params())
