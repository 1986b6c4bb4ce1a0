#!/usr/bin/env bash
# Train the shipped real-photo ×4 upscaler (sr-x4-real) in one command, resumable: rerun it to go on.
#   tools/train_sr_real.sh            the CPU recipe of the shipped model (two stages, below)
# Stage 1: 2,500 iterations warm-started from sr-x4-pixel, lr 2e-4 cosine; stage 2: 10,000 more from stage 1,
# lr 1e-4 cosine. Both: SubPixelSR 64×8 (sr-x4-pixel's layers, so the same cost per pixel), pixel (MSE) loss,
# --degradation real (percept.train.real_degradations.RealDegradation()), batch 16 of 128² HR patches.
# A stage that finished is skipped; one that was stopped resumes from its checkpoint.
# Environment: DATA (training photos, default ../shared/data/train), RUNS (default runs/sr-real),
#   PERCEPT_VGG_WEIGHTS (not used by pixel loss; set for the previews' tools), THREADS (torch threads, default 2).
# Writes RUNS/stage1/, RUNS/stage2/ (checkpoint.pt, losses.csv, loss.png, previews/) and RUNS/stage2/sr-x4-real.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/train}
RUNS=${RUNS:-runs/sr-real}
export OMP_NUM_THREADS=${THREADS:-2}
PERCEPT=${PERCEPT:-percept}
common=(--arch subpixel --channels 64 --convs 8 --scale 4 --data "$DATA" --name sr-x4-real --degradation real
        --loss pixel --pixel-weight 1 --batch-size 16 --patch 128 --lr-schedule cosine --half --workers 0
        --checkpoint-every 200)
stage() {  # stage DIR ITERATIONS LR SEED INIT
  local dir=$1 its=$2 lr=$3 seed=$4 init=$5
  if [ -f "$dir/sr-x4-real.safetensors" ]; then echo "$dir: finished"; return; fi
  local resume=(); [ -f "$dir/checkpoint.pt" ] && resume=(--resume)
  "$PERCEPT" train-sr "${common[@]}" --iterations "$its" --lr "$lr" --seed "$seed" --init "$init" \
    --run-dir "$dir" "${resume[@]}"
}
stage "$RUNS/stage1" 2500 2e-4 0 sr-x4-pixel
stage "$RUNS/stage2" 10000 1e-4 1 "$RUNS/stage1/sr-x4-real.safetensors"
echo "model: $RUNS/stage2/sr-x4-real.safetensors (percept eval-sr ../shared/data/sr_bench/BSD100/HR --scale 4 -m it --degradation web)"
