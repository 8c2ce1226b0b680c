//! The CLIP text encoder: token + position embeddings, a causal pre-LN
//! transformer with quick-GELU, a final layer norm, the state at the
//! end-of-text token, and the text projection. Loads the tensors of a Hugging
//! Face `CLIPTextModelWithProjection` or `CLIPModel` safetensors file
//! (`text_model.*`, `text_projection.weight`) with the `config.json` beside it.
//!
//! Shapes: N texts, L tokens, C channels (width), H heads, D = C / H,
//! P projection.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::clip_bpe::{ClipBpe, END_OF_TEXT, VOCAB_SIZE};
use super::weights::{
    embedding_to_load, linear_to_load, load_safetensors, read_json, WeightsError,
};

/// Texts per forward pass.
const BATCH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(
        "{path}: vocab_size is {got}, but the CLIP BPE tokenizer has {VOCAB_SIZE} tokens: \
         the weights are not of a CLIP text encoder"
    )]
    Vocab { path: PathBuf, got: i64 },
    #[error("{path}: hidden_size {width} is not a multiple of num_attention_heads {heads}")]
    Heads {
        path: PathBuf,
        width: i64,
        heads: i64,
    },
    #[error("CLIP forward pass: {0}")]
    Forward(#[from] tch::TchError),
}

/// The activation of the MLP blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipAct {
    /// x * sigmoid(1.702 x): OpenAI's CLIP.
    QuickGelu,
    /// The exact (erf) GELU.
    Gelu,
}

/// The fields of a Hugging Face `CLIPTextConfig` that the encoder uses, with
/// Hugging Face's defaults (CLIP ViT-B/32's text tower); other fields are
/// ignored, as `transformers` does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClipTextConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub max_position_embeddings: i64,
    pub hidden_act: ClipAct,
    pub layer_norm_eps: f64,
    pub projection_dim: i64,
}

impl Default for ClipTextConfig {
    fn default() -> Self {
        Self {
            vocab_size: VOCAB_SIZE as i64,
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            hidden_act: ClipAct::QuickGelu,
            layer_norm_eps: 1e-5,
            projection_dim: 512,
        }
    }
}

/// A `config.json`: a `CLIPTextConfig`, or a `CLIPConfig` whose
/// `text_config` it holds (the projection size then comes from the top level).
#[derive(Debug, Deserialize)]
struct ConfigFile {
    text_config: Option<ClipTextConfig>,
    projection_dim: Option<i64>,
    #[serde(flatten)]
    flat: ClipTextConfig,
}

impl ClipTextConfig {
    /// Reads `config.json`, checking what the tokenizer and layers need.
    pub fn read(path: &Path) -> Result<Self, ClipError> {
        let file: ConfigFile = read_json(path)?;
        // A top-level projection_dim is the CLIPConfig's, or, in a flat
        // CLIPTextConfig, the text config's own.
        let text = file.text_config.unwrap_or(file.flat);
        let cfg = Self {
            projection_dim: file.projection_dim.unwrap_or(text.projection_dim),
            ..text
        };
        if cfg.vocab_size != VOCAB_SIZE as i64 {
            return Err(ClipError::Vocab {
                path: path.to_owned(),
                got: cfg.vocab_size,
            });
        }
        if cfg.hidden_size % cfg.num_attention_heads != 0 {
            return Err(ClipError::Heads {
                path: path.to_owned(),
                width: cfg.hidden_size,
                heads: cfg.num_attention_heads,
            });
        }
        Ok(cfg)
    }
}

/// Multi-head self-attention.
#[derive(Debug)]
struct Attention {
    q_proj: nn::Linear,
    k_proj: nn::Linear,
    v_proj: nn::Linear,
    out_proj: nn::Linear,
    heads: i64,
}

