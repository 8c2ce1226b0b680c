"""Training throughput of the standard-width ST-GCN in PyTorch eager on CPU, on
the same batches as `cargo run --release -p skel-trainer --example train_throughput`
(see bench/README.md). Prints samples/s."""

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainer" / "scripts"))
from gen_model_fixtures import StGcn  # noqa: E402

WIDTHS = [64, 64, 64, 64, 128, 128, 128, 256, 256, 256]
STRIDES = [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/stgcn-bench")
    threads, warmup = 2, 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    inputs = np.load(folder / "inputs.npy")  # steps x N x C x T x V x M
    targets = np.load(folder / "targets.npy").astype(np.int64)  # steps x N
    classes = int(targets.max()) + 1
    model = StGcn(WIDTHS, STRIDES, classes, dropout=0.5)
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    steps, n = inputs.shape[0], inputs.shape[1]
    started = None
    for step in range(steps):
        if step == warmup:
            started = time.perf_counter()
        x, y = torch.from_numpy(inputs[step]), torch.from_numpy(targets[step])
        _, logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        optim.zero_grad()
        loss.backward()
        optim.step()
    seconds = time.perf_counter() - started
    print(f"pytorch eager: {(steps - warmup) * n / seconds:.2f} samples/s "
          f"({steps - warmup} steps of {n}, T={inputs.shape[3]}, {threads} threads, torch {torch.__version__})")


if __name__ == "__main__":
    main()
