//! The zero-shot class splits published with the literature (SPEC section 4),
//! 0-based class indices in the published files' order.

use skel_schemas::Dataset;

/// One run of a published split: unseen classes and, where published, the
/// validation (pseudo-unseen) classes used to fit the gate.
#[derive(Debug, Clone, Copy)]
pub struct PublishedRun {
    pub unseen: &'static [u16],
    pub validation: Option<&'static [u16]>,
}

/// A published class split.
#[derive(Debug, Clone, Copy)]
pub struct Published {
    pub name: &'static str,
    /// NTU-60, NTU-120 or PKU-MMD (either phase).
    pub family: Family,
    pub runs: &'static [PublishedRun],
    pub source: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ntu60,
    Ntu120,
    Pku,
}

impl Family {
    pub fn of(dataset: Dataset) -> Self {
        match dataset {
            Dataset::Ntu60 => Self::Ntu60,
            Dataset::Ntu120 => Self::Ntu120,
            Dataset::PkuV1 | Dataset::PkuV2 => Self::Pku,
        }
    }
}

const fn run(unseen: &'static [u16], validation: &'static [u16]) -> PublishedRun {
    PublishedRun {
        unseen,
        validation: Some(validation),
    }
}

const fn unseen_only(unseen: &'static [u16]) -> PublishedRun {
    PublishedRun {
        unseen,
        validation: None,
    }
}

/// Every published split this tool knows.
pub const PUBLISHED: &[Published] = &[
    Published {
        name: "synse-55-5",
        family: Family::Ntu60,
        runs: &[run(&[10, 11, 19, 26, 56], &[21, 16, 31, 25, 48])],
        source: "SynSE (Gupta et al. 2021) ru5.npy / rv5_0.npy",
    },
    Published {
        name: "synse-48-12",
        family: Family::Ntu60,
        runs: &[run(
            &[9, 42, 12, 58, 15, 51, 47, 59, 5, 3, 56, 40],
            &[22, 8, 17, 54, 33, 50, 39, 30, 4, 46, 13, 10],
        )],
        source: "SynSE ru12.npy / rv12_0.npy",
    },
    Published {
        name: "synse-110-10",
        family: Family::Ntu120,
        runs: &[run(
            &[99, 65, 13, 88, 4, 106, 95, 37, 49, 43],
            &[96, 83, 74, 77, 72, 76, 61, 5, 32, 10],
        )],
        source: "SynSE ru10.npy / rv10_0.npy",
    },
    Published {
        name: "synse-96-24",
        family: Family::Ntu120,
        runs: &[run(
            &[
                5, 9, 11, 16, 18, 20, 22, 29, 35, 39, 45, 49, 59, 68, 70, 81, 84, 87, 93, 94, 104,
                113, 114, 119,
            ],
            &[
                17, 10, 1, 103, 105, 58, 108, 4, 48, 83, 97, 66, 92, 86, 79, 89, 53, 100, 47, 27,
                98, 3, 19, 63,
            ],
        )],
        source: "SynSE ru24.npy / rv24_0.npy",
    },
    Published {
        name: "paper-random",
        family: Family::Ntu60,
        runs: &[
            unseen_only(&[4, 19, 31, 47, 51]),
            unseen_only(&[12, 29, 32, 44, 59]),
            unseen_only(&[7, 20, 28, 39, 58]),
        ],
        source: "SA-DVAE Tables 6-7 random splits (validation classes drawn from the seed)",
    },
    Published {
        name: "paper-random",
        family: Family::Ntu120,
        runs: &[
            unseen_only(&[3, 18, 26, 38, 41, 60, 87, 99, 102, 110]),
            unseen_only(&[5, 12, 14, 15, 17, 42, 67, 82, 100, 119]),
            unseen_only(&[6, 20, 27, 33, 42, 55, 71, 97, 104, 118]),
        ],
        source: "SA-DVAE Tables 6-7 random splits (validation classes drawn from the seed)",
    },
    Published {
        name: "paper-random",
        family: Family::Pku,
        runs: &[
            unseen_only(&[1, 9, 20, 34, 50]),
            unseen_only(&[3, 14, 29, 31, 49]),
            unseen_only(&[2, 15, 39, 41, 43]),
        ],
        source: "SA-DVAE Tables 6-7 random splits (validation classes drawn from the seed)",
    },
];

/// The published split `name` for a dataset.
pub fn find(name: &str, dataset: Dataset) -> Option<&'static Published> {
    PUBLISHED
        .iter()
        .find(|p| p.name == name && p.family == Family::of(dataset))
}

/// Names available for a dataset (for error messages).
pub fn names_for(dataset: Dataset) -> Vec<&'static str> {
    PUBLISHED
        .iter()
        .filter(|p| p.family == Family::of(dataset))
        .map(|p| p.name)
        .collect()
}
