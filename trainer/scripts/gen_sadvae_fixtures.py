"""Golden fixtures for SA-DVAE and the gate, from PyTorch and scikit-learn.

Writes trainer/tests/fixtures/sadvae/:
  step/      one full training step of the fd_tc model: initial weights
             (vae.*.npy, disc.*.npy), inputs fx, fy, the noise and
             permutations, the losses, and the weights after the
             discriminator's and the VAE's Adam steps (after.*.npy)
  gate/      gate inputs x, labels y, and the probabilities of the official
             gate, LogisticRegression(C=1, solver='lbfgs',
             multi_class='multinomial') on two classes (its objective
             minimised here: scikit-learn >= 1.7 no longer takes multi_class),
             checked against binary scikit-learn with C = 2

The networks follow SPEC section 7 (and the official SA-DVAE code): linear
mean / log-variance encoders, Linear+ReLU decoders, a sigmoid discriminator,
per-batch-mean KL, element-mean MSE, BCE of true against permuted pairs.

Run (PyPI torch imports only with its CUDA libraries, so use a full install
outside the repository):
    python3 -m venv /tmp/pyref && /tmp/pyref/bin/pip install torch==2.11.0 numpy scikit-learn
    /tmp/pyref/bin/python trainer/scripts/gen_sadvae_fixtures.py
"""

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "sadvae")

N, S, D, L, I = 8, 16, 12, 6, 2
LR = 1e-3
FACTORS = dict(beta_x=0.3, beta_y=0.2, cross=1.0, tc=0.5)


def xavier(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight, gain=0.5)
        m.bias.data.fill_(0)


