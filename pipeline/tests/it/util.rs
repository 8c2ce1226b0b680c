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

/// The real sample files shipped in `data/samples/`.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/samples")
}

/// Runs the `skel-pipeline` binary; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skel-pipeline"))
        .args(args)
        .arg("--quiet")
        .output()
        .expect("run skel-pipeline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Conversion options with test defaults.
pub fn options(
    dataset: skel_schemas::Dataset,
    raw: &Path,
    out: &Path,
    preset: skel_schemas::Preset,
) -> skel_pipeline::ConvertOptions {
    skel_pipeline::ConvertOptions {
        dataset,
        raw: raw.to_owned(),
        labels: None,
        out: out.to_owned(),
        preset,
        threads: Some(1),
        files_per_shard: 1000,
        overwrite: false,
        transforms: Vec::new(),
        part: None,
    }
}

/// Every row of every shard of a dataset folder, in manifest order.
pub fn read_all(dir: &Path) -> Vec<skel_schemas::SampleRecord> {
    let manifest = skel_schemas::Manifest::read(&dir.join(skel_schemas::MANIFEST_FILE)).unwrap();
    manifest
        .shards
        .iter()
        .flat_map(|s| {
            skel_pipeline::shard::read_shard(&skel_schemas::Manifest::shard_path(dir, s), true)
                .unwrap()
        })
        .collect()
}
