#!/usr/bin/env bash
# Roll out a jump model and score it against held-out MD (experiments/jump_ala2/README.md).
#   experiments/jump_ala2/evaluate.sh MODEL_DIR NAME [DT_PS=10] [JUMPS] [TEMPERATURE] [WALKERS] [STEPS]
# SYSTEM=ala2 (default): from the native alanine dipeptide, against the held-out 300 K MD; JUMPS 200, TEMPERATURE 300,
#   WALKERS 100.
# SYSTEM=trpcage (the protein route, "Protein demonstration"): from the first frame of the held-out 320 K Trp-cage MD,
#   against that held-out MD; JUMPS 100, TEMPERATURE 320, WALKERS 10.
# CHURN=c (flow-path models): genmol simulate --churn c, the same-marginal SDE instead of the ODE.
# Writes runs/eval/NAME/ (trajectories) and experiments/jump_ala2/results/NAME.json + NAME/ (plots).
set -euo pipefail
system=${SYSTEM:-ala2}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
case $system in
    ala2) start=$root/tests/fixtures/proteins/alanine-dipeptide-explicit.pdb; d_jumps=200; d_temp=300; d_walkers=100 ;;
    trpcage)
        md=$root/runs/eval/trpcage_md
        [ -d "$md" ] || genmol data md --system trpcage --split tail --out "$md"
        start=$md/trpcage_320K_tail_topology.pdb; d_jumps=100; d_temp=320; d_walkers=10 ;;  # the first held-out frame
    *) echo "SYSTEM=$system: choose ala2 or trpcage" >&2; exit 2 ;;
esac
model=$1; name=$2; dt=${3:-10}; jumps=${4:-$d_jumps}; temp=${5:-$d_temp}; walkers=${6:-$d_walkers}; steps=${7:-}
out=$root/runs/eval/$name
rm -rf "$out"; mkdir -p "$out" "$here/results"
extra=(); if [ -n "$steps" ]; then extra=(--steps "$steps"); fi
if [ -n "${CHURN:-}" ]; then extra+=(--churn "$CHURN"); fi
genmol simulate "$start" --jumps "$jumps" --dt "${dt}ps" --temperature "$temp" --walkers "$walkers" \
    --out "$out/traj.xtc" --checkpoint "$model" --seed 0 "${extra[@]}" \
    2>&1 | tail -1 | tee "$here/results/$name.simulate.txt"
genmol evaluate dynamics "$out"/traj*.xtc --top "$out/traj_topology.pdb" --reference "$system:${temp%.*}" \
    --lag "$dt" --json "$here/results/$name.json" --plots "$here/results/$name" > "$here/results/$name.txt" 2>&1
cat "$here/results/$name.txt"
