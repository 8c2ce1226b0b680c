//! SA-DVAE (Li et al., ECCV 2024): modality-specific VAEs for skeleton
//! features and class-text features, a skeleton encoder with a semantic head
//! (z_x^r) and a style head (z_x^v), cross-alignment, and an adversarial
//! total-correlation penalty between the heads (SPEC section 7).

pub mod fused;
mod model;
mod schedule;
mod train;

pub use model::{
    kl, normal, Decoder, Dims, DiscNoise, Discriminator, Encoder, Factors, Losses, Noise, SaDvae,
};
pub use schedule::factors;
pub use train::{StepReport, Trainer};

use serde::{Deserialize, Serialize};

use crate::config::DeviceChoice;

/// The ablations of the paper's Table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// One latent per modality (CADA-VAE-like): no style head, no discriminator.
    Naive,
    /// Feature disentanglement: the style head, no discriminator.
    Fd,
    /// The full model: style head and total-correlation discriminator.
    FdTc,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Self::Naive => "naive",
            Self::Fd => "fd",
            Self::FdTc => "fd_tc",
        }
    }
}

/// How the loss weights move within and across epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// The paper's eq. 13: beta_x', beta_y', lambda_2' are 0 for the first
    /// third of each epoch, then rise linearly as 1.5 (k/n - 1/3) times their
    /// targets; cross-alignment is off in the first epoch and on after;
    /// per-dimension reparameterisation noise.
    #[default]
    Paper,
    /// The official code's schedule as its shipped scripts run it: KL_x from
    /// 1000/1700 of each epoch, KL_y and TC from 80 % of it and only from
    /// the third epoch on, each rising by 0.1 per 3000/1700 of an epoch
    /// (the config's beta_x, beta_y and lambda_tc are not used),
    /// cross-alignment only in the last 20 % of each epoch; and one noise
    /// scalar per sample shared by all latent dimensions (see `schedule.rs`).
    Official,
}

/// Which method the SA-DVAE stages follow where the paper and the official
/// code (pha123661/SA-DVAE at 90d99b8) differ; `trainer/README.md` has the
/// table of every difference, with the official file and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compat {
    /// The paper: its schedule (unless `schedule` says otherwise), a linear
    /// C_u, one gate hold-out for all temperatures, and the gate threshold
    /// applied as it was chosen (unseen if P(unseen) > th).
    #[default]
    Paper,
    /// The official code, all of it: its schedule and shared noise, C_u with
    /// a ReLU on the logits, a fresh gate hold-out for each temperature, and
    /// its threshold inversion (chosen as "unseen if P(unseen) > th", applied
    /// as "seen if P(seen) > th").
    Official,
}

impl Compat {
    pub fn is_paper(&self) -> bool {
        *self == Self::Paper
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Paper => "paper",
            Self::Official => "official",
        }
    }
}

/// The SA-DVAE hyperparameters (SPEC section 9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SadvaeConfig {
    /// L: the semantic latent size (z_x^r and z_y).
    pub latent: i64,
    /// I: the style latent size (z_x^v); unused by `naive`.
    pub style_latent: i64,
    #[serde(default = "ten")]
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub beta_x: f64,
    pub beta_y: f64,
    /// lambda_2: the total-correlation weight.
    pub lambda_tc: f64,
    /// A discriminator step every n_d VAE steps.
    pub n_d: usize,
    /// `paper` or `official`; default: the `compat` mode's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleKind>,
    /// `paper` (default) or `official`: see [`Compat`].
    #[serde(default, skip_serializing_if = "Compat::is_paper")]
    pub compat: Compat,
    /// Where SA-DVAE, its classifier, the gate's inputs and the evaluation
    /// run: `cpu` (default, the fused step; also when the extractor trains on
    /// CUDA, see the README's GPU section) or `cuda` (autograd).
    #[serde(default, skip_serializing_if = "DeviceChoice::is_cpu")]
    pub device: DeviceChoice,
}

fn ten() -> usize {
    10
}

impl SadvaeConfig {
    /// The loss-weight schedule in force: `schedule`, else the `compat` mode's.
    pub fn schedule(&self) -> ScheduleKind {
        match (self.compat, self.schedule) {
            (Compat::Official, _) => ScheduleKind::Official,
            (Compat::Paper, s) => s.unwrap_or_default(),
        }
    }

    /// Cross-field rules, checked once.
    pub fn validate(&self) -> Result<(), String> {
        if self.compat == Compat::Official && self.schedule == Some(ScheduleKind::Paper) {
            return Err(
                "sadvae.schedule: paper contradicts sadvae.compat: official, which runs the \
                 official code's schedule; remove one of the two keys"
                    .into(),
            );
        }
        if self.latent < 1 {
            return Err(format!("sadvae.latent: {} must be at least 1", self.latent));
        }
        if self.style_latent < 1 {
            return Err(format!(
                "sadvae.style_latent: {} must be at least 1",
                self.style_latent
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 || self.n_d == 0 {
            return Err("sadvae.epochs, batch_size and n_d must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(format!("sadvae.lr: {} must be a positive number", self.lr));
        }
        for (key, v) in [
            ("beta_x", self.beta_x),
            ("beta_y", self.beta_y),
            ("lambda_tc", self.lambda_tc),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(format!("sadvae.{key}: {v} must be a non-negative number"));
            }
        }
        Ok(())
    }

    /// The model sizes of a variant.
    pub fn dims(&self, variant: Variant, skeleton: i64, text: i64) -> Dims {
        Dims {
            skeleton,
            text,
            latent: self.latent,
            style: if variant.has_style() {
                self.style_latent
            } else {
                0
            },
        }
    }
}
