//! The sentence-embedding model: the only module that uses candle and tokenizers.
//!
//! An [`Embedder`] turns texts into L2-normalised vectors (BERT → mean over the attention mask
//! → L2), so cosine similarity is a dot product. It is synchronous and CPU-bound: callers run
//! it on blocking threads and may share one behind an `Arc` (it is `Send + Sync`).
//!
//! A model is a folder holding `config.json` (a BERT config), `model.safetensors` and
//! `tokenizer.json`, either embedded in the binary from `models/` (see [`DEFAULT_MODEL`]) or
//! read from a directory ([`ModelSource`]). An optional `kefu-model.toml` in that folder says
//! how kefu uses the model:
//!
//! ```toml
//! query_prefix = "query: "      # put before every query
//! passage_prefix = "passage: "  # put before every stored passage
//! max_tokens = 256              # truncate longer inputs (special tokens included)
//! layer_weights = "i8"          # layers as i8 codes per row; "as-stored" (default) keeps f16
//! ```
//!
//! Without the file, a folder whose name has an `e5` part (`multilingual-e5-small`, split at
//! `-`, `_` and `.`) gets the e5 prefixes above and anything else none, with 256 tokens, and
//! its layers as stored.

mod bench;
mod classifier;
mod codes;
mod embedder;
mod encoder;
mod error;
mod fine_tune;
mod linear;
mod source;
#[cfg(test)]
mod tests;
mod vectors;

pub use bench::{BenchReport, SAMPLE_QUERY, Throughput, benchmark, peak_rss_bytes, sample_texts};
pub use classifier::{
    HeldOutPrediction, IntentClassifier, TrainedClassifier, TrainingOptions, TrainingReport, argmax,
};
pub use embedder::Embedder;
pub use error::MlError;
pub use fine_tune::{EpochReport, FineTuneOptions, FineTuneReport, FineTuned, TunedEncoder};
pub use source::{ModelSource, embedded_model_names};
pub use vectors::{VectorMatch, VectorSet};

/// The model embedded in the binary and used unless the configuration names another.
pub const DEFAULT_MODEL: &str = "multilingual-e5-small-zh-en";
