//! One SA-DVAE training step: the discriminator step (every n_d steps), then
//! the VAE step with the updated discriminator, each with its own Adam.

use tch::{nn, Device, Tensor};

use super::{Dims, DiscNoise, Discriminator, Factors, Noise, SaDvae, Variant};
use crate::config::Optimizer;
use crate::optim::Optim;

/// The models, their variables and their optimisers.
pub struct Trainer {
    pub variant: Variant,
    pub vs: nn::VarStore,
    pub model: SaDvae,
    /// The discriminator's own variables (the `fd_tc` variant only).
    pub disc_vs: Option<nn::VarStore>,
    pub disc: Option<Discriminator>,
    pub optim: Optim,
    pub disc_optim: Option<Optim>,
}

/// The scalar losses of one step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepReport {
    pub total: f64,
    pub rec_x: f64,
    pub rec_y: f64,
    pub kl_r: f64,
    pub kl_v: f64,
    pub kl_y: f64,
    pub cross_x: f64,
    pub cross_y: f64,
    pub tc: f64,
    /// The discriminator's BCE when it stepped.
    pub disc: Option<f64>,
}

const ADAM: Optimizer = Optimizer::Adam {
    beta1: 0.9,
    beta2: 0.999,
};

impl Trainer {
    /// Fresh weights from the current libtorch seed.
    pub fn new(variant: Variant, dims: Dims, device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let model = SaDvae::new(&vs.root(), dims);
        let (disc_vs, disc) = if variant.has_discriminator() {
            let dvs = nn::VarStore::new(device);
            let disc = Discriminator::new(&dvs.root(), dims.latent + dims.style);
            (Some(dvs), Some(disc))
        } else {
            (None, None)
        };
        let optim = Optim::new(ADAM, 0.0, vs.trainable_variables());
        let disc_optim = disc_vs
            .as_ref()
            .map(|d| Optim::new(ADAM, 0.0, d.trainable_variables()));
        Self {
            variant,
            vs,
            model,
            disc_vs,
            disc,
            optim,
            disc_optim,
        }
    }

    /// One step on a batch (fx: N x S, fy: N x D): a discriminator step first
    /// when `disc_noise` is given (and the variant has one), then the VAE step.
    pub fn step(
        &mut self,
        fx: &Tensor,
        fy: &Tensor,
        factors: Factors,
        noise: &Noise,
        disc_noise: Option<&DiscNoise>,
        lr: f64,
    ) -> StepReport {
        let mut disc_loss = None;
        if let (Some(disc), Some(dopt), Some(dn)) = (&self.disc, &mut self.disc_optim, disc_noise) {
            let loss = self.model.disc_loss(disc, fx, fy, dn);
            dopt.zero_grad();
            (&loss * factors.tc).backward();
            dopt.step(lr);
            disc_loss = Some(loss.double_value(&[]));
        }
        let losses = self.model.loss(fx, fy, factors, noise, self.disc.as_ref());
        self.optim.zero_grad();
        losses.total.backward();
        self.optim.step(lr);
        let v = |t: &Tensor| t.double_value(&[]);
        StepReport {
            total: v(&losses.total),
            rec_x: v(&losses.rec_x),
            rec_y: v(&losses.rec_y),
            kl_r: v(&losses.kl_r),
            kl_v: v(&losses.kl_v),
            kl_y: v(&losses.kl_y),
            cross_x: v(&losses.cross_x),
            cross_y: v(&losses.cross_y),
            tc: v(&losses.tc),
            disc: disc_loss,
        }
    }

    /// All variables (sorted by name) and optimiser states, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let sorted = |vs: &nn::VarStore| {
            let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let mut out: Vec<(String, Tensor)> = sorted(&self.vs)
            .into_iter()
            .map(|(k, v)| (format!("vae.{k}"), v))
            .collect();
        out.extend(
            self.optim
                .state()
                .into_iter()
                .map(|(k, v)| (format!("optim.{k}"), v)),
        );
        if let (Some(dvs), Some(dopt)) = (&self.disc_vs, &self.disc_optim) {
            out.extend(
                sorted(dvs)
                    .into_iter()
                    .map(|(k, v)| (format!("disc.{k}"), v)),
            );
            out.extend(
                dopt.state()
                    .into_iter()
                    .map(|(k, v)| (format!("disc_optim.{k}"), v)),
            );
        }
        out
    }

    /// Restores what [`state`](Self::state) wrote; names the first tensor that
    /// is missing or has another shape.
    pub fn load_state(&mut self, named: Vec<(String, Tensor)>) -> Result<(), String> {
        let strip = |prefix: &str| -> Vec<(String, Tensor)> {
            named
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(prefix)
                        .map(|k| (k.to_owned(), v.shallow_clone()))
                })
                .collect()
        };
        copy_into(&self.vs, &strip("vae."))?;
        self.optim.load_state(&strip("optim."))?;
        if let (Some(dvs), Some(dopt)) = (&self.disc_vs, &mut self.disc_optim) {
            copy_into(dvs, &strip("disc."))?;
            dopt.load_state(&strip("disc_optim."))?;
        }
        Ok(())
    }
}

/// Copies named tensors into a var store, checking names and shapes.
pub fn copy_into(vs: &nn::VarStore, named: &[(String, Tensor)]) -> Result<(), String> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, var) in vars.iter_mut() {
        let t = named
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| {
                format!("the checkpoint has no tensor {name}: it is from another model or variant")
            })?;
        if t.size() != var.size() {
            return Err(format!(
                "tensor {name} has shape {:?} in the checkpoint, the model needs {:?} \
                 (latent sizes or feature dimensions differ from the checkpoint's)",
                t.size(),
                var.size()
            ));
        }
        tch::no_grad(|| var.copy_(t));
    }
    Ok(())
}
