#!/usr/bin/env bash
# Train the shipped real-photo upscalers (sr-x4-real, sr-x2-real) in one command, resumable: rerun it to go on.
#   tools/train_sr_real.sh            sr-x4-real, the CPU recipe of the shipped model (four stages and two averages)
#   SCALE=2 tools/train_sr_real.sh    sr-x2-real (two stages and an average)
# ×4: stage 1 is 2,500 iterations warm-started from sr-x4-pixel, lr 2e-4 cosine; stage 2 10,000 more from stage 1,
# lr 1e-4 cosine, both with --degradation real (percept.train.real_degradations.RealDegradation(): Real-ESRGAN's
# high-order damage); stage 3 9,000 more from stage 2, lr 1e-4 cosine, with --degradation photo
# (PhotoDegradation(): one pass of phone and web damage on the LR grid). The model is the weight average
# 0.3 × stage 2 + 0.7 × stage 3 (tools/average_models.py): almost all of stage 3's gain on JPEG input, while
# clean input stays within a dB of sr-x4-pixel. Stage 4: 4,714 iterations from that average with pixel + VGG
# feature loss over four weighted layers (relu1_2..relu4_3), batch 8, and the shipped model is 0.5 × the
# average + 0.5 × stage 4 (lower LPIPS and grid on JPEG input, higher PSNR on clean and web input).
# SubPixelSR 64×8 (sr-x4-pixel's layers, the same cost per pixel).
# ×2: 6,000 iterations from sr-x2-pixel (SubPixelSR 48×6), lr 2e-4 cosine, --degradation photo; then 3,105
# iterations of the same perceptual stage as ×4's stage 4 from it, and the model is 0.5 × stage 1 + 0.5 × stage 2.
# Stages 1–3 and ×2 stage 1: pixel (MSE) loss, batch 16 of 128² HR patches; all: bf16 autocast on the CPU.
# A stage that finished is skipped; one that was stopped resumes from its checkpoint.
# Environment: DATA (training photos, default ../shared/data/train), RUNS (default runs/sr-real),
#   THREADS (torch threads, default 2), SCALE (4 or 2).
# Writes RUNS/x4-stage1..4/ or RUNS/x2/ and RUNS/x2-stage2/ (checkpoint.pt, losses.csv, loss.png, previews/) and RUNS/sr-xN-real.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/train}
RUNS=${RUNS:-runs/sr-real}
SCALE=${SCALE:-4}
export OMP_NUM_THREADS=${THREADS:-2}
PERCEPT=${PERCEPT:-percept}
NAME=sr-x${SCALE}-real
common=(--arch subpixel --scale "$SCALE" --data "$DATA" --name "$NAME" --loss pixel --pixel-weight 1
        --batch-size 16 --patch 128 --lr-schedule cosine --half --workers 0 --checkpoint-every 200)
run_stage() {  # run_stage DIR TRAIN-SR-OPTIONS...: skipped once finished, resumed when stopped
  local dir=$1; shift
  if [ -f "$dir/$NAME.safetensors" ]; then echo "$dir: finished"; return; fi
  local resume=(); [ -f "$dir/checkpoint.pt" ] && resume=(--resume)
  "$PERCEPT" train-sr "$@" --run-dir "$dir" "${resume[@]}"
}
stage() {  # stage DIR ITERATIONS LR SEED INIT DEGRADATION CHANNELS CONVS: pixel loss, batch 16
  run_stage "$1" "${common[@]}" --iterations "$2" --lr "$3" --seed "$4" --init "$5" --degradation "$6" \
    --channels "$7" --convs "$8"
}
perceptual_stage() {  # perceptual_stage DIR ITERATIONS INIT CHANNELS CONVS: pixel + weighted VGG layers,
  # hatch and speckle priced, batch 8, on photo damage
  run_stage "$1" --arch subpixel --scale "$SCALE" --channels "$4" --convs "$5" --data "$DATA" --name "$NAME" \
    --loss feature+pixel --pixel-weight 100 --feature-weight 1 \
    --feature-layer relu1_2:1,relu2_2:0.5,relu3_3:0.5,relu4_3:1 --grid-weight 1e4 --grid-window 0 \
    --speckle-weight 1e4 --feature-jitter 4 --batch-size 8 --patch 128 --lr 1e-4 --lr-schedule cosine \
    --iterations "$2" --seed 6 --init "$3" --degradation photo --half --workers 0 --checkpoint-every 200
}
case "$SCALE" in
  4)
    stage "$RUNS/x4-stage1" 2500 2e-4 0 sr-x4-pixel real 64 8
    stage "$RUNS/x4-stage2" 10000 1e-4 1 "$RUNS/x4-stage1/$NAME.safetensors" real 64 8
    stage "$RUNS/x4-stage3" 9000 1e-4 2 "$RUNS/x4-stage2/$NAME.safetensors" photo 64 8
    python tools/average_models.py "$RUNS/x4-stage2/$NAME.safetensors" "$RUNS/x4-stage3/$NAME.safetensors" \
      --weight 0.7 --half --out "$RUNS/x4-average1.safetensors"
    perceptual_stage "$RUNS/x4-stage4" 4714 "$RUNS/x4-average1.safetensors" 64 8
    python tools/average_models.py "$RUNS/x4-average1.safetensors" "$RUNS/x4-stage4/$NAME.safetensors" \
      --weight 0.5 --half --out "$RUNS/$NAME.safetensors" \
      --description "×4 upscaler for real photos (SubPixelSR 64), trained on synthetic photo damage (blur, resize, noise, JPEG): removes the JPEG grid and ringing sr-x4-pixel sharpens; the ×4 default for JPEG-damaged pictures and clips" ;;
  2)
    stage "$RUNS/x2" 6000 2e-4 2 sr-x2-pixel photo 48 6
    perceptual_stage "$RUNS/x2-stage2" 3105 "$RUNS/x2/$NAME.safetensors" 48 6
    python tools/average_models.py "$RUNS/x2/$NAME.safetensors" "$RUNS/x2-stage2/$NAME.safetensors" \
      --weight 0.5 --half --out "$RUNS/$NAME.safetensors" \
      --description "×2 upscaler for real photos (SubPixelSR 48), trained on phone and web damage (blur, noise, JPEG) with pixel, then VGG feature loss: removes the JPEG grid sr-x2-pixel sharpens; the ×2 default for JPEG-damaged pictures and clips" ;;
  *) echo "SCALE must be 4 or 2" >&2; exit 2 ;;
esac
echo "model: $RUNS/$NAME.safetensors (percept eval-sr ../shared/data/sr_bench/BSD100/HR --scale $SCALE -m it --degradation web)"
