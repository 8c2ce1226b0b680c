//! Each model's forward pass with fixed weights equals the PyTorch reference
//! (`trainer/scripts/gen_model_fixtures.py`) within 1e-4.

use std::path::{Path, PathBuf};

use skel_pipeline::npy;
use skel_trainer::model::weights::{load_npy_dir, WeightsError};
use skel_trainer::model::{build, Arch, BackboneConfig};
use tch::{nn, Device, Tensor};

fn fixture(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(arch)
}

/// The fixtures' network: widths 8, 16, 16; strides 1, 2, 1; 7 classes.
fn config(arch: Arch) -> BackboneConfig {
    BackboneConfig {
        arch,
        widths: vec![8, 16, 16],
        strides: vec![1, 2, 1],
        temporal_kernel: 9,
        dropout: 0.0,
        edge_importance: true,
    }
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

#[test]
fn forward_passes_equal_the_pytorch_references() {
    for (name, arch) in [("stgcn", Arch::Stgcn), ("shiftgcn", Arch::Shiftgcn)] {
        let dir = fixture(name);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = build(&vs.root(), &config(arch), 3, 7);
        load_npy_dir(&vs, &dir).unwrap();
        let (features, logits) = tch::no_grad(|| model.forward_t(&tensor(&dir, "input"), false));
        let (df, dl) = (
            max_diff(&features, &tensor(&dir, "features")),
            max_diff(&logits, &tensor(&dir, "logits")),
        );
        assert!(
            df <= 1e-4 && dl <= 1e-4,
            "{name}: features differ by {df}, logits by {dl}"
        );
    }
}

#[test]
fn weights_of_another_architecture_are_refused_by_name() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut wider = config(Arch::Stgcn);
    wider.widths[0] = 12;
    let _model = build(&vs.root(), &wider, 3, 7);
    let err = load_npy_dir(&vs, &fixture("stgcn")).unwrap_err();
    assert!(matches!(err, WeightsError::Shape { .. }), "{err}");
    assert!(err.to_string().contains("blocks.0."), "{err}");

    let vs = nn::VarStore::new(Device::Cpu);
    let _model = build(&vs.root(), &config(Arch::Shiftgcn), 3, 7);
    let err = load_npy_dir(&vs, &fixture("stgcn")).unwrap_err();
    assert!(matches!(err, WeightsError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("another architecture"), "{err}");
}
