#!/usr/bin/env bash
# The prepared GPU check: one run on a GPU machine that has Python with torch
# 2.11 (the libtorch skel-trainer builds against) but no Rust, using release
# binaries built here. It writes everything to $OUT (summary.md first).
#
#   ./scripts/gpu-pack.sh               # here: strip and pack both release binaries
#                                       # into .gpu/skel-bin.tar.xz (git-ignored)
#   bash scripts/gpu-check.sh           # there, with .gpu carried along
#   ./scripts/gpu-check.sh --dry        # here: every step on the CPU, tiny sizes
#                                       # (tests/python/test_gpu_check.py runs it)
#
# Steps, in order (each is timed; a failed step is reported and the next runs):
#   1. nvidia-smi and `skel-trainer doctor`
#   2. generate, convert and split a small NTU-60 (the demo's data set)
#   3. a tiny extract on cuda and on cpu: the per-epoch training losses must
#      agree within LOSS_TOLERANCE (relative; cuDNN's TF32 convolutions and
#      other summation orders move them, the weights start equal and dropout is 0)
#   4. standard-width ST-GCN training samples/s, skel-trainer against
#      bench/stgcn_train_throughput.py (PyTorch eager) on the same GPU and
#      batches, batch 64, T 64, fp32 and bf16, alternating, with the ratios;
#      then the batch loader alone (pinned batches), 1 and 4 render threads
#   5. SA-DVAE: the fd_tc step on cuda (autograd) and on the CPU (fused), and one
#      `fit` of the validation phase with sadvae.device: cuda
#   6. the demo experiment with --device cuda, with its wall time and table
#
# Options: --dry; --work DIR (scratch folder; default a new temporary one);
# --out DIR (default $OUT, else WORK/out). Binaries: $SKEL_TRAINER and
# $SKEL_PIPELINE, else .gpu/skel-bin.tar.xz, else target/release or
# target/debug. Python: $PYTHON, else python3; in --dry mode the PyTorch
# steps are skipped when it cannot import torch.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dry=0 work="" out="${OUT:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) dry=1 ;;
    --work) work=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
work=${work:-$(mktemp -d /tmp/gpu-check.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
out=${out:-$work/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
summary=$out/summary.md log=$out/log.txt
: >"$summary"
: >"$log"
LOSS_TOLERANCE=${LOSS_TOLERANCE:-0.02}

if [ "$dry" = 1 ]; then
  device=cpu per_class=8 extract_epochs=1 bench_batch=4 bench_frames=16 bench_steps=3 bench_warmup=1
  bench_size=--tiny rounds=1 sadvae_steps=8
else
  device=cuda per_class=20 extract_epochs=3 bench_batch=64 bench_frames=64 bench_steps=60 bench_warmup=10
  bench_size= rounds=2 sadvae_steps=1024
fi

# The binaries.
if [ -n "${SKEL_TRAINER:-}" ] && [ -n "${SKEL_PIPELINE:-}" ]; then
  trainer=$SKEL_TRAINER pipeline=$SKEL_PIPELINE
elif [ -f "$repo/.gpu/skel-bin.tar.xz" ]; then
  mkdir -p "$work/bin"
  tar -xJf "$repo/.gpu/skel-bin.tar.xz" -C "$work/bin"
  trainer=$work/bin/skel-trainer pipeline=$work/bin/skel-pipeline
else
  for d in release debug; do
    if [ -x "$repo/target/$d/skel-trainer" ] && [ -x "$repo/target/$d/skel-pipeline" ]; then
      trainer=$repo/target/$d/skel-trainer pipeline=$repo/target/$d/skel-pipeline
      break
    fi
  done
fi
if [ -z "${trainer:-}" ]; then
  echo "gpu-check: no binaries: run ./scripts/gpu-pack.sh (or cargo build --release), or set SKEL_TRAINER and SKEL_PIPELINE" >&2
  exit 2
fi

# Python with torch: the GPU image's; its libtorch is the one the binaries load.
torch_python=""
if "$python" -c 'import torch' >/dev/null 2>&1; then
  torch_python=$python
elif [ "$dry" = 0 ]; then
  echo "gpu-check: $python cannot import torch; set PYTHON to a Python with torch 2.11" >&2
  exit 2
fi
if [ -n "$torch_python" ] && [ "$dry" = 0 ]; then
  lib=$("$torch_python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  extra=$("$torch_python" -c 'import glob, os, torch; site = os.path.dirname(os.path.dirname(torch.__file__)); print(":".join(sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib")))))')
  export LD_LIBRARY_PATH="$lib${extra:+:$extra}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

