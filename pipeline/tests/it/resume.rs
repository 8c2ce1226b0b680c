//! Crash safety: a conversion killed mid-run leaves no manifest and no
//! partial shard under a shard's name, and a rerun keeps the shards that were
//! finished and ends with the bytes of an uninterrupted run.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use skel_pipeline::shard::read_shard;
use skel_pipeline::{convert, verify, NoProgress, Progress};
use skel_schemas::{Dataset, Manifest, Preset, MANIFEST_FILE, SHARD_DIR};

use crate::util::{golden_dir, options, run_cli};

/// Every file under `dir` (relative path -> bytes), hidden ones included,
/// less the writers' lock files (they name the process that held them).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with(skel_pipeline::lock::LOCK_FILE) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Shards renamed into place (`part-NNNNN.parquet`) with their mtimes.
fn finished_shards(out: &Path) -> BTreeMap<String, SystemTime> {
    let Ok(entries) = std::fs::read_dir(out.join(SHARD_DIR)) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let mtime = e.metadata().ok()?.modified().ok()?;
            (name.starts_with("part-") && name.ends_with(".parquet")).then_some((name, mtime))
        })
        .collect()
}

/// Shards with a receipt (`.part-NNNNN.parquet.receipt`): the ones a rerun may keep.
fn receipted_shards(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out.join(SHARD_DIR))
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            Some(name.strip_prefix('.')?.strip_suffix(".receipt")?.to_owned())
        })
        .collect();
    names.sort();
    names
}

fn convert_args(raw: &Path, out: &Path) -> Vec<String> {
    [
        "convert",
        "--dataset",
        "ntu60",
        "--preset",
        "ctrgcn",
        "--shard-files",
        "4",
        "--threads",
        "1",
        "--raw",
        raw.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn run(args: &[String]) -> (i32, String, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_cli(&args)
}

#[test]
fn a_killed_conversion_resumes_to_the_bytes_of_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let (code, _, stderr) = run_cli(&[
        "synth",
        "--dataset",
        "ntu60",
        "--per-class",
        "2",
        "--seed",
        "5",
        "--out",
        raw.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");

    let reference = tmp.path().join("reference");
    let (code, _, stderr) = run(&convert_args(&raw, &reference));
    assert_eq!(code, 0, "{stderr}");
    let total = Manifest::read(&reference.join(MANIFEST_FILE))
        .unwrap()
        .shards
        .len();
    assert!(total >= 20, "{total} shards: too few for a kill mid-run");

    // Start the conversion, wait until two shards are finished, kill it.
    let out = tmp.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_skel-pipeline"))
        .args(convert_args(&raw, &out))
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while finished_shards(&out).len() < 2 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the conversion ended ({status}) before the kill: give it more input");
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no shard finished in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(
        !out.join(MANIFEST_FILE).exists(),
        "a manifest was written by a run killed mid-way"
    );
    let finished = finished_shards(&out);
    assert!(
        finished.len() < total,
        "the kill landed after the last shard"
    );
    // Whatever carries a shard's name is a complete shard; partial ones are hidden temporaries.
    for name in finished.keys() {
        read_shard(&out.join(SHARD_DIR).join(name), true)
            .unwrap_or_else(|e| panic!("{name} is not a complete shard: {e}"));
    }
    let receipted = receipted_shards(&out);
    assert!(
        !receipted.is_empty(),
        "the first shard's receipt is written before the second starts"
    );

    let (code, stdout, stderr) = run(&convert_args(&raw, &out));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "reused {} of {total} shards, converted the other {}",
            receipted.len(),
            total - receipted.len()
        )),
        "{stdout}"
    );
    let after = finished_shards(&out);
    for name in &receipted {
        assert_eq!(
            after[name], finished[name],
            "{name} was reused, so it must not have been rewritten"
        );
    }
    assert_eq!(
        tree(&out),
        tree(&reference),
        "the resumed dataset differs from the uninterrupted one"
    );
    assert!(verify(&out).unwrap().is_ok());
}

/// Fails the run as a kill would, right after `shards` shards are finished:
/// every later shard panics before writing anything.
struct CrashAfter {
    shards: usize,
    done: AtomicUsize,
    crashed: AtomicBool,
}

impl CrashAfter {
    fn new(shards: usize) -> Self {
        Self {
            shards,
            done: AtomicUsize::new(0),
            crashed: AtomicBool::new(false),
        }
    }
}

