//! The SA-DVAE networks (SPEC section 7) and one training step.
//!
//! Shapes: N batch, S skeleton feature (256), D text feature, L semantic latent
//! (`latent`, z_x^r and z_y), I style latent (`style_latent`, z_x^v; 0 for the
//! `naive` variant).

use tch::{nn, nn::Module, Reduction, Tensor};

use super::Variant;

/// Linear layers initialised as the reference: Xavier-uniform with gain 0.5,
/// zero bias.
fn linear(vs: nn::Path, input: i64, output: i64) -> nn::Linear {
    let bound = 0.5 * (6.0 / (input + output) as f64).sqrt();
    nn::linear(
        vs,
        input,
        output,
        nn::LinearConfig {
            ws_init: nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        },
    )
}

/// Gaussian encoder: one linear layer each for the mean and the log-variance.
#[derive(Debug)]
pub struct Encoder {
    pub(crate) mu: nn::Linear,
    pub(crate) logvar: nn::Linear,
}

impl Encoder {
    pub fn new(vs: &nn::Path, input: i64, output: i64) -> Self {
        Self {
            mu: linear(vs / "mu", input, output),
            logvar: linear(vs / "logvar", input, output),
        }
    }

    /// N x input -> (mean, log-variance), each N x output.
    pub fn forward(&self, xs: &Tensor) -> (Tensor, Tensor) {
        (self.mu.forward(xs), self.logvar.forward(xs))
    }
}

/// Decoder: Linear + ReLU.
#[derive(Debug)]
pub struct Decoder {
    pub(crate) layer: nn::Linear,
}

impl Decoder {
    pub fn new(vs: &nn::Path, input: i64, output: i64) -> Self {
        Self {
            layer: linear(vs / "layer", input, output),
        }
    }

    pub fn forward(&self, zs: &Tensor) -> Tensor {
        self.layer.forward(zs).relu()
    }
}

/// The total-correlation discriminator D_T: Linear(J, J/4) - ReLU -
/// Linear(J/4, 1) - Sigmoid, J = L + I.
#[derive(Debug)]
pub struct Discriminator {
    pub(crate) hidden: nn::Linear,
    pub(crate) out: nn::Linear,
}

impl Discriminator {
    pub fn new(vs: &nn::Path, input: i64) -> Self {
        let hidden = (input / 4).max(1);
        Self {
            hidden: linear(vs / "hidden", input, hidden),
            out: linear(vs / "out", hidden, 1),
        }
    }

    /// N x J -> N x 1, the probability that the halves belong together.
    pub fn forward(&self, zs: &Tensor) -> Tensor {
        self.out.forward(&self.hidden.forward(zs).relu()).sigmoid()
    }
}

/// Sizes of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// S, the skeleton feature size.
    pub skeleton: i64,
    /// D, the text feature size.
    pub text: i64,
    /// L, the semantic latent size (z_x^r and z_y).
    pub latent: i64,
    /// I, the style latent size (z_x^v); 0 without a style head.
    pub style: i64,
}

/// The two modality VAEs.
#[derive(Debug)]
pub struct SaDvae {
    pub dims: Dims,
    pub(crate) enc_x: Encoder,
    pub(crate) dec_x: Decoder,
    pub(crate) enc_y: Encoder,
    pub(crate) dec_y: Decoder,
}

/// The per-step weights of the loss terms (the schedule's output).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Factors {
    pub beta_x: f64,
    pub beta_y: f64,
    /// lambda_1': cross-alignment.
    pub cross: f64,
    /// lambda_2': total correlation (VAE term and discriminator step).
    pub tc: f64,
}

/// Standard-normal noise of one VAE step (reparameterisation).
#[derive(Debug)]
pub struct Noise {
    /// N x L for z_x^r.
    pub r: Tensor,
    /// N x I for z_x^v.
    pub v: Tensor,
    /// N x L for z_y.
    pub y: Tensor,
}

/// Noise and permutations of one discriminator step.
#[derive(Debug)]
pub struct DiscNoise {
    /// Fresh reparameterisation of z_x^r, z_x^v (skeleton pair), z_y and z_x^v
    /// again (text pair).
    pub r: Tensor,
    pub v_skeleton: Tensor,
    pub y: Tensor,
    pub v_text: Tensor,
    /// Independent permutations (int64, length N) of each half of each pair.
    pub perm_r: Tensor,
    pub perm_v_skeleton: Tensor,
    pub perm_y: Tensor,
    pub perm_v_text: Tensor,
}

