//! The classes the generator knows: their real CLIP ViT-B/32 label-text
//! features (embedded in the binary) and which NTU-120 class each PKU-MMD
//! class borrows its motion from.

use skel_schemas::Dataset;

use super::SynthError;
use crate::npy;

/// CLIP ViT-B/32 features of the 60 NTU-60 label texts, `(60, 512)` float32.
static LB_60: &[u8] = include_bytes!("../../../data/text_features/clip-vit-b-32/lb_60.npy");
/// The same for the 120 NTU-120 labels, `(120, 512)`; rows 0-59 equal `LB_60`.
static LB_120: &[u8] = include_bytes!("../../../data/text_features/clip-vit-b-32/lb_120.npy");

/// Width of a text feature.
pub const FEATURE_DIM: usize = 512;

/// The 1-based NTU-120 action whose label text is the same as, or closest to,
/// each PKU-MMD class (0-based index into `pku51.csv`, alphabetical).
/// Exact name matches except: bow -> "nod head/bow", standing up -> "standing
/// up (from sitting position)", put something inside pocket -> "put something
/// into a bag", take out something from pocket -> "reach into pocket".
pub const PKU_TO_NTU: [u16; 51] = [
    35, 4, 3, 33, 22, 10, 40, 1, 5, 2, // bow .. eat meal/snack
    43, 56, 23, 58, 26, 55, 27, 51, 24, 28, // falling .. make a phone call
    53, 6, 29, 54, 31, 50, 52, 20, 89, 11, // pat on back .. reading
    34, 38, 8, 9, 21, 19, 15, 25, 32, 13, // rub two hands .. tear up paper
    7, 46, 45, 44, 47, 30, 49, 14, 18, 37, // throw .. wipe face
    12, // writing
];

/// Whether a 1-based NTU action is performed by two people (A050-A060, A106-A120).
pub fn is_mutual_ntu(action: u16) -> bool {
    (50..=60).contains(&action) || (106..=120).contains(&action)
}

/// The 1-based NTU-120 action a class of `dataset` takes its text feature
/// and motion from (`class` 0-based).
pub fn ntu_action_of(dataset: Dataset, class: usize) -> u16 {
    match dataset {
        Dataset::PkuV1 | Dataset::PkuV2 => PKU_TO_NTU[class],
        Dataset::Ntu60 | Dataset::Ntu120 => class as u16 + 1,
    }
}

/// Text features of every class of `dataset` in class order, `(classes, 512)`
/// row-major; PKU-MMD classes get the feature of their [`PKU_TO_NTU`] class.
pub fn class_features(dataset: Dataset) -> Result<Vec<f32>, SynthError> {
    let table = match dataset {
        Dataset::Ntu60 => LB_60,
        _ => LB_120,
    };
    let all = parse(table, "lb")?;
    Ok(match dataset {
        Dataset::Ntu60 | Dataset::Ntu120 => all,
        Dataset::PkuV1 | Dataset::PkuV2 => PKU_TO_NTU
            .iter()
            .flat_map(|&a| row(&all, usize::from(a) - 1).iter().copied())
            .collect(),
    })
}

/// The mean of the 120 NTU-120 label features: the fixed origin of text space
/// the motion mapping centres on (the raw CLIP features share a large common
/// component that would otherwise make every class move alike).
pub fn text_origin() -> Result<Vec<f32>, SynthError> {
    let all = parse(LB_120, "lb_120")?;
    let mut mean = vec![0f32; FEATURE_DIM];
    for r in all.chunks_exact(FEATURE_DIM) {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += v / 120.0;
        }
    }
    Ok(mean)
}

fn row(all: &[f32], i: usize) -> &[f32] {
    &all[i * FEATURE_DIM..(i + 1) * FEATURE_DIM]
}

fn parse(bytes: &[u8], name: &str) -> Result<Vec<f32>, SynthError> {
    let arr = npy::parse::<f32>(bytes, name).map_err(SynthError::Features)?;
    if arr.shape.len() != 2 || arr.shape[1] != FEATURE_DIM {
        return Err(SynthError::Invalid(format!(
            "embedded text features {name} have shape {:?}, expected (classes, 512)",
            arr.shape
        )));
    }
    Ok(arr.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(csv: &str) -> Vec<String> {
        csv.lines()
            .skip(1)
            .filter_map(|l| l.split_once(',').map(|(_, n)| n.trim().to_owned()))
            .collect()
    }

    #[test]
    fn pku_classes_map_to_same_named_ntu_classes() {
        let pku = names(include_str!("../../../data/labels/pku51.csv"));
        let ntu = names(include_str!("../../../data/labels/ntu120_lb.csv"));
        assert_eq!((pku.len(), ntu.len()), (51, 120));
        let approximate = [
            ("bow", "nod head/bow"),
            ("standing up", "standing up (from sitting position)"),
            ("put something inside pocket", "put something into a bag"),
            ("take out something from pocket", "reach into pocket"),
        ];
        let mut seen = std::collections::HashSet::new();
        for (p, &a) in pku.iter().zip(&PKU_TO_NTU) {
            let n = &ntu[usize::from(a) - 1];
            assert!(
                p == n || approximate.contains(&(p.as_str(), n.as_str())),
                "PKU {p:?} -> NTU A{a:03} {n:?}"
            );
            assert!(seen.insert(a), "A{a:03} used twice");
            let pku_mutual = p.contains("other person") || p == "handshaking";
            assert_eq!(is_mutual_ntu(a), pku_mutual, "{p}");
        }
    }

    #[test]
    fn features_are_embedded_and_consistent() {
        let f60 = class_features(Dataset::Ntu60).unwrap();
        let f120 = class_features(Dataset::Ntu120).unwrap();
        assert_eq!((f60.len(), f120.len()), (60 * 512, 120 * 512));
        assert_eq!(f60[..], f120[..60 * 512]);
        let pku = class_features(Dataset::PkuV1).unwrap();
        assert_eq!(row(&pku, 7), row(&f120, 0)); // drink water
        assert_eq!(text_origin().unwrap().len(), FEATURE_DIM);
    }
}
