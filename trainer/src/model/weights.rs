//! Model weights as a folder of `.npy` files, one per variable (`a.b.c.npy`):
//! how reference weights made by PyTorch scripts are loaded and compared; and
//! PyTorch state dicts (`torch.save(model.state_dict())`, or safetensors) of
//! the official Shift-GCN `Model`, read by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use skel_pipeline::npy;
use tch::{nn, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error(
        "{dir}: no {name}.npy for the model's tensor {name} (shape {shape:?}): the weights are from another \
         architecture or config"
    )]
    Missing {
        dir: PathBuf,
        name: String,
        shape: Vec<i64>,
    },
    #[error("{path}: tensor {name} has shape {found:?}, the model needs {expected:?}: the weights are from another config")]
    Shape {
        path: PathBuf,
        name: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
    #[error(
        "{path}: not a state dict of this model: {problems}. It must be the official Shift-GCN `Model` \
         (backbone.arch shiftgcn, temporal_shift adaptive) with this config's widths, strides and \
         number of seen classes"
    )]
    StateDict { path: PathBuf, problems: String },
    #[error(
        "{path}: `{name}` reaches {max:e}; the x (joint) offsets must stay within {tolerance:e}, \
         as the official training keeps them (their gradient is 0)"
    )]
    XOffset {
        path: PathBuf,
        name: String,
        max: f64,
        tolerance: f64,
    },
    #[error(
        "{path}: an OrderedDict (what torch.save(model.state_dict()) and the official Shift-GCN \
         code write), which libtorch cannot read. Save it as a plain dict: python -c \"import sys, \
         torch; torch.save(dict(torch.load(sys.argv[1], map_location='cpu')), sys.argv[2])\" {path} \
         plain.pt"
    )]
    OrderedDict { path: PathBuf },
    #[error("{path}: cannot read it as a state dict (.pt/.pth from torch.save, or .safetensors): {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: tch::TchError,
    },
    #[error(transparent)]
    Npy(#[from] npy::NpyError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Loads every variable of `vs` from `dir/<name>.npy`.
pub fn load_npy_dir(vs: &nn::VarStore, dir: &Path) -> Result<(), WeightsError> {
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, mut var) in variables {
        let path = dir.join(format!("{name}.npy"));
        if !path.exists() {
            return Err(WeightsError::Missing {
                dir: dir.to_owned(),
                name,
                shape: var.size(),
            });
        }
        let array = npy::read::<f32>(&path)?;
        let found: Vec<i64> = array.shape.iter().map(|&d| d as i64).collect();
        if found != var.size() {
            return Err(WeightsError::Shape {
                path,
                name,
                found,
                expected: var.size(),
            });
        }
        let value = Tensor::from_slice(&array.data)
            .view(found.as_slice())
            .to_device(var.device());
        tch::no_grad(|| var.copy_(&value));
    }
    Ok(())
}

/// Writes every variable of `vs` to `dir/<name>.npy`.
pub fn save_npy_dir(vs: &nn::VarStore, dir: &Path) -> Result<(), WeightsError> {
    std::fs::create_dir_all(dir).map_err(|source| WeightsError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for (name, var) in vs.variables() {
        let shape: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
        let data = Vec::<f32>::try_from(var.to_device(tch::Device::Cpu).flatten(0, -1))
            .expect("float tensor");
        let path = dir.join(format!("{name}.npy"));
        npy::write_f32(&path, &shape, &data).map_err(|source| WeightsError::Io { path, source })?;
    }
    Ok(())
}

/// Problems a refused state dict's error lists before "and N more".
const SHOWN_PROBLEMS: usize = 8;

/// Whether `name` is a tensor of an official state dict that the model does
/// not hold as a variable: batch-norm step counters, and `Shift_gcn`'s fixed
/// channel permutations (`gcn1.shift_in` / `gcn1.shift_out`, checked against
/// the ones the model computes).
fn expected_extra(name: &str, tensor: &Tensor) -> Result<(), String> {
    if name.ends_with(".num_batches_tracked") {
        return Ok(());
    }
    let sign = if name.ends_with(".gcn1.shift_in") {
        1
    } else if name.ends_with(".gcn1.shift_out") {
        -1
    } else {
        return Err(format!(
            "`{name}` (shape {:?}) is not in the model",
            tensor.size()
        ));
    };
    let len = tensor.numel() as i64;
    let channels = len / super::graph::V as i64;
    let expected = super::shiftgcn::shift_index(channels, sign, tch::Device::Cpu);
    if tensor.size() == [len] && tensor.to_kind(tch::Kind::Int64).equal(&expected) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not the shift permutation of {channels} channels"
        ))
    }
}

/// Loads every variable of `vs` from the state dict `path`: a `.safetensors`
/// file, or else a zip archive written by `torch.save` of a plain dict (`.pt`,
/// `.pth`; read by libtorch, which cannot read an OrderedDict: that error
/// names the conversion). Refuses, naming each, tensors that are missing, of another
/// shape, or unknown to the model, and x offsets the forward pass would
/// ignore ([`super::shift`]); loads nothing then.
pub fn load_state_dict(vs: &nn::VarStore, path: &Path) -> Result<(), WeightsError> {
    let read = match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => Tensor::read_safetensors(path),
        _ => Tensor::loadz_multi(path),
    };
    let mut named: BTreeMap<String, Tensor> = read
        .map_err(|source| {
            // libtorch's unpickler turns collections.OrderedDict into None.
            if source
                .to_string()
                .contains("Expected GenericDict but got None")
            {
                WeightsError::OrderedDict {
                    path: path.to_owned(),
                }
            } else {
                WeightsError::Read {
                    path: path.to_owned(),
                    source,
                }
            }
        })?
        .into_iter()
        .collect();
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    let mut problems = Vec::new();
    let mut values = Vec::new();
    for (name, var) in variables {
        match named.remove(&name) {
            None => problems.push(format!(
                "no `{name}` (the model needs shape {:?})",
                var.size()
            )),
            Some(t) if t.size() != var.size() => problems.push(format!(
                "`{name}` has shape {:?}, the model needs {:?}",
                t.size(),
                var.size()
            )),
            Some(t) => values.push((name, var, t)),
        }
    }
    problems.extend(
        named
            .iter()
            .filter_map(|(name, t)| expected_extra(name, t).err()),
    );
    if !problems.is_empty() {
        let more = problems.len().saturating_sub(SHOWN_PROBLEMS);
        problems.truncate(SHOWN_PROBLEMS);
        if more > 0 {
            problems.push(format!("and {more} more"));
        }
        return Err(WeightsError::StateDict {
            path: path.to_owned(),
            problems: problems.join("; "),
        });
    }
    for (name, _, t) in values.iter().filter(|(name, ..)| name.ends_with(".xpos")) {
        let max = t.abs().max().to_kind(tch::Kind::Double).double_value(&[]);
        if max > super::shift::XPOS_TOLERANCE {
            return Err(WeightsError::XOffset {
                path: path.to_owned(),
                name: name.clone(),
                max,
                tolerance: super::shift::XPOS_TOLERANCE,
            });
        }
    }
    for (_, mut var, t) in values {
        let t = t.to_kind(var.kind()).to_device(var.device());
        tch::no_grad(|| var.copy_(&t));
    }
    Ok(())
}
