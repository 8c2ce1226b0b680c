//! The extract job: features for every part, exact resume, clear refusals.

use crate::util::{config, dataset, tensors};
use skel_trainer::extract::{run, ExtractOptions};

#[test]
fn resumed_run_equals_uninterrupted_run_and_features_cover_every_part() {
    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 3);
    let straight = config(&data, &split, &tmp.path().join("straight"), 3);
    let report = run(&straight, &ExtractOptions::default()).unwrap();
    assert_eq!(report.epochs_done, 3);

    let resumed_cfg = config(&data, &split, &tmp.path().join("resumed"), 3);
    let first = run(
        &resumed_cfg,
        &ExtractOptions {
            stop_after: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(first.epochs_done, 1);
    let refused = run(&resumed_cfg, &ExtractOptions::default())
        .unwrap_err()
        .to_string();
    assert!(refused.contains("--resume"), "{refused}");
    let second = run(
        &resumed_cfg,
        &ExtractOptions {
            resume: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((second.resumed_from, second.epochs_done), (Some(1), 3));

    let a = tensors(&straight.run_dir.join("checkpoints/epoch-0003.ot"));
    let b = tensors(&resumed_cfg.run_dir.join("checkpoints/epoch-0003.ot"));
    assert_eq!(a, b, "resumed weights differ from the uninterrupted run's");

    // One row per (sample, main part), 16-d features, one logit per seen class.
    let split_file = skel_schemas::SplitFile::read(&split).unwrap();
    let p = &split_file.parts;
    let expected = p.train_seen.len() + p.test_seen.len() + p.test_unseen.len();
    assert_eq!(report.feature_rows, expected);
    let rows = parquet_rows(&straight.run_dir.join("features.parquet"));
    assert_eq!(rows, expected);
    let read = skel_trainer::features::read(&straight.run_dir.join("features.parquet")).unwrap();
    assert_eq!(read.len(), expected);
    assert!(read
        .iter()
        .all(|r| r.feature.len() == 16 && r.seen_logits.len() == split_file.classes.seen.len()));

    let mut other = resumed_cfg.clone();
    other.train.lr = 0.01;
    let err = run(
        &other,
        &ExtractOptions {
            resume: true,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("config differs"), "{err}");
}

fn parquet_rows(path: &std::path::Path) -> usize {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader.metadata().file_metadata().num_rows() as usize
}

#[test]
fn a_split_of_another_dataset_is_refused() {
    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 1);
    // Changing the manifest changes its checksum.
    let manifest = data.join("manifest.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("tool:", "# edited\ntool:")).unwrap();
    let err = run(
        &config(&data, &split, &tmp.path().join("r"), 1),
        &ExtractOptions::default(),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("make the split again"),
        "{err:#}"
    );
}

#[test]
fn cuda_without_a_gpu_is_an_error_not_a_fallback() {
    let _rng = crate::util::rng_lock();
    skel_trainer::cuda::load();
    if tch::Cuda::is_available() {
        return;
    }
    let err = skel_trainer::config::DeviceChoice::Cuda
        .device()
        .unwrap_err();
    assert!(err.starts_with("device cuda was asked for, but "), "{err}");
    assert!(
        err.contains("Fix: ") && err.contains("skel-trainer doctor"),
        "{err}"
    );
}

#[test]
fn bf16_precision_trains_under_autocast_and_is_recorded_in_the_config() {
    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 3);
    let fp32 = config(&data, &split, &tmp.path().join("fp32"), 1);
    let mut bf16 = config(&data, &split, &tmp.path().join("bf16"), 1);
    bf16.train.precision = skel_trainer::precision::Precision::Bf16;
    let a = run(&fp32, &ExtractOptions::default()).unwrap();
    let b = run(&bf16, &ExtractOptions::default()).unwrap();
    let (la, lb) = (a.log[0].1, b.log[0].1);
    assert!(lb.is_finite() && la.is_finite());
    // Same weights, batches and dropout: only the arithmetic differs, a little.
    assert_ne!(la, lb, "bf16 autocast changed nothing");
    assert!(
        (la - lb).abs() / la < 0.05,
        "fp32 loss {la}, bf16 loss {lb}"
    );
    let features = skel_trainer::features::read(&bf16.run_dir.join("features.parquet")).unwrap();
    assert!(features
        .iter()
        .all(|r| r.feature.iter().all(|v| v.is_finite())));
    // The key appears in the run's config only when it is not the default.
    let text = std::fs::read_to_string(bf16.run_dir.join("config.yaml")).unwrap();
    assert!(text.contains("precision: bf16"), "{text}");
    let text = std::fs::read_to_string(fp32.run_dir.join("config.yaml")).unwrap();
    assert!(!text.contains("precision"), "{text}");
}

/// `init_weights` with `train.epochs: 0`: the run extracts with the given
/// state dict, whatever the seed (the seeds' own weights would differ); a
/// state dict of another width is refused naming the file.
#[test]
fn init_weights_replace_the_seeded_weights() {
    use skel_trainer::model::{build, Arch, TemporalShift};
    use tch::{nn, Device, Tensor};

    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 2);
    let mut cfg = config(&data, &split, &tmp.path().join("a"), 0);
    cfg.backbone.arch = Arch::Shiftgcn;
    cfg.backbone.temporal_shift = TemporalShift::Adaptive;
    let seen = skel_schemas::SplitFile::read(&split)
        .unwrap()
        .classes
        .seen
        .len() as i64;
    tch::manual_seed(99);
    let vs = nn::VarStore::new(Device::Cpu);
    let _model = build(&vs.root(), &cfg.backbone, 3, seen);
    let weights = tmp.path().join("official.safetensors");
    let named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    Tensor::write_safetensors(&named, &weights).unwrap();
    cfg.init_weights = Some(weights.clone());
    let mut other_seed = cfg.clone();
    other_seed.seed += 1;
    other_seed.run_dir = tmp.path().join("b");
    let mut seeded = other_seed.clone();
    seeded.init_weights = None;
    seeded.train.epochs = 1;
    seeded.train.lr = 1e-12;
    seeded.run_dir = tmp.path().join("c");

    for c in [&cfg, &other_seed, &seeded] {
        run(c, &ExtractOptions::default()).unwrap();
    }
    let features = |c: &skel_trainer::config::ExtractConfig| {
        skel_trainer::features::read(&c.run_dir.join("features.parquet")).unwrap()
    };
    let (a, b, c) = (features(&cfg), features(&other_seed), features(&seeded));
    assert!(!a.is_empty());
    assert_eq!(
        a, b,
        "the seed changed features extracted with init_weights"
    );
    assert_ne!(a, c, "init_weights were not used");

    let mut wider = cfg.clone();
    wider.backbone.widths[1] = 24;
    wider.run_dir = tmp.path().join("d");
    let err = format!("{:#}", run(&wider, &ExtractOptions::default()).unwrap_err());
    assert!(
        err.contains(&weights.display().to_string()) && err.contains("has shape"),
        "{err}"
    );
}

/// A Shift-GCN run made before `temporal_shift` existed (config.yaml without
/// the key, checkpoints of the fixed unit) resumes with `temporal_shift:
/// fixed`; with the default, `adaptive`, the error says to set it.
#[test]
fn a_shiftgcn_run_from_before_adaptive_resumes_with_fixed() {
    use skel_trainer::model::{Arch, TemporalShift};

    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 1);
    let mut fixed = config(&data, &split, &tmp.path().join("run"), 2);
    fixed.backbone.arch = Arch::Shiftgcn;
    fixed.backbone.temporal_shift = TemporalShift::Fixed;
    let first = ExtractOptions {
        stop_after: Some(1),
        ..Default::default()
    };
    run(&fixed, &first).unwrap();
    let written = fixed.run_dir.join("config.yaml");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(text.contains("temporal_shift: fixed"), "{text}");
    let earlier: String = text
        .lines()
        .filter(|l| !l.contains("temporal_shift:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&written, earlier).unwrap();

    let resume = ExtractOptions {
        resume: true,
        ..Default::default()
    };
    let mut adaptive = fixed.clone();
    adaptive.backbone.temporal_shift = TemporalShift::Adaptive;
    let err = format!("{:#}", run(&adaptive, &resume).unwrap_err());
    assert!(err.contains("need `temporal_shift: fixed`"), "{err}");
    let report = run(&fixed, &resume).unwrap();
    assert_eq!((report.resumed_from, report.epochs_done), (Some(1), 2));
}
