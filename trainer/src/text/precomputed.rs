//! Real CLIP ViT-B/32 and ViT-B/16 text features of the NTU texts, computed
//! with OpenAI's models and shipped in `data/text_features/` (embedded): one
//! float32 row of 512 per class in class order, not normalised.

use skel_pipeline::npy;
use skel_schemas::Dataset;

use super::texts::{names, TextKind};

/// The models with shipped features, by the folder name under `data/text_features/`.
pub const MODELS: [&str; 2] = ["clip-vit-b-32", "clip-vit-b-16"];
/// The text kinds with shipped features.
pub const KINDS: [TextKind; 3] = [TextKind::Lb, TextKind::Ad, TextKind::Md];

macro_rules! npy_files {
    ($($model:literal / $kind:ident / $dataset:ident / $file:literal),* $(,)?) => {
        &[$(($model, TextKind::$kind, Dataset::$dataset,
             include_bytes!(concat!("../../../data/text_features/", $model, "/", $file)) as &[u8])),*]
    };
}

static FILES: &[(&str, TextKind, Dataset, &[u8])] = npy_files![
    "clip-vit-b-32" / Lb / Ntu60 / "lb_60.npy",
    "clip-vit-b-32" / Lb / Ntu120 / "lb_120.npy",
    "clip-vit-b-32" / Ad / Ntu60 / "ad_60.npy",
    "clip-vit-b-32" / Ad / Ntu120 / "ad_120.npy",
    "clip-vit-b-32" / Md / Ntu60 / "md_60.npy",
    "clip-vit-b-32" / Md / Ntu120 / "md_120.npy",
    "clip-vit-b-16" / Lb / Ntu60 / "lb_60.npy",
    "clip-vit-b-16" / Lb / Ntu120 / "lb_120.npy",
    "clip-vit-b-16" / Ad / Ntu60 / "ad_60.npy",
    "clip-vit-b-16" / Ad / Ntu120 / "ad_120.npy",
    "clip-vit-b-16" / Md / Ntu60 / "md_60.npy",
    "clip-vit-b-16" / Md / Ntu120 / "md_120.npy",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{model} has precomputed features of the {kinds} texts of ntu60 and ntu120 only \
     (data/text_features/{model}/), not {kind} of {dataset}: use encoder sbert, or clip with \
     weights of your own"
)]
pub struct NotShipped {
    pub model: &'static str,
    pub kind: TextKind,
    pub dataset: Dataset,
    pub kinds: String,
}

/// The shipped `.npy` file of a model, text kind and dataset.
pub fn npy_bytes(
    model: &'static str,
    kind: TextKind,
    dataset: Dataset,
) -> Result<&'static [u8], NotShipped> {
    FILES
        .iter()
        .find(|(m, k, d, _)| *m == model && *k == kind && *d == dataset)
        .map(|f| f.3)
        .ok_or_else(|| NotShipped {
            model,
            kind,
            dataset,
            kinds: names(&KINDS),
        })
}

/// The features of one text kind, one row per class (not normalised).
pub fn features(
    model: &'static str,
    kind: TextKind,
    dataset: Dataset,
) -> Result<Vec<Vec<f32>>, NotShipped> {
    let bytes = npy_bytes(model, kind, dataset)?;
    let name = format!("data/text_features/{model}/{kind}");
    let array = npy::parse::<f32>(bytes, &name).expect("embedded features are float32 npy");
    assert_eq!(array.shape.len(), 2, "{name} is a matrix");
    assert_eq!(
        array.shape[0],
        dataset.num_classes(),
        "{name} has a row per class"
    );
    Ok(array
        .data
        .chunks(array.shape[1])
        .map(<[f32]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_parses() {
        for model in MODELS {
            for kind in KINDS {
                for dataset in [Dataset::Ntu60, Dataset::Ntu120] {
                    let rows = features(model, kind, dataset).unwrap();
                    assert_eq!(rows.len(), dataset.num_classes());
                    assert!(rows.iter().all(|r| r.len() == 512));
                }
            }
        }
    }

    #[test]
    fn missing_features_say_what_exists() {
        let e = features("clip-vit-b-16", TextKind::Llm, Dataset::Ntu60).unwrap_err();
        assert_eq!(
            e.to_string(),
            "clip-vit-b-16 has precomputed features of the lb, ad, md texts of ntu60 and ntu120 only \
             (data/text_features/clip-vit-b-16/), not llm of ntu60: use encoder sbert, or clip with \
             weights of your own"
        );
        assert!(features("clip-vit-b-32", TextKind::Lb, Dataset::PkuV1).is_err());
    }
}
