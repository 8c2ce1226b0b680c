//! Discovery of raw files: a directory tree walked in a stable order, each
//! file name parsed into metadata or rejected with the reason.

use std::path::{Path, PathBuf};

use skel_schemas::Dataset;

use crate::error::PipelineError;
use crate::ntu::NtuName;
use crate::pku::{PkuName, PkuSequence};

/// What a discovered file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputKind {
    Ntu(NtuName),
    Pku(PkuName),
    /// A file the dataset does not know: quarantined with this reason.
    Rejected(String),
}

/// One raw file to convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Path relative to the raw directory, `/`-separated (the manifest's name for it).
    pub rel: String,
    pub path: PathBuf,
    pub kind: InputKind,
}

/// Every non-hidden regular file under `raw`, sorted by relative path.
pub fn discover(raw: &Path, dataset: Dataset) -> Result<Vec<Input>, PipelineError> {
    let meta = std::fs::metadata(raw).map_err(PipelineError::io(raw))?;
    if !meta.is_dir() {
        return Err(PipelineError::Usage(format!(
            "{} is not a directory: --raw takes the folder that holds the raw skeleton files",
            raw.display()
        )));
    }
    let mut files = Vec::new();
    walk(raw, raw, &mut files)?;
    files.sort();
    Ok(files
        .into_iter()
        .map(|(rel, path)| {
            let kind = classify(&rel, dataset);
            Input { rel, path, kind }
        })
        .collect())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), PipelineError> {
    for entry in std::fs::read_dir(dir).map_err(PipelineError::io(dir))? {
        let entry = entry.map_err(PipelineError::io(dir))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(PipelineError::io(&path))?;
        if file_type.is_dir() {
            walk(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("walked path is under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// Parses a file name for a dataset.
pub fn classify(rel: &str, dataset: Dataset) -> InputKind {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    if dataset.is_ntu() {
        let Some(stem) = file.strip_suffix(".skeleton") else {
            return InputKind::Rejected(format!(
                "{file} is not an NTU skeleton file: expected SsssCcccPpppRrrrAaaa.skeleton"
            ));
        };
        let Some(name) = NtuName::parse(stem) else {
            return InputKind::Rejected(format!(
                "file name {file} does not match SsssCcccPpppRrrrAaaa.skeleton (e.g. S001C002P003R002A013.skeleton)"
            ));
        };
        if let Some(problem) = ntu_mismatch(&name, dataset) {
            return InputKind::Rejected(problem);
        }
        InputKind::Ntu(name)
    } else {
        let Some(name) = file.strip_suffix(".txt").and_then(PkuName::parse) else {
            return InputKind::Rejected(format!(
                "file name {file} does not match PKU-MMD's XXXX-V.txt (phase 1) or A##N##-V.txt (phase 2), V in L/M/R"
            ));
        };
        match (name.sequence, dataset) {
            (PkuSequence::V1 { .. }, Dataset::PkuV1) | (PkuSequence::V2 { .. }, Dataset::PkuV2) => {
                InputKind::Pku(name)
            }
            (PkuSequence::V1 { .. }, _) => InputKind::Rejected(format!(
                "{file} is a PKU-MMD phase-1 name: convert it with --dataset pku-v1"
            )),
            (PkuSequence::V2 { .. }, _) => InputKind::Rejected(format!(
                "{file} is a PKU-MMD phase-2 name: convert it with --dataset pku-v2"
            )),
        }
    }
}

fn ntu_mismatch(name: &NtuName, dataset: Dataset) -> Option<String> {
    let max_setup = dataset.max_setup().unwrap_or(u16::MAX);
    let num_classes = dataset.num_classes() as u16;
    if name.setup == 0 || name.setup > max_setup {
        let hint = if dataset == Dataset::Ntu60 && name.setup <= 32 {
            ": convert with --dataset ntu120"
        } else {
            ""
        };
        return Some(format!(
            "setup {} is not part of {dataset} (S001-S{max_setup:03}){hint}",
            name.setup
        ));
    }
    if name.action == 0 || name.action > num_classes {
        let hint = if dataset == Dataset::Ntu60 && name.action <= 120 {
            ": convert with --dataset ntu120"
        } else {
            ""
        };
        return Some(format!(
            "action {} is not part of {dataset} (A001-A{num_classes:03}){hint}",
            name.action
        ));
    }
    if !(1..=3).contains(&name.camera) {
        return Some(format!(
            "camera {} does not exist: NTU RGB+D has cameras C001-C003",
            name.camera
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_against_the_dataset() {
        assert!(matches!(
            classify("a/S001C001P001R001A001.skeleton", Dataset::Ntu60),
            InputKind::Ntu(_)
        ));
        for (rel, needle) in [
            ("S018C001P001R001A001.skeleton", "--dataset ntu120"),
            ("S001C001P001R001A061.skeleton", "--dataset ntu120"),
            ("S001C004P001R001A001.skeleton", "cameras"),
            ("notes.txt", "not an NTU skeleton"),
            ("S1C1.skeleton", "does not match"),
        ] {
            match classify(rel, Dataset::Ntu60) {
                InputKind::Rejected(why) => assert!(why.contains(needle), "{rel}: {why}"),
                other => panic!("{rel}: {other:?}"),
            }
        }
        assert!(matches!(
            classify("A10N08-L.txt", Dataset::PkuV2),
            InputKind::Pku(_)
        ));
        assert!(matches!(
            classify("A10N08-L.txt", Dataset::PkuV1),
            InputKind::Rejected(_)
        ));
        assert!(matches!(
            classify("0002-M.txt", Dataset::PkuV1),
            InputKind::Pku(_)
        ));
    }
}
