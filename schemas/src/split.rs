//! Split files: which classes are seen, unseen and pseudo-unseen (validation),
//! and which samples form each part, for one run of one protocol.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::yaml::{from_yaml, is_plain_name, YamlError};
use crate::{ClassEntry, ClassTable, Dataset};

/// Version of the split file layout.
pub const SPLIT_SCHEMA_VERSION: u32 = 1;

/// A sample partition protocol (SPEC section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// NTU: the published training subjects train, the others test; PKU-MMD
    /// phase 1: videos 0291-0334 test, the rest train.
    CrossSubject,
    /// NTU-60: cameras 2 and 3 train, camera 1 tests.
    CrossView,
    /// NTU-120: even setups train, odd setups test.
    CrossSetup,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::CrossSubject => "cross-subject",
            Self::CrossView => "cross-view",
            Self::CrossSetup => "cross-setup",
        }
    }
}

/// The classes of each role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitClasses {
    pub seen: Vec<ClassEntry>,
    pub unseen: Vec<ClassEntry>,
    /// Seen classes held out as pseudo-unseen to fit the gate.
    pub validation_unseen: Vec<ClassEntry>,
}

/// Sample names of each part.
///
/// The main phase trains on `train_seen` and tests on `test_seen` (GZSL) and
/// `test_unseen` (ZSL, GZSL). The validation phase, which fits the gate, never
/// touches the test partition: it trains on `validation_train`, the training
/// samples of the seen classes that are not pseudo-unseen, less
/// `validation_seen`, a held-out share of them; it evaluates on
/// `validation_seen` and `validation_unseen` (training samples of the
/// pseudo-unseen classes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitParts {
    pub train_seen: Vec<String>,
    pub test_seen: Vec<String>,
    pub test_unseen: Vec<String>,
    pub validation_train: Vec<String>,
    pub validation_seen: Vec<String>,
    pub validation_unseen: Vec<String>,
}

impl SplitParts {
    /// The number of samples in each part.
    pub fn counts(&self) -> SplitCounts {
        SplitCounts {
            train_seen: self.train_seen.len(),
            test_seen: self.test_seen.len(),
            test_unseen: self.test_unseen.len(),
            validation_train: self.validation_train.len(),
            validation_seen: self.validation_seen.len(),
            validation_unseen: self.validation_unseen.len(),
        }
    }

    /// Each part with its name, in file order.
    pub fn named(&self) -> [(&'static str, &Vec<String>); 6] {
        [
            ("train_seen", &self.train_seen),
            ("test_seen", &self.test_seen),
            ("test_unseen", &self.test_unseen),
            ("validation_train", &self.validation_train),
            ("validation_seen", &self.validation_seen),
            ("validation_unseen", &self.validation_unseen),
        ]
    }
}

/// Number of samples in each part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitCounts {
    pub train_seen: usize,
    pub test_seen: usize,
    pub test_unseen: usize,
    pub validation_train: usize,
    pub validation_seen: usize,
    pub validation_unseen: usize,
}

/// One split file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitFile {
    pub schema_version: u32,
    /// The class split's name: a published one (`synse-55-5`) or `random-K`.
    pub name: String,
    pub dataset: Dataset,
    pub protocol: Protocol,
    /// 0-based run of the experiment.
    pub run: u32,
    /// Seed of a generated class split and of the validation hold-out.
    pub seed: u64,
    /// Share of the training samples of each validation-seen class held out.
    pub validation_fraction: f64,
    /// SHA-256 of the `manifest.yaml` this split was made from.
    pub manifest_sha256: String,
    pub classes: SplitClasses,
    pub counts: SplitCounts,
    pub parts: SplitParts,
}

/// What to do about a split file that does not read.
const SPLIT_FIX: &str = "fix: split files are written by skel-pipeline split; make the split \
     again from the dataset (skel-pipeline split DIR ...) rather than editing it";

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("cannot read split file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("split file {path} is not valid: {source}\n{SPLIT_FIX}")]
    Parse {
        path: PathBuf,
        #[source]
        source: YamlError,
    },
    #[error("split file {path} has layout version {found}; this tool reads {expected}: make the split again")]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("split file {path}, key `{key}`: {message}\n{SPLIT_FIX}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error(
        "split file {path} was made from a manifest with SHA-256 {expected}, but this dataset's \
         manifest has {found}: make the split again from this dataset (skel-pipeline split)"
    )]
    ManifestMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("cannot serialise split: {0}")]
    Serialise(#[from] serde_saphyr::ser::Error),
}

