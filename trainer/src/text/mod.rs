//! Class-text features. (Interim: precomputed CLIP features only; the
//! encoders land with the text branch.)

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use skel_schemas::Dataset;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    pub encoder: TextEncoder,
    pub mode: String,
    #[serde(default)]
    pub weights: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoder {
    Sbert,
    Clip,
    #[serde(rename = "clip-vit-b-32")]
    ClipVitB32,
    #[serde(rename = "clip-vit-b-16")]
    ClipVitB16,
}

pub struct ClassFeatures {
    pub dim: usize,
    pub rows: Vec<Vec<f32>>,
    pub key: String,
}

pub fn class_features(
    cfg: &TextConfig,
    dataset: Dataset,
    _cache_dir: &Path,
    _device: tch::Device,
) -> anyhow::Result<ClassFeatures> {
    let n = dataset.num_classes();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/text_features/clip-vit-b-32")
        .join(format!("{}_{n}.npy", cfg.mode));
    let arr = skel_pipeline::npy::read::<f32>(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let (shape, data) = (arr.shape, arr.data);
    let dim = shape[1];
    let rows = data
        .chunks(dim)
        .map(|r| {
            let norm = r.iter().map(|v| v * v).sum::<f32>().sqrt();
            r.iter().map(|v| v / norm).collect()
        })
        .collect();
    Ok(ClassFeatures {
        dim,
        rows,
        key: format!("clip-vit-b-32-{}", cfg.mode),
    })
}
