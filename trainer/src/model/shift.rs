//! Shift-GCN's adaptive temporal shift (official `model/Temporal_shift/cuda/
//! shift.py`, `Shift`, and `shift_cuda_kernel.cu`), as differentiable tensor
//! ops, so it runs on the CPU and CUDA alike without a custom kernel.
//!
//! Channel c of output frame t is the input read at the real position
//! `stride * t + ypos[c]` (plus 0.5 when stride > 1, as the official
//! `ShiftFunction.forward` adds), linearly interpolated between the two
//! neighbouring frames, zero outside the sequence. The official kernel
//! interpolates along the joints too, by `xpos[c]`; `xpos` is initialised in
//! +-1e-8 there and its gradient is always 0, so it moves only by weight
//! decay, towards 0: here it is a parameter (so official state dicts load)
//! that the forward pass does not read; the state-dict loader
//! ([`super::weights::load_state_dict`]) refuses weights where it would matter.
//!
//! The offsets are not trained by their gradient: see
//! [`AdaptiveShift::apply_gradient_rule`], the one place the official rule is
//! written down.

use tch::{nn, Kind, Tensor};

/// The official gradient step of an offset: `0.01 * sign(g)`.
pub const POSITION_STEP: f64 = 0.01;
/// The official gradient of an offset whose true gradient is exactly 0.
pub const POSITION_STEP_AT_ZERO: f64 = 0.0001;
/// Largest |xpos| the forward pass may ignore (it moves the output by at
/// most |xpos| times a neighbouring joint's value).
pub const XPOS_TOLERANCE: f64 = 1e-6;

/// A learnable per-channel temporal shift: N x C x T x V -> N x C x T' x V,
/// T' = ceil(T / stride).
#[derive(Debug)]
pub struct AdaptiveShift {
    xpos: Tensor,
    ypos: Tensor,
    stride: i64,
}

impl AdaptiveShift {
    /// Offsets `vs / "xpos"` (zero) and `vs / "ypos"` (uniform in +-1, the
    /// official `init_scale=1` of `Shift_tcn`), one per channel.
    pub fn new(vs: &nn::Path, channels: i64, stride: i64) -> Self {
        Self {
            xpos: vs.var("xpos", &[channels], nn::Init::Const(0.0)),
            ypos: vs.var("ypos", &[channels], nn::Init::Uniform { lo: -1.0, up: 1.0 }),
            stride,
        }
    }

    /// N x C x T x V -> N x C x T' x V. T' is ceil(T / stride), the length of
    /// the block's strided residual; the official kernel makes floor(T /
    /// stride), the same for the even T it is run with (for odd T its block
    /// cannot add the residual).
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let (n, c, t, v) = xs.size4().expect("N x C x T x V");
        let t_out = (t + self.stride - 1) / self.stride;
        let device = xs.device();
        let y = if self.stride > 1 {
            &self.ypos + 0.5
        } else {
            self.ypos.shallow_clone()
        };
        let floor = y.detach().floor();
        let frac = (&y - &floor).view([c, 1]); // C x 1, differentiable in ypos
        let first = floor.to_kind(Kind::Int64).view([c, 1])
            + Tensor::arange_start_step(0, t_out * self.stride, self.stride, (Kind::Int64, device))
                .view([1, t_out]); // C x T', frame below the position
        let rows = xs.reshape([n, c * t, v]);
        let channel_start = (Tensor::arange(c, (Kind::Int64, device)) * t).view([c, 1]);
        // One neighbour: its frames (clamped into the sequence, flattened with
        // their channel) and 1 where the frame is inside the sequence.
        let neighbour = |frame: &Tensor| -> (Tensor, Tensor) {
            let inside = frame.ge(0).logical_and(&frame.lt(t)).to_kind(Kind::Float);
            let index = (frame.clamp(0, t - 1) + &channel_start).view([c * t_out]);
            (rows.index_select(1, &index).view([n, c, t_out, v]), inside)
        };
        let (below, inside_below) = neighbour(&first);
        let (above, inside_above) = neighbour(&(&first + 1));
        let w_below = ((frac.neg() + 1.0) * inside_below).view([1, c, t_out, 1]);
        let w_above = (frac * inside_above).view([1, c, t_out, 1]);
        below * w_below + above * w_above
    }

    /// The official position-gradient rule (`applyShiftConstraint` in
    /// `shift_cuda_kernel.cu`), applied after `backward` and before the
    /// optimiser step: `ypos`'s gradient g (the true gradient, summed over
    /// positions and batch; the official one averages over the batch, which
    /// keeps its sign) becomes `0.01 * sign(g)`, or `0.0001` where g is 0;
    /// `xpos`'s becomes 0. Weight decay and momentum then act on these as on
    /// any gradient, as in the official training.
    pub fn apply_gradient_rule(&self) {
        tch::no_grad(|| {
            let mut g = self.ypos.grad();
            if g.defined() {
                let ruled = Tensor::full_like(&g, POSITION_STEP_AT_ZERO)
                    .where_self(&g.eq(0.0), &(g.sign() * POSITION_STEP));
                g.copy_(&ruled);
            }
            let mut g = self.xpos.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        });
    }
}
