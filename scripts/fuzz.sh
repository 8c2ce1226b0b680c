#!/usr/bin/env bash
# Fuzzes the raw-file parsers and the YAML readers with cargo-fuzz (libFuzzer,
# nightly toolchain), one target after the other.
#
#   ./scripts/fuzz.sh                 # every target, 600 s each
#   ./scripts/fuzz.sh 60              # every target, 60 s each
#   ./scripts/fuzz.sh 600 manifest    # some targets
#
# Each target starts from its committed seeds (fuzz/seeds/TARGET) and grows a
# working corpus in fuzz/corpus/TARGET (not committed). A crash, panic, hang
# (FUZZ_TIMEOUT seconds on one input) or memory blow-up (FUZZ_RSS_MB) stops
# the target and leaves the input in fuzz/artifacts/TARGET/; reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/FILE`, fix the reader,
# and add a regression test named after what broke. The script exits non-zero
# if any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(ntu_skeleton pku_skeleton pku_labels manifest split transforms npy trainer_config)
fi
# trainer_config links the trainer, and with it libtorch (scripts/setup.sh
# installs it): the build needs LIBTORCH, the run its library folder.
./scripts/setup.sh
source scripts/env.sh
export LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
timeout_s="${FUZZ_TIMEOUT:-10}"
rss_mb="${FUZZ_RSS_MB:-2048}"
# Inputs up to 64 KiB: enough for several NTU bodies (about 600 bytes each).
max_len="${FUZZ_MAX_LEN:-65536}"

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "cargo-fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

failed=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "== $target: ${seconds}s"
    if ! nice -n 19 cargo +nightly fuzz run --debug-assertions "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" \
        -malloc_limit_mb="$rss_mb" -max_len="$max_len" -print_final_stats=1; then
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzzing: no crash, hang or memory blow-up in ${targets[*]} (${seconds}s each)"
