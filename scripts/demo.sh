#!/usr/bin/env bash
# The demo: converts the bundled genuine NTU RGB+D samples and shows what the
# converted dataset holds. Output goes to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --locked -p skel-pipeline
bin=target/release/skel-pipeline
out=out/demo
$bin convert --dataset ntu60 --raw data/samples/ntu --out "$out/ntu60" --preset ctrgcn --overwrite
$bin verify "$out/ntu60"
$bin inspect "$out/ntu60"
echo
echo "The converted dataset is in $out/ntu60 (manifest.yaml + shards/*.parquet)."
