"""PyTorch references of the skeleton feature extractors, written from the
papers (ST-GCN: Yan et al. 2018; Shift-GCN: Cheng et al. 2020, with the fixed
temporal shift, and as published: `OfficialShiftGcn`, the adaptive temporal
shift of kchengiva/Shift-GCN in plain tensor ops, with its position-gradient
rule) with the same parameter names as the Rust VarStore, and the golden
fixtures the Rust tests compare against (tolerance 1e-4).

Run from the repository root with a full PyPI torch (its CUDA libraries are
needed for `import torch`, even on CPU; keep that venv outside the repo):

    python3 -m venv /tmp/torchfull && /tmp/torchfull/bin/pip install torch==2.11.0 numpy==2.4.6
    /tmp/torchfull/bin/python trainer/scripts/gen_model_fixtures.py

It writes trainer/tests/fixtures/models/{stgcn,shiftgcn}/: every parameter and
buffer as <name>.npy; input.npy, and features.npy, logits.npy in eval mode;
train_features.npy, train_logits.npy in train mode (dropout 0, so batch-norm
batch statistics are the only difference), and after_train/<name>.npy, the
batch-norm running statistics after that one train-mode pass.

And trainer/tests/fixtures/models/shiftgcn-adaptive/ (`OfficialShiftGcn`, the
official parameter names): the same files, but the weights as state_dict.pt
(`torch.save(dict(model.state_dict()))`: a plain dict, which libtorch reads;
ordered_dict.pt is a one-tensor OrderedDict, which it cannot read; the
official offsets' init but a few y offsets set to cross frame boundaries,
`CROSSING_YPOS`), and loss_weights.npy
(the test's loss is sum(logits * loss_weights)), and for eval and train mode
{,train_}input_grad.npy (the loss's gradient in the input) and
grad_{eval,train}/<offset>.npy, the offsets' gradients after the official
rule, with grad_{eval,train}_true/ the autograd gradients it starts from.
"""

import collections
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
    def __init__(self, widths=WIDTHS, strides=STRIDES, classes=CLASSES):
        super().__init__()
        self.data_bn = nn.BatchNorm1d(C * V * M)
        blocks, c_in = [], C
        for i, (c_out, stride) in enumerate(zip(widths, strides)):
            blocks.append(ShiftBlock(c_in, c_out, stride, i > 0))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Conv2d(c_in, classes, 1)

    def forward(self, x):
        n = x.shape[0]
        x = data_bn(self.data_bn, x)
        for block in self.blocks:
            x = block(x)
        features = pool(x, n)
        return features, self.fc(features.view(n, -1, 1, 1)).view(n, -1)


