//! Fine-tuning the encoder's top layers for the intent classes: cross-entropy through a
//! cosine head and the last few transformer layers, with AdamW, stopped early on a held-out
//! split. The result is a [`TunedEncoder`] that replaces those layers for intent vectors.
//!
//! Why only the top layers: on two CPU cores a full backward pass through twelve layers per
//! example is hours for a benchmark-sized set; the layers below run once per text (fast,
//! fused path) and their states are cached, so every epoch only pays for the layers trained.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

use super::MlError;
use super::classifier::{TrainingOptions, mix, split};
use super::embedder::{Embedder, TokenStates, mean_pool};
use super::encoder::{Layer, Norm, run_layers, spans_of};
use super::linear::Weights;

/// How fine-tuning runs. Defaults measured on BANKING77, CLINC150 and MASSIVE zh-CN
/// (`kefu eval intents --fine-tune`): see the README's accuracy table.
#[derive(Debug, Clone)]
pub struct FineTuneOptions {
    /// Transformer layers trained, counted from the top.
    pub layers: usize,
    pub max_epochs: usize,
    /// Epochs in a row without a better held-out accuracy after which training stops.
    pub patience: usize,
    /// Peak learning rate of the layers (linear warm-up over the first tenth, then linear
    /// decay), and the head's.
    pub learning_rate: f64,
    pub head_learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    /// Dropout on each sub-layer's output, as BERT was pre-trained with.
    pub dropout: f32,
    /// The cosine head's logit scale.
    pub logit_scale: f32,
    /// The held-out split (fraction and seed) — the same rows the intent head later holds
    /// out, so its calibration stays on phrases neither part trained on.
    pub split: TrainingOptions,
}

impl Default for FineTuneOptions {
    fn default() -> Self {
        FineTuneOptions {
            layers: 4,
            max_epochs: 4,
            patience: 1,
            learning_rate: 1e-4,
            head_learning_rate: 3e-3,
            weight_decay: 0.01,
            batch_size: 32,
            dropout: 0.1,
            logit_scale: 16.0,
            split: TrainingOptions::default(),
        }
    }
}

/// Epochs run when no class has enough examples to hold any out.
const EPOCHS_WITHOUT_HOLDOUT: usize = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochReport {
    pub mean_loss: f32,
    pub holdout_accuracy: Option<f32>,
}

/// What fine-tuning did, for `kefu eval` and the admin page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FineTuneReport {
    pub layers: usize,
    pub examples: usize,
    pub holdout_examples: usize,
    /// Held-out accuracy of the cosine head on the frozen encoder, before any epoch.
    pub frozen_holdout_accuracy: Option<f32>,
    pub epochs: Vec<EpochReport>,
    /// 1-based; the layers returned are the ones after this epoch.
    pub best_epoch: usize,
    pub duration_ms: u64,
}

/// The result: the tuned layers, the tuned vectors of the texts trained on (so callers need
/// not embed them again) and the report.
#[derive(Debug)]
pub struct FineTuned {
    pub encoder: TunedEncoder,
    pub vectors: Vec<Vec<f32>>,
    pub report: FineTuneReport,
}

/// Replacement top layers for one embedding model (named by its weights' checksum).
pub struct TunedEncoder {
    model_checksum: String,
    layers: Vec<Layer>,
}

impl std::fmt::Debug for TunedEncoder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TunedEncoder")
            .field("model_checksum", &self.model_checksum)
            .field("layers", &self.layers.len())
            .finish()
    }
}

impl TunedEncoder {
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    pub(super) fn check_fits(&self, embedder: &Embedder) -> Result<(), MlError> {
        if self.model_checksum == embedder.checksum() {
            Ok(())
        } else {
            Err(MlError::Training(format!(
                "the tuned layers were trained for another model than {}",
                embedder.model_id()
            )))
        }
    }

    /// Unit vectors of texts from their states below the tuned layers.
    pub(super) fn pool(
        &self,
        heads: usize,
        states: &[TokenStates],
    ) -> Result<Vec<Vec<f32>>, MlError> {
        pool_through(&self.layers, heads, states)
    }

