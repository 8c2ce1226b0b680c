//! The dataset manifest: the one file that says what a converted dataset
//! directory holds, written last and atomically by the pipeline.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::yaml::{from_yaml, is_plain_name, YamlError};
use crate::{ClassTable, Dataset, Preset, TransformSpec};

/// Version of the shard schema and manifest layout; bumped on any change.
pub const SCHEMA_VERSION: u32 = 1;
/// File name of the manifest inside a dataset directory.
pub const MANIFEST_FILE: &str = "manifest.yaml";
/// Folder of the Parquet shards inside a dataset directory.
pub const SHARD_DIR: &str = "shards";

/// What to do about a manifest that does not read: it is the tool's output,
/// never edited by hand.
const MANIFEST_FIX: &str = "fix: manifests are written by skel-pipeline convert and merge; \
     restore the one they wrote, or convert the raw data again (convert --overwrite)";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("manifest {path} is not valid: {source}\n{MANIFEST_FIX}")]
    Parse {
        path: PathBuf,
        #[source]
        source: YamlError,
    },
    #[error(
        "manifest {path} has schema version {found}, this tool reads version {expected}: \
         convert the raw data again with this version"
    )]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error(
        "manifest {path}, key `{key}`: shard path {file:?} is not a plain file name inside \
         {SHARD_DIR}/ (absolute paths, `..` and folders are refused so that no reader leaves \
         the dataset folder)\n{MANIFEST_FIX}"
    )]
    UnsafePath {
        path: PathBuf,
        key: String,
        file: String,
    },
    #[error("manifest {path}, key `{key}`: {message}\n{MANIFEST_FIX}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot serialise manifest: {0}")]
    Serialise(#[from] serde_saphyr::ser::Error),
}

/// The tool that wrote a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

/// One part of a distributed conversion: the inputs whose stable hash is
/// `index` modulo `count` (0-based index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub index: u32,
    pub count: u32,
}

impl Part {
    /// Whether this part converts the input at `rel` (its path relative to the raw folder).
    pub fn owns(&self, rel: &str) -> bool {
        stable_hash(rel.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }

    /// Prefix of this part's shard files.
    pub fn shard_prefix(&self) -> String {
        format!("part-{}-of-{}-", self.index, self.count)
    }

    /// File name of this part's manifest.
    pub fn manifest_file(&self) -> String {
        format!("manifest.part-{}-of-{}.yaml", self.index, self.count)
    }
}

/// FNV-1a: the same on every machine, so a partition never depends on where it runs.
fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One complete Parquet shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardEntry {
    /// File name inside `shards/`.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
}

/// A raw file (or PKU-MMD clip) that could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineEntry {
    /// Path relative to the raw directory.
    pub file: String,
    /// 1-based line of the problem, where one line is to blame.
    pub line: Option<u64>,
    pub reason: String,
}

/// What happened to the discovered inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Raw files found (skeleton files; label files are not counted).
    pub files: u64,
    /// Samples written to shards.
    pub samples: u64,
    /// Files or clips quarantined.
    pub quarantined: u64,
    /// Samples skipped because the official missing-skeleton list names them.
    pub missing_listed: u64,
    /// Bytes of raw skeleton text read.
    pub raw_bytes: u64,
}

/// The manifest of a converted dataset directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub dataset: Dataset,
    pub preset: Preset,
    /// Reference variant the preset reproduced (e.g. `ctrgcn120`).
    pub preset_variant: String,
    /// Transforms applied after cleaning, in order.
    pub transforms: Vec<TransformSpec>,
    /// Layout of the `joints` column.
    pub joint_layout: String,
    pub classes: ClassTable,
    pub shards: Vec<ShardEntry>,
    pub quarantine: Vec<QuarantineEntry>,
    /// Samples dropped because the official missing-skeleton list names them.
    pub missing_listed: Vec<String>,
    pub counts: Counts,
    /// Set in the partial manifest of one part of a distributed conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
}

