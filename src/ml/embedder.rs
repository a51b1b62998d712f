//! `Embedder`: a loaded BERT sentence encoder and its tokenizer, turning texts into
//! L2-normalised mean-pooled vectors in length-sorted batches.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::encoder::{BertEncoder, Layer, Packed};
use super::fine_tune::TunedEncoder;
use super::source::{LayerWeights, ModelFiles, ModelSettings};
use super::{MlError, ModelSource};

/// Texts per forward pass. Batching lets each weight serve many tokens (batch 32 ran ~1.5×
/// the texts/s of batch 1, see `ml::benchmark`); bigger batches gain little more, and keep
/// more activations in memory at once.
const BATCH_SIZE: usize = 32;

pub struct Embedder {
    model_id: String,
    checksum: String,
    dimension: usize,
    settings: ModelSettings,
    tokenizer: Tokenizer,
    encoder: Encoder,
    /// Pads batches for candle-transformers' BERT (kefu's own pass packs texts instead). Any
    /// in-vocabulary id works (the attention mask hides it); the tokenizer's own choice keeps
    /// the inputs identical to the reference implementation's.
    pad_id: u32,
    /// Recent texts and their vectors: customers repeat themselves ("hi", "转人工") and the
    /// built-in intent phrases are embedded by every training run.
    cache: Mutex<HashMap<String, Vec<f32>>>,
}

/// The forward pass: kefu's own for standard BERT checkpoints (both shipped models), and
/// candle-transformers' for architectures it does not cover, and as the reference in tests.
enum Encoder {
    Fast(Box<BertEncoder>),
    Reference(Box<BertModel>),
}

/// Entries kept before the cache starts over (each ~1.5 KiB for a 384-dimension model).
const CACHE_CAPACITY: usize = 8_192;

impl std::fmt::Debug for Embedder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Embedder")
            .field("model_id", &self.model_id)
            .field("checksum", &self.checksum)
            .field("dimension", &self.dimension)
            .finish_non_exhaustive()
    }
}

/// Appended to the weights' checksum when the layers run coded, so that what was computed
/// with other layer weights is not mixed with what these compute.
const CODED_LAYERS_SUFFIX: &str = "+i8-rows";

impl Embedder {
    /// Reads, checks and loads a model (weights converted to f32). Takes about a second; do
    /// it once and share the result.
    pub fn load(source: &ModelSource) -> Result<Embedder, MlError> {
        Embedder::load_with(source, None)
    }

    /// The model with its layers' weights as the file stores them (f16 / f32), for tests of
    /// the forward pass itself.
    #[cfg(test)]
    pub(super) fn load_as_stored(source: &ModelSource) -> Result<Embedder, MlError> {
        Embedder::load_with(source, Some(LayerWeights::AsStored))
    }

