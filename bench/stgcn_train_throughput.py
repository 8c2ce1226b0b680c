"""Training throughput of the standard-width ST-GCN (or Shift-GCN, --arch) in
PyTorch eager, on the same batches as `skel-trainer bench stgcn` (see
bench/README.md): forward, cross-entropy, backward (for the adaptive
Shift-GCN, then the official position-gradient rule) and an SGD step (Nesterov
momentum 0.9, weight decay 1e-4) per batch of FOLDER/inputs.npy. Prints
samples/s. ST-GCN has dropout 0.5, Shift-GCN none, as published.

    python bench/stgcn_train_throughput.py FOLDER [--device cuda] [--precision bf16]
        [--cudnn-benchmark] [--threads 2] [--warmup 2] [--tiny]
        [--arch shiftgcn [--temporal-shift fixed]]

On CUDA, batches go through pinned memory with a non-blocking copy and bf16 is
torch.autocast, as in skel-trainer.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainer" / "scripts"))
from gen_model_fixtures import OfficialShiftGcn, ShiftGcn, StGcn, apply_position_rule  # noqa: E402

WIDTHS = [64, 64, 64, 64, 128, 128, 128, 256, 256, 256]
STRIDES = [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
CLASSES = 55


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", default="/tmp/stgcn-bench", help="folder of inputs.npy and targets.npy")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (CPU)")
    p.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    p.add_argument("--tiny", action="store_true", help="the 2-block 8-16-channel model of `bench stgcn --tiny`")
    p.add_argument("--arch", choices=["stgcn", "shiftgcn"], default="stgcn")
    p.add_argument("--temporal-shift", choices=["adaptive", "fixed"], default="adaptive",
                   help="Shift-GCN's temporal unit: the official one (plain-ops reference) or the fixed shift")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.manual_seed(0)
    device = torch.device(args.device)
    folder = Path(args.folder)
    inputs = np.load(folder / "inputs.npy")  # steps x N x C x T x V x M
    targets = np.load(folder / "targets.npy").astype(np.int64)  # steps x N
    widths, strides = ([8, 16], [1, 2]) if args.tiny else (WIDTHS, STRIDES)
    adaptive = args.arch == "shiftgcn" and args.temporal_shift == "adaptive"
    if args.arch == "stgcn":
        model = StGcn(widths, strides, CLASSES, dropout=0.5)
    elif adaptive:
        model = OfficialShiftGcn(widths, strides, CLASSES)
    else:
        model = ShiftGcn(widths, strides, CLASSES)
    model = model.to(device)
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    steps, n = inputs.shape[0], inputs.shape[1]
    if steps <= args.warmup:
        sys.exit(f"{folder}: {steps} steps, not more than --warmup {args.warmup}")
    cuda = device.type == "cuda"

    def to_device(a):
        t = torch.from_numpy(a)
        return t.pin_memory().to(device, non_blocking=True) if cuda else t

    started = None
    for step in range(steps):
        if step == args.warmup:
            if cuda:
                torch.cuda.synchronize()
            started = time.perf_counter()
        x, y = to_device(inputs[step]), to_device(targets[step])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            _, logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
        optim.zero_grad()
        loss.backward()
        if adaptive:
            apply_position_rule(model)
        optim.step()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    timed = (steps - args.warmup) * n
    network = "ST-GCN" if args.arch == "stgcn" else f"Shift-GCN ({args.temporal_shift} shift)"
    print(f"pytorch eager {network}: {timed / seconds:.1f} samples/s ({timed} samples in {seconds:.2f} s; "
          f"{steps - args.warmup} steps of {n}, T={inputs.shape[3]}, {args.device}, {args.precision}, "
          f"{args.threads} threads, torch {torch.__version__})")


if __name__ == "__main__":
    main()
