//! `MlError`: everything that can go wrong loading or running an embedding model.

use std::path::PathBuf;

/// Loading errors name the model and the file so an operator can fix the configuration;
/// `Inference` is ours (a bug or resource exhaustion), not the caller's.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error(
        "unknown embedded model {name:?}; the embedded models are: {known} (or give a model directory)"
    )]
    UnknownModel { name: String, known: String },
    #[error("model directory {} has no {file}", dir.display())]
    MissingFile { dir: PathBuf, file: &'static str },
    #[error("could not read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad model config in {model}: {reason}")]
    BadConfig { model: String, reason: String },
    #[error("bad weights in {model} (model.safetensors)")]
    BadWeights {
        model: String,
        #[source]
        source: candle_core::Error,
    },
    #[error("tokenizer error in {model}: {reason}")]
    Tokenizer { model: String, reason: String },
    #[error("cannot train: {0}")]
    Training(String),
    #[error("training stopped: the training set changed")]
    Stopped,
    #[error("embedding inference failed")]
    Inference(#[from] candle_core::Error),
}
