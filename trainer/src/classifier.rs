//! C_u, the unseen-class classifier (SPEC section 8): a linear softmax layer on
//! the semantic latent, trained on z_y drawn from the text encoder for each
//! unseen class, applied at test time to the mean of z_x^r. The official code
//! puts a ReLU on its logits (`model.py` lines 80-93, `MLP`, used at
//! `train.py` line 275); `sadvae.compat: official` does too.

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
    /// ReLU on the logits (the official code's MLP).
    relu: bool,
}

impl UnseenClassifier {
    /// Trains C_u on z_y samples of the unseen classes' texts (U x D, in the
    /// order of the classifier's outputs). `shared_noise` follows the
    /// official reparameterisation, `relu` its ReLU on the logits. Seeded by
    /// the caller (tch::manual_seed).
    pub fn train(
        model: &SaDvae,
        unseen_text: &Tensor,
        cfg: &ClassifierConfig,
        shared_noise: bool,
        relu: bool,
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
        let clf = Self {
            _vs: vs,
            layer,
            relu,
        };
        for _ in 0..cfg.steps {
            let loss = clf.logits(&z).cross_entropy_for_logits(&y);
            optim.zero_grad();
            loss.backward();
            optim.step(cfg.lr);
        }
        clf
    }

    fn logits(&self, z: &Tensor) -> Tensor {
        let logits = self.layer.forward(z);
        if self.relu {
            logits.relu()
        } else {
            logits
        }
    }

    /// Softmax over the unseen classes of the mean of z_x^r: N x S -> N x U.
    pub fn probabilities(&self, model: &SaDvae, fx: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let [mu_r, ..] = model.encode_skeleton(fx);
            self.logits(&mu_r).softmax(-1, Kind::Float)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A C_u whose layer maps (a, b) to (a, b, -a - b + 1).
    fn fixed(relu: bool) -> UnseenClassifier {
        let vs = nn::VarStore::new(Device::Cpu);
        let layer = nn::linear(vs.root() / "layer", 2, 3, Default::default());
        tch::no_grad(|| {
            let mut ws = layer.ws.shallow_clone();
            ws.copy_(&Tensor::from_slice(&[1f32, 0., 0., 1., -1., -1.]).view([3, 2]));
            let mut bs = layer.bs.as_ref().unwrap().shallow_clone();
            bs.copy_(&Tensor::from_slice(&[0f32, 0., 1.]));
        });
        UnseenClassifier {
            _vs: vs,
            layer,
            relu,
        }
    }

    #[test]
    fn the_official_classifier_puts_a_relu_on_its_logits() {
        let z = Tensor::from_slice(&[-1f32, -2.]).view([1, 2]);
        let plain = Vec::<f32>::try_from(fixed(false).logits(&z).flatten(0, -1)).unwrap();
        let official = Vec::<f32>::try_from(fixed(true).logits(&z).flatten(0, -1)).unwrap();
        assert_eq!(plain, [-1.0, -2.0, 4.0]);
        assert_eq!(official, [0.0, 0.0, 4.0]);
    }
}
