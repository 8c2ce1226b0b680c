#!/usr/bin/env bash
# Sets up everything the project needs on a fresh machine; safe to run again.
#   - checks the Rust toolchain
#   - creates .venv with the Python packages of scripts/requirements.txt and
#     libtorch (the PyPI torch wheel, scripts/requirements-torch.txt)
#   - on a machine with an NVIDIA GPU (nvidia-smi works), or with --cuda, also
#     the CUDA libraries that wheel needs (scripts/requirements-cuda.txt,
#     about 3 GB); elsewhere, or with --no-cuda, the lean install without them
#     (and removes them if an earlier --cuda installed them).
#
#   ./scripts/setup.sh [--cuda | --no-cuda]
set -euo pipefail
cd "$(dirname "$0")/.."

cuda=auto
for arg in "$@"; do
  case "$arg" in
    --cuda) cuda=yes ;;
    --no-cuda) cuda=no ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $arg (see ./scripts/setup.sh --help)" >&2; exit 2 ;;
  esac
done
if [ "$cuda" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    cuda=yes
    echo "setup: nvidia-smi sees a GPU: installing torch's CUDA libraries too (--no-cuda skips them)" >&2
  else
    cuda=no
  fi
fi

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
want=$( (cat scripts/requirements.txt scripts/requirements-torch.txt; echo "cuda=$cuda"
         if [ "$cuda" = yes ]; then cat scripts/requirements-cuda.txt; fi) | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
pip=(.venv/bin/python -m pip --quiet --disable-pip-version-check)
echo "setting up .venv (Python packages for the interoperability tests, libtorch)..." >&2
"$python" -m venv .venv
"${pip[@]}" install -r scripts/requirements.txt
# libtorch for the trainer (tch): the PyPI wheel's C++ libraries, without the
# CUDA stack that only a GPU machine needs (see scripts/requirements-torch.txt).
"${pip[@]}" install --no-deps -r scripts/requirements-torch.txt
cuda_packages=$(grep -v '^#' scripts/requirements-cuda.txt | sed 's/==.*//' | grep .)
if [ "$cuda" = yes ]; then
  echo "installing the CUDA libraries of the torch wheel (about 3 GB)..." >&2
  "${pip[@]}" install --no-deps -r scripts/requirements-cuda.txt
else
  # Back to the lean install after an earlier --cuda.
  installed=$(.venv/bin/python -m pip --disable-pip-version-check list --format=freeze 2>/dev/null | sed 's/==.*//' | tr 'A-Z_' 'a-z-')
  remove=()
  for p in $cuda_packages; do
    if grep -qx "$(tr 'A-Z_' 'a-z-' <<<"$p")" <<<"$installed"; then remove+=("$p"); fi
  done
  if [ ${#remove[@]} -gt 0 ]; then
    echo "removing the CUDA libraries an earlier --cuda installed (${#remove[@]} packages)..." >&2
    "${pip[@]}" uninstall -y "${remove[@]}"
  fi
fi
echo "$want" > "$stamp"
