//! One SA-DVAE training step: the discriminator step (every n_d steps), then
//! the VAE step with the updated discriminator, each with its own Adam.

use tch::{nn, Device, Tensor};

use super::fused;
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
    /// Use the fused CPU step (`sadvae::fused`) when the batch is on the
    /// CPU (the default); false records the step with autograd, as on CUDA.
    pub fused: bool,
    /// For each gradient of `fused::vae_params` / `fused::disc_params`, the
    /// index of its parameter in the optimiser.
    vae_order: Vec<usize>,
    disc_order: Vec<usize>,
}

/// Where each of `params` sits in `optim`'s parameters (same tensors).
fn positions(params: &[Tensor], optim: &Optim) -> Vec<usize> {
    params
        .iter()
        .map(|t| {
            optim
                .params()
                .iter()
                .position(|p| p.data_ptr() == t.data_ptr())
                .expect("every SA-DVAE parameter is in its optimiser")
        })
        .collect()
}

/// Gradients listed in `order`'s positions, rearranged into the optimiser's.
fn in_optimiser_order(grads: Vec<Tensor>, order: &[usize]) -> Vec<Tensor> {
    let mut out: Vec<Tensor> = order.iter().map(|_| Tensor::new()).collect();
    for (g, &k) in grads.into_iter().zip(order) {
        out[k] = g;
    }
    out
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

impl StepReport {
    /// From the nine VAE loss terms in the order of `Losses`' fields
    /// (total, rec_x, rec_y, kl_r, kl_v, kl_y, cross_x, cross_y, tc).
    fn new(v: &[f64], disc: Option<f64>) -> Self {
        Self {
            total: v[0],
            rec_x: v[1],
            rec_y: v[2],
            kl_r: v[3],
            kl_v: v[4],
            kl_y: v[5],
            cross_x: v[6],
            cross_y: v[7],
            tc: v[8],
            disc,
        }
    }
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
        let vae_order = positions(&fused::vae_params(&model), &optim);
        let disc_order = match (&disc, &disc_optim) {
            (Some(d), Some(o)) => positions(&fused::disc_params(d), o),
            _ => Vec::new(),
        };
        Self {
            variant,
            vs,
            model,
            disc_vs,
            disc,
            optim,
            disc_optim,
            fused: true,
            vae_order,
            disc_order,
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
        if self.fused && fused::applies(&self.model, fx, fy) {
            return self.fused_step(fx, fy, factors, noise, disc_noise, lr);
        }
        let mut disc_loss = None;
        if let (Some(disc), Some(dopt), Some(dn)) = (&self.disc, &mut self.disc_optim, disc_noise) {
            let loss = self.model.disc_loss(disc, fx, fy, dn);
            let grads = Tensor::run_backward(&[&loss * factors.tc], dopt.params(), false, false);
            dopt.step_with(&grads, lr);
            disc_loss = Some(loss.detach());
        }
        let losses = self.model.loss(fx, fy, factors, noise, self.disc.as_ref());
        // Gradients of the VAE's own parameters only: the discriminator's are
        // neither needed nor kept.
        let grads = Tensor::run_backward(&[&losses.total], self.optim.params(), false, false);
        self.optim.step_with(&grads, lr);
        // One read of all the scalars.
        let mut terms = vec![
            losses.total.detach(),
            losses.rec_x.detach(),
            losses.rec_y.detach(),
            losses.kl_r.detach(),
            losses.kl_v.detach(),
            losses.kl_y.detach(),
            losses.cross_x.detach(),
            losses.cross_y.detach(),
            losses.tc.detach(),
        ];
        terms.extend(disc_loss);
        let v: Vec<f64> = Vec::try_from(Tensor::stack(&terms, 0).to_kind(tch::Kind::Double))
            .expect("a vector of loss scalars");
        StepReport::new(&v, v.get(9).copied())
    }

    /// [`step`](Self::step) on the CPU, with hand-derived gradients.
    fn fused_step(
        &mut self,
        fx: &Tensor,
        fy: &Tensor,
        factors: Factors,
        noise: &Noise,
        disc_noise: Option<&DiscNoise>,
        lr: f64,
    ) -> StepReport {
        let enc = fused::encode(&self.model, fx, fy);
        let mut disc_loss = None;
        if let (Some(disc), Some(dopt), Some(dn)) = (&self.disc, &mut self.disc_optim, disc_noise) {
            let (loss, grads) = fused::disc_grads(&self.model, disc, &enc, dn, factors.tc);
            dopt.step_with(&in_optimiser_order(grads, &self.disc_order), lr);
            disc_loss = Some(loss);
        }
        let (v, grads) = fused::vae_grads(&self.model, self.disc.as_ref(), &enc, factors, noise);
        self.optim
            .step_with(&in_optimiser_order(grads, &self.vae_order), lr);
        StepReport::new(&v, disc_loss)
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
