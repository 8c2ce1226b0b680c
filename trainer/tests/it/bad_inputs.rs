//! Bad inputs through the `skel-trainer` binary (and the fit library where
//! the CLI cannot reach): each is refused with the file, the key and the fix.

use std::path::{Path, PathBuf};

use skel_pipeline::shard::hash_file;
use skel_schemas::{ClassEntry, SplitFile, MANIFEST_FILE};
use skel_trainer::classifier::ClassifierConfig;
use skel_trainer::config::Phase;
use skel_trainer::experiment::ExperimentConfig;
use skel_trainer::features::FeatureRow;
use skel_trainer::fit::{self, FitData, FitDir, FitOptions};
use skel_trainer::model::Arch;
use skel_trainer::run_dir::RunInfo;
use skel_trainer::sadvae::Variant;
use tch::{Device, Kind, Tensor};

use crate::util::{config, dataset, experiment_on, rng_lock, run_cli, sadvae_config};

/// Runs the CLI, expects it to fail, and returns its stderr.
fn refused(args: &[&str]) -> String {
    let out = run_cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
    stderr
}

fn assert_names(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "{p:?} missing from: {message}");
    }
}

/// An extract job file and an experiment file (one run, fd_tc) on `split`.
fn job_files(tmp: &Path, data: &Path, split: &Path) -> (String, String, ExperimentConfig) {
    let job = tmp.join("job.yaml");
    std::fs::write(&job, config(data, split, &tmp.join("run"), 1).to_yaml()).unwrap();
    let mut exp = experiment_on(data, split, tmp);
    exp.variants = vec![Variant::FdTc];
    let exp_path = tmp.join("exp.yaml");
    std::fs::write(&exp_path, exp.to_yaml()).unwrap();
    let s = |p: PathBuf| p.to_str().unwrap().to_owned();
    (s(job), s(exp_path), exp)
}

fn edit_split(path: &Path, edit: impl FnOnce(&mut SplitFile)) {
    let mut split = SplitFile::read(path).unwrap();
    edit(&mut split);
    std::fs::write(path, split.to_yaml().unwrap()).unwrap();
}

#[test]
fn a_split_naming_classes_the_dataset_lacks_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 1);
    let (job, exp, _) = job_files(tmp.path(), &data, &split);
    let original = std::fs::read_to_string(&split).unwrap();
    let split_name = split.file_name().unwrap().to_str().unwrap();

    // A class index NTU-60 does not have.
    edit_split(&split, |s| {
        s.classes.unseen[0] = ClassEntry {
            index: 60,
            action: 61,
            name: "check time (from watch)".into(),
        }
    });
    for args in [
        &["extract", "--config", &job][..],
        &["fit", "--config", &exp][..],
    ] {
        assert_names(
            &refused(args),
            &[
                split_name,
                "classes.unseen[0]",
                "index 60",
                "lists 60 classes",
                "skel-pipeline split",
            ],
        );
    }

    // An index of the dataset under another class's name.
    std::fs::write(&split, &original).unwrap();
    edit_split(&split, |s| s.classes.seen[2].name = "juggling".into());
    assert_names(
        &refused(&["extract", "--config", &job]),
        &[
            split_name,
            "classes.seen[2]",
            "juggling",
            "skel-pipeline split",
        ],
    );

    // A sample filed under a part of the wrong role.
    std::fs::write(&split, &original).unwrap();
    edit_split(&split, |s| {
        let moved = s.parts.train_seen.remove(0);
        s.parts.test_unseen.push(moved);
        s.counts.train_seen -= 1;
        s.counts.test_unseen += 1;
    });
    let moved = SplitFile::read(&split).unwrap().parts.test_unseen.len() - 1;
    assert_names(
        &refused(&["extract", "--config", &job]),
        &[
            split_name,
            &format!("parts.test_unseen[{moved}]"),
            "not among the split's unseen classes",
            "skel-pipeline split",
        ],
    );
}

#[test]
fn a_split_made_from_another_manifest_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 1);
    let (job, exp, _) = job_files(tmp.path(), &data, &split);
    let manifest = data.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("tool:", "# edited\ntool:")).unwrap();
    for args in [
        &["extract", "--config", &job][..],
        &["fit", "--config", &exp][..],
    ] {
        assert_names(
            &refused(args),
            &[
                split.file_name().unwrap().to_str().unwrap(),
                "was made from a manifest with SHA-256",
                "make the split again from this dataset",
            ],
        );
    }
}

