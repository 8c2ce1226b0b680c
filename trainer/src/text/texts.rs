//! The class texts of a dataset in each text mode, shipped with the binary
//! (from `data/labels/`), and the mode strings of a config (`lb`, `lb_ad`).

use std::fmt;

use skel_pipeline::classes::class_table;
use skel_schemas::Dataset;

const NTU60_AD: &str = include_str!("../../../data/labels/ntu60_ad.csv");
const NTU120_AD: &str = include_str!("../../../data/labels/ntu120_ad.csv");
const NTU60_MD: &str = include_str!("../../../data/labels/ntu60_md.csv");
const NTU120_MD: &str = include_str!("../../../data/labels/ntu120_md.csv");
const NTU60_LLM: &str = include_str!("../../../data/labels/ntu60_llm.txt");
const NTU120_LLM: &str = include_str!("../../../data/labels/ntu120_llm.txt");

/// One kind of class text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// The label name ("drink water").
    Lb,
    /// Action description: a dictionary-style definition of the label.
    Ad,
    /// Motion description: how the body moves.
    Md,
    /// LLM-augmented description.
    Llm,
}

impl TextKind {
    pub const ALL: [TextKind; 4] = [Self::Lb, Self::Ad, Self::Md, Self::Llm];

    pub fn name(self) -> &'static str {
        match self {
            Self::Lb => "lb",
            Self::Ad => "ad",
            Self::Md => "md",
            Self::Llm => "llm",
        }
    }

    /// The kinds a dataset has texts for: PKU-MMD has label names only.
    pub fn available(dataset: Dataset) -> &'static [TextKind] {
        if dataset.is_ntu() {
            &Self::ALL
        } else {
            &[Self::Lb]
        }
    }
}

impl fmt::Display for TextKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mode string that does not name texts of the dataset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    #[error("text mode `{mode}`: unknown part `{part}`; a mode is lb, ad, md or llm, or several joined with _ (lb_ad)")]
    Unknown { mode: String, part: String },
    #[error("text mode `{mode}` names `{part}` twice")]
    Repeated { mode: String, part: TextKind },
    #[error("text mode `{mode}`: {dataset} has {available} texts only (no `{part}`)")]
    NotInDataset {
        mode: String,
        part: TextKind,
        dataset: Dataset,
        available: String,
    },
}

/// Parses `lb`, `ad`, `md`, `llm` or several joined with `_`, checking that
/// the dataset has texts of every part.
pub fn parse_mode(mode: &str, dataset: Dataset) -> Result<Vec<TextKind>, ModeError> {
    let mut kinds = Vec::new();
    for part in mode.split('_') {
        let kind = TextKind::ALL
            .into_iter()
            .find(|k| k.name() == part)
            .ok_or_else(|| ModeError::Unknown {
                mode: mode.to_owned(),
                part: part.to_owned(),
            })?;
        if kinds.contains(&kind) {
            return Err(ModeError::Repeated {
                mode: mode.to_owned(),
                part: kind,
            });
        }
        let available = TextKind::available(dataset);
        if !available.contains(&kind) {
            return Err(ModeError::NotInDataset {
                mode: mode.to_owned(),
                part: kind,
                dataset,
                available: names(available),
            });
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

/// `lb, ad, md` for error messages.
pub fn names(kinds: &[TextKind]) -> String {
    kinds
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The texts of one kind, one per class in class-index order. `kind` must be
/// available for the dataset (`parse_mode` checks it).
pub fn class_texts(dataset: Dataset, kind: TextKind) -> Vec<String> {
    assert!(
        TextKind::available(dataset).contains(&kind),
        "{dataset} has no {kind} texts"
    );
    let ntu120 = dataset == Dataset::Ntu120;
    let texts: Vec<String> = match kind {
        TextKind::Lb => class_table(dataset).0.into_iter().map(|c| c.name).collect(),
        TextKind::Ad => csv_texts(if ntu120 { NTU120_AD } else { NTU60_AD }),
        TextKind::Md => csv_texts(if ntu120 { NTU120_MD } else { NTU60_MD }),
        TextKind::Llm => (if ntu120 { NTU120_LLM } else { NTU60_LLM })
            .lines()
            .map(|l| l.trim().to_owned())
            .collect(),
    };
    assert_eq!(
        texts.len(),
        dataset.num_classes(),
        "embedded {dataset} {kind} texts"
    );
    texts
}

/// The text column of an embedded `idx,text` table (1-based, in order).
fn csv_texts(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (_, text) = l.split_once(',').expect("embedded text table is idx,text");
            text.trim().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_join() {
        assert_eq!(parse_mode("lb", Dataset::Ntu60), Ok(vec![TextKind::Lb]));
        assert_eq!(
            parse_mode("md_lb_llm", Dataset::Ntu120),
            Ok(vec![TextKind::Md, TextKind::Lb, TextKind::Llm])
        );
        assert_eq!(parse_mode("lb", Dataset::PkuV2), Ok(vec![TextKind::Lb]));
    }

    #[test]
    fn bad_modes_say_why() {
        let e = parse_mode("lb_xx", Dataset::Ntu60).unwrap_err();
        assert!(e.to_string().contains("unknown part `xx`"), "{e}");
        let e = parse_mode("", Dataset::Ntu60).unwrap_err();
        assert!(matches!(e, ModeError::Unknown { .. }), "{e}");
        let e = parse_mode("lb_lb", Dataset::Ntu60).unwrap_err();
        assert!(matches!(e, ModeError::Repeated { .. }), "{e}");
        let e = parse_mode("lb_ad", Dataset::PkuV1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "text mode `lb_ad`: pku-v1 has lb texts only (no `ad`)"
        );
    }

    #[test]
    fn every_ntu_kind_has_one_text_per_class() {
        for dataset in [Dataset::Ntu60, Dataset::Ntu120] {
            for kind in TextKind::ALL {
                let texts = class_texts(dataset, kind);
                assert!(texts.iter().all(|t| !t.is_empty()), "{dataset} {kind}");
            }
        }
        assert_eq!(class_texts(Dataset::Ntu60, TextKind::Lb)[0], "drink water");
        assert!(
            class_texts(Dataset::Ntu120, TextKind::Llm)[119].starts_with("\"Finger-guessing game")
        );
        assert_eq!(class_texts(Dataset::PkuV1, TextKind::Lb).len(), 51);
    }
}
