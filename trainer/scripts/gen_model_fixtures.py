"""PyTorch references of the two skeleton feature extractors, written from the
papers (ST-GCN: Yan et al. 2018; Shift-GCN: Cheng et al. 2020, with the fixed
temporal shift) with the same parameter names as the Rust VarStore, and the
golden fixtures the Rust tests compare against (tolerance 1e-4).

Run from the repository root with a full PyPI torch (its CUDA libraries are
needed for `import torch`, even on CPU; keep that venv outside the repo):

    python3 -m venv /tmp/torchfull && /tmp/torchfull/bin/pip install torch==2.11.0 numpy==2.4.6
    /tmp/torchfull/bin/python trainer/scripts/gen_model_fixtures.py

It writes trainer/tests/fixtures/models/{stgcn,shiftgcn}/: every parameter and
buffer as <name>.npy; input.npy, and features.npy, logits.npy in eval mode;
train_features.npy, train_logits.npy in train mode (dropout 0, so batch-norm
batch statistics are the only difference), and after_train/<name>.npy, the
batch-norm running statistics after that one train-mode pass.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

V = 25
BONES = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10), (12, 11),
         (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23), (23, 8), (24, 25),
         (25, 12)]
CENTER = 20
WIDTHS, STRIDES, KERNEL = [8, 16, 16], [1, 2, 1], 9
N, C, T, M, CLASSES = 2, 3, 20, 2, 7
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "models"


def spatial_partition():
    """ST-GCN's graph.py, strategy 'spatial', max_hop 1, normalize_digraph."""
    adjacency = np.eye(V)
    for a, b in BONES:
        adjacency[a - 1, b - 1] = adjacency[b - 1, a - 1] = 1
    hop = np.full((V, V), np.inf)
    hop[adjacency > 0] = 1
    np.fill_diagonal(hop, 0)
    norm = adjacency / adjacency.sum(0, keepdims=True)
    a_root0 = np.zeros((V, V))
    a_root, a_close, a_further = np.zeros((V, V)), np.zeros((V, V)), np.zeros((V, V))
    for i in range(V):
        for j in range(V):
            if hop[j, i] == 0:
                a_root0[j, i] = norm[j, i]
            elif hop[j, i] == 1:
                if hop[j, CENTER] == hop[i, CENTER]:
                    a_root[j, i] = norm[j, i]
                elif hop[j, CENTER] > hop[i, CENTER]:
                    a_close[j, i] = norm[j, i]
                else:
                    a_further[j, i] = norm[j, i]
    return torch.tensor(np.stack([a_root0, a_root + a_close, a_further]), dtype=torch.float32)


def data_bn(bn, x):
    n, c, t, v, m = x.shape
    x = x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t)
    x = bn(x)
    return x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)


def pool(x, n):
    x = x.mean(dim=(2, 3))
    return x.view(n, -1, x.shape[1]).mean(dim=1)


class GraphConv(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out * 3, 1)
        self.c_out = c_out

    def forward(self, x, a):
        n, _, t, v = x.shape
        x = self.conv(x).view(n, 3, self.c_out, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, a)


class TemporalConv(nn.Module):
    def __init__(self, c, stride, dropout=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c)
        self.conv = nn.Conv2d(c, c, (KERNEL, 1), (stride, 1), ((KERNEL - 1) // 2, 0))
        self.bn2 = nn.BatchNorm2d(c)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.bn2(self.conv(torch.relu(self.bn1(x)))))


class Projection(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, (stride, 1))
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(x))


class StBlock(nn.Module):
    def __init__(self, c_in, c_out, stride, residual, dropout=0.0):
        super().__init__()
        self.gcn = GraphConv(c_in, c_out)
        self.tcn = TemporalConv(c_out, stride, dropout)
        self.importance = nn.Parameter(torch.ones(3, V, V))
        self.kind = "none" if not residual else ("identity" if c_in == c_out and stride == 1 else "project")
        if self.kind == "project":
            self.residual = Projection(c_in, c_out, stride)

    def forward(self, x, a):
        y = self.tcn(self.gcn(x, a * self.importance))
        if self.kind == "none":
            return torch.relu(y)
        return torch.relu(y + (x if self.kind == "identity" else self.residual(x)))


class StGcn(nn.Module):
    def __init__(self, widths=WIDTHS, strides=STRIDES, classes=CLASSES, dropout=0.0):
        super().__init__()
        self.data_bn = nn.BatchNorm1d(C * V * M)
        blocks, c_in = [], C
        for i, (c_out, stride) in enumerate(zip(widths, strides)):
            blocks.append(StBlock(c_in, c_out, stride, i > 0, dropout))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Conv2d(c_in, classes, 1)
        self.register_buffer("a", spatial_partition(), persistent=False)

    def forward(self, x):
        n = x.shape[0]
        x = data_bn(self.data_bn, x)
        for block in self.blocks:
            x = block(x, self.a)
        features = pool(x, n)
        return features, self.fc(features.view(n, -1, 1, 1)).view(n, -1)