impl Attention {
    fn new(vs: &nn::Path, cfg: &ClipTextConfig) -> Self {
        let (c, lin) = (cfg.hidden_size, linear_to_load(true));
        Self {
            q_proj: nn::linear(vs / "q_proj", c, c, lin),
            k_proj: nn::linear(vs / "k_proj", c, c, lin),
            v_proj: nn::linear(vs / "v_proj", c, c, lin),
            out_proj: nn::linear(vs / "out_proj", c, c, lin),
            heads: cfg.num_attention_heads,
        }
    }

    /// xs: N x L x C, mask: L x L (0 on and below the diagonal, -inf above)
    /// -> N x L x C.
    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Tensor {
        let (n, l, c) = xs.size3().expect("hidden states are N x L x C");
        let d = c / self.heads;
        let split = |t: Tensor| t.view([n, l, self.heads, d]).transpose(1, 2); // N x H x L x D
        let q = split(self.q_proj.forward(xs));
        let k = split(self.k_proj.forward(xs));
        let v = split(self.v_proj.forward(xs));
        let scores = q.matmul(&k.transpose(-1, -2)) * (d as f64).powf(-0.5) + mask; // N x H x L x L
        let context = scores
            .softmax(-1, Kind::Float)
            .matmul(&v) // N x H x L x D
            .transpose(1, 2)
            .contiguous()
            .view([n, l, c]);
        self.out_proj.forward(&context)
    }
}

/// One pre-LN transformer layer.
#[derive(Debug)]
struct Layer {
    layer_norm1: nn::LayerNorm,
    self_attn: Attention,
    layer_norm2: nn::LayerNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
    act: ClipAct,
}

impl Layer {
    fn new(vs: &nn::Path, cfg: &ClipTextConfig) -> Self {
        let (c, lin) = (cfg.hidden_size, linear_to_load(true));
        Self {
            layer_norm1: layer_norm(vs / "layer_norm1", cfg),
            self_attn: Attention::new(&(vs / "self_attn"), cfg),
            layer_norm2: layer_norm(vs / "layer_norm2", cfg),
            fc1: nn::linear(vs / "mlp" / "fc1", c, cfg.intermediate_size, lin),
            fc2: nn::linear(vs / "mlp" / "fc2", cfg.intermediate_size, c, lin),
            act: cfg.hidden_act,
        }
    }

    /// xs: N x L x C, mask: L x L -> N x L x C.
    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Tensor {
        let xs = xs + self.self_attn.forward(&self.layer_norm1.forward(xs), mask);
        let hidden = self.fc1.forward(&self.layer_norm2.forward(&xs));
        let hidden = match self.act {
            ClipAct::QuickGelu => &hidden * (&hidden * 1.702).sigmoid(),
            ClipAct::Gelu => hidden.gelu("none"),
        };
        xs + self.fc2.forward(&hidden)
    }
}

fn layer_norm(vs: nn::Path, cfg: &ClipTextConfig) -> nn::LayerNorm {
    let ln = nn::LayerNormConfig {
        eps: cfg.layer_norm_eps,
        ..Default::default()
    };
    nn::layer_norm(vs, vec![cfg.hidden_size], ln)
}

/// The text tower and its projection.
#[derive(Debug)]
pub struct ClipText {
    token_embedding: nn::Embedding,
    position_embedding: nn::Embedding,
    layers: Vec<Layer>,
    final_layer_norm: nn::LayerNorm,
    text_projection: nn::Linear,
}

impl ClipText {
    pub fn new(vs: &nn::Path, cfg: &ClipTextConfig) -> Self {
        let text = vs / "text_model";
        let embeddings = &text / "embeddings";
        let (c, e) = (cfg.hidden_size, embedding_to_load());
        Self {
            token_embedding: nn::embedding(&embeddings / "token_embedding", cfg.vocab_size, c, e),
            position_embedding: nn::embedding(
                &embeddings / "position_embedding",
                cfg.max_position_embeddings,
                c,
                e,
            ),
            layers: (0..cfg.num_hidden_layers)
                .map(|i| Layer::new(&(&text / "encoder" / "layers" / i), cfg))
                .collect(),
            final_layer_norm: layer_norm(&text / "final_layer_norm", cfg),
            text_projection: nn::linear(
                vs / "text_projection",
                c,
                cfg.projection_dim,
                linear_to_load(false),
            ),
        }
    }