note() { printf '%s\n' "$*" >>"$summary"; }
failed=0
step() {
  local n=$1 title=$2
  shift 2
  local start end rc
  printf '\n== step %s: %s\n' "$n" "$title" | tee -a "$log" >&2
  note ""
  note "## Step $n: $title"
  start=$(date +%s.%N)
  set +e
  ( set -e; "$@" ) >>"$log" 2>&1
  rc=$?
  set -e
  end=$(date +%s.%N)
  local secs
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  if [ "$rc" = 0 ]; then
    note "" && note "status: ok ($secs s)"
  else
    note "" && note "status: FAILED with exit code $rc after $secs s (see log.txt)"
    failed=$((failed + 1))
  fi
  echo "   step $n: rc $rc, $secs s" >&2
}
# Seconds of a command; its output goes to the log.
timed() {
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f\n", b - a }' >"$work/.seconds"
}
rate() { sed -nE 's/.*: ([0-9.]+) samples\/s.*/\1/p' | tail -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

note "# GPU check$([ "$dry" = 1 ] && echo " (dry mode: cpu, tiny sizes)")"
note ""
note "date: $(date -u +%FT%TZ); host: $(hostname); cores: $(nproc); device: $device"
note "skel-trainer: $("$trainer" --version) ($trainer)"
[ -n "$torch_python" ] && note "python: $("$torch_python" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)')"

step1() {
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi | tee "$out/nvidia-smi.txt"
  else
    echo "nvidia-smi: not found" | tee "$out/nvidia-smi.txt"
  fi
  "$trainer" doctor | tee "$out/doctor.txt"
  { echo; echo '```'; cat "$out/doctor.txt"; echo '```'; } >>"$summary"
  if [ "$dry" = 0 ]; then "$trainer" doctor --require-cuda >/dev/null; fi
}
step 1 "nvidia-smi and doctor" step1

cd "$work"
data=out/demo/ntu60
step2() {
  rm -rf out/demo/raw-ntu60 "$data"
  timed "$pipeline" synth --dataset ntu60 --per-class "$per_class" --seed 0 --out out/demo/raw-ntu60 -q
  local s1; s1=$(cat .seconds)
  timed "$pipeline" convert --dataset ntu60 --raw out/demo/raw-ntu60 --out "$data" --preset ctrgcn \
    --transforms "$repo/configs/transforms/canonical-64.yaml" --overwrite -q
  local s2; s2=$(cat .seconds)
  "$pipeline" split "$data" --published paper-random --protocol cross-subject
  "$pipeline" verify "$data"
  note ""
  note "$((per_class * 60)) generated files: synth $s1 s, convert $s2 s ($(nproc) cores)"
}
step 2 "generate, convert and split a small NTU-60" step2

extract_config() { # device run_dir
  cat <<EOF
dataset: $data
split: $data/splits/paper-random-cross-subject-run0.yaml
run_dir: $2
device: $1
seed: 0
backbone: { arch: stgcn, widths: [32, 32, 64, 64], strides: [1, 1, 2, 1], temporal_kernel: 9, dropout: 0.0, edge_importance: true }
data: { frames: 32, batch_size: 16, min_crop: 0.8, rotation_degrees: 10 }
train:
  epochs: $extract_epochs
  optimizer: { adam: { beta1: 0.9, beta2: 0.999 } }
  lr: 0.004
  weight_decay: 0.0001
  schedule: cosine
EOF
}
step3() {
  # Two run folders: on the device, then on the CPU (in dry mode both on the
  # CPU, which checks the comparison and that two runs agree).
  local first=runs/extract-$device second=runs/extract-cpu
  [ "$device" = cpu ] && first=runs/extract-cpu-first
  rm -rf "$first" "$second"
  extract_config "$device" "$first" >extract-first.yaml
  extract_config cpu "$second" >extract-second.yaml
  timed "$trainer" extract --config extract-first.yaml -q
  local s_dev; s_dev=$(cat .seconds)
  timed "$trainer" extract --config extract-second.yaml -q
  local s_cpu; s_cpu=$(cat .seconds)
  paste -d, <(cut -d, -f1,3,5 "$first/train_log.csv") <(cut -d, -f3,5 "$second/train_log.csv") \
    | awk -F, -v tol="$LOSS_TOLERANCE" -v dev="$device" '
        NR == 1 { print "epoch,loss_" dev ",loss_cpu,relative_difference,test_seen_" dev ",test_seen_cpu"; next }
        { d = ($2 - $4) / $4; if (d < 0) d = -d; if (d > worst) worst = d
          printf "%s,%s,%s,%.6f,%s,%s\n", $1, $2, $4, d, $3, $5 }
        END { printf "max relative difference %.6f, tolerance %s", worst, tol > "/dev/stderr"
              exit (worst <= tol ? 0 : 1) }' >"$out/losses.csv" 2>"$work/.verdict" || {
    note ""; note "loss curves differ: $(cat "$work/.verdict")"; cat "$out/losses.csv"; return 1; }
  note ""
  note "tiny ST-GCN, $extract_epochs epochs, dropout 0: $device $s_dev s, cpu $s_cpu s; $(cat "$work/.verdict") (per-epoch mean training loss)"
  { echo; echo '```'; cat "$out/losses.csv"; echo '```'; } >>"$summary"
}
step 3 "tiny extract on $device and on cpu" step3

