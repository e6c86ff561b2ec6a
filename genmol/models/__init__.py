"""Model families, one package each (model, task, sampler); the registry is :mod:`genmol.models.store`."""