    /// ids: N x L int64 (start token, text, end token, any padding after it);
    /// eot: N int64, the end token's position in each row -> N x P.
    pub fn forward(&self, ids: &Tensor, eot: &Tensor) -> Tensor {
        let (n, l) = ids.size2().expect("token ids are N x L");
        let device = ids.device();
        let positions = Tensor::arange(l, (Kind::Int64, device)); // L
        let xs = self.token_embedding.forward(ids) + self.position_embedding.forward(&positions); // N x L x C
        let mask = Tensor::full([l, l], f64::NEG_INFINITY, (Kind::Float, device)).triu(1); // L x L
        let xs = self
            .layers
            .iter()
            .fold(xs, |xs, layer| layer.forward(&xs, &mask));
        let xs = self.final_layer_norm.forward(&xs);
        let rows = Tensor::arange(n, (Kind::Int64, device));
        let pooled = xs.index(&[Some(rows), Some(eot.shallow_clone())]); // N x C
        self.text_projection.forward(&pooled)
    }
}

/// A CLIP text encoder ready to embed texts.
#[derive(Debug)]
pub struct ClipTextEncoder {
    bpe: ClipBpe,
    model: ClipText,
    context: usize,
    _vs: nn::VarStore,
    device: Device,
}

impl ClipTextEncoder {
    /// The `config.json` beside a weights file.
    pub fn config_path(weights: &Path) -> PathBuf {
        weights.with_file_name("config.json")
    }

    /// Loads a safetensors file and the `config.json` beside it onto `device`.
    pub fn load(weights: &Path, device: Device) -> Result<Self, ClipError> {
        let cfg = ClipTextConfig::read(&Self::config_path(weights))?;
        let mut vs = nn::VarStore::new(device);
        let model = ClipText::new(&vs.root(), &cfg);
        vs.freeze();
        load_safetensors(
            &vs,
            weights,
            "Hugging Face CLIP text model (CLIPTextModelWithProjection)",
        )?;
        Ok(Self {
            bpe: ClipBpe::new(),
            model,
            context: cfg.max_position_embeddings as usize,
            _vs: vs,
            device,
        })
    }

    /// The token ids of each text, start and end tokens included, cut to
    /// the model's context.
    pub fn tokenize(&self, texts: &[String]) -> Vec<Vec<u32>> {
        texts
            .iter()
            .map(|t| self.bpe.tokenize(t, self.context))
            .collect()
    }

    /// Projected text features of `texts`: N x P (not normalised; CPU, float32).
    pub fn embed(&self, texts: &[String]) -> Result<Tensor, ClipError> {
        let mut parts = Vec::new();
        for chunk in texts.chunks(BATCH) {
            let tokens = self.tokenize(chunk);
            let l = tokens.iter().map(Vec::len).max().unwrap_or(0);
            // Padding after the end token is never attended to (causal mask).
            let ids: Vec<i64> = tokens
                .iter()
                .flat_map(|t| {
                    let pad = l - t.len();
                    t.iter()
                        .map(|&x| i64::from(x))
                        .chain(std::iter::repeat_n(0, pad))
                })
                .collect();
            // The first end token (OpenAI: the argmax of the ids).
            let eot: Vec<i64> = tokens
                .iter()
                .map(|t| {
                    t.iter()
                        .position(|&x| x == END_OF_TEXT)
                        .expect("tokenize ends every text") as i64
                })
                .collect();
            let ids = Tensor::from_slice(&ids)
                .f_view([tokens.len() as i64, l as i64])?
                .f_to_device(self.device)?;
            let eot = Tensor::from_slice(&eot).f_to_device(self.device)?;
            let out = tch::no_grad(|| self.model.forward(&ids, &eot));
            parts.push(out.f_to_device(Device::Cpu)?);
        }
        Ok(Tensor::f_cat(&parts, 0)?)
    }
}
