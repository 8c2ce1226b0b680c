#!/usr/bin/env bash
# Sets up everything the project needs on a fresh machine; safe to run again.
#   - checks the Rust toolchain
#   - creates .venv with the Python packages of scripts/requirements.txt
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found. Install Rust (https://rustup.rs) and run this again." >&2
  exit 1
fi

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found. Install Python 3.10 or newer (or set PYTHON)." >&2
  exit 1
fi

stamp=.venv/.requirements.sha256
want=$(cat scripts/requirements.txt scripts/requirements-torch.txt | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "setting up .venv (Python packages for the interoperability tests)..." >&2
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
# libtorch for the trainer (tch): the PyPI wheel's C++ libraries, without the
# CUDA stack that only a GPU machine needs (see scripts/requirements-torch.txt).
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r scripts/requirements-torch.txt
echo "$want" > "$stamp"
