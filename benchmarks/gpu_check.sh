#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU, under 5 minutes on one GPU: the test suite (the fast tests; on a
# CUDA machine the CLI's default device is cuda), lottery's batched LeNet engine against a plain PyTorch loop,
# Conv-2/4/6 step and evaluation times, Conv-2 under fp32/bf16/fp16 autocast, ResNet-18 for a few hundred steps,
# two identical runs compared bit for bit, and Ray's GPU placement (when Ray is installed). Ends with one summary.
#
#   benchmarks/gpu_check.sh             # on the GPU machine, from the repository root or anywhere
#   benchmarks/gpu_check.sh --dry-run   # on a CPU: the script's own checks at tiny sizes, the benchmarks' --help
#
# PYTHON names the interpreter (default: python). The determinism check uses `lottery run --precision bf16`.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1

if [ $DRY = 0 ] && ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device: torch.cuda.is_available() is False for $PY (or torch is missing);" \
         "run this on a machine with an NVIDIA GPU and a CUDA build of torch, or pass --dry-run" >&2
    exit 2
fi

LOG=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
declare -a SUMMARY
FAILED=0

# step NAME SECONDS COMMAND...: run with a time limit, keep its output in $LOG/NAME.log, record one summary line.
step() {
    local name=$1 limit=$2
    shift 2
    local began=$SECONDS
    echo "== $name: $*"
    timeout "$limit" "$@" > "$LOG/$name.log" 2>&1
    local rc=$?
    tail -n 25 "$LOG/$name.log"
    local took=$((SECONDS - began))
    if [ $rc = 0 ]; then SUMMARY+=("PASS  $name (${took}s)")
    elif [ $rc = 124 ]; then SUMMARY+=("FAIL  $name: over its ${limit}s limit"); FAILED=1
    else SUMMARY+=("FAIL  $name: exit $rc (log $LOG/$name.log)"); FAILED=1
    fi
}

if [ $DRY = 1 ]; then
    step tests 120 "$PY" -m pytest -q -x -p no:cacheprovider tests/test_data.py -k "cache"
    step lenet-batched 60 "$PY" benchmarks/lenet_speed.py --help  # imports and options only: too slow on a CPU
    step conv-time 60 "$PY" benchmarks/conv_time.py --help
    step checks 300 "$PY" benchmarks/gpu_check.py --device cpu --tiny
else
    step tests 150 "$PY" -m pytest -q -x -p no:cacheprovider -m "not slow"
    step lenet-batched 60 "$PY" benchmarks/lenet_speed.py --device cuda --short
    step conv-time 40 "$PY" benchmarks/conv_time.py --device cuda --iterations 200
    step checks 90 "$PY" benchmarks/gpu_check.py --device cuda
fi

echo
echo "== summary ($([ $DRY = 1 ] && echo "dry run on CPU" || "$PY" -c "import torch; print(torch.cuda.get_device_name(0))"))"
for line in "${SUMMARY[@]}"; do echo "$line"; done
grep -h "^PASS \|^FAIL " "$LOG/checks.log" 2>/dev/null | sed 's/^/      /'
echo "logs: $LOG"
exit $FAILED
