import numpy as np

from genmol.config import load_config
from genmol.models.symphony.task import SymphonyTask


def test_budget_is_near_real_size_and_overflow_resamples():
    cfg = load_config("configs/symphony/test.py")
    task = SymphonyTask(cfg)
    budget = task.budget(1)
    worst_edges = int(task.molecules.num_atoms.max()) ** 2 * task.batch_size
    assert budget.max_edges < 0.6 * worst_edges
    for step in range(30):  # every batch fits, deterministically
        b = task.train_batch(step, 0, 1)
        assert b.graph_mask.sum() == task.batch_size
    b1, b2 = task.train_batch(3, 0, 1), task.train_batch(3, 0, 1)
    np.testing.assert_array_equal(b1.positions, b2.positions)
    # force overflows: a budget for tiny fragments makes the task redraw, never fail or drop a slot
    task._sizes = (np.full(8, 2), np.full(8, 2))
    b = task.train_batch(0, 0, 1)
    assert task.resampled > 0 and b.graph_mask.sum() == task.batch_size
    assert b.node_mask.sum() <= task.budget(1).max_nodes - 1
