//! Shift-GCN (Cheng et al., CVPR 2020), with the parameter-free shifts of the
//! paper in place of graph and temporal convolutions.
//!
//! Spatial unit (non-local shift graph convolution, official
//! `model/shift_gcn.py` `Shift_gcn`): channel c of joint v is taken from joint
//! (v + c) mod V (shift in), multiplied by a learnable adaptive mask
//! `tanh(mask) + 1` (V x C_in, zero-initialised), mapped by a pointwise linear
//! layer C_in -> C_out, shifted back (channel c of joint v from joint (v - c)
//! mod V), batch-normalised over V x C_out, plus a 1x1 conv + BN shortcut
//! where C changes, then ReLU.
//!
//! Temporal unit, by `backbone.temporal_shift`:
//! - `adaptive` (the paper's, official `Shift_tcn`, shift-conv-shift): BN, an
//!   [`AdaptiveShift`] with stride 1, a pointwise conv, ReLU, an
//!   [`AdaptiveShift`] with the block's stride, BN;
//! - `fixed` (this project's earlier unit, shift-conv): BN, a fixed shift (a
//!   third of the channels from the previous frame, a third from the next,
//!   the rest in place; zeros at the ends), a pointwise conv, ReLU, every
//!   `stride`-th frame, BN.
//!
//! Either is followed by the config's dropout (the paper has none; the Table 2
//! configs and the fixtures set 0). Blocks, residuals, pooling and head are as
//! in ST-GCN.
//!
//! Names: `adaptive` names and shapes every parameter as the official `Model`
//! does (`l1.gcn1.Linear_weight`, `l5.tcn1.shift_out.ypos`, `fc.weight` of a
//! linear head, ...), so its state dicts load
//! ([`super::weights::load_state_dict`]); `fixed` keeps the earlier names
//! (`blocks.0.gcn.weight`, a 1x1-conv head), so earlier checkpoints load.

use tch::nn;
use tch::Tensor;

use super::shift::AdaptiveShift;
use super::{data_bn, graph, pool, pool_and_classify, Backbone, BackboneConfig, TemporalShift};

const V: i64 = graph::V as i64;

/// `index[v * c + k]` = flat index of channel k of joint (v + sign * k) mod V.
pub(crate) fn shift_index(channels: i64, sign: i64, device: tch::Device) -> Tensor {
    let idx: Vec<i64> = (0..V)
        .flat_map(|v| (0..channels).map(move |k| (v + sign * k).rem_euclid(V) * channels + k))
        .collect();
    Tensor::from_slice(&idx).to_device(device)
}

/// Shift graph convolution: N x C_in x T x V -> N x C_out x T x V.
#[derive(Debug)]
struct ShiftGraphConv {
    weight: Tensor,
    bias: Tensor,
    mask: Tensor,
    bn: nn::BatchNorm,
    down: Option<(nn::Conv2D, nn::BatchNorm)>,
    shift_in: Tensor,
    shift_out: Tensor,
    c_out: i64,
}