    /// `layer_weights` overrides the model's settings.
    fn load_with(
        source: &ModelSource,
        layer_weights: Option<LayerWeights>,
    ) -> Result<Embedder, MlError> {
        let files = ModelFiles::read(source)?;
        let layer_weights = layer_weights.unwrap_or(files.settings.layer_weights);
        let model_id = files.model_id.clone();
        let config: Config =
            serde_json::from_slice(&files.config).map_err(|error| MlError::BadConfig {
                model: model_id.clone(),
                reason: format!("config.json: {error}"),
            })?;
        if files.settings.max_tokens > config.max_position_embeddings {
            return Err(MlError::BadConfig {
                model: model_id,
                reason: format!(
                    "max_tokens {} exceeds the model's {} positions",
                    files.settings.max_tokens, config.max_position_embeddings
                ),
            });
        }
        let (tokenizer, pad_id) = load_tokenizer(&files, config.pad_token_id)?;
        let mut checksum = files.weights_sha256;
        let encoder = if BertEncoder::supports(&config) {
            let encoder = BertEncoder::load(&model_id, files.weights, &config)?;
            Encoder::Fast(Box::new(match layer_weights {
                LayerWeights::Coded => {
                    // Vectors stored and classifiers trained on the other arithmetic are
                    // recomputed, as for another model.
                    checksum.push_str(CODED_LAYERS_SUFFIX);
                    encoder.coded()
                }
                LayerWeights::AsStored => encoder,
            }))
        } else {
            Encoder::Reference(Box::new(reference_model(
                &model_id,
                &files.weights,
                &config,
            )?))
        };
        Ok(Embedder {
            model_id: files.model_id,
            checksum,
            dimension: config.hidden_size,
            settings: files.settings,
            tokenizer,
            encoder,
            pad_id,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The model's name: the embedded folder's name or the directory's last component.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// sha256 (hex) of the weights file: stored next to each embedding so that vectors made
    /// by other weights are recognised as stale.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Tokens the model sees for `text` as a query (prefix and special tokens included).
    pub fn count_query_tokens(&self, text: &str) -> Result<usize, MlError> {
        let encodings = self.tokenize(&self.settings.query_prefix, &[text])?;
        Ok(encodings.first().map_or(0, Encoding::len))
    }

    /// Tokens the model sees for `text` as a passage.
    pub fn count_passage_tokens(&self, text: &str) -> Result<usize, MlError> {
        let encodings = self.tokenize(&self.settings.passage_prefix, &[text])?;
        Ok(encodings.first().map_or(0, Encoding::len))
    }

    /// Vectors for search queries, in input order.
    pub fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MlError> {
        self.embed_with_prefix(&self.settings.query_prefix, texts, BATCH_SIZE)
    }

    /// Vectors for stored documents (FAQ entries, messages), in input order.
    pub fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MlError> {
        self.embed_with_prefix(&self.settings.passage_prefix, texts, BATCH_SIZE)
    }

    /// One query without the cache, for the benchmark.
    pub(super) fn embed_query_uncached(&self, text: &str) -> Result<Vec<Vec<f32>>, MlError> {
        self.embed_uncached(&self.settings.query_prefix, &[text], 1)
    }

    /// Query vectors computed afresh, bypassing the cache: for timing honestly.
    pub fn embed_queries_uncached(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MlError> {
        self.embed_uncached(&self.settings.query_prefix, texts, BATCH_SIZE)
    }

    /// `embed_passages` with another batch size and no cache, for the benchmark.
    pub(super) fn embed_passages_batched(
        &self,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, MlError> {
        self.embed_uncached(&self.settings.passage_prefix, texts, batch_size)
    }

    fn embed_with_prefix(
        &self,
        prefix: &str,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, MlError> {
        let cached: Vec<Option<Vec<f32>>> = {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            texts
                .iter()
                .map(|text| cache.get(&cache_key(prefix, text)).cloned())
                .collect()
        };
        let missing: Vec<&str> = texts
            .iter()
            .zip(&cached)
            .filter(|(_, vector)| vector.is_none())
            .map(|(text, _)| *text)
            .collect();
        let mut computed = self
            .embed_uncached(prefix, &missing, batch_size)?
            .into_iter();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let mut vectors = Vec::with_capacity(texts.len());
        for (text, vector) in texts.iter().zip(cached) {
            match vector {
                Some(vector) => vectors.push(vector),
                None => {
                    let vector = computed.next().unwrap_or_default();
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(cache_key(prefix, text), vector.clone());
                    vectors.push(vector);
                }
            }
        }
        Ok(vectors)
    }

    fn embed_uncached(
        &self,
        prefix: &str,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, MlError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // The whole pass on one of rayon's threads: from any other thread (tokio's blocking
        // pool), each of a query's 48 parallel products would park the caller and wake it
        // again; inside the pool the products' tasks go to the other worker directly.
        rayon::scope(|_| self.embed_in_pool(prefix, texts, batch_size))
    }

    fn embed_in_pool(
        &self,
        prefix: &str,
        texts: &[&str],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>, MlError> {
        let encodings = self.tokenize(prefix, texts)?;
        // Texts of similar length in one batch: candle-transformers' BERT pads to the longest
        // (sorting roughly doubled its throughput on mixed-length texts), and each of kefu's
        // attention passes then takes about the same time.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&index| encodings[index].len());
        let mut vectors = vec![Vec::new(); encodings.len()];
        for chunk in order.chunks(batch_size.max(1)) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&index| &encodings[index]).collect();
            for (&index, vector) in chunk.iter().zip(self.embed_batch(&batch)?) {
                vectors[index] = vector;
            }
        }
        Ok(vectors)
    }

    fn tokenize(&self, prefix: &str, texts: &[&str]) -> Result<Vec<Encoding>, MlError> {
        let inputs: Vec<String> = texts.iter().map(|text| format!("{prefix}{text}")).collect();
        self.tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|error| MlError::Tokenizer {
                model: self.model_id.clone(),
                reason: error.to_string(),
            })
    }

    /// Ids and attention mask of `batch`, right-padded to its longest input.
    fn pad(&self, batch: &[&Encoding]) -> (Vec<u32>, Vec<u32>, usize) {
        let longest = batch
            .iter()
            .map(|encoding| encoding.len())
            .max()
            .unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * longest);
        let mut mask = Vec::with_capacity(batch.len() * longest);
        for encoding in batch {
            let padding = longest - encoding.len();
            ids.extend_from_slice(encoding.get_ids());
            ids.extend(std::iter::repeat_n(self.pad_id, padding));
            mask.extend_from_slice(encoding.get_attention_mask());
            mask.extend(std::iter::repeat_n(0u32, padding));
        }
        (ids, mask, longest)
    }

    fn fast_encoder(&self) -> Result<&BertEncoder, MlError> {
        match &self.encoder {
            Encoder::Fast(encoder) => Ok(encoder),
            Encoder::Reference(_) => Err(MlError::Training(format!(
                "{} has an architecture kefu cannot fine-tune",
                self.model_id
            ))),
        }
    }

    pub(super) fn fast_encoder_layers(&self) -> Result<usize, MlError> {
        Ok(self.fast_encoder()?.layers().len())
    }

    pub(super) fn encoder_heads(&self) -> Result<usize, MlError> {
        Ok(self.fast_encoder()?.heads())
    }

    /// The model's own top `count` layers (shared, never changed in place).
    pub(super) fn top_layers_copy(&self, count: usize) -> Result<Vec<Layer>, MlError> {
        let layers = self.fast_encoder()?.layers();
        Ok(layers[layers.len().saturating_sub(count)..].to_vec())
    }

    /// Each query's hidden states below its top `tuned` layers (real tokens only): fine-tuning
    /// trains those layers on them, so the layers beneath run once per text.
    pub(super) fn query_states(
        &self,
        texts: &[&str],
        tuned: usize,
    ) -> Result<Vec<TokenStates>, MlError> {
        let encoder = self.fast_encoder()?;
        let below = encoder.layers().len().saturating_sub(tuned);
        let encodings = self.tokenize(&self.settings.query_prefix, texts)?;
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&index| encodings[index].len());
        let mut states: Vec<TokenStates> = Vec::with_capacity(texts.len());
        states.resize_with(texts.len(), TokenStates::default);
        for chunk in order.chunks(BATCH_SIZE) {
            let texts = Packed::new(chunk.iter().map(|&index| encodings[index].get_ids()));
            let values = encoder
                .forward_bottom(&texts, below)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            for (&index, span) in chunk.iter().zip(&texts.spans) {
                states[index] = TokenStates {
                    values: values[span.start * self.dimension..span.end * self.dimension].to_vec(),
                    tokens: span.len(),
                };
            }
        }
        Ok(states)
    }

    /// Query vectors from the encoder with its top layers replaced by `tuned`'s.
    pub fn embed_queries_tuned(
        &self,
        tuned: &TunedEncoder,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, MlError> {
        tuned.check_fits(self)?;
        // In rayon's pool for the reason `embed_uncached` gives.
        rayon::scope(|_| {
            let states = self.query_states(texts, tuned.layer_count())?;
            tuned.pool(self.fast_encoder()?.heads(), &states)
        })
    }

    /// One forward pass over `batch`, then mean pooling over each text's tokens and L2
    /// normalisation. Without padding the tokenizer's attention mask is all ones, so kefu's
    /// pass takes the ids alone.
    fn embed_batch(&self, batch: &[&Encoding]) -> Result<Vec<Vec<f32>>, MlError> {
        let vectors = match &self.encoder {
            Encoder::Fast(encoder) => {
                let texts = Packed::new(batch.iter().map(|encoding| encoding.get_ids()));
                let states = encoder.forward(&texts)?;
                mean_pool(&states, &texts.spans, self.dimension)
            }
            Encoder::Reference(model) => {
                let (ids, mask, longest) = self.pad(batch);
                reference_forward(model, ids, mask, batch.len(), longest)?
            }
        };
        Ok(vectors)
    }

    /// The same vectors through candle-transformers' BERT, for tests comparing the two.
    #[cfg(test)]
    pub(super) fn load_reference(source: &ModelSource) -> Result<Embedder, MlError> {
        let mut embedder = Embedder::load(source)?;
        let files = ModelFiles::read(source)?;
        let config: Config =
            serde_json::from_slice(&files.config).map_err(|error| MlError::BadConfig {
                model: files.model_id.clone(),
                reason: error.to_string(),
            })?;
        embedder.encoder = Encoder::Reference(Box::new(reference_model(
            &files.model_id,
            &files.weights,
            &config,
        )?));
        Ok(embedder)
    }
}

/// One text's hidden states, `[tokens, hidden]` row-major.
#[derive(Debug, Default, Clone)]
pub(super) struct TokenStates {
    pub(super) values: Vec<f32>,
    pub(super) tokens: usize,
}

/// Mean over each text's rows (`spans` of `states`), then L2 normalisation like torch's
/// `F.normalize` (a zero vector stays zero instead of becoming NaN).
pub(super) fn mean_pool(
    states: &[f32],
    spans: &[std::ops::Range<usize>],
    dimension: usize,
) -> Vec<Vec<f32>> {
    spans
        .iter()
        .map(|span| {
            let mut pooled = vec![0.0f32; dimension];
            for row in states[span.start * dimension..span.end * dimension].chunks_exact(dimension)
            {
                pooled
                    .iter_mut()
                    .zip(row)
                    .for_each(|(sum, value)| *sum += value);
            }
            #[allow(clippy::cast_precision_loss)] // a text's token count
            let count = (span.len() as f32).max(1.0);
            pooled.iter_mut().for_each(|sum| *sum /= count);
            let norm = pooled
                .iter()
                .map(|value| value * value)
                .sum::<f32>()
                .sqrt()
                .max(1e-12);
            pooled.iter_mut().for_each(|value| *value /= norm);
            pooled
        })
        .collect()
}

fn reference_model(model_id: &str, weights: &[u8], config: &Config) -> Result<BertModel, MlError> {
    let bad_weights = |source| MlError::BadWeights {
        model: model_id.to_string(),
        source,
    };
    // f16 matmuls are 2× slower on CPU than f32, so every tensor is widened as it loads.
    let weights = VarBuilder::from_slice_safetensors(weights, DType::F32, &Device::Cpu)
        .map_err(bad_weights)?;
    BertModel::load(weights, config).map_err(bad_weights)
}

fn reference_forward(
    model: &BertModel,
    ids: Vec<u32>,
    mask: Vec<u32>,
    batch: usize,
    tokens: usize,
) -> Result<Vec<Vec<f32>>, MlError> {
    let shape = (batch, tokens);
    let input_ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
    let attention_mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
    // Single-segment inputs: every token type is 0.
    let token_type_ids = input_ids.zeros_like()?;
    let hidden = model.forward(&input_ids, &token_type_ids, Some(&attention_mask))?;
    let mask = attention_mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    // Never zero: every encoding holds at least its special tokens.
    let counts = mask.sum(1)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12)?;
    Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
}

fn cache_key(prefix: &str, text: &str) -> String {
    format!("{prefix}\u{0}{text}")
}

/// The tokenizer with its file's padding removed (we pad per batch) and truncation set to the
/// model's budget. Model files often carry `Fixed(128)` padding, which would pad a 15-token
/// query to 128 tokens — 8× the work.
fn load_tokenizer(files: &ModelFiles, config_pad_id: usize) -> Result<(Tokenizer, u32), MlError> {
    let tokenizer_error = |reason: String| MlError::Tokenizer {
        model: files.model_id.clone(),
        reason,
    };
    let mut tokenizer = Tokenizer::from_bytes(&files.tokenizer)
        .map_err(|error| tokenizer_error(format!("tokenizer.json: {error}")))?;
    let pad_id = tokenizer
        .get_padding()
        .map(|padding| padding.pad_id)
        .or_else(|| tokenizer.token_to_id("<pad>"))
        .or_else(|| tokenizer.token_to_id("[PAD]"))
        .or_else(|| u32::try_from(config_pad_id).ok())
        .unwrap_or(0);
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: files.settings.max_tokens,
            ..TruncationParams::default()
        }))
        .map_err(|error| tokenizer_error(format!("truncation: {error}")))?;
    Ok((tokenizer, pad_id))
}
