#!/usr/bin/env bash
# SA-DVAE training throughput, skel-trainer vs the PyTorch eager reference,
# in one run: ROUNDS alternating pairs (default 3) on the same data, then the
# ratio of each pair and of the medians.
#
#   PYTHON=/path/to/python-with-torch ./bench/sadvae_throughput.sh [FOLDER]
#
# PYTHON needs torch (the full PyPI install: `import torch` needs its CUDA
# libraries) and numpy; ADAM=fused also times PyTorch's fused CPU Adam.
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${1:-/tmp/sadvae-bench}"
python="${PYTHON:-python3}"
rounds="${ROUNDS:-3}"
source scripts/env.sh
cargo build --release -q -p skel-trainer
rust=() torch=()
for _ in $(seq "$rounds"); do
    r=$(./target/release/skel-trainer bench sadvae --folder "$folder" --threads "${THREADS:-1}" --steps $((256 * ${PASSES:-4})))
    t=$("$python" bench/sadvae_train_throughput.py "$folder")
    echo "$r"
    echo "$t"
    rust+=("$(sed -E 's/.*: ([0-9]+)(\.[0-9]+)? samples.*/\1/' <<<"$r")")
    torch+=("$(sed -E 's/.*: ([0-9]+) samples.*/\1/' <<<"$t")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for k in "${!rust[@]}"; do
    awk -v a="${rust[$k]}" -v b="${torch[$k]}" -v k="$((k + 1))" \
        'BEGIN {printf "round %d: ratio %.2f\n", k, a / b}'
done
awk -v a="$(median "${rust[@]}")" -v b="$(median "${torch[@]}")" \
    'BEGIN {printf "median: skel-trainer %d, PyTorch %d samples/s, ratio %.2f\n", a, b, a / b}'
