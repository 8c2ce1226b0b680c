//! Conversion end to end: round trips, determinism, verification, PKU-MMD clips.

use std::path::Path;

use skel_pipeline::{clean, convert, ntu, pku, verify, NoProgress};
use skel_schemas::{Dataset, Manifest, Preset, MANIFEST_FILE};

use crate::util::{golden_dir, options, read_all, read_ntu, run_cli, samples};

#[test]
fn shards_read_back_equal_to_what_was_cleaned() {
    for preset in Preset::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let raw = golden_dir().join("raw");
        let mut opts = options(Dataset::Ntu120, &raw, tmp.path(), preset);
        opts.files_per_shard = 10;
        let report = convert(&opts, &NoProgress).unwrap();
        let rows = read_all(tmp.path());
        assert_eq!(rows.len() as u64, report.manifest.counts.samples);
        assert_eq!(
            rows.len() + report.manifest.quarantine.len(),
            28,
            "{preset}"
        );
        for row in &rows {
            let seq = read_ntu(&raw.join(&row.source));
            let cleaned = clean::clean(&seq, preset, Dataset::Ntu120).unwrap();
            assert_eq!(row.joints, cleaned.joints, "{preset} {}", row.sample);
            assert_eq!(row.frames as usize, cleaned.frames);
            assert_eq!(row.actors as usize, cleaned.actors);
            assert_eq!(row.valid_frames as usize, cleaned.valid_frames);
            assert_eq!(row.raw_frames as usize, seq.num_frames());
            assert_eq!(row.drop_reasons, cleaned.drop_reasons());
            let name = ntu::NtuName::parse(&row.sample).unwrap();
            assert_eq!(
                (row.setup, row.camera, row.subject),
                (Some(name.setup), Some(name.camera), Some(name.subject))
            );
            assert_eq!(row.label + 1, name.action);
            assert_eq!(
                row.joints.len(),
                row.frames as usize * row.actors as usize * 75
            );
        }
    }
}

fn shard_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let manifest = Manifest::read(&dir.join(MANIFEST_FILE)).unwrap();
    manifest
        .shards
        .iter()
        .map(|s| {
            (
                s.file.clone(),
                std::fs::read(Manifest::shard_path(dir, s)).unwrap(),
            )
        })
        .collect()
}

#[test]
fn one_and_two_threads_write_identical_bytes() {
    let raw = golden_dir().join("raw");
    let mut outputs = Vec::new();
    for threads in [1, 2] {
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = options(Dataset::Ntu120, &raw, tmp.path(), Preset::Ctrgcn);
        opts.threads = Some(threads);
        opts.files_per_shard = 4;
        convert(&opts, &NoProgress).unwrap();
        let manifest = std::fs::read(tmp.path().join(MANIFEST_FILE)).unwrap();
        outputs.push((manifest, shard_bytes(tmp.path())));
    }
    assert!(outputs[0].1.len() >= 7, "several shards expected");
    assert_eq!(outputs[0], outputs[1]);
}

