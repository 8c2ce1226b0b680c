//! Distributed conversion: parts converted separately and merged equal one run.

use skel_pipeline::{convert, merge::merge, verify, NoProgress};
use skel_schemas::{Dataset, Manifest, Part, Preset, MANIFEST_FILE};

use crate::util::{golden_dir, options, read_all, run_cli};

#[test]
fn three_parts_merged_equal_a_single_run() {
    let raw = golden_dir().join("raw");
    let single = tempfile::tempdir().unwrap();
    convert(
        &options(Dataset::Ntu120, &raw, single.path(), Preset::Agcn),
        &NoProgress,
    )
    .unwrap();

    let shared = tempfile::tempdir().unwrap();
    for index in [2, 0, 1] {
        let mut opts = options(Dataset::Ntu120, &raw, shared.path(), Preset::Agcn);
        opts.part = Some(Part { index, count: 3 });
        opts.files_per_shard = 4;
        convert(&opts, &NoProgress).unwrap();
        // A part may be rerun without touching the others.
        if index == 0 {
            opts.overwrite = true;
            convert(&opts, &NoProgress).unwrap();
        }
    }
    let merged = merge(shared.path()).unwrap();
    assert!(verify(shared.path()).unwrap().is_ok());
    let one = Manifest::read(&single.path().join(MANIFEST_FILE)).unwrap();
    assert_eq!(merged.counts, one.counts);
    assert_eq!(merged.quarantine, one.quarantine);
    assert!(merged.shards.len() >= 3);

    let mut a = read_all(single.path());
    let mut b = read_all(shared.path());
    a.sort_by(|x, y| x.sample.cmp(&y.sample));
    b.sort_by(|x, y| x.sample.cmp(&y.sample));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{}", x.sample);
        assert_eq!(
            x.joints.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            y.joints.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn merge_names_missing_parts_and_slurm_index_is_read() {
    let raw = golden_dir().join("raw");
    let shared = tempfile::tempdir().unwrap();
    let out = shared.path().to_str().unwrap();
    let run = |index: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_skel-pipeline"))
            .args([
                "convert",
                "--dataset",
                "ntu120",
                "--raw",
                raw.to_str().unwrap(),
                "--out",
                out,
                "--shard-count",
                "3",
                "--preset",
                "raw",
                "-q",
            ])
            .env("SLURM_ARRAY_TASK_ID", index)
            .output()
            .unwrap()
    };
    assert!(run("1").status.success());
    assert!(shared.path().join("manifest.part-1-of-3.yaml").exists());
    let (code, _, stderr) = run_cli(&["merge", out]);
    assert_eq!(code, 1);
    assert!(stderr.contains("parts 0/3, 2/3 are missing"), "{stderr}");
    assert!(run("0").status.success() && run("2").status.success());
    let (code, stdout, stderr) = run_cli(&["merge", out]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("samples"), "{stdout}");
    let rows = read_all(shared.path());
    assert_eq!(rows.len(), 28);
}
