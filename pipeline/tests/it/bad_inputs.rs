//! Bad manifests, split files and transform chains: every command refuses
//! them with an error that names the file, the key and the fix, and names
//! read from data never lead outside the dataset folder.

use std::path::Path;

use skel_pipeline::shard::hash_file;
use skel_pipeline::{convert, NoProgress};
use skel_schemas::{Dataset, Manifest, Preset, SplitFile, MANIFEST_FILE};

use crate::util::{options, run_cli, samples};

/// A small converted dataset (the three genuine NTU samples) in `dir`.
fn dataset(dir: &Path) -> Manifest {
    convert(
        &options(Dataset::Ntu60, &samples().join("ntu"), dir, Preset::Ctrgcn),
        &NoProgress,
    )
    .unwrap()
    .manifest
}

fn rewrite_manifest(dir: &Path, edit: impl Fn(String) -> String) {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(&path, edited).unwrap();
}

fn assert_names(stderr: &str, parts: &[&str]) {
    for part in parts {
        assert!(stderr.contains(part), "missing {part:?} in:\n{stderr}");
    }
}

#[test]
fn manifests_with_escaping_shard_paths_are_refused_by_every_command() {
    for bad in [
        "../../outside.parquet",
        "/etc/passwd",
        "sub/../../x.parquet",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let manifest = dataset(&dir);
        // A file that a reader following the path would find.
        std::fs::write(tmp.path().join("outside.parquet"), b"not yours").unwrap();
        let good = manifest.shards[0].file.clone();
        rewrite_manifest(&dir, |t| t.replace(&good, bad));
        let manifest_path = dir.join(MANIFEST_FILE);
        for command in ["verify", "inspect", "split"] {
            let mut args = vec![command, dir.to_str().unwrap()];
            if command == "split" {
                args.extend(["--unseen", "5"]);
            }
            let (code, _, stderr) = run_cli(&args);
            assert_eq!(code, 1, "{command} {bad}: {stderr}");
            assert_names(
                &stderr,
                &[
                    manifest_path.to_str().unwrap(),
                    "key `shards[0].file`",
                    bad,
                    "fix: ",
                ],
            );
        }
    }
}

#[test]
fn a_partial_manifest_with_an_escaping_shard_path_is_refused_by_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut opts = options(Dataset::Ntu60, &samples().join("ntu"), dir, Preset::Raw);
    opts.part = Some(skel_schemas::Part { index: 0, count: 1 });
    let manifest = convert(&opts, &NoProgress).unwrap().manifest;
    let part = dir.join("manifest.part-0-of-1.yaml");
    let text = std::fs::read_to_string(&part).unwrap();
    std::fs::write(
        &part,
        text.replace(&manifest.shards[0].file, "../x.parquet"),
    )
    .unwrap();
    let (code, _, stderr) = run_cli(&["merge", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_names(
        &stderr,
        &[
            part.to_str().unwrap(),
            "key `shards[0].file`",
            "../x.parquet",
            "fix: ",
        ],
    );
    assert!(!dir.join(MANIFEST_FILE).exists());
}

#[test]
fn manifests_with_unknown_keys_or_wrong_types_name_file_key_and_fix() {
    for (from, to, key) in [
        (
            "preset: ctrgcn\n",
            "preset: ctrgcn\nnotes: hand edited\n",
            "unknown field `notes`",
        ),
        ("  rows: 3\n", "  rows: three\n", "key `shards[0].rows`"),
        ("  samples: 3\n", "  samples: -3\n", "key `counts.samples`"),
        ("dataset: ntu60\n", "dataset: ntu61\n", "key `dataset`"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        dataset(tmp.path());
        rewrite_manifest(tmp.path(), |t| t.replacen(from, to, 1));
        let (code, _, stderr) = run_cli(&["inspect", tmp.path().to_str().unwrap()]);
        assert_eq!(code, 1, "{to}");
        assert_names(
            &stderr,
            &[
                tmp.path().join(MANIFEST_FILE).to_str().unwrap(),
                key,
                "fix: ",
            ],
        );
    }
}

#[test]
fn a_split_of_another_manifest_is_refused_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    dataset(&dir);
    let (code, stdout, stderr) = run_cli(&[
        "split",
        dir.to_str().unwrap(),
        "--unseen",
        "5",
        "--runs",
        "1",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let split_path = dir.join("splits/random-5-cross-subject-run0.yaml");
    let split = SplitFile::read(&split_path).unwrap();
    let (sha, _) = hash_file(&dir.join(MANIFEST_FILE)).unwrap();
    split.check_manifest(&split_path, &sha).unwrap();

    // The dataset is converted again another way: the old split no longer fits.
    let mut opts = options(Dataset::Ntu60, &samples().join("ntu"), &dir, Preset::Agcn);
    opts.overwrite = true;
    convert(&opts, &NoProgress).unwrap();
    let (sha, _) = hash_file(&dir.join(MANIFEST_FILE)).unwrap();
    let err = split
        .check_manifest(&split_path, &sha)
        .unwrap_err()
        .to_string();
    assert_names(
        &err,
        &[
            split_path.to_str().unwrap(),
            &split.manifest_sha256,
            &sha,
            "make the split again",
        ],
    );
}

#[test]
fn split_files_with_bad_keys_or_path_like_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    dataset(&dir);
    let (code, _, stderr) = run_cli(&[
        "split",
        dir.to_str().unwrap(),
        "--unseen",
        "5",
        "--runs",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let path = dir.join("splits/random-5-cross-subject-run0.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let first = SplitFile::read(&path).unwrap().parts.train_seen[0].clone();
    for (edited, key) in [
        (
            text.replacen("run: 0\n", "run: 0\nowner: me\n", 1),
            "unknown field `owner`".to_owned(),
        ),
        (
            text.replacen("seed: 0\n", "seed: zero\n", 1),
            "key `seed`".to_owned(),
        ),
        (
            text.replacen(&first, "../../../etc/passwd", 1),
            "key `parts.train_seen[0]`".to_owned(),
        ),
    ] {
        assert_ne!(edited, text);
        std::fs::write(&path, &edited).unwrap();
        let msg = SplitFile::read(&path).unwrap_err().to_string();
        assert_names(&msg, &[path.to_str().unwrap(), &key, "fix: "]);
    }
}

#[test]
fn transform_chains_with_bad_keys_name_file_key_and_fix() {
    let tmp = tempfile::tempdir().unwrap();
    for (yaml, key) in [
        (
            "transforms:\n  - scale-body\nextra: 1\n",
            "unknown field `extra`",
        ),
        (
            "transforms:\n  - frames: { frames: sixty, method: linear }\n",
            "key `transforms[0].frames.frames`",
        ),
        (
            "transforms:\n  - frames: { frames: 100000000, method: linear }\n",
            "key `transforms[0]`",
        ),
    ] {
        let config = tmp.path().join("chain.yaml");
        std::fs::write(&config, yaml).unwrap();
        let (code, _, stderr) = run_cli(&[
            "convert",
            "--dataset",
            "ntu60",
            "--raw",
            samples().join("ntu").to_str().unwrap(),
            "--out",
            tmp.path().join("out").to_str().unwrap(),
            "--transforms",
            config.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{yaml}");
        assert_names(&stderr, &[config.to_str().unwrap(), key, "fix: "]);
    }
}
