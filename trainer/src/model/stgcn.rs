//! ST-GCN (Yan, Xiong and Lin, AAAI 2018).
//!
//! Input batch norm over (M, V, C); blocks of spatial graph convolution (a
//! 1x1 convolution to K x C_out channels, aggregated over the K = 3 partition
//! subsets of [`graph::spatial_partition`] weighted by a learnable edge
//! importance) followed by a temporal convolution (BN, ReLU, conv k x 1 with
//! the block's stride, BN, dropout) and a residual (none in the first block,
//! identity, or a strided 1x1 conv + BN where the shape changes); global
//! average pooling over T and V and the mean over M give the feature; a 1x1
//! convolution gives the logits.

use tch::nn;
use tch::{Kind, Tensor};

use super::{data_bn, graph, pool_and_classify, Backbone, BackboneConfig};

/// Spatial graph convolution: N x C_in x T x V -> N x C_out x T x V.
#[derive(Debug)]
struct GraphConv {
    conv: nn::Conv2D,
    subsets: i64,
    out: i64,
}

impl GraphConv {
    fn new(vs: &nn::Path, c_in: i64, c_out: i64, subsets: i64) -> Self {
        Self {
            conv: nn::conv2d(vs / "conv", c_in, c_out * subsets, 1, Default::default()),
            subsets,
            out: c_out,
        }
    }

    /// `a`: K x V x V (already multiplied by the edge importance).
    fn forward(&self, xs: &Tensor, a: &Tensor) -> Tensor {
        let (n, _, t, v) = xs.size4().expect("N x C x T x V");
        let x = xs.apply(&self.conv).view([n, self.subsets, self.out, t, v]); // N, K, C, T, V
        Tensor::einsum("nkctv,kvw->nctw", &[x, a.shallow_clone()], None::<i64>)
    }
}

/// Temporal convolution unit: BN, ReLU, conv (k x 1, stride), BN, dropout.
#[derive(Debug)]
struct TemporalConv {
    bn1: nn::BatchNorm,
    conv: nn::Conv<[i64; 2]>,
    bn2: nn::BatchNorm,
    dropout: f64,
}

impl TemporalConv {
    fn new(vs: &nn::Path, c: i64, kernel: i64, stride: i64, dropout: f64) -> Self {
        let cfg = nn::ConvConfigND::<[i64; 2]> {
            stride: [stride, 1],
            padding: [(kernel - 1) / 2, 0],
            ..Default::default()
        };
        Self {
            bn1: nn::batch_norm2d(vs / "bn1", c, Default::default()),
            conv: nn::conv(vs / "conv", c, c, [kernel, 1], cfg),
            bn2: nn::batch_norm2d(vs / "bn2", c, Default::default()),
            dropout,
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply_t(&self.bn1, train)
            .relu()
            .apply(&self.conv)
            .apply_t(&self.bn2, train)
            .dropout(self.dropout, train)
    }
}

/// Strided 1x1 conv + BN where a block changes channels or time.
#[derive(Debug)]
struct Residual {
    conv: nn::Conv<[i64; 2]>,
    bn: nn::BatchNorm,
}

#[derive(Debug)]
enum Shortcut {
    None,
    Identity,
    Project(Box<Residual>),
}

/// One ST-GCN block: N x C_in x T x V -> N x C_out x T/stride x V.
#[derive(Debug)]
struct Block {
    gcn: GraphConv,
    tcn: TemporalConv,
    shortcut: Shortcut,
    importance: Tensor,
}

impl Block {
    fn new(
        vs: &nn::Path,
        c_in: i64,
        c_out: i64,
        stride: i64,
        residual: bool,
        cfg: &BackboneConfig,
    ) -> Self {
        let shortcut = if !residual {
            Shortcut::None
        } else if c_in == c_out && stride == 1 {
            Shortcut::Identity
        } else {
            let conv_cfg = nn::ConvConfigND::<[i64; 2]> {
                stride: [stride, 1],
                ..Default::default()
            };
            let r = vs / "residual";
            Shortcut::Project(Box::new(Residual {
                conv: nn::conv(&r / "conv", c_in, c_out, [1, 1], conv_cfg),
                bn: nn::batch_norm2d(&r / "bn", c_out, Default::default()),
            }))
        };
        let shape = [3, graph::V as i64, graph::V as i64];
        let importance = if cfg.edge_importance {
            vs.var("importance", &shape, nn::Init::Const(1.0))
        } else {
            Tensor::ones(shape, (Kind::Float, vs.device()))
        };
        Self {
            gcn: GraphConv::new(&(vs / "gcn"), c_in, c_out, 3),
            tcn: TemporalConv::new(
                &(vs / "tcn"),
                c_out,
                cfg.temporal_kernel,
                stride,
                cfg.dropout,
            ),
            shortcut,
            importance,
        }
    }

    fn forward_t(&self, xs: &Tensor, a: &Tensor, train: bool) -> Tensor {
        let y = self
            .tcn
            .forward_t(&self.gcn.forward(xs, &(a * &self.importance)), train);
        let res = match &self.shortcut {
            Shortcut::None => return y.relu(),
            Shortcut::Identity => xs.shallow_clone(),
            Shortcut::Project(r) => xs.apply(&r.conv).apply_t(&r.bn, train),
        };
        (y + res).relu()
    }
}

/// The network.
#[derive(Debug)]
pub struct StGcn {
    data_bn: nn::BatchNorm,
    blocks: Vec<Block>,
    fc: nn::Conv2D,
    /// The partition adjacency, K x V x V (a buffer, not trained).
    a: Tensor,
}

impl StGcn {
    pub fn new(vs: &nn::Path, cfg: &BackboneConfig, in_channels: i64, num_classes: i64) -> Self {
        let m = 2;
        let data_bn = nn::batch_norm1d(
            vs / "data_bn",
            in_channels * graph::V as i64 * m,
            Default::default(),
        );
        let mut blocks = Vec::with_capacity(cfg.widths.len());
        let mut c_in = in_channels;
        for (i, (&c_out, &stride)) in cfg.widths.iter().zip(&cfg.strides).enumerate() {
            blocks.push(Block::new(
                &(vs / "blocks" / i),
                c_in,
                c_out,
                stride,
                i > 0,
                cfg,
            ));
            c_in = c_out;
        }
        let a = Tensor::from_slice(&graph::spatial_partition())
            .view([3, graph::V as i64, graph::V as i64])
            .to_device(vs.device());
        Self {
            data_bn,
            blocks,
            fc: nn::conv2d(vs / "fc", c_in, num_classes, 1, Default::default()),
            a,
        }
    }
}

impl Backbone for StGcn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> (Tensor, Tensor) {
        let n = xs.size()[0];
        let mut x = data_bn(&self.data_bn, xs, train); // N*M, C, T, V
        for block in &self.blocks {
            x = block.forward_t(&x, &self.a, train);
        }
        pool_and_classify(&x, n, &self.fc)
    }
}
