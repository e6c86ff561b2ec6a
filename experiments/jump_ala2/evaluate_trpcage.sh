#!/usr/bin/env bash
# The protein route (experiments/jump_ala2/README.md, "Protein demonstration"): roll a Trp-cage jump model out from the
# first frame of the held-out 320 K MD and score it against that held-out MD.
#   experiments/jump_ala2/evaluate_trpcage.sh MODEL_DIR NAME [DT_PS=10] [JUMPS=100] [WALKERS=10] [TEMPERATURE=320]
# Writes runs/eval/NAME/ (trajectories) and experiments/jump_ala2/results/NAME.json + NAME/ (plots).
set -euo pipefail
model=$1; name=$2; dt=${3:-10}; jumps=${4:-100}; walkers=${5:-10}; temp=${6:-320}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
md=$root/runs/eval/trpcage_md; out=$root/runs/eval/$name
[ -d "$md" ] || genmol data md --system trpcage --split tail --out "$md"
start=$md/trpcage_320K_tail_topology.pdb        # the first held-out frame
rm -rf "$out"; mkdir -p "$out" "$here/results"
genmol simulate "$start" --jumps "$jumps" --dt "${dt}ps" --temperature "$temp" --walkers "$walkers" \
    --out "$out/traj.xtc" --checkpoint "$model" --seed 0 2>&1 | tail -1 | tee "$here/results/$name.simulate.txt"
genmol evaluate dynamics "$out"/traj*.xtc --top "$out/traj_topology.pdb" --reference "trpcage:${temp%.*}" \
    --lag "$dt" --json "$here/results/$name.json" --plots "$here/results/$name" > "$here/results/$name.txt" 2>&1
cat "$here/results/$name.txt"
