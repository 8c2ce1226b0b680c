#!/usr/bin/env bash
# Writes trainer/tests/fixtures/sa-dvae-import/: the features of a small
# generated NTU-60 run (8 files per class, the paper's random split run 0, a
# tiny ST-GCN of 16-d features) exported in the official SA-DVAE code's
# resources/ layout, for configs/experiments/import-sa-dvae-fixture.yaml and
# trainer/tests/it/import.rs. Deterministic; run from the repository root:
#
#   ./trainer/scripts/gen_import_fixture.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
cargo build --release -q -p skel-pipeline -p skel-trainer
bin=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/skel-pipeline" synth --dataset ntu60 --per-class 8 --seed 7 --out "$work/raw" -q
"$bin/skel-pipeline" convert --dataset ntu60 --raw "$work/raw" --out "$work/ntu60" --preset ctrgcn \
  --transforms configs/transforms/canonical-64.yaml -q
"$bin/skel-pipeline" split "$work/ntu60" --published paper-random --protocol cross-subject
cat >"$work/exp.yaml" <<YAML
name: fixture
dataset: $work/ntu60
splits: [$work/ntu60/splits/paper-random-cross-subject-run0.yaml]
out_dir: $work/exp
extractor:
  backbone: { arch: stgcn, widths: [8, 16], strides: [1, 2], temporal_kernel: 9, dropout: 0.0, edge_importance: true }
  data: { frames: 32, batch_size: 16 }
  train: { epochs: 4, optimizer: { adam: { beta1: 0.9, beta2: 0.999 } }, lr: 0.004, schedule: cosine }
text: { encoder: clip-vit-b-32, mode: lb }
sadvae: { latent: 8, style_latent: 4, batch_size: 8, lr: 0.001, beta_x: 0.02, beta_y: 0.01, lambda_tc: 0.01, n_d: 2 }
YAML
out=trainer/tests/fixtures/sa-dvae-import
rm -rf "$out"
"$bin/skel-trainer" export --config "$work/exp.yaml" --run 0 --out "$out" -q
du -sh "$out"
