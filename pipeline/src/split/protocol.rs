//! Sample partitions of the evaluation protocols (SPEC section 2).

use skel_schemas::{Dataset, Protocol, SampleRecord};

use crate::pku::{PkuName, PkuSequence};

/// NTU-60 cross-subject training subjects.
pub const NTU60_TRAIN_SUBJECTS: [u16; 20] = [
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
];
/// Subjects NTU-120 adds to the NTU-60 training subjects.
pub const NTU120_EXTRA_TRAIN_SUBJECTS: [u16; 33] = [
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89,
    91, 92, 93, 94, 95, 97, 98, 100, 103,
];
/// PKU-MMD phase 1 cross-subject test videos.
pub const PKU_V1_TEST_VIDEOS: std::ops::RangeInclusive<u16> = 291..=334;

/// Checks that a protocol exists for a dataset.
pub fn check(dataset: Dataset, protocol: Protocol) -> Result<(), String> {
    match (protocol, dataset) {
        (Protocol::CrossSubject, Dataset::Ntu60 | Dataset::Ntu120 | Dataset::PkuV1) => Ok(()),
        (Protocol::CrossView, Dataset::Ntu60) => Ok(()),
        (Protocol::CrossSetup, Dataset::Ntu120) => Ok(()),
        (Protocol::CrossSubject, Dataset::PkuV2) => {
            Err("no cross-subject list for PKU-MMD phase 2 is known to this tool".into())
        }
        (p, d) => Err(format!(
            "{} is not a protocol of {d} (NTU-60: cross-subject, cross-view; NTU-120: cross-subject, cross-setup; PKU-MMD phase 1: cross-subject)",
            p.name()
        )),
    }
}

/// Whether a sample belongs to the training partition (else the test partition).
pub fn is_train(row: &SampleRecord, dataset: Dataset, protocol: Protocol) -> Result<bool, String> {
    let need = |v: Option<u16>, what: &str| {
        v.ok_or_else(|| format!("sample {} has no {what}", row.sample))
    };
    match (protocol, dataset) {
        (Protocol::CrossSubject, Dataset::Ntu60) => {
            Ok(NTU60_TRAIN_SUBJECTS.contains(&need(row.subject, "subject")?))
        }
        (Protocol::CrossSubject, Dataset::Ntu120) => {
            let s = need(row.subject, "subject")?;
            Ok(NTU60_TRAIN_SUBJECTS.contains(&s) || NTU120_EXTRA_TRAIN_SUBJECTS.contains(&s))
        }
        (Protocol::CrossSubject, Dataset::PkuV1) => {
            let stem = row
                .source
                .rsplit('/')
                .next()
                .unwrap_or(&row.source)
                .trim_end_matches(".txt");
            match PkuName::parse(stem).map(|n| n.sequence) {
                Some(PkuSequence::V1 { video }) => Ok(!PKU_V1_TEST_VIDEOS.contains(&video)),
                _ => Err(format!(
                    "sample {} comes from {}, not a PKU-MMD phase-1 file",
                    row.sample, row.source
                )),
            }
        }
        (Protocol::CrossView, _) => Ok(need(row.camera, "camera")? != 1),
        (Protocol::CrossSetup, _) => Ok(need(row.setup, "setup")? % 2 == 0),
        (p, d) => Err(format!("{} is not a protocol of {d}", p.name())),
    }
}
