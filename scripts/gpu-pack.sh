#!/usr/bin/env bash
# Packs the release binaries for scripts/gpu-check.sh on a GPU machine that has
# no Rust: builds them, strips copies and writes .gpu/skel-bin.tar.xz
# (git-ignored; the device runner carries it with `carry: [".gpu"]`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo build --release --locked -p skel-pipeline -p skel-trainer
target="${CARGO_TARGET_DIR:-target}/release"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for b in skel-trainer skel-pipeline; do
  strip -o "$stage/$b" "$target/$b"
done
mkdir -p .gpu
tar -cJf .gpu/skel-bin.tar.xz -C "$stage" skel-trainer skel-pipeline
ls -l .gpu/skel-bin.tar.xz
