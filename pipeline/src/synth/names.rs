//! Which files a generation writes: NTU names spread over setups, cameras,
//! subjects and replications as in the real datasets, and the PKU-MMD v1
//! videos with the action instances each one holds.
//!
//! **NTU layout** (fixed, independent of the seed): every setup has a list of
//! subjects (a *pair* = setup + subject); every pair performs every action
//! twice (R001, R002) seen by three cameras. As in the real data, A001-A060
//! are recorded in S001-S017 by subjects P001-P040 (158 pairs: 948 files per
//! class, 56,880 in all) and A061-A120 in S018-S032 by P041-P106 (160 pairs:
//! 960 files per class), so NTU-120 has 114,480 files (954 per class on
//! average) and contains NTU-60. The pairs include every (setup, subject) of
//! the official missing-skeleton lists, so those names are generated too.

use std::collections::BTreeSet;

use skel_schemas::Dataset;

use super::{Scale, SynthError};
use crate::ntu::NtuName;

static MISSING_60: &str =
    include_str!("../../../data/reference/NTU_RGBD_samples_with_missing_skeletons.txt");
static MISSING_120: &str =
    include_str!("../../../data/reference/NTU_RGBD120_samples_with_missing_skeletons.txt");

/// Setups, subject range and number of (setup, subject) pairs of one half of NTU-120.
struct Part {
    setups: std::ops::RangeInclusive<u16>,
    subjects: std::ops::RangeInclusive<u16>,
    actions: std::ops::RangeInclusive<u16>,
    pairs: usize,
}

const PARTS: [Part; 2] = [
    Part {
        setups: 1..=17,
        subjects: 1..=40,
        actions: 1..=60,
        pairs: 158,
    },
    Part {
        setups: 18..=32,
        subjects: 41..=106,
        actions: 61..=120,
        pairs: 160,
    },
];

/// The official missing-skeleton names of a dataset (3 header lines skipped).
pub fn missing_names(dataset: Dataset) -> BTreeSet<NtuName> {
    let text = if dataset == Dataset::Ntu60 {
        MISSING_60
    } else {
        MISSING_120
    };
    text.lines()
        .skip(3)
        .filter_map(|l| NtuName::parse(l.trim()))
        .collect()
}

/// The (setup, subject) pairs of one part, sorted.
fn pairs(part: &Part) -> Result<Vec<(u16, u16)>, SynthError> {
    let listed = missing_names(Dataset::Ntu120);
    let setups: Vec<u16> = part.setups.clone().collect();
    let mut chosen: Vec<BTreeSet<u16>> = setups
        .iter()
        .map(|&s| {
            listed
                .iter()
                .filter(|n| n.setup == s)
                .map(|n| n.subject)
                .collect()
        })
        .collect();
    let base = part.pairs / setups.len();
    let mut targets: Vec<usize> = chosen.iter().map(|c| c.len().max(base)).collect();
    let mut k = 0;
    while targets.iter().sum::<usize>() < part.pairs {
        targets[k % setups.len()] += 1;
        k += 1;
    }
    if targets.iter().sum::<usize>() != part.pairs {
        return Err(SynthError::Invalid("NTU pair layout overflows".into()));
    }
    // Fill each setup from its own block of subjects, taking subjects no
    // setup has yet first, so that every subject of the part appears.
    let subjects: Vec<u16> = part.subjects.clone().collect();
    let mut used: BTreeSet<u16> = chosen.iter().flatten().copied().collect();
    for (i, (set, &target)) in chosen.iter_mut().zip(&targets).enumerate() {
        let start = i * subjects.len() / setups.len();
        let ring = (0..subjects.len()).map(|c| subjects[(start + c) % subjects.len()]);
        for fresh_only in [true, false] {
            for s in ring.clone() {
                if set.len() < target && (!fresh_only || !used.contains(&s)) {
                    set.insert(s);
                    used.insert(s);
                }
            }
        }
    }
    Ok(setups
        .iter()
        .zip(&chosen)
        .flat_map(|(&s, set)| set.iter().map(move |&p| (s, p)))
        .collect())
}