/// Writes what a finished extract stage of the experiment leaves (config,
/// run.yaml, features) with `width`-d features and `logits` seen logits.
fn fake_extract(exp: &ExperimentConfig, phase: Phase, width: usize, logits: usize) -> PathBuf {
    let job = exp.extract_config(0, phase);
    std::fs::create_dir_all(&job.run_dir).unwrap();
    std::fs::write(job.run_dir.join("config.yaml"), job.to_yaml()).unwrap();
    let split = SplitFile::read(&job.split).unwrap();
    let info = RunInfo {
        tool: "skel-trainer".into(),
        version: "test".into(),
        dataset: job.dataset.clone(),
        manifest_sha256: hash_file(&job.dataset.join(MANIFEST_FILE)).unwrap().0,
        split: job.split.clone(),
        split_sha256: hash_file(&job.split).unwrap().0,
        split_name: split.name.clone(),
        split_run: split.run,
        device: "Cpu".into(),
        // As a run.yaml written before numerics were recorded.
        numerics: None,
    };
    std::fs::write(
        job.run_dir.join("run.yaml"),
        serde_saphyr::to_string(&info).unwrap(),
    )
    .unwrap();
    let store = skel_trainer::data::SampleStore::load(&job.dataset, &job.split).unwrap();
    let mut rows = Vec::new();
    for (part, names) in split.parts.named() {
        if !phase.parts().contains(&part) {
            continue;
        }
        for name in names {
            rows.push(FeatureRow {
                sample: name.clone(),
                label: store.samples[name].class,
                part: part.into(),
                feature: vec![0.5; width],
                seen_logits: vec![0.0; logits],
            });
        }
    }
    let path = job.run_dir.join("features.parquet");
    skel_trainer::features::write(&path, &rows).unwrap();
    path
}

#[test]
fn features_that_do_not_match_the_extractor_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 1);
    let (_, exp_path, exp) = job_files(tmp.path(), &data, &split);
    let seen = Phase::Validation
        .classes(&SplitFile::read(&split).unwrap())
        .0
        .len();
    // The config's extractor makes 16-d features (widths [8, 16]).
    let features = fake_extract(&exp, Phase::Validation, 12, seen);
    let err = refused(&["fit", "--config", &exp_path]);
    assert_names(
        &err,
        &[
            &features.display().to_string(),
            "12-d feature",
            "extractor.backbone.widths ends in 16",
            "remove",
            "to extract again",
        ],
    );
    fake_extract(&exp, Phase::Validation, 16, seen + 3);
    let err = refused(&["fit", "--config", &exp_path]);
    assert_names(
        &err,
        &[
            &features.display().to_string(),
            &format!("{} seen-class logits", seen + 3),
            &format!("has {seen} seen classes"),
            "to extract again",
        ],
    );
}

#[test]
fn a_checkpoint_of_another_architecture_is_refused_on_resume() {
    let _rng = rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 1);
    let stgcn = config(&data, &split, &tmp.path().join("stgcn"), 2);
    let mut shiftgcn = config(&data, &split, &tmp.path().join("shiftgcn"), 2);
    shiftgcn.backbone.arch = Arch::Shiftgcn;
    let stop = skel_trainer::extract::ExtractOptions {
        stop_after: Some(1),
        ..Default::default()
    };
    for cfg in [&stgcn, &shiftgcn] {
        skel_trainer::extract::run(cfg, &stop).unwrap();
    }
    // Shift-GCN's checkpoint where the ST-GCN run's epoch 1 was.
    for file in ["epoch-0001.ot", "epoch-0001.optim.ot"] {
        std::fs::copy(
            shiftgcn.run_dir.join("checkpoints").join(file),
            stgcn.run_dir.join("checkpoints").join(file),
        )
        .unwrap();
    }
    let job = tmp.path().join("stgcn.yaml");
    std::fs::write(&job, stgcn.to_yaml()).unwrap();
    let err = refused(&["extract", "--config", job.to_str().unwrap(), "--resume"]);
    assert_names(
        &err,
        &[
            "checkpoints/epoch-0001.ot",
            "tensor `",
            "backbone.arch",
            "start a new run_dir",
        ],
    );
}

/// Random fit data: `n` samples of `width`-d features, 10 classes of
/// `text`-d text features.
fn fit_data(n: i64, width: i64, text: i64) -> FitData {
    tch::manual_seed(4);
    FitData {
        train_x: Tensor::randn([n, width], (Kind::Float, Device::Cpu)),
        train_rows: Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(8),
        text: Tensor::randn([10, text], (Kind::Float, Device::Cpu)),
        unseen_rows: vec![8, 9],
        eval_x: Tensor::zeros([0, width], (Kind::Float, Device::Cpu)),
        eval_targets: vec![],
    }
}