class Encoder(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.mu = nn.Linear(i, o)
        self.logvar = nn.Linear(i, o)

    def forward(self, x):
        return self.mu(x), self.logvar(x)


class Decoder(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.layer = nn.Linear(i, o)

    def forward(self, z):
        return F.relu(self.layer(z))


class Vae(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc_x = Encoder(S, L + I)
        self.dec_x = Decoder(L + I, S)
        self.enc_y = Encoder(D, L)
        self.dec_y = Decoder(L, D)


class Disc(nn.Module):
    def __init__(self, j):
        super().__init__()
        self.hidden = nn.Linear(j, j // 4)
        self.out = nn.Linear(j // 4, 1)

    def forward(self, z):
        return torch.sigmoid(self.out(F.relu(self.hidden(z))))


def kl(mu, lv):
    return 0.5 * torch.sum(mu**2 - lv + lv.exp() - 1) / mu.shape[0]


def rep(mu, lv, eps):
    return mu + eps * torch.exp(0.5 * lv)


def save_dir(module, prefix, d):
    for k, v in module.state_dict().items():
        np.save(os.path.join(d, f"{prefix}{k}.npy"), v.detach().numpy().astype(np.float32))


def step_fixture():
    d = os.path.join(OUT, "step")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(7)
    vae, disc = Vae(), Disc(L + I)
    vae.apply(xavier)
    disc.apply(xavier)
    save_dir(vae, "vae.", d)
    save_dir(disc, "disc.", d)
    fx = torch.rand(N, S)  # non-negative, like pooled ReLU features
    fy = F.normalize(torch.randn(N, D), dim=1)
    noise = {k: torch.randn(N, n) for k, n in
             [("eps_r", L), ("eps_v", I), ("eps_y", L),
              ("d_eps_r", L), ("d_eps_v_skeleton", I), ("d_eps_y", L), ("d_eps_v_text", I)]}
    perms = {k: torch.randperm(N) for k in
             ["perm_r", "perm_v_skeleton", "perm_y", "perm_v_text"]}
    for k, v in {"fx": fx, "fy": fy, **noise}.items():
        np.save(os.path.join(d, f"{k}.npy"), v.numpy().astype(np.float32))
    for k, v in perms.items():
        np.save(os.path.join(d, f"{k}.npy"), v.numpy().astype(np.int64))

    opt = torch.optim.Adam(vae.parameters(), lr=LR)
    dopt = torch.optim.Adam(disc.parameters(), lr=LR)

    # Discriminator step (encoder outputs detached).
    with torch.no_grad():
        mu, lv = vae.enc_x(fx)
        mu_y, lv_y = vae.enc_y(fy)
    mu_r, lv_r, mu_v, lv_v = mu[:, :L], lv[:, :L], mu[:, L:], lv[:, L:]
    bce = nn.BCELoss()
    ones, zeros = torch.ones(N, 1), torch.zeros(N, 1)

    def pair(a, b, pa, pb):
        real = disc(torch.cat([a, b], 1))
        fake = disc(torch.cat([a[pa], b[pb]], 1))
        return (bce(real, ones) + bce(fake, zeros)) / 2

    zr = rep(mu_r, lv_r, noise["d_eps_r"])
    zv = rep(mu_v, lv_v, noise["d_eps_v_skeleton"])
    s_loss = pair(zr, zv, perms["perm_r"], perms["perm_v_skeleton"])
    zy = rep(mu_y, lv_y, noise["d_eps_y"])
    zv = rep(mu_v, lv_v, noise["d_eps_v_text"])
    t_loss = pair(zy, zv, perms["perm_y"], perms["perm_v_text"])
    d_loss = (s_loss + t_loss) / 2
    dopt.zero_grad()
    (d_loss * FACTORS["tc"]).backward()
    dopt.step()

    # VAE step with the updated discriminator.
    mu, lv = vae.enc_x(fx)
    mu_r, lv_r, mu_v, lv_v = mu[:, :L], lv[:, :L], mu[:, L:], lv[:, L:]
    mu_y, lv_y = vae.enc_y(fy)
    z_r = rep(mu_r, lv_r, noise["eps_r"])
    z_v = rep(mu_v, lv_v, noise["eps_v"])
    z_y = rep(mu_y, lv_y, noise["eps_y"])
    z_x = torch.cat([z_r, z_v], 1)
    losses = {
        "rec_x": F.mse_loss(vae.dec_x(z_x), fx),
        "rec_y": F.mse_loss(vae.dec_y(z_y), fy),
        "kl_r": kl(mu_r, lv_r),
        "kl_v": kl(mu_v, lv_v),
        "kl_y": kl(mu_y, lv_y),
        "cross_x": F.mse_loss(vae.dec_x(torch.cat([z_y, z_v], 1)), fx),
        "cross_y": F.mse_loss(vae.dec_y(z_r), fy),
        "tc": disc(z_x).mean(),
    }
    total = (losses["rec_x"] + losses["rec_y"]
             + FACTORS["beta_x"] * (losses["kl_r"] + losses["kl_v"])
             + FACTORS["beta_y"] * losses["kl_y"]
             + FACTORS["cross"] * (losses["cross_x"] + losses["cross_y"])
             + FACTORS["tc"] * losses["tc"])
    opt.zero_grad()
    total.backward()
    opt.step()
    losses["total"] = total
    losses["disc"] = d_loss
    names = sorted(losses)
    np.save(os.path.join(d, "losses.npy"),
            np.array([losses[k].item() for k in names], dtype=np.float64))
    with open(os.path.join(d, "losses.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    save_dir(vae, "after.vae.", d)
    save_dir(disc, "after.disc.", d)


def gate_fixture():
    d = os.path.join(OUT, "gate")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(3)
    k = 5
    n = 120

    def probs(conc, n):
        p = rng.dirichlet(np.full(k + 3, conc), size=n)
        return -np.sort(-p, 1)[:, :k]

    # Unseen samples: a flat seen softmax, a peaked unseen one; seen: the reverse.
    x_unseen = np.concatenate([probs(1.0, n), probs(0.2, n)], 1)
    x_seen = np.concatenate([probs(0.2, n), probs(1.0, n)], 1)
    x = np.concatenate([x_unseen, x_seen]).astype(np.float64)
    y = np.array([1] * n + [0] * n, dtype=np.int64)  # 1 = unseen
    # The official gate is LogisticRegression(C=1, solver='lbfgs', multi_class='multinomial') on two
    # classes (SA-DVAE gating_train.py lines 115-117): one weight row and intercept per class, both rows
    # penalised. scikit-learn 1.7 removed multi_class and fits two classes as one binary model, so the
    # script minimises that objective itself: C * sum of the softmax cross-entropy + ||W||^2 / 2.
    c = 1.0
    n_rows, cols = x.shape

    def objective(theta):
        w, b = theta[: 2 * cols].reshape(2, cols), theta[2 * cols:]
        z = x @ w.T + b
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        onehot = np.eye(2)[y]
        loss = -c * (onehot * logp).sum() + 0.5 * (w ** 2).sum()
        g = c * (np.exp(logp) - onehot)  # n x 2
        grad = np.concatenate([(g.T @ x + w).ravel(), g.sum(0)])
        return loss, grad

    res = minimize(objective, np.zeros(2 * cols + 2), jac=True, method="L-BFGS-B",
                   options=dict(maxiter=100000, ftol=0.0, gtol=1e-12))
    w, b = res.x[: 2 * cols].reshape(2, cols), res.x[2 * cols:]
    z = x @ w.T + b
    p = (np.exp(z) / np.exp(z).sum(1, keepdims=True))[:, 1]
    # The same model as binary logistic regression with C' = 2C (at the optimum w1 = -w0).
    binary = LogisticRegression(C=2 * c, solver="lbfgs", tol=1e-10, max_iter=10000).fit(x, y)
    p_binary = binary.predict_proba(x)[:, list(binary.classes_).index(1)]
    assert np.abs(p - p_binary).max() < 1e-6, np.abs(p - p_binary).max()
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    np.save(os.path.join(d, "p_unseen.npy"), p)


if __name__ == "__main__":
    import sys
    if "--gate-only" not in sys.argv:
        step_fixture()
    gate_fixture()
    print("wrote", os.path.normpath(OUT))
