//! Skeleton feature extractors: ST-GCN and Shift-GCN (SPEC section 5).
//!
//! Both take `N x C x T x V x M` input (C = 3 coordinates, V = 25 joints,
//! M = 2 actors) and return the pooled feature (`N x F`, F the last block
//! width, 256 for the standard networks) and the seen-class logits. Widths,
//! strides, kernel and dropout are config values, so tests use tiny networks.

pub mod graph;
pub mod shift;
pub mod shiftgcn;
pub mod stgcn;
pub mod weights;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// ST-GCN (Yan et al. 2018).
    Stgcn,
    /// Shift-GCN (Cheng et al. 2020).
    Shiftgcn,
}

/// Shift-GCN's temporal unit (see [`shiftgcn`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TemporalShift {
    /// This project's earlier unit: a fixed shift (a third of the channels
    /// back, a third forward), then the conv (shift-conv), with the earlier
    /// parameter names; checkpoints made before `adaptive` load with it.
    Fixed,
    /// The paper's: learnable per-channel offsets, shift-conv-shift, the
    /// official parameter names (official state dicts load).
    #[default]
    Adaptive,
}

impl TemporalShift {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The shape of a backbone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneConfig {
    pub arch: Arch,
    /// Output channels of each block.
    pub widths: Vec<i64>,
    /// Temporal stride of each block.
    pub strides: Vec<i64>,
    /// Temporal kernel size (odd; ST-GCN only).
    pub temporal_kernel: i64,
    pub dropout: f64,
    /// Learnable edge importance (ST-GCN only).
    pub edge_importance: bool,
    /// Shift-GCN's temporal unit (Shift-GCN only; default `adaptive`, left
    /// out of written configs, so those of earlier runs read back unchanged).
    #[serde(default, skip_serializing_if = "TemporalShift::is_default")]
    pub temporal_shift: TemporalShift,
}

impl BackboneConfig {
    /// The published 10-block network (256-d feature).
    pub fn standard(arch: Arch) -> Self {
        Self {
            arch,
            widths: vec![64, 64, 64, 64, 128, 128, 128, 256, 256, 256],
            strides: vec![1, 1, 1, 1, 2, 1, 1, 2, 1, 1],
            temporal_kernel: 9,
            dropout: 0.5,
            edge_importance: true,
            temporal_shift: TemporalShift::Adaptive,
        }
    }

    /// The golden fixtures' three-block network (widths 8, 16, 16; strides
    /// 1, 2, 1; no dropout; Shift-GCN `adaptive`): small enough for tests,
    /// deterministic in train mode.
    pub fn tiny(arch: Arch) -> Self {
        Self {
            arch,
            widths: vec![8, 16, 16],
            strides: vec![1, 2, 1],
            temporal_kernel: 9,
            dropout: 0.0,
            edge_importance: true,
            temporal_shift: TemporalShift::Adaptive,
        }
    }

    /// The cross-field rules: one stride per width, positive sizes, an odd
    /// temporal kernel, dropout in [0, 1).
    pub fn validate(&self) -> Result<(), String> {
        if self.widths.is_empty() || self.widths.len() != self.strides.len() {
            return Err(format!(
                "widths ({}) and strides ({}) must list the same, non-zero number of blocks",
                self.widths.len(),
                self.strides.len()
            ));
        }
        if self.widths.iter().any(|&w| w < 1) || self.strides.iter().any(|&s| s < 1) {
            return Err("widths and strides must be positive".into());
        }
        if self.temporal_kernel < 1 || self.temporal_kernel % 2 == 0 {
            return Err(format!(
                "temporal_kernel {} must be odd",
                self.temporal_kernel
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        Ok(())
    }

    /// F, the feature dimension.
    pub fn feature_dim(&self) -> i64 {
        *self.widths.last().expect("validated: at least one block")
    }
}

/// A feature extractor with a classifier head.
pub trait Backbone: Send {
    /// `xs`: N x C x T x V x M (C the `in_channels` of [`build`], V = 25,
    /// M = 2; a float tensor on the model's device) -> (features N x F,
    /// logits N x classes). Other shapes are a programmer error and panic.
    fn forward_t(&self, xs: &Tensor, train: bool) -> (Tensor, Tensor);

    /// Called after `backward` and before the optimiser step: replaces the
    /// gradients that the published training does not take from autograd
    /// (Shift-GCN's temporal offsets, [`shift::AdaptiveShift::apply_gradient_rule`]).
    /// Nothing for the others.
    fn apply_gradient_rules(&self) {}
}

/// Builds a backbone under `vs`.
pub fn build(
    vs: &nn::Path,
    cfg: &BackboneConfig,
    in_channels: i64,
    num_classes: i64,
) -> Box<dyn Backbone> {
    match cfg.arch {
        Arch::Stgcn => Box::new(stgcn::StGcn::new(vs, cfg, in_channels, num_classes)),
        Arch::Shiftgcn => Box::new(shiftgcn::ShiftGcn::new(vs, cfg, in_channels, num_classes)),
    }
}

/// Input batch norm over (M, V, C) channels, as both papers do:
/// N x C x T x V x M -> N*M x C x T x V.
pub(crate) fn data_bn(bn: &nn::BatchNorm, xs: &Tensor, train: bool) -> Tensor {
    let (n, c, t, v, m) = xs.size5().expect("input is N x C x T x V x M");
    let x = xs
        .permute([0, 4, 3, 1, 2])
        .contiguous()
        .view([n, m * v * c, t]); // N, M*V*C, T
    let x = x.apply_t(bn, train);
    x.view([n, m, v, c, t])
        .permute([0, 1, 3, 4, 2])
        .contiguous()
        .view([n * m, c, t, v])
}

/// Global average pool over T and V, then mean over M: N*M x F x T x V -> N x F.
pub(crate) fn pool(x: &Tensor, n: i64) -> Tensor {
    let f = x.size()[1];
    x.mean_dim([2, 3].as_slice(), false, tch::Kind::Float)
        .view([n, -1, f])
        .mean_dim([1].as_slice(), false, tch::Kind::Float)
}

/// [`pool`], then the 1x1-conv head: N*M x F x T x V -> (features N x F,
/// logits N x classes).
pub(crate) fn pool_and_classify(x: &Tensor, n: i64, fc: &nn::Conv2D) -> (Tensor, Tensor) {
    let features = pool(x, n);
    let f = features.size()[1];
    let logits = features.view([n, f, 1, 1]).apply(fc).view([n, -1]);
    (features, logits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for arch in [Arch::Stgcn, Arch::Shiftgcn] {
            assert_eq!(BackboneConfig::standard(arch).validate(), Ok(()));
            assert_eq!(BackboneConfig::standard(arch).feature_dim(), 256);
            assert_eq!(BackboneConfig::tiny(arch).validate(), Ok(()));
        }
    }

    #[test]
    fn validate_names_the_broken_rule() {
        let mut cfg = BackboneConfig::tiny(Arch::Stgcn);
        cfg.strides.pop();
        assert!(cfg.validate().unwrap_err().contains("same"));
        let mut cfg = BackboneConfig::tiny(Arch::Stgcn);
        cfg.temporal_kernel = 8;
        assert!(cfg.validate().unwrap_err().contains("odd"));
        let mut cfg = BackboneConfig::tiny(Arch::Shiftgcn);
        cfg.dropout = 1.0;
        assert!(cfg.validate().unwrap_err().contains("dropout"));
    }
}
