//! `Embedder`: a loaded BERT sentence encoder and its tokenizer, turning texts into
//! L2-normalised mean-pooled vectors in length-sorted batches.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::source::{ModelFiles, ModelSettings};
use super::{MlError, ModelSource};

/// Texts per forward pass. Batching amortises candle's per-op overhead (batch 32 ran ~2× the
/// texts/s of batch 1), but the longest text sets a batch's length, so bigger batches pad more:
/// on mixed help-desk texts batch 128 ran at ~0.65× batch 32 (see `ml::benchmark`).
const BATCH_SIZE: usize = 32;

pub struct Embedder {
    model_id: String,
    checksum: String,
    dimension: usize,
    settings: ModelSettings,
    tokenizer: Tokenizer,
    model: BertModel,
    /// Any in-vocabulary id works for padding (the attention mask hides it); the tokenizer's
    /// own choice keeps the inputs identical to the reference implementation's.
    pad_id: u32,
    device: Device,
    /// Recent texts and their vectors: customers repeat themselves ("hi", "转人工") and the
    /// built-in intent phrases are embedded by every training run.
    cache: Mutex<HashMap<String, Vec<f32>>>,
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

impl Embedder {
    /// Reads, checks and loads a model (weights converted to f32). Takes about a second; do
    /// it once and share the result.
    pub fn load(source: &ModelSource) -> Result<Embedder, MlError> {
        let files = ModelFiles::read(source)?;
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
        let device = Device::Cpu;
        let bad_weights = |source| MlError::BadWeights {
            model: model_id.clone(),
            source,
        };
        // The files store f16 to halve their size; f16 matmuls are 2× slower on CPU than f32,
        // so the VarBuilder widens every tensor to f32 as it loads it.
        let weights = VarBuilder::from_slice_safetensors(&files.weights, DType::F32, &device)
            .map_err(bad_weights)?;
        let model = BertModel::load(weights, &config).map_err(bad_weights)?;
        Ok(Embedder {
            model_id: files.model_id,
            checksum: files.weights_sha256,
            dimension: config.hidden_size,
            settings: files.settings,
            tokenizer,
            model,
            pad_id,
            device,
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
        let encodings = self.tokenize(prefix, texts)?;
        // Batching texts of similar length wastes little on padding: sorting alone roughly
        // doubled throughput on mixed-length texts.
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

    /// One forward pass over encodings padded to the longest, then mean pooling over the real
    /// tokens and L2 normalisation.
    fn embed_batch(&self, batch: &[&Encoding]) -> Result<Vec<Vec<f32>>, MlError> {
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
        let shape = (batch.len(), longest);
        let input_ids = Tensor::from_vec(ids, shape, &self.device)?;
        let attention_mask = Tensor::from_vec(mask, shape, &self.device)?;
        // Single-segment inputs: every token type is 0.
        let token_type_ids = input_ids.zeros_like()?;
        let hidden = self
            .model
            .forward(&input_ids, &token_type_ids, Some(&attention_mask))?;
        let mask = attention_mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        // Never zero: every encoding holds at least its special tokens.
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        // Like torch's F.normalize: a zero vector stays zero instead of becoming NaN.
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
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
