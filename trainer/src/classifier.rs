//! C_u, the unseen-class classifier (SPEC section 8): a linear softmax layer on
//! the semantic latent, trained on z_y drawn from the text encoder for each
//! unseen class, applied at test time to the mean of z_x^r.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Device, Kind, Tensor};

use crate::config::Optimizer;
use crate::optim::Optim;
use crate::sadvae::{normal, SaDvae};

/// How C_u is trained (the official code's values are the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// z_y samples drawn per unseen class.
    #[serde(default = "samples_per_class")]
    pub samples_per_class: i64,
    /// Full-batch Adam steps.
    #[serde(default = "steps")]
    pub steps: usize,
    #[serde(default = "lr")]
    pub lr: f64,
}

fn samples_per_class() -> i64 {
    500
}
fn steps() -> usize {
    300
}
fn lr() -> f64 {
    1e-3
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            samples_per_class: samples_per_class(),
            steps: steps(),
            lr: lr(),
        }
    }
}

/// A trained C_u.
pub struct UnseenClassifier {
    _vs: nn::VarStore,
    layer: nn::Linear,
}

impl UnseenClassifier {
    /// Trains C_u on z_y samples of the unseen classes' texts (U x D, in the
    /// order of the classifier's outputs). `shared_noise` follows the
    /// official reparameterisation. Seeded by the caller (tch::manual_seed).
    pub fn train(
        model: &SaDvae,
        unseen_text: &Tensor,
        cfg: &ClassifierConfig,
        shared_noise: bool,
        device: Device,
    ) -> Self {
        let u = unseen_text.size()[0];
        let latent = model.dims.latent;
        let (z, y) = tch::no_grad(|| {
            let text = unseen_text.repeat([cfg.samples_per_class, 1]); // (U * K) x D
            let (mu, logvar) = model.encode_text(&text);
            let eps = normal(u * cfg.samples_per_class, latent, shared_noise, device);
            let z = &mu + eps * (logvar * 0.5).exp();
            let y = Tensor::arange(u, (Kind::Int64, device)).repeat([cfg.samples_per_class]);
            (z, y)
        });
        let vs = nn::VarStore::new(device);
        let bound = 0.5 * (6.0 / (latent + u) as f64).sqrt();
        let layer = nn::linear(
            vs.root() / "layer",
            latent,
            u,
            nn::LinearConfig {
                ws_init: nn::Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
                bs_init: Some(nn::Init::Const(0.0)),
                bias: true,
            },
        );
        let mut optim = Optim::new(
            Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
            },
            0.0,
            vs.trainable_variables(),
        );
        for _ in 0..cfg.steps {
            let loss = layer.forward(&z).cross_entropy_for_logits(&y);
            optim.zero_grad();
            loss.backward();
            optim.step(cfg.lr);
        }
        Self { _vs: vs, layer }
    }

    /// Softmax over the unseen classes of the mean of z_x^r: N x S -> N x U.
    pub fn probabilities(&self, model: &SaDvae, fx: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let [mu_r, ..] = model.encode_skeleton(fx);
            self.layer.forward(&mu_r).softmax(-1, Kind::Float)
        })
    }
}