impl SplitFile {
    pub fn read(path: &Path) -> Result<Self, SplitError> {
        let text = std::fs::read_to_string(path).map_err(|source| SplitError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses split text and checks what types cannot (layout version, sample
    /// names that are plain names, counts that match the parts); `path` is
    /// only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SplitError> {
        let split: SplitFile = from_yaml(text).map_err(|source| SplitError::Parse {
            path: path.to_owned(),
            source,
        })?;
        if split.schema_version != SPLIT_SCHEMA_VERSION {
            return Err(SplitError::Version {
                path: path.to_owned(),
                found: split.schema_version,
                expected: SPLIT_SCHEMA_VERSION,
            });
        }
        split.check(path)?;
        Ok(split)
    }

    fn check(&self, path: &Path) -> Result<(), SplitError> {
        let invalid = |key: String, message: String| SplitError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };
        if !is_plain_name(&self.name) {
            return Err(invalid(
                "name".into(),
                format!(
                    "{:?} is not a plain name (no folders, `..` or hidden names)",
                    self.name
                ),
            ));
        }
        let seen: std::collections::BTreeSet<u16> =
            self.classes.seen.iter().map(|c| c.index).collect();
        if let Some((i, c)) =
            (self.classes.unseen.iter().enumerate()).find(|(_, c)| seen.contains(&c.index))
        {
            return Err(invalid(
                format!("classes.unseen[{i}]"),
                format!("class {} ({:?}) is also a seen class; seen and unseen classes must be disjoint", c.index, c.name),
            ));
        }
        if let Some((i, c)) = (self.classes.validation_unseen.iter().enumerate())
            .find(|(_, c)| !seen.contains(&c.index))
        {
            return Err(invalid(
                format!("classes.validation_unseen[{i}]"),
                format!("class {} ({:?}) is not a seen class; the pseudo-unseen classes are held out of the seen ones", c.index, c.name),
            ));
        }
        let c = &self.counts;
        let counts = [
            c.train_seen,
            c.test_seen,
            c.test_unseen,
            c.validation_train,
            c.validation_seen,
            c.validation_unseen,
        ];
        for ((part, names), count) in self.parts.named().into_iter().zip(counts) {
            if let Some(i) = names.iter().position(|n| !is_plain_name(n)) {
                return Err(invalid(
                    format!("parts.{part}[{i}]"),
                    format!(
                        "sample name {:?} is not a plain name (no folders, `..` or hidden names)",
                        names[i]
                    ),
                ));
            }
            if names.len() != count {
                return Err(invalid(
                    format!("counts.{part}"),
                    format!("says {count} but parts.{part} holds {} names", names.len()),
                ));
            }
        }
        Ok(())
    }

    /// Refuses class entries that are not the dataset's: each must be the
    /// manifest's class of that index (same action id and name).
    pub fn check_classes(&self, path: &Path, table: &ClassTable) -> Result<(), SplitError> {
        let c = &self.classes;
        for (role, list) in [
            ("seen", &c.seen),
            ("unseen", &c.unseen),
            ("validation_unseen", &c.validation_unseen),
        ] {
            for (i, class) in list.iter().enumerate() {
                let message = match table.by_index(class.index) {
                    Some(found) if found == class => continue,
                    Some(found) => format!(
                        "class index {} is action {} {:?} in the dataset, not action {} {:?}",
                        class.index, found.action, found.name, class.action, class.name
                    ),
                    None => format!(
                        "class index {} (action {} {:?}) is not in the dataset, whose manifest \
                         lists {} classes (indices 0-{})",
                        class.index,
                        class.action,
                        class.name,
                        table.len(),
                        table.len().saturating_sub(1)
                    ),
                };
                return Err(SplitError::Invalid {
                    path: path.to_owned(),
                    key: format!("classes.{role}[{i}]"),
                    message,
                });
            }
        }
        Ok(())
    }

    /// Refuses a split made from another manifest than the one hashed to `manifest_sha256`.
    pub fn check_manifest(&self, path: &Path, manifest_sha256: &str) -> Result<(), SplitError> {
        if self.manifest_sha256 == manifest_sha256 {
            Ok(())
        } else {
            Err(SplitError::ManifestMismatch {
                path: path.to_owned(),
                expected: self.manifest_sha256.clone(),
                found: manifest_sha256.to_owned(),
            })
        }
    }

    pub fn to_yaml(&self) -> Result<String, SplitError> {
        Ok(serde_saphyr::to_string(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SplitFile {
        SplitFile {
            schema_version: SPLIT_SCHEMA_VERSION,
            name: "random-5".into(),
            dataset: Dataset::Ntu60,
            protocol: Protocol::CrossSubject,
            run: 0,
            seed: 1,
            validation_fraction: 0.2,
            manifest_sha256: "aa".into(),
            classes: SplitClasses {
                seen: vec![],
                unseen: vec![],
                validation_unseen: vec![],
            },
            counts: SplitCounts {
                train_seen: 1,
                ..SplitCounts::default()
            },
            parts: SplitParts {
                train_seen: vec!["S001C001P001R001A001".into()],
                ..SplitParts::default()
            },
        }
    }

    #[test]
    fn a_split_of_another_manifest_is_refused() {
        let split = sample();
        let path = Path::new("splits/random-5-cross-subject-run0.yaml");
        assert!(split.check_manifest(path, "aa").is_ok());
        let err = split.check_manifest(path, "bb").unwrap_err().to_string();
        assert!(
            err.contains("make the split again")
                && err.contains("random-5-cross-subject-run0.yaml"),
            "{err}"
        );
        let text = split.to_yaml().unwrap();
        assert_eq!(SplitFile::parse(&text, path).unwrap(), split);
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_file_key_and_fix() {
        let text = sample().to_yaml().unwrap();
        let path = Path::new("splits/x.yaml");
        for (from, to, key) in [
            ("run: 0\n", "run: 0\nrun_name: a\n", "run_name"),
            ("run: 0\n", "run: first\n", "run"),
            (
                "protocol: cross-subject\n",
                "protocol: sideways\n",
                "protocol",
            ),
            (
                "validation_fraction: 0.2\n",
                "validation_fraction: [1]\n",
                "validation_fraction",
            ),
            (
                "  train_seen: 1\n",
                "  train_seen: one\n",
                "counts.train_seen",
            ),
        ] {
            assert!(text.contains(from), "{from}: {text}");
            let msg = SplitFile::parse(&text.replacen(from, to, 1), path)
                .unwrap_err()
                .to_string();
            for part in ["splits/x.yaml", &format!("`{key}`"), "fix: "] {
                assert!(msg.contains(part), "{to}: {msg}");
            }
        }
    }

    #[test]
    fn sample_names_that_could_escape_a_folder_are_refused() {
        for bad in ["../../etc/passwd", "/abs", "a/b", ".hidden", ""] {
            let mut split = sample();
            split.parts.train_seen[0] = bad.into();
            let msg = SplitFile::parse(&split.to_yaml().unwrap(), Path::new("s.yaml"))
                .unwrap_err()
                .to_string();
            assert!(msg.contains("key `parts.train_seen[0]`"), "{bad}: {msg}");
        }
        let mut split = sample();
        split.name = "../up".into();
        let msg = SplitFile::parse(&split.to_yaml().unwrap(), Path::new("s.yaml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("key `name`"), "{msg}");
    }

    #[test]
    fn counts_must_match_the_parts() {
        let mut split = sample();
        split.counts.train_seen = 7;
        let msg = SplitFile::parse(&split.to_yaml().unwrap(), Path::new("s.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("key `counts.train_seen`") && msg.contains("says 7"),
            "{msg}"
        );
    }

    #[test]
    fn class_roles_must_not_overlap() {
        let class = |index: u16| ClassEntry {
            index,
            action: index + 1,
            name: format!("class {index}"),
        };
        let mut split = sample();
        split.classes.seen = vec![class(0), class(1)];
        split.classes.unseen = vec![class(2), class(1)];
        let msg = SplitFile::parse(&split.to_yaml().unwrap(), Path::new("s.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("key `classes.unseen[1]`") && msg.contains("also a seen class"),
            "{msg}"
        );
        split.classes.unseen = vec![class(2)];
        split.classes.validation_unseen = vec![class(2)];
        let msg = SplitFile::parse(&split.to_yaml().unwrap(), Path::new("s.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("key `classes.validation_unseen[0]`") && msg.contains("not a seen class"),
            "{msg}"
        );
    }
}