/// Per-dimension noise, or one scalar per sample broadcast over the
/// dimensions (the official code's reparameterisation).
pub fn normal(n: i64, dims: i64, shared: bool, device: tch::Device) -> Tensor {
    let opts = (tch::Kind::Float, device);
    if shared {
        Tensor::randn([n, 1], opts).expand([n, dims], false)
    } else {
        Tensor::randn([n, dims], opts)
    }
}

impl Noise {
    pub fn sample(n: i64, dims: Dims, shared: bool, device: tch::Device) -> Self {
        Self {
            r: normal(n, dims.latent, shared, device),
            v: normal(n, dims.style, shared, device),
            y: normal(n, dims.latent, shared, device),
        }
    }
}

impl DiscNoise {
    pub fn sample(n: i64, dims: Dims, shared: bool, device: tch::Device) -> Self {
        let perm = || Tensor::randperm(n, (tch::Kind::Int64, device));
        Self {
            r: normal(n, dims.latent, shared, device),
            v_skeleton: normal(n, dims.style, shared, device),
            y: normal(n, dims.latent, shared, device),
            v_text: normal(n, dims.style, shared, device),
            perm_r: perm(),
            perm_v_skeleton: perm(),
            perm_y: perm(),
            perm_v_text: perm(),
        }
    }
}

/// The loss terms of one step (scalars).
#[derive(Debug)]
pub struct Losses {
    pub total: Tensor,
    pub rec_x: Tensor,
    pub rec_y: Tensor,
    pub kl_r: Tensor,
    pub kl_v: Tensor,
    pub kl_y: Tensor,
    pub cross_x: Tensor,
    pub cross_y: Tensor,
    /// mean D_T(z_x^r (+) z_x^v); zero without a discriminator.
    pub tc: Tensor,
}

/// Batch mean of the per-sample KL divergence of N(mu, exp(logvar)) from N(0, I).
pub fn kl(mu: &Tensor, logvar: &Tensor) -> Tensor {
    let n = mu.size()[0] as f64;
    (mu.square() - logvar + logvar.exp() - 1.0).sum(tch::Kind::Float) * (0.5 / n)
}

fn reparameterize(mu: &Tensor, logvar: &Tensor, eps: &Tensor) -> Tensor {
    mu + eps * (logvar * 0.5).exp()
}

fn cat(a: &Tensor, b: &Tensor) -> Tensor {
    if b.size()[1] == 0 {
        a.shallow_clone()
    } else {
        Tensor::cat(&[a, b], 1)
    }
}

impl SaDvae {
    pub fn new(vs: &nn::Path, dims: Dims) -> Self {
        let joint = dims.latent + dims.style;
        Self {
            dims,
            enc_x: Encoder::new(&(vs / "enc_x"), dims.skeleton, joint),
            dec_x: Decoder::new(&(vs / "dec_x"), joint, dims.skeleton),
            enc_y: Encoder::new(&(vs / "enc_y"), dims.text, dims.latent),
            dec_y: Decoder::new(&(vs / "dec_y"), dims.latent, dims.text),
        }
    }

    /// N x S -> (mean, log-variance) of z_x^r (N x L) and of z_x^v (N x I).
    pub fn encode_skeleton(&self, fx: &Tensor) -> [Tensor; 4] {
        let (mu, logvar) = self.enc_x.forward(fx);
        let (l, i) = (self.dims.latent, self.dims.style);
        [
            mu.narrow(1, 0, l),
            logvar.narrow(1, 0, l),
            mu.narrow(1, l, i),
            logvar.narrow(1, l, i),
        ]
    }

    /// N x D -> (mean, log-variance) of z_y, each N x L.
    pub fn encode_text(&self, fy: &Tensor) -> (Tensor, Tensor) {
        self.enc_y.forward(fy)
    }

