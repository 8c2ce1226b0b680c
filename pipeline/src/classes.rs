//! The class tables and official missing-skeleton lists shipped with the
//! binary (from `data/labels/` and `data/reference/`), so that a conversion
//! needs nothing outside the executable.

use skel_schemas::{ClassEntry, ClassTable, Dataset};

const NTU60_LABELS: &str = include_str!("../../data/labels/ntu60_lb.csv");
const NTU120_LABELS: &str = include_str!("../../data/labels/ntu120_lb.csv");
const PKU51_LABELS: &str = include_str!("../../data/labels/pku51.csv");
const NTU60_MISSING: &str =
    include_str!("../../data/reference/NTU_RGBD_samples_with_missing_skeletons.txt");
const NTU120_MISSING: &str =
    include_str!("../../data/reference/NTU_RGBD120_samples_with_missing_skeletons.txt");

/// The class table of a dataset: index 0-based, action id 1-based as in file names.
pub fn class_table(dataset: Dataset) -> ClassTable {
    let (text, first_index) = match dataset {
        Dataset::Ntu60 => (NTU60_LABELS, 1),
        Dataset::Ntu120 => (NTU120_LABELS, 1),
        // pku51.csv counts from 0; the label files' action ids from 1.
        Dataset::PkuV1 | Dataset::PkuV2 => (PKU51_LABELS, 0),
    };
    let entries = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (idx, name) = line
                .split_once(',')
                .expect("embedded label table is idx,label");
            let idx: u16 = idx
                .trim()
                .parse()
                .expect("embedded label index is a number");
            let index = idx - first_index;
            ClassEntry {
                index,
                action: index + 1,
                name: name.trim().to_owned(),
            }
        })
        .collect();
    ClassTable(entries)
}

/// Sample names of the official missing-skeleton list of an NTU dataset
/// (empty for PKU-MMD, which has no official list).
pub fn missing_samples(dataset: Dataset) -> Vec<&'static str> {
    let text = match dataset {
        Dataset::Ntu60 => NTU60_MISSING,
        Dataset::Ntu120 => NTU120_MISSING,
        Dataset::PkuV1 | Dataset::PkuV2 => return Vec::new(),
    };
    text.lines()
        .map(str::trim)
        .filter(|l| crate::ntu::NtuName::parse(l).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_every_class_in_order() {
        for dataset in Dataset::ALL {
            let table = class_table(dataset);
            assert_eq!(table.len(), dataset.num_classes(), "{dataset}");
            for (i, c) in table.0.iter().enumerate() {
                assert_eq!(usize::from(c.index), i);
                assert_eq!(c.action, c.index + 1);
                assert!(!c.name.is_empty());
            }
        }
        assert_eq!(class_table(Dataset::Ntu60).0[0].name, "drink water");
        assert_eq!(class_table(Dataset::PkuV1).0[0].name, "bow");
        // NTU-60's classes are the first 60 of NTU-120.
        assert_eq!(
            class_table(Dataset::Ntu60).0[..],
            class_table(Dataset::Ntu120).0[..60]
        );
    }

    #[test]
    fn official_missing_lists_are_complete() {
        assert_eq!(missing_samples(Dataset::Ntu60).len(), 302);
        assert_eq!(missing_samples(Dataset::Ntu120).len(), 535);
        assert!(missing_samples(Dataset::PkuV1).is_empty());
    }
}
