//! The SA-DVAE training step fused for the CPU: the losses and gradients of
//! [`SaDvae::loss`] and [`SaDvae::disc_loss`], with the gradients derived by
//! hand instead of recorded by autograd.
//!
//! The networks are a handful of linear layers on small batches, so the
//! autograd step is about 200 small libtorch calls, and their dispatch and
//! graph bookkeeping cost more than the arithmetic. Here the matrix products
//! stay in libtorch (MKL), everything between them is one Rust loop per
//! stage, and the four decoder applications run as two products of stacked
//! rows. The skeleton and text encodings are computed once and shared by the
//! discriminator step and the VAE step (the discriminator step does not
//! change the encoders).
//!
//! `trainer/tests/it/sadvae.rs` checks it against autograd (every gradient,
//! every variant, both noise kinds) and against the PyTorch golden step.
//!
//! Shapes: N batch, S skeleton feature, D text feature, L semantic latent, I
//! style latent, J = L + I, H discriminator width.

use tch::{nn, Tensor};

use super::{DiscNoise, Discriminator, Factors, Noise, SaDvae};
use crate::cpu::{self, f32s, f32s_mut};

/// Whether the fused step can run on these inputs: CPU, f32.
pub fn applies(model: &SaDvae, fx: &Tensor, fy: &Tensor) -> bool {
    let plain = |t: &Tensor| t.device() == tch::Device::Cpu && t.kind() == tch::Kind::Float;
    plain(fx) && plain(fy) && cpu::is_plain_f32(&model.enc_x.mu.ws)
}

/// xs W^T + b.
fn linear(xs: &Tensor, layer: &nn::Linear) -> Tensor {
    let bias = layer.bs.as_ref().expect("SA-DVAE layers have biases");
    Tensor::addmm(bias, xs, &layer.ws.tr())
}

/// Column sums of a matrix, as a vector.
fn column_sums(t: &Tensor) -> Tensor {
    t.sum_dim_intlist([0i64].as_slice(), false, tch::Kind::Float)
}

/// A contiguous f32 copy only when needed.
fn plain(t: &Tensor) -> Tensor {
    let t = t.contiguous();
    if t.kind() == tch::Kind::Float {
        t
    } else {
        t.to_kind(tch::Kind::Float)
    }
}

/// The encoders' outputs for a batch.
pub struct Encodings {
    /// N x J mean and log-variance of z_x = z_x^r (+) z_x^v.
    mu_x: Tensor,
    lv_x: Tensor,
    /// N x L mean and log-variance of z_y.
    mu_y: Tensor,
    lv_y: Tensor,
    fx: Tensor,
    fy: Tensor,
}

/// Encodes a batch (the shared first stage of both steps).
pub fn encode(model: &SaDvae, fx: &Tensor, fy: &Tensor) -> Encodings {
    tch::no_grad(|| {
        let (fx, fy) = (plain(fx), plain(fy));
        Encodings {
            mu_x: linear(&fx, &model.enc_x.mu),
            lv_x: linear(&fx, &model.enc_x.logvar),
            mu_y: linear(&fy, &model.enc_y.mu),
            lv_y: linear(&fy, &model.enc_y.logvar),
            fx,
            fy,
        }
    })
}

/// The VAE's parameters in the order of [`vae_grads`]' gradients.
pub fn vae_params(model: &SaDvae) -> Vec<Tensor> {
    [
        &model.enc_x.mu,
        &model.enc_x.logvar,
        &model.dec_x.layer,
        &model.enc_y.mu,
        &model.enc_y.logvar,
        &model.dec_y.layer,
    ]
    .iter()
    .flat_map(|l| [l.ws.shallow_clone(), l.bs.as_ref().unwrap().shallow_clone()])
    .collect()
}

/// The discriminator's parameters in the order of [`disc_grads`]' gradients.
pub fn disc_params(disc: &Discriminator) -> Vec<Tensor> {
    [&disc.hidden, &disc.out]
        .iter()
        .flat_map(|l| [l.ws.shallow_clone(), l.bs.as_ref().unwrap().shallow_clone()])
        .collect()
}

/// The loss terms of a VAE step, in the order of `Losses`' fields.
pub type LossValues = [f64; 9];

