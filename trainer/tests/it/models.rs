//! Each model's forward pass with fixed weights equals the PyTorch reference
//! (`trainer/scripts/gen_model_fixtures.py`) within 1e-4, in eval and in train
//! mode; so do the adaptive Shift-GCN's input gradient and its offsets'
//! gradients after the official rule; weights folders round-trip, PyTorch
//! state dicts load, and both are refused by name when they do not fit.

use std::path::{Path, PathBuf};

use skel_pipeline::npy;
use skel_trainer::model::weights::{load_npy_dir, load_state_dict, save_npy_dir, WeightsError};
use skel_trainer::model::{build, Arch, Backbone, BackboneConfig, TemporalShift};
use tch::{nn, Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-4;
const CLASSES: i64 = 7;
const ARCHS: [(&str, Arch, TemporalShift); 3] = [
    ("stgcn", Arch::Stgcn, TemporalShift::Adaptive),
    ("shiftgcn", Arch::Shiftgcn, TemporalShift::Fixed),
    ("shiftgcn-adaptive", Arch::Shiftgcn, TemporalShift::Adaptive),
];

/// The fixtures' network (`BackboneConfig::tiny`) with the given temporal shift.
fn tiny(arch: Arch, temporal_shift: TemporalShift) -> BackboneConfig {
    BackboneConfig {
        temporal_shift,
        ..BackboneConfig::tiny(arch)
    }
}

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

/// The fixture's network with the fixture's weights: its `state_dict.pt`
/// (as the official Shift-GCN code saves them) or its `.npy` files.
fn golden(name: &str, arch: Arch, shift: TemporalShift) -> (nn::VarStore, Box<dyn Backbone>) {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = build(&vs.root(), &tiny(arch, shift), 3, CLASSES);
    let state_dict = fixture(name).join("state_dict.pt");
    if state_dict.exists() {
        load_state_dict(&vs, &state_dict).unwrap();
    } else {
        load_npy_dir(&vs, &fixture(name)).unwrap();
    }
    (vs, model)
}

#[test]
fn forward_passes_equal_the_pytorch_references() {
    let _rng = crate::util::rng_lock();
    for (name, arch, shift) in ARCHS {
        let dir = fixture(name);
        let (_vs, model) = golden(name, arch, shift);
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
    for (name, arch, shift) in ARCHS {
        let dir = fixture(name);
        let (vs, model) = golden(name, arch, shift);
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
    for (name, arch, shift) in ARCHS {
        let (saved, _model) = golden(name, arch, shift);
        save_npy_dir(&saved, &dir.path().join(name)).unwrap();
        let loaded = nn::VarStore::new(Device::Cpu);
        let _model = build(&loaded.root(), &tiny(arch, shift), 3, CLASSES);
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
        &tiny(Arch::Shiftgcn, TemporalShift::Fixed),
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
    let (vs, _model) = golden("stgcn", Arch::Stgcn, TemporalShift::Adaptive);
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

/// The input gradient and the offsets' gradients of the adaptive Shift-GCN
/// under the loss sum(logits * loss_weights), against the reference's: the
/// autograd gradients, then the official rule's (0.01 sign(g), 0.0001 at g =
/// 0, 0 for x), in eval and train mode.
#[test]
fn adaptive_shift_gradients_equal_the_pytorch_reference() {
    let _rng = crate::util::rng_lock();
    let dir = fixture("shiftgcn-adaptive");
    let mut checked_rule = [0usize; 3]; // +0.01 or -0.01, 0.0001, 0 (x)
    for (mode, train) in [("eval", false), ("train", true)] {
        let (vs, model) = golden("shiftgcn-adaptive", Arch::Shiftgcn, TemporalShift::Adaptive);
        let x = tensor(&dir, "input").set_requires_grad(true);
        let (_, logits) = model.forward_t(&x, train);
        (logits * tensor(&dir, "loss_weights"))
            .sum(Kind::Float)
            .backward();
        let prefix = if train { "train_" } else { "" };
        let d = max_diff(&x.grad(), &tensor(&dir, &format!("{prefix}input_grad")));
        assert!(d <= TOLERANCE, "{mode}: the input gradient differs by {d}");
        let offsets: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(name, _)| name.ends_with(".ypos") || name.ends_with(".xpos"))
            .collect();
        assert_eq!(
            offsets.len(),
            12,
            "two shifts of two offsets in each of 3 blocks"
        );
        let grad = |t: &Tensor| {
            let g = t.grad();
            if g.defined() {
                g.copy()
            } else {
                t.zeros_like()
            }
        };
        for (name, t) in &offsets {
            if name.ends_with(".ypos") {
                let d = max_diff(
                    &grad(t),
                    &tensor(&dir.join(format!("grad_{mode}_true")), name),
                );
                assert!(
                    d <= TOLERANCE,
                    "{mode}: autograd gradient of {name} differs by {d}"
                );
            }
        }
        model.apply_gradient_rules();
        for (name, t) in &offsets {
            let expected = tensor(&dir.join(format!("grad_{mode}")), name);
            let d = max_diff(&grad(t), &expected);
            assert!(
                d <= 1e-9,
                "{mode}: ruled gradient of {name} differs by {d}: {:?} vs {:?}",
                Vec::<f32>::try_from(grad(t)).unwrap(),
                Vec::<f32>::try_from(&expected).unwrap()
            );
            for v in Vec::<f32>::try_from(&expected).unwrap() {
                let branch = if v.abs() == 0.01 {
                    0
                } else if v == 0.0001 {
                    1
                } else {
                    2
                };
                checked_rule[branch] += 1;
            }
        }
    }
    assert!(
        checked_rule.iter().all(|&n| n > 0),
        "every branch of the rule is covered: {checked_rule:?}"
    );
}

/// A PyTorch state dict whose tensors do not fit is refused, naming each
/// problem; a safetensors file of the same weights loads like the `.pt`.
#[test]
fn state_dicts_are_read_by_name() {
    let _rng = crate::util::rng_lock();
    let pt = fixture("shiftgcn-adaptive").join("state_dict.pt");
    let vs = nn::VarStore::new(Device::Cpu);
    let mut wider = tiny(Arch::Shiftgcn, TemporalShift::Adaptive);
    wider.widths[2] = 24;
    let _model = build(&vs.root(), &wider, 3, CLASSES);
    let message = load_state_dict(&vs, &pt).unwrap_err().to_string();
    assert!(
        message.contains("`l3.gcn1.Linear_weight` has shape [16, 16], the model needs [16, 24]")
            && message.contains("and 25 more")
            && message.contains(&pt.display().to_string()),
        "{message}"
    );

    let vs = nn::VarStore::new(Device::Cpu);
    let _model = build(
        &vs.root(),
        &tiny(Arch::Shiftgcn, TemporalShift::Fixed),
        3,
        CLASSES,
    );
    let message = load_state_dict(&vs, &pt).unwrap_err().to_string();
    assert!(
        message.contains("no `blocks.0.gcn.bias` (the model needs shape [8])")
            && message.contains("temporal_shift adaptive"),
        "{message}"
    );

    // What torch.save(model.state_dict()) writes, an OrderedDict, libtorch cannot read.
    let ordered = fixture("shiftgcn-adaptive").join("ordered_dict.pt");
    let err = load_state_dict(&vs, &ordered).unwrap_err();
    assert!(matches!(err, WeightsError::OrderedDict { .. }), "{err}");
    assert!(
        err.to_string().contains("torch.save(dict(torch.load("),
        "{err}"
    );

    let (vs, model) = golden("shiftgcn-adaptive", Arch::Shiftgcn, TemporalShift::Adaptive);
    let tmp = tempfile::tempdir().unwrap();
    let safetensors = tmp.path().join("weights.safetensors");
    let named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    Tensor::write_safetensors(&named, &safetensors).unwrap();
    let loaded = nn::VarStore::new(Device::Cpu);
    let twin = build(
        &loaded.root(),
        &tiny(Arch::Shiftgcn, TemporalShift::Adaptive),
        3,
        CLASSES,
    );
    load_state_dict(&loaded, &safetensors).unwrap();
    let x = tensor(&fixture("shiftgcn-adaptive"), "input");
    let (a, _) = tch::no_grad(|| model.forward_t(&x, false));
    let (b, _) = tch::no_grad(|| twin.forward_t(&x, false));
    assert!(a.equal(&b));

    let mut xpos = vs.variables()["l2.tcn1.shift_out.xpos"].shallow_clone();
    tch::no_grad(|| {
        let _ = xpos.fill_(0.3);
    });
    let named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    Tensor::write_safetensors(&named, &safetensors).unwrap();
    let err = load_state_dict(&loaded, &safetensors).unwrap_err();
    assert!(matches!(err, WeightsError::XOffset { .. }), "{err}");
    assert!(err.to_string().contains("l2.tcn1.shift_out.xpos"), "{err}");
}
