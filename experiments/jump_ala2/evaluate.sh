#!/usr/bin/env bash
# Roll out a jump model from the native alanine dipeptide and score it against the held-out MD (experiments/jump_ala2).
#   experiments/jump_ala2/evaluate.sh MODEL_DIR NAME [DT_PS=10] [JUMPS=200] [TEMPERATURE=300] [WALKERS=100] [STEPS]
# Writes runs/eval/NAME/ (trajectories) and experiments/jump_ala2/results/NAME.json + NAME/ (plots).
set -euo pipefail
model=$1; name=$2; dt=${3:-10}; jumps=${4:-200}; temp=${5:-300}; walkers=${6:-100}; steps=${7:-}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
out=$root/runs/eval/$name
rm -rf "$out"; mkdir -p "$out" "$here/results"
extra=(); if [ -n "$steps" ]; then extra=(--steps "$steps"); fi
genmol simulate "$root/tests/fixtures/proteins/alanine-dipeptide-explicit.pdb" --jumps "$jumps" --dt "${dt}ps" \
    --temperature "$temp" --walkers "$walkers" --out "$out/traj.xtc" --checkpoint "$model" --seed 0 "${extra[@]}" \
    2>&1 | tail -1 | tee "$here/results/$name.simulate.txt"
genmol evaluate dynamics "$out"/traj*.xtc --top "$out/traj_topology.pdb" --reference "ala2:${temp%.*}" \
    --lag "$dt" --json "$here/results/$name.json" --plots "$here/results/$name" > "$here/results/$name.txt" 2>&1
cat "$here/results/$name.txt"
