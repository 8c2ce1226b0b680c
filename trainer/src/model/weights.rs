//! Model weights as a folder of `.npy` files, one per variable (`a.b.c.npy`):
//! how reference weights made by PyTorch scripts are loaded and compared.

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
