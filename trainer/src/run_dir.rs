//! A self-describing run directory: the resolved config, what the run read
//! (split and manifest checksums, code version), checkpoints, log, outputs.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `run.yaml`: what the run was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    pub tool: String,
    pub version: String,
    pub dataset: PathBuf,
    pub manifest_sha256: String,
    pub split: PathBuf,
    pub split_sha256: String,
    pub split_name: String,
    pub split_run: u32,
    pub device: String,
    /// What else can move the numbers (absent in run.yaml files written
    /// before it was recorded).
    #[serde(default)]
    pub numerics: Option<crate::numerics::Numerics>,
}

/// Paths inside a run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn create(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("checkpoints"))?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.yaml")
    }

    pub fn info(&self) -> PathBuf {
        self.root.join("run.yaml")
    }

    pub fn log(&self) -> PathBuf {
        self.root.join("train_log.csv")
    }

    pub fn features(&self) -> PathBuf {
        self.root.join("features.parquet")
    }

    /// Checkpoint after `epoch` (1-based count of finished epochs).
    pub fn checkpoint(&self, epoch: usize) -> PathBuf {
        self.root
            .join("checkpoints")
            .join(format!("epoch-{epoch:04}.ot"))
    }

    /// The optimiser state beside a checkpoint.
    pub fn optimiser(&self, epoch: usize) -> PathBuf {
        self.root
            .join("checkpoints")
            .join(format!("epoch-{epoch:04}.optim.ot"))
    }

    /// The latest complete checkpoint (its optimiser state written too).
    pub fn latest(&self) -> Option<usize> {
        let entries = std::fs::read_dir(self.root.join("checkpoints")).ok()?;
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let epoch: usize = name
                    .strip_prefix("epoch-")?
                    .strip_suffix(".ot")?
                    .parse()
                    .ok()?;
                self.optimiser(epoch).exists().then_some(epoch)
            })
            .max()
    }
}

/// Writes `bytes` to `path` through a temporary file (`path` + `.tmp`, so
/// `results.json` and `results.md` never share one) and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Opens a per-epoch CSV log for appending, holding `header` and the lines of
/// the first `epochs` epochs only: a run killed mid-write can leave a torn
/// last line, or a line of an epoch whose checkpoint was never written, and a
/// resumed run must neither keep nor repeat them.
pub fn open_epoch_log(path: &Path, header: &str, epochs: usize) -> std::io::Result<File> {
    let mut kept = format!("{header}\n");
    if epochs > 0 {
        let old = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        // Complete lines only (each ends in a newline), header skipped.
        for line in old.split_inclusive('\n').skip(1).take(epochs) {
            if line.ends_with('\n') {
                kept.push_str(line);
            }
        }
    }
    write_atomic(path, kept.as_bytes())?;
    std::fs::OpenOptions::new().append(true).open(path)
}