impl ShiftGraphConv {
    fn new(vs: &nn::Path, c_in: i64, c_out: i64, names: TemporalShift) -> Self {
        let official = names == TemporalShift::Adaptive;
        let (down_conv, down_bn) = if official { ("0", "1") } else { ("conv", "bn") };
        let down = (c_in != c_out).then(|| {
            (
                nn::conv2d(vs / "down" / down_conv, c_in, c_out, 1, Default::default()),
                nn::batch_norm2d(vs / "down" / down_bn, c_out, Default::default()),
            )
        });
        let std = (1.0 / c_out as f64).sqrt();
        let init = nn::Init::Randn {
            mean: 0.0,
            stdev: std,
        };
        let zero = nn::Init::Const(0.0);
        let (weight, bias, mask) = if official {
            (
                vs.var("Linear_weight", &[c_in, c_out], init),
                vs.var("Linear_bias", &[1, 1, c_out], zero),
                vs.var("Feature_Mask", &[1, V, c_in], zero),
            )
        } else {
            (
                vs.var("weight", &[c_in, c_out], init),
                vs.var("bias", &[c_out], zero),
                vs.var("mask", &[V, c_in], zero),
            )
        };
        Self {
            weight,
            bias,
            mask,
            bn: nn::batch_norm1d(vs / "bn", V * c_out, Default::default()),
            down,
            shift_in: shift_index(c_in, 1, vs.device()),
            shift_out: shift_index(c_out, -1, vs.device()),
            c_out,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let (n, c, t, v) = xs.size4().expect("N x C x T x V");
        let x = xs.permute([0, 2, 3, 1]).contiguous().view([n * t, v * c]); // N*T, V*C
        let x = x.index_select(1, &self.shift_in).view([n * t, v, c]);
        let x = x * (self.mask.tanh() + 1.0);
        let x = Tensor::einsum(
            "nwc,cd->nwd",
            &[x, self.weight.shallow_clone()],
            None::<i64>,
        ) + &self.bias; // N*T, V, C_out
        let x = x
            .view([n * t, v * self.c_out])
            .index_select(1, &self.shift_out);
        let x = x
            .apply_t(&self.bn, train)
            .view([n, t, v, self.c_out])
            .permute([0, 3, 1, 2]); // N, C_out, T, V
        let shortcut = match &self.down {
            Some((conv, bn)) => xs.apply(conv).apply_t(bn, train),
            None => xs.shallow_clone(),
        };
        (x + shortcut).relu()
    }
}

/// A third of the channels from frame t - 1, a third from t + 1, the rest in place.
fn fixed_shift(xs: &Tensor) -> Tensor {
    let (n, c, t, v) = xs.size4().expect("N x C x T x V");
    let third = c / 3;
    if third == 0 || t < 2 {
        return xs.shallow_clone();
    }
    let zeros = |ch| Tensor::zeros([n, ch, 1, v], (xs.kind(), xs.device()));
    let forward = Tensor::cat(
        &[zeros(third), xs.narrow(1, 0, third).narrow(2, 0, t - 1)],
        2,
    );
    let backward = Tensor::cat(
        &[xs.narrow(1, third, third).narrow(2, 1, t - 1), zeros(third)],
        2,
    );
    let rest = xs.narrow(1, 2 * third, c - 2 * third);
    Tensor::cat(&[forward, backward, rest], 1)
}

/// The temporal unit's shifts.
#[derive(Debug)]
enum Shifts {
    /// [`fixed_shift`] before the conv, the stride as frame skipping after it.
    Fixed { stride: i64 },
    /// Official `Shift_tcn`: `shift_in` (stride 1) before the conv,
    /// `shift_out` (the block's stride) after it.
    Adaptive {
        shift_in: AdaptiveShift,
        shift_out: AdaptiveShift,
    },
}

/// Shift temporal convolution: N x C x T x V -> N x C x ceil(T/stride) x V.
#[derive(Debug)]
struct ShiftTemporalConv {
    bn1: nn::BatchNorm,
    conv: nn::Conv2D,
    bn2: nn::BatchNorm,
    shifts: Shifts,
    dropout: f64,
}

impl ShiftTemporalConv {
    fn new(vs: &nn::Path, c: i64, stride: i64, dropout: f64, kind: TemporalShift) -> Self {
        let (bn1, conv, shifts) = match kind {
            TemporalShift::Fixed => ("bn1", "conv", Shifts::Fixed { stride }),
            TemporalShift::Adaptive => (
                "bn",
                "temporal_linear",
                Shifts::Adaptive {
                    shift_in: AdaptiveShift::new(&(vs / "shift_in"), c, 1),
                    shift_out: AdaptiveShift::new(&(vs / "shift_out"), c, stride),
                },
            ),
        };
        Self {
            bn1: nn::batch_norm2d(vs / bn1, c, Default::default()),
            conv: nn::conv2d(vs / conv, c, c, 1, Default::default()),
            bn2: nn::batch_norm2d(vs / "bn2", c, Default::default()),
            shifts,
            dropout,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let x = xs.apply_t(&self.bn1, train);
        let x = match &self.shifts {
            Shifts::Fixed { stride } => {
                let x = fixed_shift(&x).apply(&self.conv).relu();
                let t = x.size()[2];
                x.slice(2, 0, t, *stride)
            }
            Shifts::Adaptive {
                shift_in,
                shift_out,
            } => shift_out.forward(&shift_in.forward(&x).apply(&self.conv).relu()),
        };
        x.apply_t(&self.bn2, train).dropout(self.dropout, train)
    }

    fn adaptive_shifts(&self) -> Vec<&AdaptiveShift> {
        match &self.shifts {
            Shifts::Fixed { .. } => Vec::new(),
            Shifts::Adaptive {
                shift_in,
                shift_out,
            } => vec![shift_in, shift_out],
        }
    }
}

#[derive(Debug)]
struct Block {
    gcn: ShiftGraphConv,
    tcn: ShiftTemporalConv,
    /// None: no residual (first block); Some(None): identity; Some(Some(..)): projection.
    residual: Option<Option<(nn::Conv<[i64; 2]>, nn::BatchNorm)>>,
}

impl Block {
    fn new(
        vs: &nn::Path,
        (c_in, c_out, stride): (i64, i64, i64),
        residual: bool,
        dropout: f64,
        kind: TemporalShift,
    ) -> Self {
        let residual = residual.then(|| {
            (c_in != c_out || stride != 1).then(|| {
                let cfg = nn::ConvConfigND::<[i64; 2]> {
                    stride: [stride, 1],
                    ..Default::default()
                };
                (
                    nn::conv(vs / "residual" / "conv", c_in, c_out, [1, 1], cfg),
                    nn::batch_norm2d(vs / "residual" / "bn", c_out, Default::default()),
                )
            })
        });
        let (gcn, tcn) = match kind {
            TemporalShift::Fixed => ("gcn", "tcn"),
            TemporalShift::Adaptive => ("gcn1", "tcn1"),
        };
        Self {
            gcn: ShiftGraphConv::new(&(vs / gcn), c_in, c_out, kind),
            tcn: ShiftTemporalConv::new(&(vs / tcn), c_out, stride, dropout, kind),
            residual,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let y = self.tcn.forward_t(&self.gcn.forward_t(xs, train), train);
        match &self.residual {
            None => y.relu(),
            Some(None) => (y + xs).relu(),
            Some(Some((conv, bn))) => (y + xs.apply(conv).apply_t(bn, train)).relu(),
        }
    }
}

/// The classifier on the pooled feature: a 1x1 conv (`fixed`, earlier
/// checkpoints) or the official linear layer (`adaptive`).
#[derive(Debug)]
enum Head {
    Conv(nn::Conv2D),
    Linear(nn::Linear),
}

/// The network.
#[derive(Debug)]
pub struct ShiftGcn {
    data_bn: nn::BatchNorm,
    blocks: Vec<Block>,
    fc: Head,
}

impl ShiftGcn {
    pub fn new(vs: &nn::Path, cfg: &BackboneConfig, in_channels: i64, num_classes: i64) -> Self {
        let kind = cfg.temporal_shift;
        let data_bn = nn::batch_norm1d(vs / "data_bn", in_channels * V * 2, Default::default());
        let mut blocks = Vec::with_capacity(cfg.widths.len());
        let mut c_in = in_channels;
        for (i, (&c_out, &stride)) in cfg.widths.iter().zip(&cfg.strides).enumerate() {
            let path = match kind {
                TemporalShift::Fixed => vs / "blocks" / i,
                TemporalShift::Adaptive => vs / format!("l{}", i + 1),
            };
            blocks.push(Block::new(
                &path,
                (c_in, c_out, stride),
                i > 0,
                cfg.dropout,
                kind,
            ));
            c_in = c_out;
        }
        let fc = match kind {
            TemporalShift::Fixed => Head::Conv(nn::conv2d(
                vs / "fc",
                c_in,
                num_classes,
                1,
                Default::default(),
            )),
            TemporalShift::Adaptive => {
                Head::Linear(nn::linear(vs / "fc", c_in, num_classes, Default::default()))
            }
        };
        Self {
            data_bn,
            blocks,
            fc,
        }
    }
}

impl Backbone for ShiftGcn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> (Tensor, Tensor) {
        let n = xs.size()[0];
        let mut x = data_bn(&self.data_bn, xs, train); // N*M, C, T, V
        for block in &self.blocks {
            x = block.forward_t(&x, train);
        }
        match &self.fc {
            Head::Conv(conv) => pool_and_classify(&x, n, conv),
            Head::Linear(linear) => {
                let features = pool(&x, n); // N, F
                let logits = features.apply(linear);
                (features, logits)
            }
        }
    }

    fn apply_gradient_rules(&self) {
        for block in &self.blocks {
            for shift in block.tcn.adaptive_shifts() {
                shift.apply_gradient_rule();
            }
        }
    }
}
