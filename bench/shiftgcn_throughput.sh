#!/usr/bin/env bash
# Shift-GCN training throughput in one run: the standard network with the
# adaptive temporal shift (the paper's) against the fixed-shift variant, and
# against the PyTorch eager reference of the official network
# (trainer/scripts/gen_model_fixtures.py `OfficialShiftGcn`, plain tensor
# ops), all on the same seeded batches: ROUNDS rounds (default 3) of the three
# in turn, then each round's ratios and those of the medians.
#
#   PYTHON=/path/to/python-with-torch ./bench/shiftgcn_throughput.sh [FOLDER]
#
# PYTHON needs torch (the full PyPI install: `import torch` needs its CUDA
# libraries) and numpy. THREADS (default 2) libtorch threads on both sides;
# DEVICE=cuda runs all three on the first GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${1:-/tmp/shiftgcn-bench}"
python="${PYTHON:-python3}"
rounds="${ROUNDS:-3}"
threads="${THREADS:-2}"
device="${DEVICE:-cpu}"
source scripts/env.sh
cargo build --release -q -p skel-trainer
trainer() {
    ./target/release/skel-trainer bench stgcn --folder "$folder" --arch shiftgcn \
        --device "$device" --threads "$threads" --temporal-shift "$1"
}
rate() { sed -nE 's/.*: ([0-9.]+) samples\/s.*/\1/p' <<<"$1"; }
adaptive=() fixed=() torch=()
for _ in $(seq "$rounds"); do
    a=$(trainer adaptive)
    f=$(trainer fixed)
    t=$("$python" bench/stgcn_train_throughput.py "$folder" --arch shiftgcn \
        --device "$device" --threads "$threads")
    printf '%s\n%s\n%s\n' "$a" "$f" "$t"
    adaptive+=("$(rate "$a")") fixed+=("$(rate "$f")") torch+=("$(rate "$t")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for k in "${!adaptive[@]}"; do
    awk -v a="${adaptive[$k]}" -v f="${fixed[$k]}" -v t="${torch[$k]}" -v k="$((k + 1))" \
        'BEGIN {printf "round %d: adaptive/fixed %.2f, adaptive/PyTorch %.2f\n", k, a / f, a / t}'
done
awk -v a="$(median "${adaptive[@]}")" -v f="$(median "${fixed[@]}")" -v t="$(median "${torch[@]}")" \
    'BEGIN {printf "medians: skel-trainer adaptive %.1f, fixed %.1f, PyTorch adaptive %.1f samples/s; adaptive/fixed %.2f, adaptive/PyTorch %.2f\n", a, f, t, a / f, a / t}'
