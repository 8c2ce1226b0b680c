//! Text encoder weights from a Hugging Face safetensors file, matched to the
//! model's variables by name and checked by shape, and the JSON configs
//! beside them. Tensors the model does not use (a BERT pooler, a full CLIP's
//! vision tower) are ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot read safetensors file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: tch::TchError,
    },
    #[error(
        "{path} has no tensor `{name}` (the model needs shape {expected:?}): \
         the file is incomplete or holds another architecture; give the weights of a {arch}"
    )]
    Missing {
        path: PathBuf,
        name: String,
        expected: Vec<i64>,
        arch: &'static str,
    },
    #[error(
        "{path}: tensor `{name}` has shape {got:?}, the model needs {expected:?}: \
         the file and its config.json describe different models"
    )]
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<i64>,
        got: Vec<i64>,
    },
    #[error("{path}: tensor `{name}` cannot be copied into the model: {source}")]
    Copy {
        path: PathBuf,
        name: String,
        #[source]
        source: tch::TchError,
    },
}

/// A linear layer whose weights a file will set: created zero-filled, so that
/// building an encoder draws nothing from libtorch's global random generator
/// (a training job in the same process depends on its state).
pub fn linear_to_load(bias: bool) -> nn::LinearConfig {
    nn::LinearConfig {
        ws_init: Init::Const(0.0),
        bs_init: bias.then_some(Init::Const(0.0)),
        bias,
    }
}

/// An embedding whose weights a file will set (see `linear_to_load`).
pub fn embedding_to_load() -> nn::EmbeddingConfig {
    nn::EmbeddingConfig {
        ws_init: Init::Const(0.0),
        ..Default::default()
    }
}

/// Copies `path`'s tensor of the same name into every variable of `vs`
/// (float32, on the variable's device). `arch` names the expected model in
/// errors.
pub fn load_safetensors(
    vs: &nn::VarStore,
    path: &Path,
    arch: &'static str,
) -> Result<(), WeightsError> {
    let file: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|source| WeightsError::Read {
            path: path.to_owned(),
            source,
        })?
        .into_iter()
        .collect();
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, mut var) in variables {
        let expected = var.size();
        let Some(value) = file.get(&name) else {
            return Err(WeightsError::Missing {
                path: path.to_owned(),
                name,
                expected,
                arch,
            });
        };
        if value.size() != expected {
            return Err(WeightsError::Shape {
                path: path.to_owned(),
                name,
                expected,
                got: value.size(),
            });
        }
        tch::no_grad(|| {
            value
                .f_to_device(var.device())
                .and_then(|v| v.f_to_kind(Kind::Float))
                .and_then(|v| var.f_copy_(&v))
        })
        .map_err(|source| WeightsError::Copy {
            path: path.to_owned(),
            name,
            source,
        })?;
    }
    Ok(())
}

/// Reads a JSON config file (a model's `config.json` and the like).
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, WeightsError> {
    let text = std::fs::read_to_string(path).map_err(|source| WeightsError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| WeightsError::Json {
        path: path.to_owned(),
        source,
    })
}