/// Parallelism within a shard: 200 files fit one shard, and two threads
/// still both convert files (counted, not timed), writing the bytes one
/// thread writes, quarantine included.
#[test]
fn two_threads_share_one_shard_and_write_the_same_bytes() {
    use skel_pipeline::synth::{generate, Scale, SynthConfig};
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let cfg = SynthConfig {
        damage_rate: 0.05,
        ..SynthConfig::new(Dataset::Ntu60, Scale::PerClass(4), 5)
    };
    generate(&cfg, &raw, &|_| {}).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&raw)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for extra in &files[200..] {
        std::fs::remove_file(extra).unwrap();
    }
    let mut outputs = Vec::new();
    for threads in [1, 2] {
        let out = tmp.path().join(format!("out-{threads}"));
        let mut opts = options(Dataset::Ntu60, &raw, &out, Preset::Ctrgcn);
        opts.threads = Some(threads);
        let report = convert(&opts, &NoProgress).unwrap();
        assert_eq!(report.total_shards, 1);
        assert_eq!(report.manifest.counts.files, 200);
        assert_eq!(report.workers, threads, "workers at --threads {threads}");
        let manifest = std::fs::read(out.join(MANIFEST_FILE)).unwrap();
        outputs.push((manifest, shard_bytes(&out)));
    }
    let quarantined = Manifest::read(&tmp.path().join("out-1").join(MANIFEST_FILE))
        .unwrap()
        .quarantine
        .len();
    assert!(quarantined > 0, "the damaged files are quarantined");
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn verify_detects_flipped_missing_and_truncated_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(
        Dataset::Ntu120,
        &golden_dir().join("raw"),
        tmp.path(),
        Preset::Stgcn,
    );
    opts.files_per_shard = 10;
    convert(&opts, &NoProgress).unwrap();
    assert!(verify(tmp.path()).unwrap().is_ok());
    let (code, stdout, _) = run_cli(&["verify", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");

    let manifest = Manifest::read(&tmp.path().join(MANIFEST_FILE)).unwrap();
    let paths: Vec<_> = manifest
        .shards
        .iter()
        .map(|s| Manifest::shard_path(tmp.path(), s))
        .collect();
    let mut bytes = std::fs::read(&paths[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&paths[0], &bytes).unwrap();
    std::fs::remove_file(&paths[1]).unwrap();
    let third = std::fs::read(&paths[2]).unwrap();
    std::fs::write(&paths[2], &third[..third.len() - 100]).unwrap();

    let v = verify(tmp.path()).unwrap();
    let problems: Vec<String> = v
        .problems
        .iter()
        .map(|(f, p)| format!("{f}: {p}"))
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&manifest.shards[0].file) && p.contains("sha256")),
        "{problems:?}"
    );
    assert!(problems
        .iter()
        .any(|p| p.starts_with(&manifest.shards[1].file) && p.contains("missing")));
    assert!(problems
        .iter()
        .any(|p| p.starts_with(&manifest.shards[2].file) && p.contains("(truncated)")));
    let (code, _, stderr) = run_cli(&["verify", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    // Each problem names the shard's path and what to do.
    for (path, what, fix) in [
        (&paths[0], "sha256", "restore it from a good copy"),
        (&paths[1], "missing", "restore the shard"),
        (&paths[2], "(truncated)", "restore it from a good copy"),
    ] {
        let lines: Vec<&str> = stderr.lines().collect();
        let found = lines.windows(2).any(|pair| {
            pair[0].starts_with(&format!("{}: ", path.display()))
                && pair[0].contains(what)
                && pair[1].starts_with("  fix: ")
                && pair[1].contains(fix)
        });
        assert!(found, "{} {what} / {fix} not in:\n{stderr}", path.display());
    }
}

#[test]
fn real_samples_convert_and_refuse_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ntu");
    let args = ["convert", "--dataset", "ntu60", "--raw"];
    let raw = samples().join("ntu");
    let (code, stdout, stderr) = run_cli(
        &[
            &args[..],
            &[raw.to_str().unwrap(), "--out", out.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("converted 3 samples from 3 raw files"),
        "{stdout}"
    );
    let rows = read_all(&out);
    let names: Vec<&str> = rows.iter().map(|r| r.sample.as_str()).collect();
    assert_eq!(
        names,
        [
            "S001C001P001R001A001",
            "S001C001P001R001A002",
            "S001C001P001R001A003"
        ]
    );
    assert_eq!(
        rows.iter().map(|r| r.valid_frames).collect::<Vec<_>>(),
        [103, 158, 104]
    );

    let (code, _, stderr) = run_cli(
        &[
            &args[..],
            &[raw.to_str().unwrap(), "--out", out.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("--overwrite"), "{stderr}");
    let (code, _, _) = run_cli(
        &[
            &args[..],
            &[
                raw.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--overwrite",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 0);

    let (code, report, _) = run_cli(&["inspect", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(report.contains("A001 drink water"), "{report}");
    assert!(report.contains("samples      3 in 1 shards"), "{report}");
}

#[test]
fn pku_clips_are_cut_cropped_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = samples().join("pkummd");
    let labels = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pkummd/labels");
    let mut opts = options(Dataset::PkuV2, &raw, tmp.path(), Preset::Raw);
    let missing_labels = convert(&opts, &NoProgress).unwrap_err();
    assert!(
        missing_labels.to_string().contains("--labels"),
        "{missing_labels}"
    );
    opts.labels = Some(labels);
    let report = convert(&opts, &NoProgress).unwrap();
    assert!(
        report.manifest.quarantine.is_empty(),
        "{:?}",
        report.manifest.quarantine
    );
    let rows = read_all(tmp.path());
    let got: Vec<(&str, u32, Option<u32>, u16)> = rows
        .iter()
        .map(|r| (r.sample.as_str(), r.frames, r.start_frame, r.label))
        .collect();
    assert_eq!(
        got,
        [
            ("A010N008V001C001L001", 120, Some(1), 0),
            ("A010N008V001C012L002", 300, Some(165), 11),
            ("A010N008V001C051L003", 300, Some(620), 50),
        ]
    );
    let skeleton = pku::parse_skeleton(&std::fs::read(raw.join("A10N08-L.txt")).unwrap()).unwrap();
    for row in &rows {
        let start = row.start_frame.unwrap() as usize - 1;
        for t in 0..row.frames as usize {
            let frame = skeleton.frame(start + t);
            for m in 0..row.actors as usize {
                let at = (t * row.actors as usize + m) * 75;
                let ours = &row.joints[at..at + 75];
                assert!(
                    ours == &frame[m * 75..m * 75 + 75] || ours.iter().all(|&v| v == 0.0),
                    "{}",
                    row.sample
                );
            }
        }
        assert_eq!(row.camera, Some(1));
        assert_eq!(row.setup, None);
    }
}

#[test]
fn official_missing_samples_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    std::fs::create_dir(&raw).unwrap();
    let genuine = samples().join("ntu/S001C001P001R001A001.skeleton");
    // S001C002P005R002A008 is the first name of the official NTU-60 list.
    for name in ["S001C001P001R001A001", "S001C002P005R002A008"] {
        std::fs::copy(&genuine, raw.join(format!("{name}.skeleton"))).unwrap();
    }
    let report = convert(
        &options(
            Dataset::Ntu60,
            &raw,
            &tmp.path().join("out"),
            Preset::Ctrgcn,
        ),
        &NoProgress,
    )
    .unwrap();
    let m = &report.manifest;
    assert_eq!(m.missing_listed, ["S001C002P005R002A008"]);
    assert_eq!(
        (m.counts.files, m.counts.samples, m.counts.missing_listed),
        (2, 1, 1)
    );
    assert!(m.quarantine.is_empty());
}

#[test]
fn pku_phase_one_names_become_f_clips() {
    let tmp = tempfile::tempdir().unwrap();
    let (raw, labels) = (tmp.path().join("raw"), tmp.path().join("labels"));
    std::fs::create_dir(&raw).unwrap();
    std::fs::create_dir(&labels).unwrap();
    std::fs::copy(
        samples().join("pkummd/A10N08-L.txt"),
        raw.join("0002-R.txt"),
    )
    .unwrap();
    // A label past the end of the file is quarantined, the others convert.
    std::fs::write(labels.join("0002-R.txt"), "7,10,60,1\n8,1000,1100,1\n").unwrap();
    let mut opts = options(
        Dataset::PkuV1,
        &raw,
        &tmp.path().join("out"),
        Preset::Ctrgcn,
    );
    opts.labels = Some(labels);
    let report = convert(&opts, &NoProgress).unwrap();
    let q = &report.manifest.quarantine;
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].file, "0002-R.txt#F002V003C008L002");
    assert!(
        q[0].reason.contains("run past the end of the 1040-frame"),
        "{}",
        q[0].reason
    );
    let rows = read_all(&tmp.path().join("out"));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].sample.as_str(),
            rows[0].camera,
            rows[0].valid_frames
        ),
        ("F002V003C007L001", Some(3), 51)
    );
}

#[test]
fn transform_chain_is_applied_recorded_and_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/transforms/canonical-64.yaml");
    let raw = samples().join("ntu");
    let (code, stdout, stderr) = run_cli(&[
        "convert",
        "--dataset",
        "ntu60",
        "--raw",
        raw.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--preset",
        "ctrgcn",
        "--transforms",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let manifest = Manifest::read(&out.join(MANIFEST_FILE)).unwrap();
    assert_eq!(manifest.transforms.len(), 3);
    for row in read_all(&out) {
        assert_eq!((row.frames, row.valid_frames), (64, 64));
        let first = &row.joints[..75];
        let f = skel_pipeline::transform::forward(first);
        assert!((f.z - 1.0).abs() < 1e-4, "{} faces {f:?}", row.sample);
        assert_eq!(&first[3..6], &[0.0, 0.0, 0.0]);
    }
    let (_, report, _) = run_cli(&["inspect", out.to_str().unwrap()]);
    assert!(report.contains("transforms   canonicalize(per sequence) -> centre(spine-mid, per sequence) -> frames(64, linear)"), "{report}");

    let (code, _, stderr) = run_cli(&[
        "convert",
        "--dataset",
        "ntu60",
        "--raw",
        raw.to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
        "--transforms",
        config.to_str().unwrap(),
        "--frames",
        "32",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot be combined"), "{stderr}");
}

/// `bench` runs its three passes in every round, reports the median round
/// of each with what it counted, and converts what `convert` converts.
#[test]
fn bench_measures_three_passes_in_rounds() {
    use skel_pipeline::bench::bench;
    use skel_pipeline::synth::{generate, Scale, SynthConfig};
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    generate(
        &SynthConfig::new(Dataset::Ntu60, Scale::PerClass(1), 3),
        &raw,
        &|_| {},
    )
    .unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(Dataset::Ntu60, &raw, &out, Preset::Ctrgcn);
    opts.threads = Some(1);
    let report = bench(&opts, 3).unwrap();
    assert_eq!(report.rounds, 3);
    let files = std::fs::read_dir(&raw).unwrap().count() as u64;
    for pass in [&report.read, &report.external, &report.convert] {
        assert_eq!(pass.files, files);
        assert!(pass.bytes > 0 && pass.cpu > std::time::Duration::ZERO);
    }
    assert_eq!(report.read.bytes, report.external.bytes);
    // 25 joint lines of 12 numbers per body: far more numbers than lines.
    assert!(report.external.items > 10 * report.read.items);
    let again = skel_pipeline::ConvertOptions {
        overwrite: true,
        ..opts.clone()
    };
    let converted = convert(&again, &NoProgress).unwrap();
    assert_eq!(report.convert.items, converted.manifest.counts.samples);
    let (lo, median, hi) = report.round_ratios;
    assert!(
        0.0 < lo && lo <= median && median <= hi,
        "{lo} {median} {hi}"
    );
    let text = report.to_string();
    assert!(text.contains("median of 3 rounds"), "{text}");
    assert!(text.contains("convert / external parse"), "{text}");
}