impl Manifest {
    /// Reads and checks a manifest file (schema version, safe shard paths).
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses manifest text and checks what types cannot (schema version,
    /// shard names that stay inside `shards/`, checksums, the part); `path`
    /// is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let manifest: Manifest = from_yaml(text).map_err(|source| ManifestError::Parse {
            path: path.to_owned(),
            source,
        })?;
        if manifest.schema_version != SCHEMA_VERSION {
            return Err(ManifestError::Version {
                path: path.to_owned(),
                found: manifest.schema_version,
                expected: SCHEMA_VERSION,
            });
        }
        manifest.check(path)?;
        Ok(manifest)
    }

    fn check(&self, path: &Path) -> Result<(), ManifestError> {
        let invalid = |key: String, message: String| ManifestError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };
        let mut files = HashSet::new();
        for (i, shard) in self.shards.iter().enumerate() {
            if !is_plain_name(&shard.file) {
                return Err(ManifestError::UnsafePath {
                    path: path.to_owned(),
                    key: format!("shards[{i}].file"),
                    file: shard.file.clone(),
                });
            }
            if !files.insert(shard.file.as_str()) {
                return Err(invalid(
                    format!("shards[{i}].file"),
                    format!("shard {} is listed twice", shard.file),
                ));
            }
            if !is_sha256_hex(&shard.sha256) {
                return Err(invalid(
                    format!("shards[{i}].sha256"),
                    format!(
                        "{:?} is not a SHA-256 (64 lower-case hex digits)",
                        shard.sha256
                    ),
                ));
            }
        }
        if let Some(part) = self.part {
            if part.count == 0 || part.index >= part.count {
                return Err(invalid(
                    "part".into(),
                    format!(
                        "part {} of {} does not exist: parts are numbered 0 to count - 1",
                        part.index, part.count
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn to_yaml(&self) -> Result<String, ManifestError> {
        Ok(serde_saphyr::to_string(self)?)
    }

    /// Path of a shard of this manifest inside the dataset directory `dir`.
    pub fn shard_path(dir: &Path, shard: &ShardEntry) -> PathBuf {
        dir.join(SHARD_DIR).join(&shard.file)
    }
}

/// Lower-case hex of 32 bytes, as the pipeline writes checksums.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClassEntry;

    fn sample() -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "skel-pipeline".into(),
                version: "0.1.0".into(),
            },
            dataset: Dataset::Ntu60,
            preset: Preset::Ctrgcn,
            preset_variant: "ctrgcn60".into(),
            transforms: vec![],
            joint_layout: "t,m,v,xyz".into(),
            classes: ClassTable(vec![ClassEntry {
                index: 0,
                action: 1,
                name: "drink water".into(),
            }]),
            shards: vec![ShardEntry {
                file: "part-00000.parquet".into(),
                rows: 3,
                bytes: 100,
                sha256: "ab".repeat(32),
            }],
            quarantine: vec![QuarantineEntry {
                file: "bad.skeleton".into(),
                line: Some(4),
                reason: "expected 12 joint fields, got 11".into(),
            }],
            missing_listed: vec!["S001C002P005R002A008".into()],
            counts: Counts::default(),
            part: None,
        }
    }

    #[test]
    fn yaml_round_trip() {
        let m = sample();
        let text = m.to_yaml().unwrap();
        let back = Manifest::parse(&text, Path::new("m.yaml")).unwrap();
        assert_eq!(m, back);
    }

    #[test]
    fn parts_partition_every_name_once() {
        let parts: Vec<Part> = (0..3).map(|index| Part { index, count: 3 }).collect();
        for i in 0..500 {
            let name = format!("S001C001P{i:03}R001A001.skeleton");
            assert_eq!(parts.iter().filter(|p| p.owns(&name)).count(), 1);
        }
        // Pinned: the partition is the same on every machine.
        assert!(parts[2].owns("S001C001P001R001A001.skeleton"));
        let mut m = sample();
        m.part = Some(parts[1]);
        assert_eq!(
            Manifest::parse(&m.to_yaml().unwrap(), Path::new("m")).unwrap(),
            m
        );
    }

    #[test]
    fn rejects_escaping_shard_paths() {
        for bad in [
            "../x.parquet",
            "/etc/passwd",
            "a/b.parquet",
            ".hidden",
            "",
            "..",
        ] {
            let mut m = sample();
            m.shards[0].file = bad.into();
            let text = m.to_yaml().unwrap();
            let err = Manifest::parse(&text, Path::new("data/m.yaml")).unwrap_err();
            assert!(
                matches!(err, ManifestError::UnsafePath { .. }),
                "{bad}: {err}"
            );
            let msg = err.to_string();
            for part in ["data/m.yaml", "key `shards[0].file`", "fix: ", "convert"] {
                assert!(msg.contains(part), "{bad}: {msg}");
            }
        }
    }

    #[test]
    fn rejects_unknown_keys_and_versions() {
        let text = sample().to_yaml().unwrap();
        let extra = format!("{text}surprise: 1\n");
        let err = Manifest::parse(&extra, Path::new("data/m.yaml")).unwrap_err();
        assert!(matches!(err, ManifestError::Parse { .. }));
        let msg = err.to_string();
        for part in ["data/m.yaml", "unknown field `surprise`", "fix: "] {
            assert!(msg.contains(part), "{msg}");
        }
        let nested = text.replace("  rows: 3\n", "  rows: 3\n  color: red\n");
        let msg = Manifest::parse(&nested, Path::new("m.yaml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("key `shards[0].color`"), "{msg}");
        let old = text.replace("schema_version: 1", "schema_version: 0");
        assert!(matches!(
            Manifest::parse(&old, Path::new("m.yaml")),
            Err(ManifestError::Version { found: 0, .. })
        ));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let text = sample().to_yaml().unwrap();
        for (from, to, key) in [
            ("  rows: 3\n", "  rows: three\n", "shards[0].rows"),
            ("  rows: 3\n", "  rows: -3\n", "shards[0].rows"),
            ("preset: ctrgcn\n", "preset: fancy\n", "preset"),
            ("  line: 4\n", "  line: [4]\n", "quarantine[0].line"),
        ] {
            assert!(text.contains(from), "{from}: {text}");
            let bad = text.replace(from, to);
            let err = Manifest::parse(&bad, Path::new("data/m.yaml")).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("key `{key}`")) && msg.contains("data/m.yaml"),
                "{to}: {msg}"
            );
        }
    }

    #[test]
    fn rejects_duplicate_shards_bad_checksums_and_impossible_parts() {
        let mut twice = sample();
        twice.shards.push(twice.shards[0].clone());
        let msg = Manifest::parse(&twice.to_yaml().unwrap(), Path::new("m.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("key `shards[1].file`") && msg.contains("listed twice"),
            "{msg}"
        );

        let mut sha = sample();
        sha.shards[0].sha256 = "XYZ".into();
        let msg = Manifest::parse(&sha.to_yaml().unwrap(), Path::new("m.yaml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("key `shards[0].sha256`"), "{msg}");

        for (index, count) in [(0, 0), (3, 3)] {
            let mut part = sample();
            part.part = Some(Part { index, count });
            let msg = Manifest::parse(&part.to_yaml().unwrap(), Path::new("m.yaml"))
                .unwrap_err()
                .to_string();
            assert!(
                msg.contains("key `part`") && msg.contains("does not exist"),
                "{msg}"
            );
        }
    }
}