step4() {
  local folder="$work/stgcn-bench" p r rust torch line
  echo "precision,round,side,samples_per_second" >"$out/bench.csv"
  for p in fp32 bf16; do
    rust=() torch=()
    for r in $(seq "$rounds"); do
      line=$("$trainer" bench stgcn --folder "$folder" --device "$device" --batch-size "$bench_batch" \
        --frames "$bench_frames" --steps "$bench_steps" --warmup "$bench_warmup" --precision "$p" \
        --cudnn-benchmark $bench_size)
      echo "$line"
      rust+=("$(rate <<<"$line")")
      echo "$p,$r,skel-trainer,${rust[-1]}" >>"$out/bench.csv"
      if [ -n "$torch_python" ]; then
        line=$("$torch_python" "$repo/bench/stgcn_train_throughput.py" "$folder" --device "$device" \
          --precision "$p" --warmup "$bench_warmup" --cudnn-benchmark $bench_size)
        echo "$line"
        torch+=("$(rate <<<"$line")")
        echo "$p,$r,pytorch,${torch[-1]}" >>"$out/bench.csv"
      fi
    done
    if [ -n "$torch_python" ]; then
      note "" && note "$p: skel-trainer $(median "${rust[@]}") samples/s, PyTorch $(median "${torch[@]}") samples/s (medians of $rounds), ratio $(awk -v a="$(median "${rust[@]}")" -v b="$(median "${torch[@]}")" 'BEGIN { printf "%.2f", a / b }')"
    else
      note "" && note "$p: skel-trainer $(median "${rust[@]}") samples/s; PyTorch skipped ($python cannot import torch)"
    fi
  done
  note "" && note "batch $bench_batch, T $bench_frames, $((bench_steps - bench_warmup)) timed steps after $bench_warmup, cudnn benchmark on; per run: bench.csv"
  # The loader alone, handing batches over in pinned memory as extract does on a GPU.
  local w
  for w in 1 4; do
    line=$("$trainer" bench loader --dataset "$data" --split "$data/splits/paper-random-cross-subject-run0.yaml" \
      --frames 64 --batch-size 64 --epochs 10 --workers "$w" --device "$device")
    echo "$line"
    note "" && note "loader alone ($device, pinned when cuda), $w render threads: $(rate <<<"$line") samples/s"
  done
}
step 4 "ST-GCN training throughput against PyTorch" step4

demo_config() { # out_dir [sadvae device]
  sed -e "s#^out_dir: .*#out_dir: $1#" "$repo/configs/experiments/demo-ntu60-random.yaml" >"$work/.cfg"
  if [ -n "${2:-}" ]; then sed -i -e "s#^  schedule: paper\$#  schedule: paper\n  device: $2#" "$work/.cfg"; fi
  if [ "$dry" = 1 ]; then
    sed -i -e 's#^    epochs: 8$#    epochs: 1#' -e 's#^  epochs: 10$#  epochs: 2#' -e 's#^  tsne: true$#  tsne: false#' "$work/.cfg"
  fi
  cat "$work/.cfg"
}
step5() {
  local line gpu cpu
  line=$("$trainer" bench sadvae --folder "$work/sadvae-bench" --device "$device" --steps "$sadvae_steps")
  echo "$line"; gpu=$(rate <<<"$line")
  line=$("$trainer" bench sadvae --folder "$work/sadvae-bench" --device cpu --threads 1 --steps "$sadvae_steps")
  echo "$line"; cpu=$(rate <<<"$line")
  note "" && note "fd_tc step, batch 32, Table 5 sizes: $device $gpu samples/s, cpu (fused step, 1 thread) $cpu samples/s; ratio $device/cpu $(awk -v a="$gpu" -v b="$cpu" 'BEGIN { printf "%.2f", a / b }')"
  demo_config out/fit-sadvae-$device "$device" >fit.yaml
  grep -q "^  device: $device\$" fit.yaml
  rm -rf "out/fit-sadvae-$device"
  timed "$trainer" fit --config fit.yaml --run 0 --phase validation --device "$device" -q | tee "$work/.fit"
  note "" && note "fit (validation phase, run 0) with the extractors and SA-DVAE on $device: $(cat .seconds) s in all; $(cat "$work/.fit")"
}
step 5 "SA-DVAE on $device" step5

step6() {
  demo_config out/demo/experiment >demo.yaml
  rm -rf out/demo/experiment
  timed "$trainer" run --config demo.yaml --device "$device" -q | tee "$work/.table"
  note "" && note "\`skel-trainer run --config configs/experiments/demo-ntu60-random.yaml --device $device\`$([ "$dry" = 1 ] && echo " (epochs cut for the dry mode)"): $(cat .seconds) s wall"
  { echo; echo '```'; cat "$work/.table"; echo '```'; } >>"$summary"
}
step 6 "the demo experiment with --device $device" step6

note ""
note "steps failed: $failed"
echo >&2
cat "$summary" >&2
[ "$failed" = 0 ]
