//! Inputs the fuzzers (`../fuzz`, `scripts/fuzz.sh`) found that crashed a
//! reader or a conversion, each named after what broke. The readers must
//! return errors, and a conversion must quarantine what it cannot convert.

use skel_schemas::{Manifest, MANIFEST_FILE};

use crate::util::{read_all, run_cli};

/// Converts `files` (name, bytes) as NTU-60 with extra CLI arguments; returns
/// (exit code, stderr) and the output folder.
fn convert_ntu(files: &[(&str, &[u8])], extra: &[&str]) -> (i32, String, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    std::fs::create_dir(&raw).unwrap();
    for (name, bytes) in files {
        std::fs::write(raw.join(name), bytes).unwrap();
    }
    let out = tmp.path().join("out");
    let mut args = vec![
        "convert",
        "--dataset",
        "ntu60",
        "--raw",
        raw.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let (code, _, stderr) = run_cli(&args);
    (code, stderr, tmp)
}

/// `ntu_skeleton` crash-aea6aebb: one frame whose body count is `0` followed
/// by control bytes. The raw preset keeps it as a sample with no actor, and
/// per-frame canonicalisation indexed actor 1 of it: the worker panicked and
/// took the whole conversion down.
#[test]
fn raw_preset_with_no_actor_survives_per_frame_canonicalisation() {
    let (code, stderr, tmp) = convert_ntu(
        &[("S001C001P001R001A001.skeleton", b"1\n0\0\0\0\x17\n")],
        &[
            "--preset",
            "raw",
            "--canonicalize",
            "frame",
            "--centre",
            "frame",
            "--scale-body",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let out = tmp.path().join("out");
    Manifest::read(&out.join(MANIFEST_FILE)).unwrap();
    let rows = read_all(&out);
    assert_eq!((rows.len(), rows[0].actors, rows[0].frames), (1, 0, 1));
}
