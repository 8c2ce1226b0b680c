//! Shared helpers: fixture paths, parsing helpers, running the CLI.

use std::path::{Path, PathBuf};

use skel_pipeline::frames::Sequence;
use skel_pipeline::ntu;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn golden_dir() -> PathBuf {
    fixtures().join("golden-ntu")
}

/// Parses a raw NTU file into the sequence the presets see.
pub fn read_ntu(path: &Path) -> Sequence {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let skeleton = ntu::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ntu::to_sequence(&skeleton)
}

/// Stems of the golden raw inputs, sorted.
pub fn golden_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(golden_dir().join("raw"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Largest absolute difference, or a panic naming the first shape mismatch.
pub fn max_abs_diff(ours: &[f32], theirs: &[f32], what: &str) -> f32 {
    assert_eq!(ours.len(), theirs.len(), "{what}: length differs");
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}
