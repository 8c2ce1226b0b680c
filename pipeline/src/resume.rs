//! Resumable conversion: every finished shard leaves a receipt beside it
//! (`shards/.{shard}.receipt`), so a conversion that was killed converts
//! again only the shards it had not finished.
//!
//! A receipt is written after its shard has been synced and renamed into
//! place. It records a fingerprint of everything the shard depends on (the
//! tool version, the settings, and the name, size and modification time of
//! each input file and PKU-MMD label file, as `make` and `rsync` judge
//! freshness), the shard's own entry (size, SHA-256, rows) and what the
//! manifest needs from it (quarantined files, raw bytes). On a rerun a shard
//! is kept when its receipt's fingerprint matches and the file on disk still
//! has the recorded size and SHA-256; otherwise it is converted again. The
//! receipts are removed once the manifest is written.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use skel_schemas::{QuarantineEntry, ShardEntry};

use crate::error::PipelineError;
use crate::shard::hash_file;

/// What a finished shard's worker produced, kept for a rerun.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// SHA-256 (hex) of the settings and of the inputs' names, sizes and mtimes.
    pub fingerprint: String,
    /// `None` when every input of the shard was quarantined (no file is written).
    pub shard: Option<ShardEntry>,
    pub quarantine: Vec<QuarantineEntry>,
    pub samples: u64,
    pub raw_bytes: u64,
}

/// Path of the receipt of shard `file` in `dir`.
pub fn receipt_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!(".{file}.receipt"))
}

/// Whether `name` is the receipt of a shard that `own` accepts.
pub fn is_receipt_of(name: &str, own: impl Fn(&str) -> bool) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_suffix(".receipt"))
        .is_some_and(own)
}

/// Builds the fingerprint of one shard.
pub struct Fingerprint(Sha256);

impl Fingerprint {
    /// Starts with the settings that shape every shard (tool version,
    /// dataset, preset, transforms) and the shard's own file name.
    pub fn new(settings: &str, file: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(concat!(
            env!("CARGO_PKG_NAME"),
            " ",
            env!("CARGO_PKG_VERSION"),
            "\n"
        ));
        hasher.update(settings.as_bytes());
        hasher.update(b"\n");
        hasher.update(file.as_bytes());
        hasher.update(b"\n");
        Self(hasher)
    }

    /// Adds a file the shard is made from; returns its size (0 when it
    /// cannot be read: the conversion quarantines it, and the fingerprint
    /// records that too).
    pub fn add_file(&mut self, name: &str, path: &Path) -> u64 {
        self.0.update(name.as_bytes());
        match std::fs::metadata(path) {
            Ok(meta) => {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                self.0.update(format!("\t{}\t{mtime}\n", meta.len()));
                meta.len()
            }
            Err(e) => {
                self.0.update(format!("\tunreadable: {:?}\n", e.kind()));
                0
            }
        }
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The receipt of shard `file` if it can be trusted: it reads, its
/// fingerprint is `fingerprint`, and the shard on disk has the recorded size
/// and SHA-256 (or, for a shard with no rows, no file exists).
pub fn reusable(dir: &Path, file: &str, fingerprint: &str) -> Option<Receipt> {
    let text = std::fs::read_to_string(receipt_path(dir, file)).ok()?;
    let receipt: Receipt = serde_saphyr::from_str(&text).ok()?;
    if receipt.fingerprint != fingerprint {
        return None;
    }
    let path = dir.join(file);
    match &receipt.shard {
        Some(entry) => {
            if entry.file != file {
                return None;
            }
            let (sha, bytes) = hash_file(&path).ok()?;
            (sha == entry.sha256 && bytes == entry.bytes).then_some(receipt)
        }
        None => (!path.exists()).then_some(receipt),
    }
}

/// Removes shard `file` and its receipt, where they exist.
pub fn forget(dir: &Path, file: &str) -> Result<(), PipelineError> {
    for path in [receipt_path(dir, file), dir.join(file)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PipelineError::io(&path)(e)),
        }
    }
    Ok(())
}

/// Writes the receipt of a finished shard (temporary file, then rename).
pub fn write(dir: &Path, file: &str, receipt: &Receipt) -> Result<(), PipelineError> {
    let path = receipt_path(dir, file);
    let tmp = dir.join(format!(".{file}.receipt.tmp"));
    let text = serde_saphyr::to_string(receipt)
        .map_err(|e| PipelineError::Usage(format!("cannot serialise a shard receipt: {e}")))?;
    std::fs::write(&tmp, text).map_err(PipelineError::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(PipelineError::io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &Path, file: &str, bytes: &[u8]) -> ShardEntry {
        std::fs::write(dir.join(file), bytes).unwrap();
        let (sha256, size) = hash_file(&dir.join(file)).unwrap();
        ShardEntry {
            file: file.into(),
            rows: 1,
            bytes: size,
            sha256,
        }
    }

    #[test]
    fn a_receipt_is_trusted_only_with_its_fingerprint_and_intact_shard() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let receipt = Receipt {
            fingerprint: "f1".into(),
            shard: Some(entry(dir, "part-00000.parquet", b"shard bytes")),
            quarantine: vec![],
            samples: 1,
            raw_bytes: 10,
        };
        write(dir, "part-00000.parquet", &receipt).unwrap();
        assert_eq!(reusable(dir, "part-00000.parquet", "f1"), Some(receipt));
        assert_eq!(reusable(dir, "part-00000.parquet", "f2"), None);
        std::fs::write(dir.join("part-00000.parquet"), b"shard bytez").unwrap();
        assert_eq!(reusable(dir, "part-00000.parquet", "f1"), None);
        forget(dir, "part-00000.parquet").unwrap();
        assert!(!dir.join("part-00000.parquet").exists());
        assert!(!receipt_path(dir, "part-00000.parquet").exists());
        assert_eq!(reusable(dir, "part-00000.parquet", "f1"), None);
    }

    #[test]
    fn fingerprints_follow_size_and_mtime() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.skeleton");
        std::fs::write(&path, b"1\n").unwrap();
        let print = |settings: &str| {
            let mut f = Fingerprint::new(settings, "part-00000.parquet");
            f.add_file("a.skeleton", &path);
            f.add_file("gone.skeleton", &tmp.path().join("gone.skeleton"));
            f.finish()
        };
        let first = print("ntu60 ctrgcn");
        assert_eq!(print("ntu60 ctrgcn"), first);
        assert_ne!(print("ntu60 agcn"), first);
        std::fs::write(&path, b"12\n").unwrap();
        assert_ne!(print("ntu60 ctrgcn"), first);
    }

    #[test]
    fn receipts_are_named_after_their_shard() {
        let own = |n: &str| n.starts_with("part-");
        assert!(is_receipt_of(".part-00001.parquet.receipt", own));
        assert!(!is_receipt_of("part-00001.parquet.receipt", own));
        assert!(!is_receipt_of(".other.parquet.receipt", own));
    }
}
