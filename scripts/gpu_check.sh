#!/usr/bin/env bash
# The GPU check, in under 5 minutes on one CUDA GPU (bash scripts/gpu_check.sh):
#   1. the test suite's GPU tests (data on the device, bf16-mixed, kill and exact resume);
#   2. course_rnn and cnn_mnist, one epoch each, with the data held on the GPU;
#   3. make bench's rows for the CNN and the RNN (samples/s, Lightning vs a plain loop);
#   4. a bf16-mixed run of course_rnn.
# Where torch sees no CUDA GPU it says so and exits 0: nothing here can run.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory install data
py=.venv/bin/python
if ! "$py" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    echo "gpu_check: SKIPPED: no CUDA GPU (torch.cuda.is_available() is False)"
    exit 0
fi
"$py" -c 'import torch; print("GPU:", torch.cuda.get_device_name(), "| torch", torch.__version__)'
out=logs/gpu_check/$(date +%Y-%m-%d_%H-%M-%S)
mkdir -p "$out"
quiet=(trainer=gpu callbacks.progress_bar.refresh_rate=0)

step() { printf '\n== %s\n' "$1"; }

step "GPU tests"
"$py" -m pytest -m gpu -q -p no:cacheprovider

for experiment in course_rnn cnn_mnist; do
    step "$experiment, one epoch, data on the GPU"
    start=$SECONDS
    "$py" -m dl101.train "experiment=$experiment" "${quiet[@]}" trainer.max_epochs=1 \
        data.keep_on_device=true "hydra.run.dir=$out/$experiment" | tail -n 14
    echo "$experiment: $((SECONDS - start)) s wall"
done

step "bench rows: CNN and RNN"
"$py" -m dl101.bench --models cnn rnn --repeats 2 --out "$out/bench"

step "bf16-mixed"
"$py" -m dl101.train experiment=course_rnn "${quiet[@]}" trainer.max_epochs=1 \
    trainer.precision=bf16-mixed "hydra.run.dir=$out/bf16" | tail -n 14

printf '\ngpu_check: done; outputs in %s\n' "$out"