/// The loss terms (total, rec_x, rec_y, kl_r, kl_v, kl_y, cross_x, cross_y,
/// tc) and the gradients of the total with respect to [`vae_params`].
pub fn vae_grads(
    model: &SaDvae,
    disc: Option<&Discriminator>,
    enc: &Encodings,
    factors: Factors,
    noise: &Noise,
) -> (LossValues, Vec<Tensor>) {
    let _no_grad = tch::no_grad_guard();
    let dims = model.dims;
    let (l, i) = (dims.latent as usize, dims.style as usize);
    let j = l + i;
    let n = enc.fx.size()[0] as usize;
    let (s, d) = (dims.skeleton as usize, dims.text as usize);
    let nf = n as f64;
    let (eps_r, eps_v, eps_y) = (plain(&noise.r), plain(&noise.v), plain(&noise.y));
    // Decoder inputs, stacked: A = [z_x ; z_y (+) z_x^v] (2N x J) for the
    // skeleton decoder, B = [z_y ; z_x^r] (2N x L) for the text decoder.
    let a = cpu::empty(2 * n as i64, j as i64);
    let b = cpu::empty(2 * n as i64, l as i64);
    let std_x = cpu::empty(n as i64, j as i64);
    let std_y = cpu::empty(n as i64, l as i64);
    let (mut kl_r, mut kl_v, mut kl_y) = (0f64, 0f64, 0f64);
    // SAFETY (every block below): the tensors are contiguous f32 CPU tensors
    // made or made plain in this function, each viewed mutably at most once
    // at a time and never aliased.
    unsafe {
        let (mu, lv) = (f32s(&enc.mu_x), f32s(&enc.lv_x));
        let (er, ev) = (f32s(&eps_r), f32s(&eps_v));
        let (av, bv, sd) = (f32s_mut(&a), f32s_mut(&b), f32s_mut(&std_x));
        for row in 0..n {
            for c in 0..j {
                let k = row * j + c;
                let e = if c < l {
                    er[row * l + c]
                } else {
                    ev[row * i + c - l]
                };
                let sdk = (lv[k] * 0.5).exp();
                sd[k] = sdk;
                let z = mu[k] + e * sdk;
                av[k] = z;
                let term = (mu[k] * mu[k] - lv[k] + sdk * sdk - 1.0) as f64;
                if c < l {
                    bv[(n + row) * l + c] = z;
                    kl_r += term;
                } else {
                    av[(n + row) * j + c] = z;
                    kl_v += term;
                }
            }
        }
        let (mu, lv, ey) = (f32s(&enc.mu_y), f32s(&enc.lv_y), f32s(&eps_y));
        let sd = f32s_mut(&std_y);
        for row in 0..n {
            for c in 0..l {
                let k = row * l + c;
                let sdk = (lv[k] * 0.5).exp();
                sd[k] = sdk;
                let z = mu[k] + ey[k] * sdk;
                av[(n + row) * j + c] = z;
                bv[k] = z;
                kl_y += (mu[k] * mu[k] - lv[k] + sdk * sdk - 1.0) as f64;
            }
        }
    }
    let (kl_r, kl_v, kl_y) = (kl_r * 0.5 / nf, kl_v * 0.5 / nf, kl_y * 0.5 / nf);

    // Decoders: relu(A W^T + b) against fx twice (reconstruction, then
    // cross-alignment), and the same for the text side. The output buffer is
    // overwritten with the loss gradient with respect to the pre-activation.
    let decode = |stacked: &Tensor, layer: &nn::Linear, target: &Tensor, width: usize| {
        let out = linear(stacked, layer);
        let (mut own, mut cross) = (0f64, 0f64);
        let scale = 2.0 / (n * width) as f32;
        let cross_scale = (factors.cross as f32) * scale;
        unsafe {
            let (o, t) = (f32s_mut(&out), f32s(target));
            for row in 0..2 * n {
                let (g, sum) = if row < n {
                    (scale, &mut own)
                } else {
                    (cross_scale, &mut cross)
                };
                let tr = &t[(row % n) * width..][..width];
                for (oc, tc) in o[row * width..][..width].iter_mut().zip(tr) {
                    let y = oc.max(0.0);
                    let diff = y - tc;
                    *sum += (diff * diff) as f64;
                    *oc = if y > 0.0 { g * diff } else { 0.0 };
                }
            }
        }
        let norm = (n * width) as f64;
        (out, own / norm, cross / norm)
    };
    let (grad_out_x, rec_x, cross_x) = decode(&a, &model.dec_x.layer, &enc.fx, s);
    let (grad_out_y, rec_y, cross_y) = decode(&b, &model.dec_y.layer, &enc.fy, d);

    // The total-correlation term: mean D_T(z_x), and its gradient with
    // respect to z_x (the discriminator itself is not trained here).
    let z_x = a.narrow(0, 0, n as i64);
    let (tc, grad_tc) = match disc {
        Some(disc) => {
            let hidden = linear(&z_x, &disc.hidden);
            let h = hidden.size()[1] as usize;
            let (w2, b2) = (plain(&disc.out.ws), plain(disc.out.bs.as_ref().unwrap()));
            let mut sum = 0f64;
            let scale = (factors.tc / nf) as f32;
            unsafe {
                let (hv, w2, b2) = (f32s_mut(&hidden), f32s(&w2), f32s(&b2)[0]);
                for row in 0..n {
                    let hr = &mut hv[row * h..][..h];
                    let logit = b2 + hr.iter().zip(w2).map(|(x, w)| x.max(0.0) * w).sum::<f32>();
                    let q = 1.0 / (1.0 + (-logit).exp());
                    sum += q as f64;
                    let g = scale * q * (1.0 - q);
                    for (x, w) in hr.iter_mut().zip(w2) {
                        *x = if *x > 0.0 { g * w } else { 0.0 };
                    }
                }
            }
            let grad = (factors.tc != 0.0).then(|| hidden.mm(&disc.hidden.ws));
            (sum / nf, grad)
        }
        None => (0.0, None),
    };

    // Back through the decoders.
    let grad_w_dec_x = grad_out_x.tr().mm(&a);
    let grad_b_dec_x = column_sums(&grad_out_x);
    let grad_a = grad_out_x.mm(&model.dec_x.layer.ws);
    let grad_w_dec_y = grad_out_y.tr().mm(&b);
    let grad_b_dec_y = column_sums(&grad_out_y);
    let grad_b_in = grad_out_y.mm(&model.dec_y.layer.ws);

    // Back through the reparameterisation and the KL terms to the encoders'
    // outputs.
    let (grad_mu_x, grad_lv_x) = (
        cpu::empty(n as i64, j as i64),
        cpu::empty(n as i64, j as i64),
    );
    let (grad_mu_y, grad_lv_y) = (
        cpu::empty(n as i64, l as i64),
        cpu::empty(n as i64, l as i64),
    );
    let (bx, by) = ((factors.beta_x / nf) as f32, (factors.beta_y / nf) as f32);
    unsafe {
        let (ga, gb) = (f32s(&grad_a), f32s(&grad_b_in));
        let gt = grad_tc.as_ref().map(|t| f32s(t));
        let (mu, sd) = (f32s(&enc.mu_x), f32s(&std_x));
        let (er, ev) = (f32s(&eps_r), f32s(&eps_v));
        let (gm, gl) = (f32s_mut(&grad_mu_x), f32s_mut(&grad_lv_x));
        for row in 0..n {
            for c in 0..j {
                let k = row * j + c;
                let (e, other) = if c < l {
                    (er[row * l + c], gb[(n + row) * l + c])
                } else {
                    (ev[row * i + c - l], ga[(n + row) * j + c])
                };
                let mut gz = ga[k] + other;
                if let Some(gt) = gt {
                    gz += gt[k];
                }
                gm[k] = gz + bx * mu[k];
                gl[k] = gz * 0.5 * e * sd[k] + bx * 0.5 * (sd[k] * sd[k] - 1.0);
            }
        }
        let (mu, sd, ey) = (f32s(&enc.mu_y), f32s(&std_y), f32s(&eps_y));
        let (gm, gl) = (f32s_mut(&grad_mu_y), f32s_mut(&grad_lv_y));
        for row in 0..n {
            for c in 0..l {
                let k = row * l + c;
                let gz = ga[(n + row) * j + c] + gb[k];
                gm[k] = gz + by * mu[k];
                gl[k] = gz * 0.5 * ey[k] * sd[k] + by * 0.5 * (sd[k] * sd[k] - 1.0);
            }
        }
    }
    let grads = vec![
        grad_mu_x.tr().mm(&enc.fx),
        column_sums(&grad_mu_x),
        grad_lv_x.tr().mm(&enc.fx),
        column_sums(&grad_lv_x),
        grad_w_dec_x,
        grad_b_dec_x,
        grad_mu_y.tr().mm(&enc.fy),
        column_sums(&grad_mu_y),
        grad_lv_y.tr().mm(&enc.fy),
        column_sums(&grad_lv_y),
        grad_w_dec_y,
        grad_b_dec_y,
    ];
    let total = rec_x
        + rec_y
        + (kl_r + kl_v) * factors.beta_x
        + kl_y * factors.beta_y
        + (cross_x + cross_y) * factors.cross
        + tc * factors.tc;
    let losses = [total, rec_x, rec_y, kl_r, kl_v, kl_y, cross_x, cross_y, tc];
    (losses, grads)
}