    /// Writes the layers to a safetensors file (atomically: a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), MlError> {
        let device = Device::Cpu;
        let mut tensors = HashMap::new();
        let vector = |values: &[f32]| Tensor::new(values, &device);
        for (index, layer) in self.layers.iter().enumerate() {
            let mut put = |name: &str, tensor: Tensor| {
                tensors.insert(format!("layer.{index}.{name}"), tensor);
            };
            put("qkv_weight", layer.qkv_tensor()?);
            put("qkv_bias", vector(&layer.scaled_qkv_bias())?);
            put(
                "attention_output_weight",
                layer.attention_output_weight.to_tensor()?,
            );
            put(
                "attention_output_bias",
                vector(&layer.attention_output_bias)?,
            );
            put("attention_norm_gamma", vector(&layer.attention_norm.gamma)?);
            put("attention_norm_beta", vector(&layer.attention_norm.beta)?);
            put(
                "intermediate_weight",
                layer.intermediate_weight.to_tensor()?,
            );
            put("intermediate_bias", vector(&layer.intermediate_bias)?);
            put("output_weight", layer.output_weight.to_tensor()?);
            put("output_bias", vector(&layer.output_bias)?);
            put("output_norm_gamma", vector(&layer.output_norm.gamma)?);
            put("output_norm_beta", vector(&layer.output_norm.beta)?);
            put(
                "norm_eps",
                vector(&[layer.attention_norm.eps, layer.output_norm.eps])?,
            );
        }
        let checksum: Vec<u8> = self.model_checksum.bytes().collect();
        let checksum_len = checksum.len();
        tensors.insert(
            "model_checksum".to_string(),
            Tensor::from_vec(checksum, checksum_len, &device)?,
        );
        let temporary = path.with_extension("tmp");
        candle_core::safetensors::save(&tensors, &temporary)?;
        std::fs::rename(&temporary, path).map_err(|source| MlError::Read {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Layers saved earlier for `embedder`'s model; an error when they were saved for another.
    pub fn load(path: &Path, embedder: &Embedder) -> Result<TunedEncoder, MlError> {
        let bytes = std::fs::read(path).map_err(|source| MlError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |reason: String| MlError::BadConfig {
            model: path.display().to_string(),
            reason,
        };
        let mut tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)?;
        let mut take = |name: String| {
            tensors
                .remove(&name)
                .ok_or_else(|| bad(format!("no {name}")))
        };
        let checksum = take("model_checksum".to_string())?.to_vec1::<u8>()?;
        let model_checksum =
            String::from_utf8(checksum).map_err(|_| bad("a bad model checksum".to_string()))?;
        let mut layers = Vec::new();
        let expected = embedder.fast_encoder_layers()?;
        while layers.len() < expected {
            let index = layers.len();
            let Ok(qkv_weight) = take(format!("layer.{index}.qkv_weight")) else {
                break;
            };
            let mut part = |name: &str| take(format!("layer.{index}.{name}"));
            let eps = part("norm_eps")?.to_vec1::<f32>()?;
            let [attention_eps, output_eps] = eps[..] else {
                return Err(bad("norm_eps must hold two numbers".to_string()));
            };
            let mut weights = |name: &str| Weights::from_tensor(&part(name)?);
            let attention_output_weight = weights("attention_output_weight")?;
            let intermediate_weight = weights("intermediate_weight")?;
            let output_weight = weights("output_weight")?;
            let layer = Layer {
                qkv_weight: Weights::from_tensor(&qkv_weight)?,
                qkv_bias: part("qkv_bias")?.to_vec1()?,
                query_scale: 1.0,
                attention_output_weight,
                attention_output_bias: part("attention_output_bias")?.to_vec1()?,
                attention_norm: Norm {
                    gamma: part("attention_norm_gamma")?.to_vec1()?,
                    beta: part("attention_norm_beta")?.to_vec1()?,
                    eps: attention_eps,
                },
                intermediate_weight,
                intermediate_bias: part("intermediate_bias")?.to_vec1()?,
                output_weight,
                output_bias: part("output_bias")?.to_vec1()?,
                output_norm: Norm {
                    gamma: part("output_norm_gamma")?.to_vec1()?,
                    beta: part("output_norm_beta")?.to_vec1()?,
                    eps: output_eps,
                },
            };
            layers.push(layer.coded());
        }
        if layers.is_empty() {
            return Err(bad("no layers".to_string()));
        }
        let tuned = TunedEncoder {
            model_checksum,
            layers,
        };
        tuned.check_fits(embedder)?;
        Ok(tuned)
    }
}

impl Embedder {
    /// Fine-tunes the top `options.layers` layers on `texts` (queries) labelled
    /// `labels[i] < classes`.
    pub fn fine_tune_queries(
        &self,
        texts: &[&str],
        labels: &[usize],
        classes: usize,
        options: &FineTuneOptions,
    ) -> Result<FineTuned, MlError> {
        self.fine_tune_queries_until(texts, labels, classes, options, &|| false)
    }

    /// `fine_tune_queries`, giving up (with [`MlError::Stopped`]) as soon as `stop` says so —
    /// checked between batches, so a knowledge-base edit need not wait for old work.
    pub fn fine_tune_queries_until(
        &self,
        texts: &[&str],
        labels: &[usize],
        classes: usize,
        options: &FineTuneOptions,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<FineTuned, MlError> {
        let started = Instant::now();
        if texts.len() != labels.len() || classes < 2 || labels.iter().any(|&l| l >= classes) {
            return Err(MlError::Training(format!(
                "fine-tuning needs one label below {classes} (at least 2 classes) per text"
            )));
        }
        let layer_total = self.fast_encoder_layers()?;
        let tuned = options.layers.clamp(1, layer_total);
        let heads = self.encoder_heads()?;
        let states = self.query_states(texts, tuned)?;
        let original = self.top_layers_copy(tuned)?;
        let (train_rows, holdout_rows) = split(labels, classes, &options.split);

        let frozen = pool_through(&original, heads, &select(&states, &train_rows))?;
        let head = CosineHead::from_centroids(&frozen, &pick(labels, &train_rows), classes)?;
        let layers: Vec<TrainableLayer> = original
            .iter()
            .map(TrainableLayer::from_layer)
            .collect::<Result<_, _>>()?;
        let holdout_states = select(&states, &holdout_rows);
        let holdout_labels = pick(labels, &holdout_rows);
        let holdout_accuracy =
            |layers: &[Layer], head: &CosineHead| -> Result<Option<f32>, MlError> {
                if holdout_rows.is_empty() {
                    return Ok(None);
                }
                let vectors = pool_through(layers, heads, &holdout_states)?;
                head.accuracy(&vectors, &holdout_labels, options.logit_scale)
                    .map(Some)
            };
        let frozen_holdout_accuracy = holdout_accuracy(&original, &head)?;

        let layer_variables: Vec<Var> = layers.iter().flat_map(TrainableLayer::variables).collect();
        let parameters = |lr| ParamsAdamW {
            lr,
            weight_decay: options.weight_decay,
            ..ParamsAdamW::default()
        };
        let mut layer_optimizer = AdamW::new(layer_variables, parameters(options.learning_rate))?;
        let mut head_optimizer = AdamW::new(
            vec![head.weight.clone(), head.bias.clone()],
            parameters(options.head_learning_rate),
        )?;

        let epochs = if holdout_rows.is_empty() {
            EPOCHS_WITHOUT_HOLDOUT.min(options.max_epochs)
        } else {
            options.max_epochs
        };
        let batch_size = options.batch_size.max(1);
        let steps_per_epoch = train_rows.len().div_ceil(batch_size);
        let total_steps = (steps_per_epoch * epochs).max(1);
        let warm_up = (total_steps / 10).max(1);
        let mut step = 0usize;
        let mut reports = Vec::new();
        let mut best: Option<(f32, usize, Vec<Layer>)> = None;
        for epoch in 0..epochs {
            let mut loss_sum = 0.0f32;
            for (batch_index, rows) in epoch_batches(
                &train_rows,
                &states,
                batch_size,
                options.split.seed ^ epoch as u64,
            )
            .into_iter()
            .enumerate()
            {
                if stop() {
                    return Err(MlError::Stopped);
                }
                #[allow(clippy::cast_precision_loss)]
                let progress = if step < warm_up {
                    (step + 1) as f64 / warm_up as f64
                } else {
                    (total_steps - step) as f64 / (total_steps - warm_up).max(1) as f64
                };
                step += 1;
                layer_optimizer.set_learning_rate(options.learning_rate * progress);
                head_optimizer.set_learning_rate(options.head_learning_rate * progress);
                let batch = Batch::new(&states, &rows, heads)?;
                let dropout_seed =
                    mix(options.split.seed ^ ((epoch as u64) << 32) ^ batch_index as u64);
                let mut hidden = batch.inputs.clone();
                for (index, layer) in layers.iter().enumerate() {
                    hidden = layer.forward(
                        &hidden,
                        &batch,
                        options.dropout,
                        mix(dropout_seed ^ index as u64),
                    )?;
                }
                let pooled = batch.pool(&hidden)?;
                let logits = head.logits(&pooled, options.logit_scale)?;
                let targets = Tensor::new(pick(labels, &rows).as_slice(), &Device::Cpu)?
                    .to_dtype(DType::U32)?;
                let loss = candle_nn::loss::cross_entropy(&logits, &targets)?;
                loss_sum += loss.to_scalar::<f32>()?;
                let gradients = loss.backward()?;
                layer_optimizer.step(&gradients)?;
                head_optimizer.step(&gradients)?;
            }
            let snapshot: Vec<Layer> = layers
                .iter()
                .map(TrainableLayer::to_layer)
                .collect::<Result<_, _>>()?;
            let accuracy = holdout_accuracy(&snapshot, &head)?;
            #[allow(clippy::cast_precision_loss)]
            reports.push(EpochReport {
                mean_loss: loss_sum / steps_per_epoch.max(1) as f32,
                holdout_accuracy: accuracy,
            });
            let score = accuracy.unwrap_or(0.0);
            // A tie moves on to the later epoch: it fits the training split better.
            let improved = best
                .as_ref()
                .is_none_or(|(best_score, ..)| score >= *best_score);
            if improved {
                best = Some((score, epoch + 1, snapshot));
            } else if epoch + 1 - best.as_ref().map_or(0, |(_, at, _)| *at) >= options.patience {
                break;
            }
        }
        let (_, best_epoch, best_layers) = best.ok_or_else(|| {
            MlError::Training("fine-tuning ran no epoch: the training set is empty".to_string())
        })?;
        // Served coded like the model's own layers, so the stored vectors come from the same
        // arithmetic as the queries'.
        let best_layers: Vec<Layer> = best_layers.into_iter().map(Layer::coded).collect();
        let vectors = pool_through(&best_layers, heads, &states)?;
        Ok(FineTuned {
            encoder: TunedEncoder {
                model_checksum: self.checksum().to_string(),
                layers: best_layers,
            },
            vectors,
            report: FineTuneReport {
                layers: tuned,
                examples: texts.len(),
                holdout_examples: holdout_rows.len(),
                frozen_holdout_accuracy,
                epochs: reports,
                best_epoch,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            },
        })
    }
}

fn select(states: &[TokenStates], rows: &[usize]) -> Vec<TokenStates> {
    rows.iter().map(|&row| states[row].clone()).collect()
}

fn pick(labels: &[usize], rows: &[usize]) -> Vec<u32> {
    rows.iter()
        .map(|&row| u32::try_from(labels[row]).unwrap_or(u32::MAX))
        .collect()
}

/// Batches of one epoch: rows shuffled, then grouped with rows of similar length (less
/// padding), the batches themselves in shuffled order.
fn epoch_batches(
    rows: &[usize],
    states: &[TokenStates],
    batch_size: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut shuffled = rows.to_vec();
    shuffled.sort_by_key(|&row| mix(seed ^ row as u64));
    let mut batches = Vec::new();
    for window in shuffled.chunks(batch_size * 16) {
        let mut window = window.to_vec();
        window.sort_by_key(|&row| states[row].tokens);
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.sort_by_key(|batch| mix(seed.rotate_left(7) ^ batch[0] as u64));
    batches
}

/// Unit vectors of `states` through `layers` (the fused inference path), in length-sorted
/// batches.
fn pool_through(
    layers: &[Layer],
    heads: usize,
    states: &[TokenStates],
) -> Result<Vec<Vec<f32>>, MlError> {
    let Some(first) = layers.first() else {
        return Err(MlError::Training("no layers to run".to_string()));
    };
    let hidden = first.attention_output_bias.len();
    let mut order: Vec<usize> = (0..states.len()).collect();
    order.sort_by_key(|&index| states[index].tokens);
    let mut vectors = vec![Vec::new(); states.len()];
    for chunk in order.chunks(32) {
        let spans = spans_of(chunk.iter().map(|&index| states[index].tokens));
        let rows = spans.last().map_or(0, |span| span.end);
        if rows == 0 {
            // Texts without tokens pool to zero vectors, with no pass to run.
            for &index in chunk {
                vectors[index] = vec![0.0; hidden];
            }
            continue;
        }
        let mut inputs = Vec::with_capacity(rows * hidden);
        for &index in chunk {
            inputs.extend_from_slice(&states[index].values[..states[index].tokens * hidden]);
        }
        let inputs = Tensor::from_vec(inputs, (rows, hidden), &Device::Cpu)?;
        let output = run_layers(inputs, layers, &spans, heads)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for (&index, vector) in chunk.iter().zip(mean_pool(&output, &spans, hidden)) {
            vectors[index] = vector;
        }
    }
    Ok(vectors)
}

/// One padded training batch and the masks its passes need.
struct Batch {
    /// `[batch * tokens, hidden]`.
    inputs: Tensor,
    /// `[batch, 1, 1, tokens]`: 0 for real tokens, a large negative number for padding.
    attention_bias: Tensor,
    /// `[batch, tokens, 1]`: 1/length for real tokens, 0 for padding (mean pooling).
    pooling: Tensor,
    items: usize,
    tokens: usize,
    hidden: usize,
    heads: usize,
}

impl Batch {
    fn new(states: &[TokenStates], rows: &[usize], heads: usize) -> Result<Batch, MlError> {
        let tokens = rows
            .iter()
            .map(|&r| states[r].tokens)
            .max()
            .unwrap_or(0)
            .max(1);
        let hidden = states[rows[0]].values.len() / states[rows[0]].tokens.max(1);
        let items = rows.len();
        let mut inputs = vec![0.0f32; items * tokens * hidden];
        let mut attention_bias = vec![-1e9f32; items * tokens];
        let mut pooling = vec![0.0f32; items * tokens];
        for (item, &row) in rows.iter().enumerate() {
            let state = &states[row];
            inputs[item * tokens * hidden..][..state.values.len()].copy_from_slice(&state.values);
            attention_bias[item * tokens..][..state.tokens].fill(0.0);
            #[allow(clippy::cast_precision_loss)]
            pooling[item * tokens..][..state.tokens].fill(1.0 / state.tokens as f32);
        }
        let device = Device::Cpu;
        Ok(Batch {
            inputs: Tensor::from_vec(inputs, (items * tokens, hidden), &device)?,
            attention_bias: Tensor::from_vec(attention_bias, (items, 1, 1, tokens), &device)?,
            pooling: Tensor::from_vec(pooling, (items, tokens, 1), &device)?,
            items,
            tokens,
            hidden,
            heads,
        })
    }

    /// Mean over real tokens, L2-normalised: `[batch, hidden]`.
    fn pool(&self, hidden_states: &Tensor) -> Result<Tensor, MlError> {
        let pooled = hidden_states
            .reshape((self.items, self.tokens, self.hidden))?
            .broadcast_mul(&self.pooling)?
            .sum(1)?;
        let norm = (pooled.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?;
        Ok(pooled.broadcast_div(&norm)?)
    }
}

/// A layer as trainable variables, run with differentiable candle ops.
struct TrainableLayer {
    qkv_weight: Var,
    qkv_bias: Var,
    attention_output_weight: Var,
    attention_output_bias: Var,
    attention_gamma: Var,
    attention_beta: Var,
    attention_eps: f32,
    intermediate_weight: Var,
    intermediate_bias: Var,
    output_weight: Var,
    output_bias: Var,
    output_gamma: Var,
    output_beta: Var,
    output_eps: f32,
}

impl TrainableLayer {
    fn from_layer(layer: &Layer) -> Result<TrainableLayer, MlError> {
        let device = Device::Cpu;
        // The weight tensors come fresh from the layer's rows: the variables can own them.
        let matrix = |tensor: &Tensor| Var::from_tensor(tensor);
        let vector = |values: &[f32]| Var::from_tensor(&Tensor::new(values, &device)?);
        Ok(TrainableLayer {
            qkv_weight: matrix(&layer.qkv_tensor()?)?,
            qkv_bias: vector(&layer.scaled_qkv_bias())?,
            attention_output_weight: matrix(&layer.attention_output_weight.to_tensor()?)?,
            attention_output_bias: vector(&layer.attention_output_bias)?,
            attention_gamma: vector(&layer.attention_norm.gamma)?,
            attention_beta: vector(&layer.attention_norm.beta)?,
            attention_eps: layer.attention_norm.eps,
            intermediate_weight: matrix(&layer.intermediate_weight.to_tensor()?)?,
            intermediate_bias: vector(&layer.intermediate_bias)?,
            output_weight: matrix(&layer.output_weight.to_tensor()?)?,
            output_bias: vector(&layer.output_bias)?,
            output_gamma: vector(&layer.output_norm.gamma)?,
            output_beta: vector(&layer.output_norm.beta)?,
            output_eps: layer.output_norm.eps,
        })
    }

    fn variables(&self) -> Vec<Var> {
        vec![
            self.qkv_weight.clone(),
            self.qkv_bias.clone(),
            self.attention_output_weight.clone(),
            self.attention_output_bias.clone(),
            self.attention_gamma.clone(),
            self.attention_beta.clone(),
            self.intermediate_weight.clone(),
            self.intermediate_bias.clone(),
            self.output_weight.clone(),
            self.output_bias.clone(),
            self.output_gamma.clone(),
            self.output_beta.clone(),
        ]
    }

    /// A copy in the fused layout (the variables keep changing under the optimizer).
    fn to_layer(&self) -> Result<Layer, MlError> {
        let matrix = |var: &Var| Weights::from_tensor(var.as_tensor());
        let vector = |var: &Var| var.as_tensor().to_vec1::<f32>();
        Ok(Layer {
            qkv_weight: matrix(&self.qkv_weight)?,
            qkv_bias: vector(&self.qkv_bias)?,
            query_scale: 1.0,
            attention_output_weight: matrix(&self.attention_output_weight)?,
            attention_output_bias: vector(&self.attention_output_bias)?,
            attention_norm: Norm {
                gamma: vector(&self.attention_gamma)?,
                beta: vector(&self.attention_beta)?,
                eps: self.attention_eps,
            },
            intermediate_weight: matrix(&self.intermediate_weight)?,
            intermediate_bias: vector(&self.intermediate_bias)?,
            output_weight: matrix(&self.output_weight)?,
            output_bias: vector(&self.output_bias)?,
            output_norm: Norm {
                gamma: vector(&self.output_gamma)?,
                beta: vector(&self.output_beta)?,
                eps: self.output_eps,
            },
        })
    }

    /// The same arithmetic as the fused passes (Q is pre-scaled in the weights), with
    /// dropout on both sub-layers' outputs.
    fn forward(
        &self,
        states: &Tensor,
        batch: &Batch,
        dropout: f32,
        seed: u64,
    ) -> Result<Tensor, MlError> {
        let (items, tokens, hidden, heads) = (batch.items, batch.tokens, batch.hidden, batch.heads);
        let head_size = hidden / heads;
        let qkv = states
            .matmul(self.qkv_weight.as_tensor())?
            .broadcast_add(self.qkv_bias.as_tensor())?;
        let split_heads = |part: usize| -> candle_core::Result<Tensor> {
            qkv.narrow(1, part * hidden, hidden)?
                .reshape((items, tokens, heads, head_size))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (query, key, value) = (split_heads(0)?, split_heads(1)?, split_heads(2)?);
        let scores = query
            .matmul(&key.transpose(2, 3)?.contiguous()?)?
            .broadcast_add(&batch.attention_bias)?;
        let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let context = weights
            .matmul(&value)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((items * tokens, hidden))?;
        let attended = context
            .matmul(self.attention_output_weight.as_tensor())?
            .broadcast_add(self.attention_output_bias.as_tensor())?;
        let attended = drop_out(&attended, dropout, seed)?;
        let states = layer_norm(
            &(attended + states)?,
            &self.attention_gamma,
            &self.attention_beta,
            self.attention_eps,
        )?;
        let intermediate = states
            .matmul(self.intermediate_weight.as_tensor())?
            .broadcast_add(self.intermediate_bias.as_tensor())?
            .gelu_erf()?;
        let output = intermediate
            .matmul(self.output_weight.as_tensor())?
            .broadcast_add(self.output_bias.as_tensor())?;
        let output = drop_out(&output, dropout, mix(seed))?;
        layer_norm(
            &(output + states)?,
            &self.output_gamma,
            &self.output_beta,
            self.output_eps,
        )
    }
}

fn layer_norm(x: &Tensor, gamma: &Var, beta: &Var, eps: f32) -> Result<Tensor, MlError> {
    let mean = x.mean_keepdim(1)?;
    let centred = x.broadcast_sub(&mean)?;
    let variance = centred.sqr()?.mean_keepdim(1)?;
    let normalised = centred.broadcast_div(&(variance + f64::from(eps))?.sqrt()?)?;
    Ok(normalised
        .broadcast_mul(gamma.as_tensor())?
        .broadcast_add(beta.as_tensor())?)
}

/// Inverted dropout with a mask drawn from `seed`, so a training run is reproducible.
fn drop_out(x: &Tensor, rate: f32, seed: u64) -> Result<Tensor, MlError> {
    if rate <= 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 / (1.0 - rate);
    #[allow(clippy::cast_precision_loss)]
    let threshold = (f64::from(rate) * u64::MAX as f64) as u64;
    let mask: Vec<f32> = (0..x.elem_count() as u64)
        .map(|index| {
            if mix(seed ^ index) < threshold {
                0.0
            } else {
                keep
            }
        })
        .collect();
    Ok((x * Tensor::from_vec(mask, x.shape(), &Device::Cpu)?)?)
}

/// `scale · cos(x, w_c) + b_c`: the training head (the production head is trained afterwards
/// on the tuned vectors, with its own calibration).
struct CosineHead {
    weight: Var,
    bias: Var,
}

impl CosineHead {
    /// Starts each class at the normalised mean of its vectors, so the first steps already
    /// classify as nearest-centroid does.
    fn from_centroids(
        vectors: &[Vec<f32>],
        labels: &[u32],
        classes: usize,
    ) -> Result<CosineHead, MlError> {
        let dimension = vectors.first().map_or(0, Vec::len);
        let mut centroids = vec![0.0f32; classes * dimension];
        for (vector, &label) in vectors.iter().zip(labels) {
            let row = &mut centroids[label as usize * dimension..][..dimension];
            row.iter_mut()
                .zip(vector)
                .for_each(|(sum, value)| *sum += value);
        }
        for row in centroids.chunks_exact_mut(dimension.max(1)) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter_mut().for_each(|value| *value /= norm);
        }
        let device = Device::Cpu;
        Ok(CosineHead {
            weight: Var::from_tensor(&Tensor::from_vec(centroids, (classes, dimension), &device)?)?,
            bias: Var::zeros(classes, DType::F32, &device)?,
        })
    }

    fn logits(&self, pooled: &Tensor, scale: f32) -> Result<Tensor, MlError> {
        let weight = self.weight.as_tensor();
        let norms = (weight.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?;
        let directions = weight.broadcast_div(&norms)?;
        Ok((pooled.matmul(&directions.t()?)? * f64::from(scale))?
            .broadcast_add(self.bias.as_tensor())?)
    }

    fn accuracy(&self, vectors: &[Vec<f32>], labels: &[u32], scale: f32) -> Result<f32, MlError> {
        let dimension = vectors.first().map_or(0, Vec::len);
        let flat: Vec<f32> = vectors.iter().flatten().copied().collect();
        let inputs = Tensor::from_vec(flat, (vectors.len(), dimension), &Device::Cpu)?;
        let predicted = self.logits(&inputs, scale)?.argmax(1)?.to_vec1::<u32>()?;
        let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
        #[allow(clippy::cast_precision_loss)]
        Ok(correct as f32 / labels.len().max(1) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::tests::e5;

    const PHRASES: [(&str, usize); 18] = [
        ("where is my parcel", 0),
        ("my order has not arrived", 0),
        ("track my delivery", 0),
        ("when will the package come", 0),
        ("包裹到哪里了", 0),
        ("快递还没到", 0),
        ("I want my money back", 1),
        ("how do I get a refund", 1),
        ("return this and refund me", 1),
        ("refund please", 1),
        ("我要退款", 1),
        ("怎么退钱", 1),
        ("change my password", 2),
        ("I forgot my password", 2),
        ("reset the login password", 2),
        ("cannot sign in to my account", 2),
        ("忘记密码了", 2),
        ("修改登录密码", 2),
    ];

    fn texts() -> Vec<&'static str> {
        PHRASES.iter().map(|(text, _)| *text).collect()
    }

    #[test]
    fn a_trainable_layer_computes_what_the_fused_layer_does() {
        let embedder = e5();
        let states = embedder.query_states(&texts()[..4], 1).expect("states");
        let top = embedder.top_layers_copy(1).expect("the top layer");
        let heads = embedder.encoder_heads().expect("heads");
        let fused = pool_through(&top, heads, &states).expect("the fused pass");

        let rows: Vec<usize> = (0..states.len()).collect();
        let batch = Batch::new(&states, &rows, heads).expect("a batch");
        let trainable = TrainableLayer::from_layer(&top[0]).expect("variables");
        let output = trainable
            .forward(&batch.inputs, &batch, 0.0, 0)
            .expect("the trainable pass");
        let pooled = batch
            .pool(&output)
            .and_then(|pooled| Ok(pooled.to_vec2::<f32>()?))
            .expect("pooled");
        for (fused, trained) in fused.iter().zip(&pooled) {
            let largest = fused
                .iter()
                .zip(trained)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(largest < 1e-4, "differs by {largest}");
        }
    }

    #[test]
    fn fine_tuning_learns_and_its_layers_round_trip_through_a_file() {
        let embedder = e5();
        let labels: Vec<usize> = PHRASES.iter().map(|(_, label)| *label).collect();
        let options = FineTuneOptions {
            layers: 1,
            max_epochs: 3,
            patience: 3,
            // Three steps in all: rates high enough that three steps visibly learn.
            learning_rate: 5e-4,
            head_learning_rate: 1e-2,
            ..FineTuneOptions::default()
        };
        let tuned = embedder
            .fine_tune_queries(&texts(), &labels, 3, &options)
            .expect("works");
        let report = &tuned.report;
        assert_eq!(report.layers, 1);
        assert_eq!(report.epochs.len(), 3, "{report:?}");
        assert!(report.holdout_examples > 0, "{report:?}");
        let first = report.epochs[0].mean_loss;
        let last = report.epochs[2].mean_loss;
        assert!(last < first, "the loss falls: {report:?}");

        // The tuned layers moved: tuned vectors differ from the frozen ones.
        let frozen = embedder.embed_queries_uncached(&texts()).expect("works");
        let moved = frozen
            .iter()
            .zip(&tuned.vectors)
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
            .fold(1.0f32, f32::min);
        assert!(moved < 0.9999, "lowest cosine to the frozen vector {moved}");

        // Embedding through the tuned encoder gives the vectors training returned, also
        // after a save and a load.
        let again = embedder
            .embed_queries_tuned(&tuned.encoder, &texts())
            .expect("works");
        let directory = tempfile::tempdir().expect("works");
        let path = directory.path().join("tuned.safetensors");
        tuned.encoder.save(&path).expect("works");
        let loaded = TunedEncoder::load(&path, embedder).expect("works");
        let reloaded = embedder
            .embed_queries_tuned(&loaded, &texts())
            .expect("works");
        for ((expected, again), reloaded) in tuned.vectors.iter().zip(&again).zip(&reloaded) {
            for (x, (y, z)) in expected.iter().zip(again.iter().zip(reloaded)) {
                assert!((x - y).abs() < 1e-5 && (y - z).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn tuned_layers_refuse_another_model_and_bad_input() {
        let embedder = e5();
        let mut tuned = TunedEncoder {
            model_checksum: "another model".to_string(),
            layers: embedder.top_layers_copy(1).expect("the top layer"),
        };
        let error = embedder
            .embed_queries_tuned(&tuned, &["hello"])
            .expect_err("refused");
        assert!(error.to_string().contains("another model"), "{error}");
        tuned.model_checksum = embedder.checksum().to_string();
        assert_eq!(
            embedder
                .embed_queries_tuned(&tuned, &["hello"])
                .expect("works")
                .len(),
            1
        );

        let error = embedder
            .fine_tune_queries(&["a", "b"], &[0, 5], 2, &FineTuneOptions::default())
            .expect_err("refused");
        assert!(error.to_string().contains("label"), "{error}");
    }
}
