#!/usr/bin/env bash
# Train, export and score the autoencoder at one compression rate for the strides table of
# experiments/ophiuchus_proteins/README.md (whole held-out test chains, same budget as the shipped stride-4 model).
#   experiments/ophiuchus_proteins/strides.sh STRIDE [RESUME=0]      # STRIDE in 1 2 8 16
# Writes runs/oph_s$STRIDE (training), runs/oph_s${STRIDE}_model (export), runs/recon_s$STRIDE (reconstructions) and
# experiments/ophiuchus_proteins/{metrics,test_metrics}_stride$STRIDE.{jsonl,json}, config_stride$STRIDE.json and
# models/stride$STRIDE (the exported model); strides_table.py turns them into the table and figure.
set -euo pipefail
stride=$1; resume=${2:-0}
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd); cd "$root"
run=runs/oph_s$stride
extra=(); if [ "$resume" = 1 ]; then extra=(--resume); fi
[ -d runs/test_chains ] || genmol data proteins --split test --out runs/test_chains
genmol train ophiuchus --config "configs/ophiuchus/proteins.py:$stride" --workdir "$run" "${extra[@]}"
genmol export "$run" --out "${run}_model"
rm -rf "runs/recon_s$stride"
genmol reconstruct protein runs/test_chains --out "runs/recon_s$stride" --checkpoint "${run}_model" \
    --json "$here/test_metrics_stride$stride.json"
cp "$run/metrics.jsonl" "$here/metrics_stride$stride.jsonl"
cp "$run/config.json" "$here/config_stride$stride.json"
rm -rf "$here/models/stride$stride"; cp -r "${run}_model" "$here/models/stride$stride"
