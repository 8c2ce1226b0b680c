"""SA-DVAE training throughput in PyTorch eager on CPU: the reference for
`skel-trainer bench sadvae`, on the same data and sizes (the fd_tc
step as the official code runs it: discriminator step every n_d steps, then
the VAE step; Adam for both; schedule factors of a second-epoch step).

    /tmp/pyref/bin/python bench/sadvae_train_throughput.py /tmp/sadvae-bench
"""

import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

S, D, L, I, B, ND, LR = 256, 512, 224, 16, 32, 7, 3.6e-5


def lin(i, o):
    m = nn.Linear(i, o)
    nn.init.xavier_uniform_(m.weight, gain=0.5)
    m.bias.data.fill_(0)
    return m


class Encoder(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.mu, self.logvar = lin(i, o), lin(i, o)

    def forward(self, x):
        return self.mu(x), self.logvar(x)


def kl(mu, lv):
    return 0.5 * torch.sum(mu**2 - lv + lv.exp() - 1) / mu.shape[0]


def rep(mu, lv):
    return mu + torch.randn_like(mu) * torch.exp(0.5 * lv)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/sadvae-bench"
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    torch.manual_seed(0)
    fx = torch.from_numpy(np.load(f"{folder}/fx.npy"))
    labels = torch.from_numpy(np.load(f"{folder}/labels.npy")).long()
    text = torch.from_numpy(np.load(f"{folder}/text.npy"))
    text = text / text.norm(dim=1, keepdim=True)
    enc_x, enc_y = Encoder(S, L + I), Encoder(D, L)
    dec_x, dec_y = lin(L + I, S), lin(L, D)
    disc = nn.Sequential(lin(L + I, (L + I) // 4), nn.ReLU(), lin((L + I) // 4, 1), nn.Sigmoid())
    params = [p for m in (enc_x, enc_y, dec_x, dec_y) for p in m.parameters()]
    # ADAM=fused: PyTorch's fused CPU kernel instead of the default
    # single-tensor Adam (which the official code uses).
    fused = os.environ.get("ADAM", "default") == "fused"
    opt = torch.optim.Adam(params, lr=LR, fused=fused or None)
    dopt = torch.optim.Adam(disc.parameters(), lr=LR, fused=fused or None)
    bce = nn.BCELoss()
    steps = fx.shape[0] // B
    total = steps * int(os.environ.get("PASSES", "4"))
    warmup = 20
    for global_step in range(total):
        if global_step == warmup:
            start = time.perf_counter()
        step = global_step % steps
        x = fx[step * B:(step + 1) * B]
        y = text[labels[step * B:(step + 1) * B]]
        ramp = 0.0 if step <= steps // 3 else 1.5 * (step / steps - 1 / 3)
        bx, by, tc, cross = ramp * 0.023, ramp * 0.011, ramp * 0.011, 1.0
        if (step + 1) % ND == 0:
            with torch.no_grad():
                mu, lv = enc_x(x)
                mu_y, lv_y = enc_y(y)
            zr, zv = rep(mu[:, :L], lv[:, :L]), rep(mu[:, L:], lv[:, L:])
            zy, zv2 = rep(mu_y, lv_y), rep(mu[:, L:], lv[:, L:])
            ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)

            def pair(a, b):
                return (bce(disc(torch.cat([a, b], 1)), ones)
                        + bce(disc(torch.cat([a[torch.randperm(B)], b[torch.randperm(B)]], 1)), zeros)) / 2

            d_loss = (pair(zr, zv) + pair(zy, zv2)) / 2
            dopt.zero_grad()
            (d_loss * tc).backward()
            dopt.step()
        mu, lv = enc_x(x)
        mu_r, lv_r, mu_v, lv_v = mu[:, :L], lv[:, :L], mu[:, L:], lv[:, L:]
        mu_y, lv_y = enc_y(y)
        z_r, z_v, z_y = rep(mu_r, lv_r), rep(mu_v, lv_v), rep(mu_y, lv_y)
        z_x = torch.cat([z_r, z_v], 1)
        loss = (F.mse_loss(F.relu(dec_x(z_x)), x) + F.mse_loss(F.relu(dec_y(z_y)), y)
                + bx * (kl(mu_r, lv_r) + kl(mu_v, lv_v)) + by * kl(mu_y, lv_y)
                + cross * (F.mse_loss(F.relu(dec_x(torch.cat([z_y, z_v], 1))), x)
                           + F.mse_loss(F.relu(dec_y(z_r)), y))
                + tc * disc(z_x).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
    rate = (total - warmup) * B / (time.perf_counter() - start)
    print(f"PyTorch {torch.__version__} SA-DVAE fd_tc ({'fused' if fused else 'default'} Adam): {rate:.0f} samples/s "
          f"({total - warmup} steps of batch {B}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
