//! `verify`: re-hashes every shard against the manifest.

use std::fmt;
use std::path::Path;

use skel_schemas::{Manifest, MANIFEST_FILE, SHARD_DIR};

use crate::error::PipelineError;
use crate::shard::hash_file;

/// What is wrong with one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing,
    Size {
        expected: u64,
        found: u64,
    },
    Checksum {
        expected: String,
        found: String,
    },
    Rows {
        expected: u64,
        found: u64,
    },
    Unreadable(String),
    /// A shard file that the manifest does not list.
    Unlisted,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "missing"),
            Self::Size { expected, found } if found < expected => {
                write!(
                    f,
                    "size {found} bytes, the manifest says {expected} (truncated)"
                )
            }
            Self::Size { expected, found } => {
                write!(f, "size {found} bytes, the manifest says {expected}")
            }
            Self::Checksum { expected, found } => {
                write!(f, "sha256 {found}, the manifest says {expected}")
            }
            Self::Rows { expected, found } => {
                write!(f, "{found} rows, the manifest says {expected}")
            }
            Self::Unreadable(why) => write!(f, "not a readable Parquet file: {why}"),
            Self::Unlisted => write!(f, "not listed in the manifest (left from another run?)"),
        }
    }
}

impl Problem {
    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            Self::Missing => {
                "restore the shard from a copy of the dataset, or convert again (convert --overwrite)"
            }
            Self::Size { .. } | Self::Checksum { .. } | Self::Rows { .. } | Self::Unreadable(_) => {
                "the shard changed after it was written (a damaged or partial copy?): restore it \
                 from a good copy of the dataset, or convert again (convert --overwrite)"
            }
            Self::Unlisted => "remove it: no reader uses a shard the manifest does not list",
        }
    }
}

/// The verdict on a dataset directory.
#[derive(Debug, Clone)]
pub struct Verification {
    pub shards: usize,
    pub problems: Vec<(String, Problem)>,
}

impl Verification {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks every shard of `dir`: presence, size, SHA-256 and row count, and
/// that no shard file is left that the manifest does not list.
pub fn verify(dir: &Path) -> Result<Verification, PipelineError> {
    let manifest = Manifest::read(&dir.join(MANIFEST_FILE))?;
    let mut problems = check_shards(dir, &manifest)?;
    let shard_dir = dir.join(SHARD_DIR);
    if let Ok(entries) = std::fs::read_dir(&shard_dir) {
        let mut unlisted: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".parquet") && !manifest.shards.iter().any(|s| &s.file == n))
            .collect();
        unlisted.sort();
        problems.extend(unlisted.into_iter().map(|n| (n, Problem::Unlisted)));
    }
    Ok(Verification {
        shards: manifest.shards.len(),
        problems,
    })
}

/// Checks the shards a manifest lists (presence, size, SHA-256, rows).
pub fn check_shards(
    dir: &Path,
    manifest: &Manifest,
) -> Result<Vec<(String, Problem)>, PipelineError> {
    let mut problems = Vec::new();
    for shard in &manifest.shards {
        let path = Manifest::shard_path(dir, shard);
        if !path.exists() {
            problems.push((shard.file.clone(), Problem::Missing));
            continue;
        }
        let (sha, bytes) = hash_file(&path)?;
        if bytes != shard.bytes {
            problems.push((
                shard.file.clone(),
                Problem::Size {
                    expected: shard.bytes,
                    found: bytes,
                },
            ));
        }
        if sha != shard.sha256 {
            problems.push((
                shard.file.clone(),
                Problem::Checksum {
                    expected: shard.sha256.clone(),
                    found: sha,
                },
            ));
            continue;
        }
        match row_count(&path) {
            Ok(rows) if rows == shard.rows => {}
            Ok(rows) => problems.push((
                shard.file.clone(),
                Problem::Rows {
                    expected: shard.rows,
                    found: rows,
                },
            )),
            Err(e) => problems.push((shard.file.clone(), Problem::Unreadable(e))),
        }
    }
    Ok(problems)
}

fn row_count(path: &Path) -> Result<u64, String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
    Ok(reader.metadata().file_metadata().num_rows() as u64)
}