/// Every NTU name of one class in the real layout, ordered by (pair,
/// replication, camera): index `6 pair + 3 (R - 1) + (C - 1)`.
fn class_names(action: u16) -> Result<Vec<NtuName>, SynthError> {
    let part = PARTS
        .iter()
        .find(|p| p.actions.contains(&action))
        .ok_or_else(|| SynthError::Invalid(format!("no NTU action A{action:03}")))?;
    Ok(pairs(part)?
        .into_iter()
        .flat_map(|(setup, subject)| {
            (1..=2).flat_map(move |replication| {
                (1..=3).map(move |camera| NtuName {
                    setup,
                    camera,
                    subject,
                    replication,
                    action,
                })
            })
        })
        .collect())
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The NTU names a generation writes, sorted. `PerClass(n)` takes `n` names
/// per class from the full layout with the low-discrepancy stride
/// `i -> i m mod N`, `m = 6 q + 1` (coprime to `N`, `q` about 0.618 pairs), so
/// cameras and replications cycle exactly and pairs spread over all setups.
pub fn ntu_names(dataset: Dataset, scale: Scale) -> Result<Vec<NtuName>, SynthError> {
    let classes = match dataset {
        Dataset::Ntu60 => 60,
        Dataset::Ntu120 => 120,
        _ => {
            return Err(SynthError::Invalid(format!(
                "{dataset} is not an NTU dataset"
            )))
        }
    };
    let mut out = Vec::new();
    for action in 1..=classes {
        let all = class_names(action)?;
        match scale {
            Scale::Full => out.extend(all),
            Scale::PerClass(n) => {
                let (n, total) = (n as usize, all.len());
                if n > total {
                    return Err(SynthError::Invalid(format!(
                        "{n} files per class requested, the full layout has {total}"
                    )));
                }
                let pairs = total / 6;
                let mut q = (pairs as f64 * 0.618) as usize;
                while gcd(6 * q + 1, total) != 1 {
                    q += 1;
                }
                let m = 6 * q + 1;
                out.extend((0..n).map(|i| all[i * m % total]));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One PKU-MMD v1 video (seen by three views): its number and the 0-based
/// classes of its action instances, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PkuVideo {
    pub number: u16,
    pub subject: u16,
    pub classes: Vec<usize>,
}

/// Action instances per video (the real v1 averages about 20).
pub const PKU_ACTIONS_PER_VIDEO: usize = 20;
/// Instances per class at [`Scale::Full`]: 7,140 instances, 357 videos,
/// 1,071 files (the real v1 has 1,076 files).
pub const PKU_FULL_PER_CLASS: u32 = 140;

/// The videos of a PKU-MMD v1 generation: `n` instances per class, each round
/// of 51 in a fixed shuffled order, cut into videos of 20; video numbers
/// spread over 0002-0360 so the cross-subject validation videos 0291-0334
/// exist at every scale from 9 videos up.
pub fn pku_videos(scale: Scale) -> Vec<PkuVideo> {
    let n = match scale {
        Scale::Full => PKU_FULL_PER_CLASS,
        Scale::PerClass(n) => n,
    };
    let mut order = Vec::with_capacity(51 * n as usize);
    for round in 0..u64::from(n) {
        let mut classes: Vec<usize> = (0..51).collect();
        let mut rng = crate::rng::Rng::from_parts(&[0x9C0_0DE5, round]);
        for i in (1..classes.len()).rev() {
            classes.swap(i, rng.below(i as u64 + 1) as usize);
        }
        order.extend(classes);
    }
    let videos = order.len().div_ceil(PKU_ACTIONS_PER_VIDEO);
    order
        .chunks(PKU_ACTIONS_PER_VIDEO)
        .enumerate()
        .map(|(v, classes)| {
            let number = (2 + v * 359 / videos.max(1)) as u16;
            PkuVideo {
                number,
                subject: 1 + (number - 2) * 66 / 363,
                classes: classes.to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet};

    #[test]
    fn full_scale_has_the_real_file_counts() {
        let n60 = ntu_names(Dataset::Ntu60, Scale::Full).unwrap();
        let n120 = ntu_names(Dataset::Ntu120, Scale::Full).unwrap();
        assert_eq!((n60.len(), n120.len()), (56_880, 114_480));
        assert_eq!(n120.iter().collect::<HashSet<_>>().len(), 114_480);
        let mut per_class = BTreeMap::new();
        for n in &n120 {
            *per_class.entry(n.action).or_insert(0usize) += 1;
        }
        assert!(per_class
            .iter()
            .all(|(&a, &c)| c == if a <= 60 { 948 } else { 960 }));
        assert_eq!(n120.len() / 120, 954);
        // NTU-120 contains NTU-60.
        let set: HashSet<_> = n120.iter().collect();
        assert!(n60.iter().all(|n| set.contains(n)));
        // Every official missing-skeleton name is in the layout.
        assert!(missing_names(Dataset::Ntu120)
            .iter()
            .all(|n| set.contains(n)));
        assert_eq!(missing_names(Dataset::Ntu60).len(), 302);
        assert_eq!(missing_names(Dataset::Ntu120).len(), 535);
        let subjects: BTreeSet<u16> = n120.iter().map(|n| n.subject).collect();
        assert_eq!(subjects.len(), 106);
        assert_eq!(
            n120.iter().map(|n| n.setup).collect::<BTreeSet<_>>().len(),
            32
        );
    }

    #[test]
    fn per_class_spreads_over_protocols() {
        let train_subjects = [
            1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
        ];
        let names = ntu_names(Dataset::Ntu120, Scale::PerClass(12)).unwrap();
        assert_eq!(names.len(), 120 * 12);
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
        for action in [1u16, 60, 61, 120] {
            let c: Vec<_> = names.iter().filter(|n| n.action == action).collect();
            let cams: BTreeSet<u16> = c.iter().map(|n| n.camera).collect();
            let reps: BTreeSet<u16> = c.iter().map(|n| n.replication).collect();
            let setups: BTreeSet<u16> = c.iter().map(|n| n.setup).collect();
            assert_eq!(cams.len(), 3);
            assert_eq!(reps.len(), 2);
            assert!(setups.len() >= 8, "{setups:?}");
            assert!(setups.iter().any(|s| s % 2 == 0) && setups.iter().any(|s| s % 2 == 1));
        }
        let n60 = ntu_names(Dataset::Ntu60, Scale::PerClass(6)).unwrap();
        for action in 1..=60u16 {
            let c: Vec<_> = n60.iter().filter(|n| n.action == action).collect();
            assert!(c.iter().any(|n| train_subjects.contains(&n.subject)));
            assert!(c.iter().any(|n| !train_subjects.contains(&n.subject)));
            assert!(c.iter().any(|n| n.camera == 1) && c.iter().any(|n| n.camera != 1));
        }
        assert!(ntu_names(Dataset::Ntu60, Scale::PerClass(949)).is_err());
    }

    #[test]
    fn pku_videos_cover_classes_and_validation() {
        let v = pku_videos(Scale::PerClass(3));
        let all: Vec<usize> = v.iter().flat_map(|v| v.classes.clone()).collect();
        assert_eq!(all.len(), 153);
        assert!((0..51).all(|c| all.iter().filter(|&&x| x == c).count() == 3));
        assert!(v.iter().any(|v| (291..=334).contains(&v.number)));
        let full = pku_videos(Scale::Full);
        assert_eq!(full.len() * 3, 1071);
        assert_eq!(
            full.iter().map(|v| v.number).collect::<HashSet<_>>().len(),
            full.len()
        );
    }
}
