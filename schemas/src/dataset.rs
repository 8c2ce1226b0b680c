//! The datasets and body-cleaning presets the pipeline knows.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A raw dataset layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataset {
    /// NTU RGB+D 60: setups S001-S017, actions A001-A060.
    Ntu60,
    /// NTU RGB+D 120: setups S001-S032, actions A001-A120.
    Ntu120,
    /// PKU-MMD phase 1: long sequences `XXXX-V.txt` with label files.
    PkuV1,
    /// PKU-MMD phase 2: sequences `A##N##-V.txt` with label files.
    PkuV2,
}

impl Dataset {
    pub const ALL: [Dataset; 4] = [Self::Ntu60, Self::Ntu120, Self::PkuV1, Self::PkuV2];

    /// The name used on the command line and in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ntu60 => "ntu60",
            Self::Ntu120 => "ntu120",
            Self::PkuV1 => "pku-v1",
            Self::PkuV2 => "pku-v2",
        }
    }

    /// Number of action classes.
    pub fn num_classes(self) -> usize {
        match self {
            Self::Ntu60 => 60,
            Self::Ntu120 => 120,
            Self::PkuV1 | Self::PkuV2 => 51,
        }
    }

    pub fn is_ntu(self) -> bool {
        matches!(self, Self::Ntu60 | Self::Ntu120)
    }

    /// Highest NTU setup number of the dataset (None for PKU-MMD).
    pub fn max_setup(self) -> Option<u16> {
        match self {
            Self::Ntu60 => Some(17),
            Self::Ntu120 => Some(32),
            Self::PkuV1 | Self::PkuV2 => None,
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How raw bodies become at most two actors (see `pipeline/src/clean/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Every body track kept unmodified: one actor slot per body ID, all raw frames.
    Raw,
    /// yysijie/st-gcn: first two bodies per frame, 300 frames, zero padding.
    Stgcn,
    /// microsoft/SGN as reused by CTR-GCN: denoise, two actors, centre, pad to 300.
    Ctrgcn,
    /// 2s-AGCN / MS-G3D: two most energetic bodies, repeat padding, centre, rotate.
    Agcn,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Self::Raw, Self::Stgcn, Self::Ctrgcn, Self::Agcn];

    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Stgcn => "stgcn",
            Self::Ctrgcn => "ctrgcn",
            Self::Agcn => "agcn",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
