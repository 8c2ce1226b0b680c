//! One writer at a time: two conversions into one folder (a requeued job,
//! two array tasks given the same index) never both write it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use skel_pipeline::lock::{holder, LOCK_FILE};
use skel_pipeline::synth::{generate, Scale, SynthConfig};
use skel_schemas::Dataset;

use crate::util::run_cli;

fn convert(raw: &std::path::Path, out: &std::path::Path, preset: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skel-pipeline"));
    c.args([
        "convert",
        "--dataset",
        "ntu60",
        "--quiet",
        "--preset",
        preset,
        "--threads",
        "1",
    ])
    .arg("--raw")
    .arg(raw)
    .arg("--out")
    .arg(out)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    c
}

/// 240 generated NTU-60 files in `dir/raw`; returns (raw, dir/ntu60).
fn raw_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let raw = dir.join("raw");
    generate(
        &SynthConfig::new(Dataset::Ntu60, Scale::PerClass(4), 3),
        &raw,
        &|_| {},
    )
    .unwrap();
    (raw, dir.join("ntu60"))
}

#[test]
fn a_second_conversion_into_the_same_folder_is_refused_naming_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (raw, out) = raw_files(tmp.path());

    // The second starts while the first holds the folder (its lock names it).
    let first = convert(&raw, &out, "ctrgcn").spawn().unwrap();
    let pid = first.id();
    wait_for_lock(&out, LOCK_FILE, pid);
    let second = convert(&raw, &out, "stgcn").output().unwrap();
    let first = first.wait_with_output().unwrap();

    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("is being written by another process")
            && err.contains(&format!("PID {pid}"))
            && err.contains("--preset ctrgcn"),
        "{err}"
    );
    // The dataset is the first writer's, whole.
    let (code, _, stderr) = run_cli(&["verify", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let manifest = std::fs::read_to_string(out.join("manifest.yaml")).unwrap();
    assert!(manifest.contains("preset: ctrgcn"), "{manifest}");
    // Its lock died with it: a later writer is not blocked.
    assert!(holder(&out, LOCK_FILE).is_none());
}

/// Waits until process `pid` holds `dir`'s lock file `name`.
fn wait_for_lock(dir: &std::path::Path, name: &str, pid: u32) {
    let started = Instant::now();
    while holder(dir, name).is_none_or(|h| !h.contains(&format!("PID {pid}"))) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "process {pid} never took {name}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn parts_of_a_distributed_conversion_run_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let (raw, out) = raw_files(tmp.path());
    let mut part0 = convert(&raw, &out, "ctrgcn");
    let part0 = part0.args(["--shard", "0/2"]).spawn().unwrap();
    wait_for_lock(&out, ".lock-part-0-of-2", part0.id());
    let part1 = convert(&raw, &out, "ctrgcn")
        .args(["--shard", "1/2"])
        .output()
        .unwrap();
    let part0 = part0.wait_with_output().unwrap();
    assert!(
        part0.status.success(),
        "{}",
        String::from_utf8_lossy(&part0.stderr)
    );
    assert!(
        part1.status.success(),
        "{}",
        String::from_utf8_lossy(&part1.stderr)
    );
    let (code, _, stderr) = run_cli(&["merge", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run_cli(&["verify", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
}
