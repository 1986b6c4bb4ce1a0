#!/usr/bin/env bash
# One prepared check for a CUDA machine (under 8 minutes on one H200): what no CPU machine can show.
#   1. the GPU tests (pytest -m gpu): CUDA fp16 / channels_last / CUDA graphs / compile against CPU fp32,
#      and TensorRT where it imports;
#   2. FP16 against FP32 accuracy and model-only throughput at 512² on every shipped style and the ×4
#      upscaler (percept bench: torch fp32 baseline, fp16 channels_last, TensorRT where importable);
#   3. a folder end to end (decode → model → encode) through the default backend.
# Usage (repository root): benchmarks/gpu_check.sh [RESULTS_DIR]   (default: $OUT if set, else gpu_results)
# On the lent GPU machine, which reaches no registry: `pip install --no-deps -e .` first (this script does).
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS=${1:-${OUT:-gpu_results}}
mkdir -p "$RESULTS"
export PYTHONUNBUFFERED=1
log() { echo "[$(date +%T)] $*" | tee -a "$RESULTS/summary.txt"; }
step() {  # step NAME TIMEOUT_S COMMAND...: run one part, keep its log, never stop the others
  local name=$1 limit=$2; shift 2
  log "start $name: $*"
  timeout "$limit" "$@" > "$RESULTS/$name.log" 2>&1
  log "end $name: exit $?"
}
python -m pip install -q --no-deps -e . > "$RESULTS/install.log" 2>&1 || log "install failed (see install.log)"
python - > "$RESULTS/machine.txt" 2>&1 <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
for i in range(torch.cuda.device_count()):
    print(i, torch.cuda.get_device_name(i), torch.cuda.get_device_capability(i))
PY
cat "$RESULTS/machine.txt" | tee -a "$RESULTS/summary.txt"
step gpu_tests 150 python -m pytest -q -m gpu -p no:cacheprovider tests
for model in starry-night wave sr-x4-pixel; do
  step "bench_$model" 90 percept bench -m "$model" --device cuda --sizes 512 --backend all --precision fp32,fp16 \
    --json "$RESULTS/bench_$model.json"
done
step folder_e2e 90 percept bench --folder examples --device cuda --json "$RESULTS/folder_e2e.json"
step stylize_folder 60 percept stylize examples --style wave --device cuda --out "$RESULTS/styled" \
  --json-report "$RESULTS/stylize_report.json"
log "done; results in $RESULTS"
