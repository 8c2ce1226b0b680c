//! Every shipped config parses and passes validation; bad ones are refused
//! with the file, the key and the fix.

use std::path::Path;

use skel_trainer::config::ExtractConfig;
use skel_trainer::experiment::ExperimentConfig;

fn experiments() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/experiments")
}

#[test]
fn shipped_configs_are_valid() {
    let mut n = 0;
    for entry in std::fs::read_dir(experiments()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("extract-") {
            ExtractConfig::read(&path).unwrap_or_else(|e| panic!("{e}"));
        } else {
            ExperimentConfig::read(&path).unwrap_or_else(|e| panic!("{e}"));
        }
        n += 1;
    }
    assert!(n >= 12, "only {n} configs found");
}

#[test]
fn bad_experiment_configs_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(experiments().join("demo-ntu60-random.yaml")).unwrap();
    let cases = [
        (good.replace("  n_d: 7", "  n_d: 7\n  n_e: 3"), "n_e"),
        (good.replace("lr: 0.001", "lr: fast"), "lr"),
        (
            good.replace("variants: [fd_tc]", "variants: [fd_tc, full]"),
            "full",
        ),
        (
            good.replace("  batch_size: 32", "  batch_size: 0"),
            "batch_size",
        ),
        (
            good.replace("variants: [fd_tc]", "variants: []"),
            "variants",
        ),
        // Found by the config fuzzer: NaN was read as a weight decay.
        (
            good.replace("weight_decay: 0.0001", "weight_decay: .nan"),
            "train.weight_decay",
        ),
        (
            good.replace("beta2: 0.999", "beta2: 1.5"),
            "train.optimizer.adam.beta2",
        ),
        (
            good.replace("rotation_degrees: 10", "rotation_degrees: .inf"),
            "data.rotation_degrees",
        ),
        (
            good.replace("report:", "classifier: { lr: -1 }\nreport:"),
            "classifier.lr",
        ),
    ];
    for (text, key) in cases {
        let path = tmp.path().join("bad.yaml");
        std::fs::write(&path, text).unwrap();
        let err = ExperimentConfig::read(&path).unwrap_err();
        assert!(
            err.contains("bad.yaml") && err.contains(key),
            "{key}: {err}"
        );
    }
}