/// The discriminator's loss (before scaling by `tc`) and the gradients of
/// `tc` times it with respect to [`disc_params`]: the four pair batches of
/// [`SaDvae::disc_loss`] stacked into one 4N x J input.
pub fn disc_grads(
    model: &SaDvae,
    disc: &Discriminator,
    enc: &Encodings,
    noise: &DiscNoise,
    tc: f64,
) -> (f64, Vec<Tensor>) {
    tch::no_grad(|| {
        let dims = model.dims;
        let (l, i) = (dims.latent as usize, dims.style as usize);
        let j = l + i;
        let n = enc.fx.size()[0] as usize;
        let perm = |t: &Tensor| -> Vec<usize> {
            Vec::<i64>::try_from(t.to_kind(tch::Kind::Int64))
                .expect("a permutation")
                .into_iter()
                .map(|p| p as usize)
                .collect()
        };
        let (p_r, p_vs, p_y, p_vt) = (
            perm(&noise.perm_r),
            perm(&noise.perm_v_skeleton),
            perm(&noise.perm_y),
            perm(&noise.perm_v_text),
        );
        if [&p_r, &p_vs, &p_y, &p_vt]
            .iter()
            .any(|p| p.len() != n || p.iter().any(|&x| x >= n))
        {
            panic!("discriminator permutations must be permutations of 0..{n}");
        }
        let (r, vs, y, vt) = (
            plain(&noise.r),
            plain(&noise.v_skeleton),
            plain(&noise.y),
            plain(&noise.v_text),
        );
        // Rows: true skeleton pairs, permuted skeleton pairs, true text
        // pairs, permuted text pairs.
        let pairs = cpu::empty(4 * n as i64, j as i64);
        unsafe {
            let (mux, lvx, muy, lvy) = (
                f32s(&enc.mu_x),
                f32s(&enc.lv_x),
                f32s(&enc.mu_y),
                f32s(&enc.lv_y),
            );
            let (r, vs, y, vt) = (f32s(&r), f32s(&vs), f32s(&y), f32s(&vt));
            let z_r =
                |m: usize, c: usize| mux[m * j + c] + r[m * l + c] * (lvx[m * j + c] * 0.5).exp();
            let z_y =
                |m: usize, c: usize| muy[m * l + c] + y[m * l + c] * (lvy[m * l + c] * 0.5).exp();
            let z_v = |eps: &[f32], m: usize, c: usize| {
                mux[m * j + l + c] + eps[m * i + c] * (lvx[m * j + l + c] * 0.5).exp()
            };
            let p = f32s_mut(&pairs);
            for row in 0..n {
                for c in 0..l {
                    p[row * j + c] = z_r(row, c);
                    p[(n + row) * j + c] = z_r(p_r[row], c);
                    p[(2 * n + row) * j + c] = z_y(row, c);
                    p[(3 * n + row) * j + c] = z_y(p_y[row], c);
                }
                for c in 0..i {
                    p[row * j + l + c] = z_v(vs, row, c);
                    p[(n + row) * j + l + c] = z_v(vs, p_vs[row], c);
                    p[(2 * n + row) * j + l + c] = z_v(vt, row, c);
                    p[(3 * n + row) * j + l + c] = z_v(vt, p_vt[row], c);
                }
            }
        }
        let hidden = linear(&pairs, &disc.hidden);
        let h = hidden.size()[1] as usize;
        let (w2, b2) = (plain(&disc.out.ws), plain(disc.out.bs.as_ref().unwrap()));
        let grad_w2 = cpu::empty(1, h as i64);
        let grad_b2 = Tensor::zeros([1], (tch::Kind::Float, tch::Device::Cpu));
        let mut loss = 0f64;
        // d(tc * loss)/dq per row: each of the four BCE means weighs 1/4.
        let scale = (tc / (4 * n) as f64) as f32;
        unsafe {
            let (hv, w2v, b2v) = (f32s_mut(&hidden), f32s(&w2), f32s(&b2)[0]);
            let (gw2, gb2) = (f32s_mut(&grad_w2), f32s_mut(&grad_b2));
            gw2.fill(0.0);
            for row in 0..4 * n {
                // Rows of true pairs come first in each half.
                let target = if (row / n).is_multiple_of(2) {
                    1.0f32
                } else {
                    0.0
                };
                let hr = &mut hv[row * h..][..h];
                let logit = b2v + hr.iter().zip(w2v).map(|(x, w)| x.max(0.0) * w).sum::<f32>();
                let q = 1.0 / (1.0 + (-logit).exp());
                // PyTorch's binary_cross_entropy: logs clamped at -100.
                let bce = if target == 1.0 {
                    -(q.ln().max(-100.0))
                } else {
                    -((1.0 - q).ln().max(-100.0))
                };
                loss += bce as f64;
                // Its backward, then the sigmoid's.
                let grad_q = scale * (q - target) / ((1.0 - q) * q).max(1e-12);
                let g = grad_q * (1.0 - q) * q;
                gb2[0] += g;
                for ((x, w), gw) in hr.iter_mut().zip(w2v).zip(gw2.iter_mut()) {
                    let act = x.max(0.0);
                    *gw += g * act;
                    *x = if *x > 0.0 { g * w } else { 0.0 };
                }
            }
        }
        let grads = vec![
            hidden.tr().mm(&pairs),
            column_sums(&hidden),
            grad_w2,
            grad_b2,
        ];
        (loss / (4 * n) as f64, grads)
    })
}
