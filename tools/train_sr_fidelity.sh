#!/usr/bin/env bash
# Train the fidelity upscalers (sr-x4-fidelity, sr-x2-fidelity), resumable: rerun it to go on where a run stopped.
#   tools/train_sr_fidelity.sh             both scales side by side in the background, one thread each
#   SCALES=4 tools/train_sr_fidelity.sh    one scale
# Each grows the shipped real-photo model to the cost budget (×4: SubPixelSR 64×8 → 64×12; ×2: 48×6 → 48×9; the
# added convolutions start as identities), trains it with re-parameterisable branches (folded when saved), a
# Charbonnier pixel loss on photo damage (20 % left clean) and a weight average, and scores the average on 50
# held-out training photos every 500 steps (RUN/validation.csv; the best so far is RUN/best.safetensors).
# Environment: DATA (default ../shared/data/train), RUNS (default runs), PERCEPT (default .venv/bin/percept).
# Logs: RUNS/x4-fid.log, RUNS/x2-fid.log; process ids in RUNS/x4-fid.pid, RUNS/x2-fid.pid.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/train}
RUNS=${RUNS:-runs}
PERCEPT=${PERCEPT:-.venv/bin/percept}
SCALES=${SCALES:-"4 2"}
mkdir -p "$RUNS"
common=(--arch subpixel --branches --data "$DATA" --loss pixel --pixel-loss charbonnier --clean-share 0.2
        --holdout 50 --ema 0.999 --degradation photo --batch-size 16 --patch 128 --lr 2e-4 --lr-schedule cosine
        --half --workers 0 --checkpoint-every 500 --preview-every 1000)
run() {  # run DIR OPTIONS...: in the background, resumed when DIR has a checkpoint
  local dir=$1; shift
  local resume=(); [ -f "$dir/checkpoint.pt" ] && resume=(--resume)
  OMP_NUM_THREADS=1 nohup "$PERCEPT" train-sr "$@" --run-dir "$dir" "${resume[@]}" > "$dir.log" 2>&1 &
  echo $! > "$dir.pid"
  echo "$dir: started (pid $!, log $dir.log)"
}
for scale in $SCALES; do
  case "$scale" in
    4) run "$RUNS/x4-fid" --scale 4 --channels 64 --convs 12 --init sr-x4-real --name sr-x4-fidelity \
         --iterations 20000 --seed 11 "${common[@]}" ;;
    2) run "$RUNS/x2-fid" --scale 2 --channels 48 --convs 9 --init sr-x2-real --name sr-x2-fidelity \
         --iterations 12000 --seed 12 "${common[@]}" ;;
    *) echo "SCALES holds 4 and/or 2" >&2; exit 2 ;;
  esac
done