    /// The loss of one VAE step (SPEC section 7) with the given noise; the
    /// discriminator, when given, scores z_x^r (+) z_x^v for the TC term.
    pub fn loss(
        &self,
        fx: &Tensor,
        fy: &Tensor,
        factors: Factors,
        noise: &Noise,
        disc: Option<&Discriminator>,
    ) -> Losses {
        let [mu_r, lv_r, mu_v, lv_v] = self.encode_skeleton(fx);
        let (mu_y, lv_y) = self.encode_text(fy);
        let z_r = reparameterize(&mu_r, &lv_r, &noise.r);
        let z_v = reparameterize(&mu_v, &lv_v, &noise.v);
        let z_y = reparameterize(&mu_y, &lv_y, &noise.y);
        let z_x = cat(&z_r, &z_v); // N x (L + I)

        let rec_x = self.dec_x.forward(&z_x).mse_loss(fx, Reduction::Mean);
        let rec_y = self.dec_y.forward(&z_y).mse_loss(fy, Reduction::Mean);
        let kl_r = kl(&mu_r, &lv_r);
        let kl_v = if self.dims.style > 0 {
            kl(&mu_v, &lv_v)
        } else {
            Tensor::zeros([], (tch::Kind::Float, fx.device()))
        };
        let kl_y = kl(&mu_y, &lv_y);
        let cross_x = self
            .dec_x
            .forward(&cat(&z_y, &z_v))
            .mse_loss(fx, Reduction::Mean);
        let cross_y = self.dec_y.forward(&z_r).mse_loss(fy, Reduction::Mean);
        let tc = match disc {
            Some(d) => d.forward(&z_x).mean(tch::Kind::Float),
            None => Tensor::zeros([], (tch::Kind::Float, fx.device())),
        };
        let total = &rec_x
            + &rec_y
            + (&kl_r + &kl_v) * factors.beta_x
            + &kl_y * factors.beta_y
            + (&cross_x + &cross_y) * factors.cross
            + &tc * factors.tc;
        Losses {
            total,
            rec_x,
            rec_y,
            kl_r,
            kl_v,
            kl_y,
            cross_x,
            cross_y,
            tc,
        }
    }

    /// The discriminator's loss (before scaling by lambda_2'): BCE of true
    /// pairs (label 1) against pairs whose halves were permuted independently
    /// (label 0), for (z_x^r, z_x^v) and (z_y, z_x^v), averaged. The encoders
    /// are not trained by it (their outputs are detached).
    pub fn disc_loss(
        &self,
        disc: &Discriminator,
        fx: &Tensor,
        fy: &Tensor,
        noise: &DiscNoise,
    ) -> Tensor {
        let (fx, fy) = (fx.detach(), fy.detach());
        let [mu_r, lv_r, mu_v, lv_v] = self.encode_skeleton(&fx).map(|t| t.detach());
        let (mu_y, lv_y) = self.encode_text(&fy);
        let (mu_y, lv_y) = (mu_y.detach(), lv_y.detach());
        let pair = |a: &Tensor, b: &Tensor, perm_a: &Tensor, perm_b: &Tensor| {
            let n = a.size()[0];
            let device = a.device();
            let ones = Tensor::ones([n, 1], (tch::Kind::Float, device));
            let zeros = Tensor::zeros([n, 1], (tch::Kind::Float, device));
            let real = disc.forward(&cat(a, b));
            let fake = disc.forward(&cat(&a.index_select(0, perm_a), &b.index_select(0, perm_b)));
            (real.binary_cross_entropy::<Tensor>(&ones, None, Reduction::Mean)
                + fake.binary_cross_entropy::<Tensor>(&zeros, None, Reduction::Mean))
                / 2.0
        };
        let z_r = reparameterize(&mu_r, &lv_r, &noise.r);
        let z_v = reparameterize(&mu_v, &lv_v, &noise.v_skeleton);
        let skeleton = pair(&z_r, &z_v, &noise.perm_r, &noise.perm_v_skeleton);
        let z_y = reparameterize(&mu_y, &lv_y, &noise.y);
        let z_v = reparameterize(&mu_v, &lv_v, &noise.v_text);
        let text = pair(&z_y, &z_v, &noise.perm_y, &noise.perm_v_text);
        (skeleton + text) / 2.0
    }
}

/// Which parts a variant has.
impl Variant {
    pub fn has_style(self) -> bool {
        !matches!(self, Variant::Naive)
    }

    pub fn has_discriminator(self) -> bool {
        matches!(self, Variant::FdTc)
    }
}