def shift_index(channels, sign):
    return torch.tensor([((v + sign * k) % V) * channels + k for v in range(V) for k in range(channels)])


class ShiftGraphConv(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_in, c_out) / c_out ** 0.5)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.mask = nn.Parameter(torch.zeros(V, c_in))
        self.bn = nn.BatchNorm1d(V * c_out)
        self.has_down = c_in != c_out
        if self.has_down:
            self.down = Projection(c_in, c_out, 1)
        self.register_buffer("shift_in", shift_index(c_in, 1), persistent=False)
        self.register_buffer("shift_out", shift_index(c_out, -1), persistent=False)
        self.c_out = c_out

    def forward(self, x0):
        n, c, t, v = x0.shape
        x = x0.permute(0, 2, 3, 1).reshape(n * t, v * c)
        x = torch.index_select(x, 1, self.shift_in).view(n * t, v, c)
        x = x * (torch.tanh(self.mask) + 1)
        x = torch.einsum("nwc,cd->nwd", x, self.weight) + self.bias
        x = torch.index_select(x.reshape(n * t, v * self.c_out), 1, self.shift_out)
        x = self.bn(x).view(n, t, v, self.c_out).permute(0, 3, 1, 2)
        return torch.relu(x + (self.down(x0) if self.has_down else x0))


def temporal_shift(x):
    n, c, t, v = x.shape
    third = c // 3
    if third == 0 or t < 2:
        return x
    out = torch.zeros_like(x)
    out[:, :third, 1:] = x[:, :third, :-1]
    out[:, third:2 * third, :-1] = x[:, third:2 * third, 1:]
    out[:, 2 * third:] = x[:, 2 * third:]
    return out


class ShiftTemporalConv(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c)
        self.conv = nn.Conv2d(c, c, 1)
        self.bn2 = nn.BatchNorm2d(c)
        self.stride = stride

    def forward(self, x):
        x = torch.relu(self.conv(temporal_shift(self.bn1(x))))
        return self.bn2(x[:, :, ::self.stride])


class ShiftBlock(nn.Module):
    def __init__(self, c_in, c_out, stride, residual):
        super().__init__()
        self.gcn = ShiftGraphConv(c_in, c_out)
        self.tcn = ShiftTemporalConv(c_out, stride)
        self.kind = "none" if not residual else ("identity" if c_in == c_out and stride == 1 else "project")
        if self.kind == "project":
            self.residual = Projection(c_in, c_out, stride)

    def forward(self, x):
        y = self.tcn(self.gcn(x))
        if self.kind == "none":
            return torch.relu(y)
        return torch.relu(y + (x if self.kind == "identity" else self.residual(x)))


class ShiftGcn(nn.Module):
    def __init__(self):
        super().__init__()
        self.data_bn = nn.BatchNorm1d(C * V * M)
        blocks, c_in = [], C
        for i, (c_out, stride) in enumerate(zip(WIDTHS, STRIDES)):
            blocks.append(ShiftBlock(c_in, c_out, stride, i > 0))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Conv2d(c_in, CLASSES, 1)

    def forward(self, x):
        n = x.shape[0]
        x = data_bn(self.data_bn, x)
        for block in self.blocks:
            x = block(x)
        features = pool(x, n)
        return features, self.fc(features.view(n, -1, 1, 1)).view(n, -1)


def randomise(model, generator):
    """Non-trivial weights and batch-norm statistics, so every parameter matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * (0.3 if p.dim() > 1 else 0.1)
                    + (1.0 if name.endswith("importance") else 0.0))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=generator) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=generator) + 0.5)


def main():
    for name, model in [("stgcn", StGcn()), ("shiftgcn", ShiftGcn())]:
        generator = torch.Generator().manual_seed(7)
        randomise(model, generator)
        model.eval()
        x = torch.randn(N, C, T, V, M, generator=generator)
        with torch.no_grad():
            features, logits = model(x)
        out = OUT / name
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.npy"):
            old.unlink()
        for key, value in model.state_dict().items():
            if not key.endswith("num_batches_tracked"):
                np.save(out / f"{key}.npy", value.numpy().astype(np.float32))
        for key, value in [("input", x), ("features", features), ("logits", logits)]:
            np.save(out / f"{key}.npy", value.numpy().astype(np.float32))
        # Train mode (dropout 0): batch statistics, and running statistics updated once.
        model.train()
        with torch.no_grad():
            features, logits = model(x)
        for key, value in [("train_features", features), ("train_logits", logits)]:
            np.save(out / f"{key}.npy", value.numpy().astype(np.float32))
        after = out / "after_train"
        after.mkdir(exist_ok=True)
        for old in after.glob("*.npy"):
            old.unlink()
        for key, value in model.state_dict().items():
            if key.endswith(("running_mean", "running_var")):
                np.save(after / f"{key}.npy", value.numpy().astype(np.float32))
        print(f"{name}: {len(model.state_dict())} tensors, features {tuple(features.shape)}, logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main()