class Shift(nn.Module):
    """Official `Temporal_shift/cuda/shift.py` `Shift` in plain tensor ops: channel c
    of output (t, v) is the input at (stride * t + ypos[c] (+ 0.5 if stride > 1),
    v + xpos[c]), bilinearly interpolated, zero outside (`shift_cuda_forward_kernel`)."""

    def __init__(self, channels, stride, init_scale=1.0):
        super().__init__()
        self.stride = stride
        self.xpos = nn.Parameter(torch.empty(channels).uniform_(-1e-8, 1e-8))
        self.ypos = nn.Parameter(torch.empty(channels).uniform_(-init_scale, init_scale))

    def forward(self, x):
        n, c, t, v = x.shape
        y = self.ypos + (0.5 if self.stride > 1 else 0.0)
        x1, y1 = torch.floor(self.xpos).detach(), torch.floor(y).detach()
        dx, dy = (self.xpos - x1).view(c, 1, 1), (y - y1).view(c, 1, 1)
        pad = int(max(y1.abs().max().item(), x1.abs().max().item())) + 2
        padded = nn.functional.pad(x, (pad, pad, pad, pad))  # zeros outside
        frames = torch.arange(t // self.stride, device=x.device) * self.stride
        h = frames.view(1, -1, 1) + y1.long().view(c, 1, 1) + pad
        w = torch.arange(v, device=x.device).view(1, 1, -1) + x1.long().view(c, 1, 1) + pad
        ch = torch.arange(c, device=x.device).view(c, 1, 1)

        def tap(dh, dw):
            return padded[:, ch, h + dh, w + dw]  # N, C, T', V

        return (tap(0, 0) * (1 - dx) * (1 - dy) + tap(0, 1) * dx * (1 - dy)
                + tap(1, 0) * (1 - dx) * dy + tap(1, 1) * dx * dy)


def apply_position_rule(model):
    """Official `applyShiftConstraint`: after backward, the y offset's gradient g
    (official: summed over positions, averaged over the batch; the sign is that
    of autograd's sum) becomes 0.01 * sign(g), or 0.0001 where g == 0; the x
    offset's becomes 0."""
    for name, p in model.named_parameters():
        if name.endswith(".ypos"):
            p.grad = torch.where(p.grad == 0, torch.full_like(p.grad, 0.0001), 0.01 * torch.sign(p.grad))
        elif name.endswith(".xpos"):
            p.grad = torch.zeros_like(p.grad)


class OfficialShiftGcnUnit(nn.Module):
    """Official `Shift_gcn`, with its parameter names."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.Linear_weight = nn.Parameter(torch.randn(c_in, c_out) / c_out ** 0.5)
        self.Linear_bias = nn.Parameter(torch.zeros(1, 1, c_out))
        self.Feature_Mask = nn.Parameter(torch.zeros(1, V, c_in))
        self.bn = nn.BatchNorm1d(V * c_out)
        self.has_down = c_in != c_out
        if self.has_down:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))
        self.shift_in = nn.Parameter(shift_index(c_in, 1), requires_grad=False)
        self.shift_out = nn.Parameter(shift_index(c_out, -1), requires_grad=False)
        self.c_out = c_out

    def forward(self, x0):
        n, c, t, v = x0.shape
        x = x0.permute(0, 2, 3, 1).reshape(n * t, v * c)
        x = torch.index_select(x, 1, self.shift_in).view(n * t, v, c)
        x = x * (torch.tanh(self.Feature_Mask) + 1)
        x = torch.einsum("nwc,cd->nwd", x, self.Linear_weight) + self.Linear_bias
        x = torch.index_select(x.reshape(n * t, v * self.c_out), 1, self.shift_out)
        x = self.bn(x).view(n, t, v, self.c_out).permute(0, 3, 1, 2)
        return torch.relu(x + (self.down(x0) if self.has_down else x0))


class OfficialShiftTcn(nn.Module):
    """Official `Shift_tcn`: BN, shift (stride 1), 1x1 conv, ReLU, shift (stride), BN."""

    def __init__(self, c, stride):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.bn2 = nn.BatchNorm2d(c)
        self.shift_in = Shift(c, 1)
        self.shift_out = Shift(c, stride)
        self.temporal_linear = nn.Conv2d(c, c, 1)

    def forward(self, x):
        return self.bn2(self.shift_out(torch.relu(self.temporal_linear(self.shift_in(self.bn(x))))))


class OfficialUnit(nn.Module):
    """Official `TCN_GCN_unit` (its residual `tcn` with kernel 1 is `Projection`)."""

    def __init__(self, c_in, c_out, stride, residual):
        super().__init__()
        self.gcn1 = OfficialShiftGcnUnit(c_in, c_out)
        self.tcn1 = OfficialShiftTcn(c_out, stride)
        self.kind = "none" if not residual else ("identity" if c_in == c_out and stride == 1 else "project")
        if self.kind == "project":
            self.residual = Projection(c_in, c_out, stride)

    def forward(self, x):
        y = self.tcn1(self.gcn1(x))
        if self.kind == "none":
            return torch.relu(y)
        return torch.relu(y + (x if self.kind == "identity" else self.residual(x)))


class OfficialShiftGcn(nn.Module):
    """Official `Model` (model/shift_gcn.py) with the given widths and strides; also
    returns the pooled feature."""

    def __init__(self, widths=WIDTHS, strides=STRIDES, classes=CLASSES):
        super().__init__()
        self.data_bn = nn.BatchNorm1d(C * V * M)
        c_in = C
        for i, (c_out, stride) in enumerate(zip(widths, strides)):
            self.add_module(f"l{i + 1}", OfficialUnit(c_in, c_out, stride, i > 0))
            c_in = c_out
        self.depth = len(widths)
        self.fc = nn.Linear(c_in, classes)

    def forward(self, x):
        n = x.shape[0]
        x = data_bn(self.data_bn, x)
        for i in range(self.depth):
            x = getattr(self, f"l{i + 1}")(x)
        features = pool(x, n)
        return features, self.fc(features)


# y offsets of the fixture's shifts that cross frame boundaries: beyond the
# sequence (25.3: every read outside, gradient exactly 0, so the rule's 0.0001),
# several frames back and forth, and whole frames (dy = 0).
CROSSING_YPOS = [25.3, -3.7, 2.0, -1.0, 4.6, -6.2]


def randomise(model, generator):
    """Non-trivial weights and batch-norm statistics, so every parameter matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.is_floating_point() or name.endswith(("xpos", "ypos")):
                continue
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


def official_fixture():
    """The adaptive Shift-GCN fixture: forward, input gradient and the offsets'
    gradients after the rule, in eval and train mode."""
    generator = torch.Generator().manual_seed(11)
    torch.manual_seed(11)
    model = OfficialShiftGcn()
    randomise(model, generator)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ypos"):
                p.copy_(torch.rand(p.shape, generator=generator) * 2.4 - 1.2)
                k = min(len(CROSSING_YPOS), p.shape[0])
                p[:k] = torch.tensor(CROSSING_YPOS[:k])
            elif name.endswith("xpos"):
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * 1e-8)
    out = OUT / "shiftgcn-adaptive"
    for old in out.rglob("*.npy"):
        old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    # libtorch reads a plain dict, not the OrderedDict of state_dict() (ordered_dict.pt,
    # a one-tensor example, checks that error).
    torch.save(dict(model.state_dict()), out / "state_dict.pt")
    torch.save(collections.OrderedDict([("fc.bias", model.fc.bias.detach())]), out / "ordered_dict.pt")
    x = torch.randn(N, C, T, V, M, generator=generator)
    loss_weights = torch.randn(N, CLASSES, generator=generator)
    np.save(out / "input.npy", x.numpy())
    np.save(out / "loss_weights.npy", loss_weights.numpy())
    smallest = []
    for mode in ["eval", "train"]:
        model.train(mode == "train")
        model.zero_grad()
        xg = x.clone().requires_grad_(True)
        features, logits = model(xg)
        (logits * loss_weights).sum().backward()
        prefix = "train_" if mode == "train" else ""
        for key, value in [("features", features), ("logits", logits), ("input_grad", xg.grad)]:
            np.save(out / f"{prefix}{key}.npy", value.detach().numpy().astype(np.float32))
        for folder in [f"grad_{mode}_true", f"grad_{mode}"]:
            (out / folder).mkdir(exist_ok=True)
            for name, p in model.named_parameters():
                if name.endswith(("xpos", "ypos")):
                    np.save(out / folder / f"{name}.npy", p.grad.numpy().astype(np.float32))
                    if name.endswith("ypos") and folder.endswith("true"):
                        nonzero = p.grad[p.grad != 0].abs()
                        smallest.append(nonzero.min().item())
            apply_position_rule(model)
        if mode == "train":
            after = out / "after_train"
            after.mkdir(exist_ok=True)
            for key, value in model.state_dict().items():
                if key.endswith(("running_mean", "running_var")):
                    np.save(after / f"{key}.npy", value.numpy().astype(np.float32))
    # A sign the Rust side could read otherwise (float noise) would make the rule's golden fragile.
    assert min(smallest) > 1e-12, f"an offset gradient is near 0: {min(smallest)}"
    print(f"shiftgcn-adaptive: {len(model.state_dict())} tensors, smallest nonzero |offset gradient| {min(smallest):.2e}")


if __name__ == "__main__":
    main()
    official_fixture()
