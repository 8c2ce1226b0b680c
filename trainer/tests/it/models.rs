//! Each model's forward pass with fixed weights equals the PyTorch reference
//! (`trainer/scripts/gen_model_fixtures.py`) within 1e-4, in eval and in train
//! mode; weights folders round-trip and are refused by name when they do not fit.

use std::path::{Path, PathBuf};

use skel_pipeline::npy;
use skel_trainer::model::weights::{load_npy_dir, save_npy_dir, WeightsError};
use skel_trainer::model::{build, Arch, Backbone, BackboneConfig};
use tch::{nn, Device, Tensor};

const TOLERANCE: f64 = 1e-4;
const CLASSES: i64 = 7;
const ARCHS: [(&str, Arch); 2] = [("stgcn", Arch::Stgcn), ("shiftgcn", Arch::Shiftgcn)];

fn fixture(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(arch)
}

fn tensor(dir: &Path, name: &str) -> Tensor {
    let a = npy::read::<f32>(&dir.join(format!("{name}.npy"))).unwrap();
    let shape: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&a.data).view(shape.as_slice())
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

/// The fixture's network (`BackboneConfig::tiny`) with the fixture's weights.
fn golden(name: &str, arch: Arch) -> (nn::VarStore, Box<dyn Backbone>) {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = build(&vs.root(), &BackboneConfig::tiny(arch), 3, CLASSES);
    load_npy_dir(&vs, &fixture(name)).unwrap();
    (vs, model)
}

#[test]
fn forward_passes_equal_the_pytorch_references() {
    let _rng = crate::util::rng_lock();
    for (name, arch) in ARCHS {
        let dir = fixture(name);
        let (_vs, model) = golden(name, arch);
        let (features, logits) = tch::no_grad(|| model.forward_t(&tensor(&dir, "input"), false));
        let (df, dl) = (
            max_diff(&features, &tensor(&dir, "features")),
            max_diff(&logits, &tensor(&dir, "logits")),
        );
        assert!(
            df <= TOLERANCE && dl <= TOLERANCE,
            "{name}: features differ by {df}, logits by {dl}"
        );
    }
}

#[test]
fn train_mode_batch_norm_equals_the_pytorch_references() {
    let _rng = crate::util::rng_lock();
    for (name, arch) in ARCHS {
        let dir = fixture(name);
        let (vs, model) = golden(name, arch);
        let (features, logits) = tch::no_grad(|| model.forward_t(&tensor(&dir, "input"), true));
        let (df, dl) = (
            max_diff(&features, &tensor(&dir, "train_features")),
            max_diff(&logits, &tensor(&dir, "train_logits")),
        );
        assert!(
            df <= TOLERANCE && dl <= TOLERANCE,
            "{name}: train-mode features differ by {df}, logits by {dl}"
        );
        let mut checked = 0;
        for (var, value) in vs.variables() {
            if var.ends_with("running_mean") || var.ends_with("running_var") {
                let d = max_diff(&value, &tensor(&dir.join("after_train"), &var));
                assert!(
                    d <= TOLERANCE,
                    "{name}: {var} differs by {d} after one train pass"
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "{name}: no batch-norm statistics");
    }
}

#[test]
fn weights_folder_round_trips() {
    let _rng = crate::util::rng_lock();
    let dir = tempfile::tempdir().unwrap();
    for (name, arch) in ARCHS {
        let (saved, _model) = golden(name, arch);
        save_npy_dir(&saved, &dir.path().join(name)).unwrap();
        let loaded = nn::VarStore::new(Device::Cpu);
        let _model = build(&loaded.root(), &BackboneConfig::tiny(arch), 3, CLASSES);
        load_npy_dir(&loaded, &dir.path().join(name)).unwrap();
        let loaded = loaded.variables();
        for (var, value) in saved.variables() {
            assert!(value.equal(&loaded[&var]), "{name}: {var} changed");
        }
    }
}

#[test]
fn weights_of_another_architecture_are_refused_by_name() {
    let _rng = crate::util::rng_lock();
    let vs = nn::VarStore::new(Device::Cpu);
    let mut wider = BackboneConfig::tiny(Arch::Stgcn);
    wider.widths[0] = 12;
    let _model = build(&vs.root(), &wider, 3, CLASSES);
    let err = load_npy_dir(&vs, &fixture("stgcn")).unwrap_err();
    assert!(matches!(err, WeightsError::Shape { .. }), "{err}");
    assert!(err.to_string().contains("blocks.0."), "{err}");
    assert!(err.to_string().contains("another config"), "{err}");

    let vs = nn::VarStore::new(Device::Cpu);
    let _model = build(
        &vs.root(),
        &BackboneConfig::tiny(Arch::Shiftgcn),
        3,
        CLASSES,
    );
    let err = load_npy_dir(&vs, &fixture("stgcn")).unwrap_err();
    assert!(matches!(err, WeightsError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("another architecture"), "{err}");
}

#[test]
fn a_mis_shaped_tensor_is_named_with_its_file() {
    let _rng = crate::util::rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (vs, _model) = golden("stgcn", Arch::Stgcn);
    save_npy_dir(&vs, dir.path()).unwrap();
    let broken = dir.path().join("blocks.1.tcn.conv.weight.npy");
    npy::write_f32(&broken, &[16, 16, 9], &[0.0; 16 * 16 * 9]).unwrap();
    let err = load_npy_dir(&vs, dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, WeightsError::Shape { .. }), "{message}");
    assert!(
        message.contains(&broken.display().to_string())
            && message.contains("[16, 16, 9]")
            && message.contains("[16, 16, 9, 1]"),
        "{message}"
    );
}
