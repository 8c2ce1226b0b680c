#!/usr/bin/env bash
# The demo: converts the bundled genuine NTU RGB+D samples, then generates a
# synthetic NTU-60 dataset (20 files per class), converts it with the CTR-GCN
# preset and pose canonicalisation, writes the paper's three random 55/5
# zero-shot splits, and runs the demo experiment on them: for each split a
# tiny ST-GCN feature extractor (and its validation-phase twin), the real CLIP
# ViT-B/32 label features, SA-DVAE, the gate, ZSL/GZSL evaluation; then the
# averaged table, the report and the plots. Output goes to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo build --release --locked -p skel-pipeline -p skel-trainer
trainer="${CARGO_TARGET_DIR:-target}/release/skel-trainer"
bin="${CARGO_TARGET_DIR:-target}/release/skel-pipeline"
out=out/demo

echo "== genuine NTU RGB+D samples"
$bin convert --dataset ntu60 --raw data/samples/ntu --out "$out/genuine" --preset ctrgcn --overwrite
$bin verify "$out/genuine"

echo
echo "== synthetic NTU-60: 20 files per class"
rm -rf "$out/raw-ntu60"
$bin synth --dataset ntu60 --per-class 20 --seed 0 --out "$out/raw-ntu60"
$bin convert --dataset ntu60 --raw "$out/raw-ntu60" --out "$out/ntu60" --preset ctrgcn \
  --transforms configs/transforms/canonical-64.yaml --overwrite
$bin split "$out/ntu60" --published paper-random --protocol cross-subject
$bin verify "$out/ntu60"
$bin inspect "$out/ntu60"

echo
echo "== SA-DVAE experiment: three runs (feature extractors, text features, SA-DVAE, gate, evaluation)"
rm -rf "$out/experiment"
$trainer run --config configs/experiments/demo-ntu60-random.yaml
echo
echo "Converted datasets: $out/genuine and $out/ntu60 (manifest.yaml + shards/*.parquet);"
echo "split files: $out/ntu60/splits/; every stage of every run: $out/experiment/run*/."
