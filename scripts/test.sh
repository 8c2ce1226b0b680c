#!/usr/bin/env bash
# The project's test command: formatting, lints, Rust tests, Python interop tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
SKEL_PIPELINE="${CARGO_TARGET_DIR:-$PWD/target}/debug/skel-pipeline" SKEL_TRAINER="${CARGO_TARGET_DIR:-$PWD/target}/debug/skel-trainer" \
  .venv/bin/python -m pytest -q tests/python
