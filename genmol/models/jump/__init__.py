"""Jump simulators of molecular dynamics (EquiJump/DeepJump-style): model, task, rollouts."""
