#!/usr/bin/env bash
# The real-screen run of issue 5 / DESIGN.md §5 on Papalexi et al. 2021 (../shared/data/perturbation):
# guides → cell labels (ours), counts + labels → .h5ad (written by the real AnnData, peers/write_h5ad.py),
# then `perturb fit` from that .h5ad with leave-one-out single knockouts, and the CLIPR matrix.
#   scripts/papalexi.sh OUT_DIR [STEPS] [HELD_OUT_GENES]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/papalexi.sh OUT_DIR [STEPS] [HELD_OUT_GENES]}"
steps="${2:-2000}"
held="${3:-IFNGR1,IRF1,SMAD4,STAT2}"
data="$(cd .. && pwd)/shared/data/perturbation"
mkdir -p "$out"
tributary() { node bin/tributary.mjs "$@"; }

tributary perturb assign-guides \
  --matrix "$data/papalexi2021_lowmoi_response_matrix.mtx.gz" \
  --genes "$data/papalexi2021_lowmoi_response_matrix_rows.txt" \
  --guides "$data/papalexi2021_lowmoi_grna_matrix.mtx.gz" \
  --guide-ids "$data/papalexi2021_lowmoi_grna_matrix_rows.txt" \
  --guide-targets "$data/papalexi2021_lowmoi_grna_target_data_frame.csv" \
  --obs "$data/papalexi2021_lowmoi_extra_covariates.csv" \
  --strategy highest --out "$out/obs.csv"
/usr/bin/python3 ../shared/peers/write_h5ad.py \
  --mtx "$data/papalexi2021_lowmoi_response_matrix.mtx.gz" \
  --genes "$data/papalexi2021_lowmoi_response_matrix_rows.txt" \
  --obs "$out/obs.csv" --obs-index cell --categorical perturbation bio_rep --out "$out/papalexi.h5ad"
tributary perturb fit --data "$out/papalexi.h5ad" --perturbation-key perturbation --control non-targeting \
  --counts --steps "$steps" --holdout-singles "$held" --out "$out/fit" 2> "$out/fit.log"
tributary perturb clipr --model "$out/fit" --out "$out/clipr.csv"