#[test]
fn a_fit_folder_of_other_feature_or_text_dimensions_or_variant_is_refused() {
    let _rng = rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let sadvae = sadvae_config();
    let classifier = ClassifierConfig {
        samples_per_class: 5,
        steps: 5,
        lr: 1e-3,
    };
    let opts = |variant, stop_after| FitOptions {
        variant,
        cfg: &sadvae,
        classifier: &classifier,
        epochs: 3,
        seed: 2,
        device: Device::Cpu,
        progress: false,
        stop_after,
    };
    let dir = FitDir::new(&tmp.path().join("fit"));
    fit::fit(&dir, &fit_data(32, 16, 8), &opts(Variant::Naive, Some(1))).unwrap();
    let checkpoint = dir.checkpoint(1).display().to_string();
    let fix = format!("remove {} to fit again", dir.root.display());
    for (data, variant, names) in [
        // Features of another extractor width.
        (fit_data(32, 20, 8), Variant::Naive, "shape"),
        // Text features of another encoder.
        (fit_data(32, 16, 12), Variant::Naive, "shape"),
        // A checkpoint of the naive variant resumed as the full model.
        (fit_data(32, 16, 8), Variant::FdTc, "tensor"),
    ] {
        let err = fit::fit(&dir, &data, &opts(variant, None))
            .unwrap_err()
            .to_string();
        assert_names(&err, &[&checkpoint, names, &fix]);
    }
}

#[test]
fn resuming_after_the_split_file_changed_is_refused() {
    let _rng = rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 1);
    let cfg = config(&data, &split, &tmp.path().join("run"), 2);
    let stop = skel_trainer::extract::ExtractOptions {
        stop_after: Some(1),
        ..Default::default()
    };
    skel_trainer::extract::run(&cfg, &stop).unwrap();
    // Another split of the same dataset, saved over the first.
    let request = skel_pipeline::split::SplitRequest {
        protocol: skel_schemas::Protocol::CrossSubject,
        classes: skel_pipeline::split::ClassChoice::Random { unseen: 5, runs: 1 },
        seed: 2,
        validation_fraction: 0.2,
    };
    let other = skel_pipeline::split::split(&data, &tmp.path().join("other"), &request).unwrap();
    std::fs::copy(&other[0].0, &split).unwrap();
    let job = tmp.path().join("job.yaml");
    std::fs::write(&job, cfg.to_yaml()).unwrap();
    let err = refused(&["extract", "--config", job.to_str().unwrap(), "--resume"]);
    assert_names(
        &err,
        &[
            &split.display().to_string(),
            "changed since",
            "run.yaml",
            "start a new run_dir",
        ],
    );
}

#[test]
fn a_features_file_of_mixed_widths_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("features.parquet");
    let row = |sample: &str, width: usize| FeatureRow {
        sample: sample.into(),
        label: 0,
        part: "train_seen".into(),
        feature: vec![1.0; width],
        seen_logits: vec![0.0; 3],
    };
    skel_trainer::features::write(&path, &[row("a", 16), row("b", 16), row("c", 12)]).unwrap();
    let err = skel_trainer::features::read(&path).unwrap_err().to_string();
    assert_names(
        &err,
        &[
            &path.display().to_string(),
            "sample c has a 12-d feature",
            "sample a has 16",
            "extract again",
        ],
    );
}

#[test]
fn a_text_cache_of_ragged_rows_is_embedded_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = skel_trainer::text::TextConfig {
        encoder: skel_trainer::text::TextEncoder::ClipVitB32,
        mode: "lb".into(),
        weights: None,
    };
    let dataset = skel_schemas::Dataset::Ntu60;
    let good = skel_trainer::text::class_features(&cfg, dataset, tmp.path(), Device::Cpu).unwrap();
    let cached: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let mut ragged = good.rows.clone();
    ragged[7].truncate(100);
    let names: Vec<String> = (0..ragged.len()).map(|i| format!("class {i}")).collect();
    skel_trainer::text::cache::write(&cached[0], &good.key, "lb", &names, &ragged).unwrap();
    let again = skel_trainer::text::class_features(&cfg, dataset, tmp.path(), Device::Cpu).unwrap();
    assert_eq!(again.rows, good.rows);
}
