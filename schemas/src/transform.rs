//! The transform chain applied after body cleaning: typed specs, written to
//! YAML configs by users and recorded in the manifest by the pipeline.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::yaml::{from_yaml, YamlError};

/// Most frames a temporal transform may produce: far above any dataset's
/// longest sample, low enough that a typo cannot ask for gigabytes per sample.
pub const MAX_TRANSFORM_FRAMES: usize = 10_000;

/// Kinect v2 joints, in file order (SPEC section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Joint {
    SpineBase,
    SpineMid,
    Neck,
    Head,
    ShoulderLeft,
    ElbowLeft,
    WristLeft,
    HandLeft,
    ShoulderRight,
    ElbowRight,
    WristRight,
    HandRight,
    HipLeft,
    KneeLeft,
    AnkleLeft,
    FootLeft,
    HipRight,
    KneeRight,
    AnkleRight,
    FootRight,
    SpineShoulder,
    HandTipLeft,
    ThumbLeft,
    HandTipRight,
    ThumbRight,
}

impl Joint {
    /// 0-based index in a pose.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where a per-sample quantity is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reference {
    /// Once per sequence, from its first valid frame.
    Sequence,
    /// Again in every frame.
    Frame,
}

/// How a sequence becomes a fixed number of frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Temporal {
    /// Nearest frame at the centre of each of `frames` equal bins.
    Uniform,
    /// Linear interpolation at `frames` evenly spaced times, ends included.
    Linear,
    /// Pad with zero frames (longer sequences keep their first `frames`).
    PadZeros,
    /// Pad by repeating the sequence from its start (longer sequences keep their first `frames`).
    PadRepeat,
}

/// One step of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum TransformSpec {
    /// Rotate about the vertical (y) axis so that the body faces +z (Holden et
    /// al. 2016): across = (L shoulder - R shoulder) + (L hip - R hip),
    /// forward = up x across; pivot is actor 1's SpineBase.
    Canonicalize { reference: Reference },
    /// Subtract actor 1's `joint` from every joint of every actor.
    Centre { joint: Joint, reference: Reference },
    /// Divide by actor 1's mean SpineBase-SpineShoulder length over the valid frames.
    ScaleBody,
    /// Bring the valid frames to exactly `frames` frames.
    Frames { frames: usize, method: Temporal },
}

impl TransformSpec {
    /// A short name for logs and summaries.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Canonicalize { .. } => "canonicalize",
            Self::Centre { .. } => "centre",
            Self::ScaleBody => "scale-body",
            Self::Frames { .. } => "frames",
        }
    }

    /// Checks values that types cannot.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Frames { frames: 0, .. } => Err("frames: must be at least 1".into()),
            Self::Frames { frames, .. } if *frames > MAX_TRANSFORM_FRAMES => Err(format!(
                "frames: {frames} is more than the {MAX_TRANSFORM_FRAMES} allowed (the longest \
                 samples of the datasets have about 700 frames)"
            )),
            Self::Frames {
                frames: 1,
                method: Temporal::Linear,
            } => Err("frames: linear interpolation needs at least 2 frames".into()),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for TransformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Canonicalize { reference } => {
                write!(f, "canonicalize(per {})", kebab(reference))
            }
            Self::Centre { joint, reference } => {
                write!(f, "centre({}, per {})", kebab(joint), kebab(reference))
            }
            Self::ScaleBody => write!(f, "scale-body"),
            Self::Frames { frames, method } => write!(f, "frames({frames}, {})", kebab(method)),
        }
    }
}

/// A unit variant's name as YAML spells it (`SpineBase` -> `spine-base`),
/// so what is printed can be pasted back into a chain file.
fn kebab(value: &impl fmt::Debug) -> String {
    let mut out = String::new();
    for (i, c) in format!("{value:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A transform chain file: `transforms: [...]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    pub transforms: Vec<TransformSpec>,
}

/// What to do about a transform chain file that does not read.
const TRANSFORM_FIX: &str = "fix: a chain file is `transforms:` with a list of steps \
     canonicalize { reference }, centre { joint, reference }, scale-body, frames { frames, method }; \
     see configs/transforms/ for an example";

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("cannot read transform chain {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("transform chain {path} is not valid: {source}\n{TRANSFORM_FIX}")]
    Parse {
        path: PathBuf,
        #[source]
        source: YamlError,
    },
    #[error("transform chain {path}, key `{key}`: {message}\n{TRANSFORM_FIX}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

impl TransformConfig {
    pub fn read(path: &Path) -> Result<Self, TransformError> {
        let text = std::fs::read_to_string(path).map_err(|source| TransformError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses a chain file and validates every step; `path` is only used in
    /// error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, TransformError> {
        let config: TransformConfig = from_yaml(text).map_err(|source| TransformError::Parse {
            path: path.to_owned(),
            source,
        })?;
        for (i, spec) in config.transforms.iter().enumerate() {
            spec.validate().map_err(|message| TransformError::Invalid {
                path: path.to_owned(),
                key: format!("transforms[{i}]"),
                message,
            })?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_reads_from_yaml() {
        let text = "transforms:\n  - canonicalize: { reference: sequence }\n  - centre: { joint: spine-mid, reference: frame }\n  - scale-body\n  - frames: { frames: 64, method: linear }\n";
        let cfg: TransformConfig = serde_saphyr::from_str(text).unwrap();
        assert_eq!(cfg.transforms.len(), 4);
        assert_eq!(
            cfg.transforms[1],
            TransformSpec::Centre {
                joint: Joint::SpineMid,
                reference: Reference::Frame
            }
        );
        let back: TransformConfig =
            serde_saphyr::from_str(&serde_saphyr::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
        assert!(serde_saphyr::from_str::<TransformConfig>(
            "transforms:\n  - centre: { joint: elbow }\n"
        )
        .is_err());
        assert_eq!(Joint::SpineShoulder.index(), 20);
    }

    #[test]
    fn bad_chains_name_the_file_key_and_fix() {
        let path = Path::new("configs/transforms/x.yaml");
        for (text, key) in [
            (
                "transforms:\n  - scale-body\nsurprise: 2\n",
                "unknown field `surprise`",
            ),
            (
                "transforms:\n  - frames: { frames: 3, method: linear, extra: 1 }\n",
                "`transforms[0].frames.extra`",
            ),
            (
                "transforms:\n  - scale-body\n  - frames: { frames: -3, method: linear }\n",
                "`transforms[1].frames.frames`",
            ),
            (
                "transforms:\n  - centre: { joint: elbow, reference: frame }\n",
                "`transforms[0].centre.joint`",
            ),
            (
                "transforms:\n  - frames: { frames: 0, method: linear }\n",
                "`transforms[0]`",
            ),
            (
                "transforms:\n  - frames: { frames: 100000000000, method: uniform }\n",
                "`transforms[0]`",
            ),
        ] {
            let msg = TransformConfig::parse(text, path).unwrap_err().to_string();
            for part in ["configs/transforms/x.yaml", key, "fix: "] {
                assert!(msg.contains(part), "{text}: {msg}");
            }
        }
    }
}
