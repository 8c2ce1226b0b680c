//! An experiment end to end on a small generated dataset: every stage, the
//! report, reuse of finished stages, and exact resume of an interrupted fit.
//! Tests that train hold `util::rng_lock`: libtorch's generator is global.

use skel_trainer::config::Phase;
use skel_trainer::experiment::{self, Experiment, ExperimentConfig};
use skel_trainer::fit::{self, FitDir, FitOptions};
use skel_trainer::sadvae::Variant;
use tch::Tensor;

use crate::util::{experiment_config, tensors};

#[test]
fn experiment_runs_every_stage_reports_reuses_its_stages_and_resumes_fits() {
    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = experiment_config(tmp.path());
    let out = cfg.out_dir.clone();
    let exp = Experiment::open(cfg.clone(), false).unwrap();
    let summary = experiment::run_all(&exp).unwrap();
    // Closing the experiment releases its folder to the next writer.
    drop(exp);
    assert_eq!(summary.variants.len(), 2);
    for o in &summary.runs {
        let m = &o.metrics;
        for v in [m.zsl, m.acc_s, m.acc_u, m.h] {
            assert!((0.0..=1.0).contains(&v), "{v}");
        }
        assert!((1..=3).contains(&o.selection.chosen_epoch));
        assert_eq!(o.selection.validation_zsl.len(), 3);
        // Confusion rows add up to the test samples.
        let split = skel_schemas::SplitFile::read(&o.split).unwrap();
        let zsl: u64 = m.zsl_confusion.counts.iter().flatten().sum();
        assert_eq!(zsl as usize, split.parts.test_unseen.len());
        let gzsl: u64 = m.gzsl_confusion.counts.iter().flatten().sum();
        assert_eq!(
            gzsl as usize,
            split.parts.test_unseen.len() + split.parts.test_seen.len()
        );
    }
    for f in [
        "results.json",
        "results.md",
        "plots/unseen-per-class-naive.png",
        "plots/unseen-per-class-fd_tc.png",
        "plots/tsne-fd_tc.png",
        "run0/fd_tc/gate.yaml",
        "run0/fd_tc/metrics.json",
        "run0/fd_tc/fit-validation/selection.yaml",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("| SA-DVAE (FD + TC) |"), "{md}");

    // A second run reuses every stage: same results, no new checkpoints.
    let before = std::fs::metadata(out.join("run0/fd_tc/fit-main/checkpoints"))
        .unwrap()
        .modified()
        .unwrap();
    let again = experiment::run_all(&Experiment::open(cfg.clone(), false).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_string(&again.runs).unwrap(),
        serde_json::to_string(&summary.runs).unwrap()
    );
    let after = std::fs::metadata(out.join("run0/fd_tc/fit-main/checkpoints"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);

    // Changed SA-DVAE settings redo the fits but keep the extractors.
    let mut changed = cfg.clone();
    changed.sadvae.lr = 2e-3;
    changed.variants = vec![Variant::Fd];
    let features = out.join("run0/extract-main/features.parquet");
    let stamp = std::fs::metadata(&features).unwrap().modified().unwrap();
    experiment::run_all(&Experiment::open(changed, false).unwrap()).unwrap();
    assert_eq!(
        std::fs::metadata(&features).unwrap().modified().unwrap(),
        stamp
    );

    interrupted_fit_resumes_to_the_same_weights(tmp.path(), &cfg);

    // Changed extractor settings are refused rather than silently retrained.
    let mut other = cfg;
    other.extractor.as_mut().unwrap().train.lr = 0.01;
    let err = experiment::extract(&Experiment::open(other, false).unwrap(), 0, Phase::Main)
        .unwrap_err()
        .to_string();
    assert!(err.contains("other settings"), "{err}");
}

/// Fits SA-DVAE on the experiment's main features straight through, and again
/// interrupted after epoch 1 and resumed: the weights must be equal.
fn interrupted_fit_resumes_to_the_same_weights(tmp: &std::path::Path, cfg: &ExperimentConfig) {
    let exp = Experiment::open(cfg.clone(), false).unwrap();
    let features = experiment::extract(&exp, 0, Phase::Main).unwrap();
    let rows = skel_trainer::features::read(&features).unwrap();
    let train: Vec<_> = rows.iter().filter(|r| r.part == "train_seen").collect();
    let text =
        skel_trainer::text::class_features(&cfg.text, exp.dataset, tmp, tch::Device::Cpu).unwrap();
    let data = fit::FitData {
        train_x: fit::to_tensor(
            &train.iter().map(|r| r.feature.clone()).collect::<Vec<_>>(),
            tch::Device::Cpu,
        ),
        train_rows: Tensor::from_slice(&train.iter().map(|r| r.label as i64).collect::<Vec<_>>()),
        text: fit::to_tensor(&text.rows, tch::Device::Cpu),
        unseen_rows: vec![0, 1],
        eval_x: Tensor::zeros([0, 16], (tch::Kind::Float, tch::Device::Cpu)),
        eval_targets: vec![],
    };
    let opts = |stop_after| FitOptions {
        variant: Variant::FdTc,
        cfg: &cfg.sadvae,
        classifier: &cfg.classifier,
        epochs: 3,
        seed: 9,
        device: tch::Device::Cpu,
        progress: false,
        stop_after,
    };
    let straight = FitDir::new(&tmp.join("straight"));
    fit::fit(&straight, &data, &opts(None)).unwrap();
    let resumed = FitDir::new(&tmp.join("resumed"));
    let first = fit::fit(&resumed, &data, &opts(Some(1))).unwrap();
    assert_eq!(first.epochs_done, 1);
    let second = fit::fit(&resumed, &data, &opts(None)).unwrap();
    assert_eq!(second.resumed_from, Some(1));
    let (a, b) = (
        tensors(&straight.checkpoint(3)),
        tensors(&resumed.checkpoint(3)),
    );
    let differing: Vec<&String> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .map(|(x, _)| &x.0)
        .collect();
    assert!(differing.is_empty(), "resumed fit differs in {differing:?}");
    let log = std::fs::read_to_string(resumed.log()).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
}

/// `sadvae.compat: official` runs the official schedule, C_u with a ReLU and
/// the gate with its threshold inversion, and says so in results.json,
/// results.md and gate.yaml; the same extractors serve both modes.
#[test]
fn official_mode_is_applied_and_named_in_the_report() {
    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = experiment_config(tmp.path());
    cfg.variants = vec![Variant::FdTc];
    cfg.sadvae.schedule = None;
    let paper = experiment::run_all(&Experiment::open(cfg.clone(), false).unwrap()).unwrap();
    let paper_md = std::fs::read_to_string(cfg.out_dir.join("results.md")).unwrap();
    cfg.sadvae.compat = skel_trainer::sadvae::Compat::Official;
    let official = experiment::run_all(&Experiment::open(cfg.clone(), false).unwrap()).unwrap();
    let out = &cfg.out_dir;

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["mode"], "official");
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("SA-DVAE mode `official`"), "{md}");
    assert!(paper_md.contains("SA-DVAE mode `paper`"), "{paper_md}");
    let gate = std::fs::read_to_string(out.join("run0/fd_tc/gate.yaml")).unwrap();
    assert!(gate.contains("official-inversion"), "{gate}");
    let config = std::fs::read_to_string(out.join("config.yaml")).unwrap();
    assert!(config.contains("compat: official"), "{config}");

    // The SA-DVAE stages ran again (their config changed), on the same features.
    let (p, o) = (&paper.runs[0], &official.runs[0]);
    assert_ne!(
        (p.selection.validation_zsl.clone(), p.metrics.h),
        (o.selection.validation_zsl.clone(), o.metrics.h),
        "the official mode changed nothing"
    );

    // compat: official with an explicit paper schedule is refused.
    cfg.sadvae.schedule = Some(skel_trainer::sadvae::ScheduleKind::Paper);
    let err = cfg.validate().unwrap_err();
    assert!(err.contains("contradicts sadvae.compat: official"), "{err}");
}

/// Two `skel-trainer run` of one config at once (a requeued job): the second
/// is refused at once, naming the first; the first finishes its experiment.
#[test]
fn a_second_run_of_one_experiment_is_refused_naming_the_first() {
    use skel_pipeline::lock::{holder, LOCK_FILE};
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = experiment_config(tmp.path());
    cfg.variants = vec![Variant::FdTc];
    let config = tmp.path().join("exp.yaml");
    std::fs::write(&config, cfg.to_yaml()).unwrap();
    let run = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_skel-trainer"));
        c.args(["--quiet", "run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let first = run().spawn().unwrap();
    let pid = first.id();
    let started = std::time::Instant::now();
    while holder(&cfg.out_dir, LOCK_FILE).is_none_or(|h| !h.contains(&format!("PID {pid}"))) {
        assert!(
            started.elapsed().as_secs() < 120,
            "the first run never took its lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let second = run().output().unwrap();
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("is being written by another process")
            && err.contains(&format!("PID {pid}"))
            && err.contains("run --config"),
        "{err}"
    );
    assert!(cfg.out_dir.join("results.json").exists());
    assert!(holder(&cfg.out_dir, LOCK_FILE).is_none());
}