impl Progress for CrashAfter {
    fn file_done(&self, _bytes: u64) {
        if self.crashed.load(Ordering::SeqCst) {
            panic!("simulated crash");
        }
    }

    fn shard_done(&self, file: &str, _reused: bool) {
        if self.done.fetch_add(1, Ordering::SeqCst) + 1 == self.shards {
            self.crashed.store(true, Ordering::SeqCst);
            panic!("simulated crash after {file}");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

fn sorted_inputs(raw: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(raw)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn a_resumed_run_converts_again_shards_whose_inputs_or_bytes_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    copy_dir(&golden_dir().join("raw"), &raw);
    let out = tmp.path().join("out");
    let mut opts = options(Dataset::Ntu120, &raw, &out, Preset::Agcn);
    opts.files_per_shard = 4;

    let crash = CrashAfter::new(3);
    let crashed = catch_unwind(AssertUnwindSafe(|| convert(&opts, &crash)));
    assert!(crashed.is_err());
    assert!(!out.join(MANIFEST_FILE).exists());
    assert_eq!(
        receipted_shards(&out),
        [
            "part-00000.parquet",
            "part-00001.parquet",
            "part-00002.parquet"
        ]
    );

    // Shard 0: an input file changes (a trailing blank line: same samples,
    // new size). Shard 1: its file is damaged on disk. Shard 2 is untouched.
    let first_input = &sorted_inputs(&raw)[0];
    let mut text = std::fs::read(first_input).unwrap();
    text.extend_from_slice(b"\n");
    std::fs::write(first_input, text).unwrap();
    let shard1 = out.join(SHARD_DIR).join("part-00001.parquet");
    let mut bytes = std::fs::read(&shard1).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&shard1, bytes).unwrap();

    let resumed = convert(&opts, &NoProgress).unwrap();
    assert_eq!(resumed.reused_shards, 1);
    assert_eq!(resumed.total_shards, 7);

    let fresh_out = tmp.path().join("fresh");
    let mut fresh = opts.clone();
    fresh.out = fresh_out.clone();
    convert(&fresh, &NoProgress).unwrap();
    assert_eq!(tree(&out), tree(&fresh_out));
}

#[test]
fn shards_left_by_an_interrupted_run_with_more_shards_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(
        Dataset::Ntu120,
        &golden_dir().join("raw"),
        &out,
        Preset::Stgcn,
    );
    opts.files_per_shard = 2;
    let crash = CrashAfter::new(12);
    assert!(catch_unwind(AssertUnwindSafe(|| convert(&opts, &crash))).is_err());
    assert!(finished_shards(&out).len() >= 10);

    // Rerun with bigger shards: the old part-00007 .. part-00011 are not this
    // run's, and must not stay behind unlisted.
    opts.files_per_shard = 4;
    let report = convert(&opts, &NoProgress).unwrap();
    assert_eq!(finished_shards(&out).len(), report.manifest.shards.len());
    assert_eq!(receipted_shards(&out), Vec::<String>::new());
    assert!(verify(&out).unwrap().is_ok());
}

#[test]
fn a_killed_part_of_a_distributed_run_resumes_without_touching_the_others() {
    let shared = tempfile::tempdir().unwrap();
    let raw = golden_dir().join("raw");
    let part = |index| {
        let mut opts = options(Dataset::Ntu120, &raw, shared.path(), Preset::Ctrgcn);
        opts.part = Some(skel_schemas::Part { index, count: 2 });
        opts.files_per_shard = 3;
        opts
    };
    convert(&part(1), &NoProgress).unwrap();
    let part_one = |tree: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        tree.into_iter()
            .filter(|(name, _)| name.contains("part-1-of-2"))
            .collect()
    };
    let before = part_one(tree(shared.path()));
    assert!(before.len() >= 3);

    let crash = CrashAfter::new(2);
    assert!(catch_unwind(AssertUnwindSafe(|| convert(&part(0), &crash))).is_err());
    assert!(!shared.path().join("manifest.part-0-of-2.yaml").exists());
    let resumed = convert(&part(0), &NoProgress).unwrap();
    assert_eq!(resumed.reused_shards, 2);
    assert_eq!(part_one(tree(shared.path())), before);
    skel_pipeline::merge::merge(shared.path()).unwrap();
    assert!(verify(shared.path()).unwrap().is_ok());
}
