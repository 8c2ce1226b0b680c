//! Features in the official SA-DVAE layout: export, then import, gives the
//! same results as the run that extracted them; the shipped fixture runs as
//! an experiment; inconsistent folders are refused naming the file.

use std::path::Path;

use skel_trainer::experiment::{self, Experiment, ExperimentConfig, Summary};
use skel_trainer::import::{ImportFormat, ImportSource};
use skel_trainer::sadvae::Variant;

use crate::util::{experiment_config, run_cli};

/// The experiment `cfg` on the features exported to `export` instead of extracting.
fn imported(cfg: &ExperimentConfig, export: &Path, out_dir: &Path) -> ExperimentConfig {
    let feats = export.join("sk_feats");
    ExperimentConfig {
        dataset: "ntu60".into(),
        splits: Vec::new(),
        extractor: None,
        features: vec![ImportSource {
            format: ImportFormat::SaDvae,
            main: feats.join("stgcn_ntu60_run0_5_r"),
            validation: feats.join("stgcn_ntu60_run0_val_5_r"),
            label_splits: export.join("label_splits/ntu60_run0"),
            unseen: None,
        }],
        out_dir: out_dir.to_owned(),
        ..cfg.clone()
    }
}

/// The summary without what names the inputs (split paths).
fn comparable(s: &Summary) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap();
    v.as_object_mut().unwrap().remove("splits");
    for run in v["runs"].as_array_mut().unwrap() {
        run.as_object_mut().unwrap().remove("split");
    }
    v
}

#[test]
fn export_then_import_gives_the_same_results() {
    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = experiment_config(tmp.path());
    cfg.variants = vec![Variant::FdTc];
    let exp = Experiment::open(cfg.clone(), false).unwrap();
    let original = experiment::run_all(&exp).unwrap();
    let export = tmp.path().join("resources");
    let (main, validation) = experiment::export_sa_dvae(&exp, 0, None, &export).unwrap();
    assert!(
        main.ends_with("sk_feats/stgcn_ntu60_run0_5_r"),
        "{}",
        main.display()
    );
    assert!(validation.join("val_out.npy").exists());
    assert!(export
        .join("text_feats/ntu60_run0/clip-vit-b-32/lb_60.npy")
        .exists());

    let cfg2 = imported(&cfg, &export, &tmp.path().join("imported"));
    cfg2.validate().unwrap();
    let again = experiment::run_all(&Experiment::open(cfg2.clone(), false).unwrap()).unwrap();
    assert_eq!(comparable(&original), comparable(&again));
    let md = std::fs::read_to_string(cfg2.out_dir.join("results.md")).unwrap();
    assert!(md.contains("imported (sa-dvae layout)"), "{md}");

    // Refusals name the file and the fix.
    let label_splits = export.join("label_splits/ntu60_run0");
    std::fs::remove_file(label_splits.join("rv5_0.npy")).unwrap();
    let err = match Experiment::open(cfg2.clone(), false) {
        Ok(_) => panic!("a label_splits folder without its validation list was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("rvN_0.npy") && err.contains("ntu60_run0"),
        "{err}"
    );
    experiment::export_sa_dvae(&exp, 0, None, &export).unwrap();
    // Logits of another width.
    let out = main.join("gtest_out.npy");
    let a = skel_pipeline::npy::read::<f32>(&out).unwrap();
    let narrow: Vec<f32> = a.data.chunks(60).flat_map(|r| r[..59].to_vec()).collect();
    skel_pipeline::npy::write_f32(&out, &[a.shape[0], 59], &narrow).unwrap();
    let err = match Experiment::open(cfg2.clone(), false) {
        Ok(_) => panic!("logits of the wrong width were accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("gtest_out.npy: 59 logits per sample"), "{err}");
    // A training label outside the split's seen classes.
    experiment::export_sa_dvae(&exp, 0, None, &export).unwrap();
    let unseen = skel_pipeline::npy::read::<i64>(&label_splits.join("ru5.npy")).unwrap();
    let labels = main.join("train_label.npy");
    let mut l = skel_pipeline::npy::read::<i64>(&labels).unwrap();
    l.data[3] = unseen.data[0];
    let bytes: Vec<u8> = l.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_i64_npy(&labels, &bytes, l.data.len());
    let err = match Experiment::open(cfg2, false) {
        Ok(_) => panic!("a training sample of an unseen class was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("train_label.npy: sample 3 is of class") && err.contains("seen classes"),
        "{err}"
    );
}

fn write_i64_npy(path: &Path, data: &[u8], n: usize) {
    let mut header = format!("{{'descr': '<i8', 'fortran_order': False, 'shape': ({n},), }}");
    header.push_str(&" ".repeat((64 - (10 + header.len() + 1) % 64) % 64));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

/// The shipped config runs entirely on the fixture folder (features exported
/// from a small generated NTU-60 run, in the official layout).
#[test]
fn the_shipped_import_config_runs_on_the_fixture() {
    let _rng = crate::util::rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text =
        std::fs::read_to_string(root.join("configs/experiments/import-sa-dvae-fixture.yaml"))
            .unwrap()
            .replace(
                "trainer/tests/",
                &format!("{}/trainer/tests/", root.display()),
            )
            .replace(
                "out/import-fixture",
                &tmp.path().join("exp").display().to_string(),
            );
    let config = tmp.path().join("import.yaml");
    std::fs::write(&config, text).unwrap();
    let out = run_cli(&["run", "--config", config.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SA-DVAE (FD + TC)"), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("exp/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
}
