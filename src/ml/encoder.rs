//! `BertEncoder`: kefu's own forward pass for standard BERT sentence encoders, tuned for short
//! texts on a few CPU cores, with candle doing the matrix products.
//!
//! candle-transformers' BERT spends most of a 20-token query on per-op overhead rather than
//! arithmetic: three Q/K/V products, four transpose copies, a five-pass softmax and a scalar
//! `erf` per layer, each op allocating. Here a layer is four GEMMs plus three fused passes:
//! attention (Q/K/V bias, masked softmax, weighted sum for every head in one pass over the
//! fused QKV product), bias + GELU, and bias + residual + LayerNorm. The word-embedding table,
//! most of a small model's weights, stays f16 where the weights file has it (borrowed from the
//! binary, rows widened on lookup), which keeps resident memory down.

use std::borrow::Cow;
use std::ops::Range;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Shape, Tensor};
use candle_transformers::models::bert::{Config, HiddenAct, PositionEmbeddingType};
use rayon::prelude::*;

use super::MlError;
use super::linear::{Values, Weights};

/// Work (multiply-adds) below which a fused pass runs on the calling thread: splitting a
/// 20-token query's layer across threads costs more in hand-offs than it saves.
const PARALLEL_WORK: usize = 1 << 18;

pub(super) struct BertEncoder {
    word_embeddings: HalfRows,
    /// Position embedding plus token type 0 (every input is a single segment), per position.
    position_and_type: Vec<f32>,
    embeddings_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    max_positions: usize,
}

/// Several texts' tokens laid end to end without padding: text `i` is rows `spans[i]` of the
/// states. The products then run on real tokens only (a batch padded to its longest text ran
/// up to a third of its rows on padding), and attention keeps to each text's own rows.
pub(super) struct Packed {
    pub(super) ids: Vec<u32>,
    pub(super) spans: Vec<Range<usize>>,
}

impl Packed {
    pub(super) fn new<'a>(texts: impl IntoIterator<Item = &'a [u32]>) -> Packed {
        let texts: Vec<&[u32]> = texts.into_iter().collect();
        Packed {
            ids: texts.concat(),
            spans: spans_of(texts.iter().map(|text| text.len())),
        }
    }
}

/// Consecutive spans of `lengths` rows each, from row 0.
pub(super) fn spans_of(lengths: impl IntoIterator<Item = usize>) -> Vec<Range<usize>> {
    let mut start = 0;
    lengths
        .into_iter()
        .map(|length| {
            start += length;
            start - length..start
        })
        .collect()
}

/// One transformer layer's weights, laid out for the fused passes (and for fine-tuning, which
/// copies them into trainable variables and back).
#[derive(Clone)]
pub(super) struct Layer {
    /// Q, K and V stacked: `3 * hidden` rows of `hidden` weights.
    pub(super) qkv_weight: Weights,
    pub(super) qkv_bias: Vec<f32>,
    /// Applied to Q (bias included) in attention: 1/√head_dim for a model's own layers, 1 for
    /// tuned layers, whose Q weights carry it.
    pub(super) query_scale: f32,
    pub(super) attention_output_weight: Weights,
    pub(super) attention_output_bias: Vec<f32>,
    pub(super) attention_norm: Norm,
    pub(super) intermediate_weight: Weights,
    pub(super) intermediate_bias: Vec<f32>,
    pub(super) output_weight: Weights,
    pub(super) output_bias: Vec<f32>,
    pub(super) output_norm: Norm,
}

impl Layer {
    /// Q, K and V as one f32 `[hidden, 3 * hidden]` tensor with Q's scale folded in: the form
    /// fine-tuning trains.
    pub(super) fn qkv_tensor(&self) -> Result<Tensor, MlError> {
        let all = self.qkv_weight.to_tensor()?;
        if self.query_scale == 1.0 {
            return Ok(all);
        }
        let hidden = all.dims2()?.0;
        let query = (all.narrow(1, 0, hidden)? * f64::from(self.query_scale))?;
        Ok(Tensor::cat(
            &[query, all.narrow(1, hidden, 2 * hidden)?],
            1,
        )?)
    }

    /// The layer with its four matrices as i8 codes with a scale per row (see `codes.rs`).
    pub(super) fn coded(self) -> Layer {
        Layer {
            qkv_weight: self.qkv_weight.coded(),
            attention_output_weight: self.attention_output_weight.coded(),
            intermediate_weight: self.intermediate_weight.coded(),
            output_weight: self.output_weight.coded(),
            ..self
        }
    }

    /// The QKV bias with Q's scale folded in, to go with [`Layer::qkv_tensor`].
    pub(super) fn scaled_qkv_bias(&self) -> Vec<f32> {
        let hidden = self.qkv_bias.len() / 3;
        let mut bias = self.qkv_bias.clone();
        bias[..hidden]
            .iter_mut()
            .for_each(|value| *value *= self.query_scale);
        bias
    }
}

#[derive(Clone)]
pub(super) struct Norm {
    pub(super) gamma: Vec<f32>,
    pub(super) beta: Vec<f32>,
    pub(super) eps: f32,
}

/// Rows of an f16 matrix kept as the little-endian bytes of the weights file.
struct HalfRows {
    bytes: Cow<'static, [u8]>,
    width: usize,
    rows: usize,
}

impl HalfRows {
    fn add_row_to(&self, row: usize, target: &mut [f32]) {
        let start = row * self.width * 2;
        let bytes = &self.bytes[start..start + self.width * 2];
        for (value, pair) in target.iter_mut().zip(bytes.chunks_exact(2)) {
            *value += half::f16::from_le_bytes([pair[0], pair[1]]).to_f32();
        }
    }
}

impl BertEncoder {
    /// False when the architecture is one this pass does not implement (another activation,
    /// relative positions): the caller falls back to candle-transformers' BERT.
    pub(super) fn supports(config: &Config) -> bool {
        config.hidden_act == HiddenAct::Gelu
            && config.position_embedding_type == PositionEmbeddingType::Absolute
            && config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
    }

    /// The encoder with every layer coded (`Layer::coded`).
    pub(super) fn coded(self) -> BertEncoder {
        BertEncoder {
            layers: self.layers.into_iter().map(Layer::coded).collect(),
            ..self
        }
    }

    pub(super) fn load(
        model_id: &str,
        weights: Cow<'static, [u8]>,
        config: &Config,
    ) -> Result<BertEncoder, MlError> {
        let bad_weights = |source| MlError::BadWeights {
            model: model_id.to_string(),
            source,
        };
        let file =
            candle_core::safetensors::SliceSafetensors::new(&weights).map_err(bad_weights)?;
        let device = Device::Cpu;
        // Checkpoints exported from `BertModel` have bare names, ones from task models a
        // `bert.` prefix.
        let prefix = if file.get("embeddings.word_embeddings.weight").is_ok() {
            ""
        } else {
            "bert."
        };
        let load = |name: &str, shape: &[usize]| -> Result<Tensor, MlError> {
            let tensor = file
                .load(&format!("{prefix}{name}"), &device)
                .and_then(|tensor| tensor.to_dtype(DType::F32))
                .map_err(bad_weights)?;
            if tensor.dims() != shape {
                return Err(MlError::BadConfig {
                    model: model_id.to_string(),
                    reason: format!(
                        "{prefix}{name} has shape {:?}, config.json implies {shape:?}",
                        tensor.dims()
                    ),
                });
            }
            Ok(tensor)
        };
        let vector = |name: &str, len: usize| -> Result<Vec<f32>, MlError> {
            load(name, &[len])?.to_vec1::<f32>().map_err(bad_weights)
        };
        let norm = |name: &str| -> Result<Norm, MlError> {
            Ok(Norm {
                gamma: vector(&format!("{name}.weight"), config.hidden_size)?,
                beta: vector(&format!("{name}.bias"), config.hidden_size)?,
                eps: config.layer_norm_eps as f32,
            })
        };
        let hidden = config.hidden_size;
        let heads = config.num_attention_heads;
        let word_embeddings = half_rows(
            model_id,
            &weights,
            &file,
            &format!("{prefix}embeddings.word_embeddings.weight"),
            hidden,
        )?;
        let positions = load(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, hidden],
        )?;
        let token_types = load(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, hidden],
        )?;
        let position_and_type = positions
            .broadcast_add(&token_types.get(0).map_err(bad_weights)?)
            .and_then(|sum| sum.flatten_all())
            .and_then(|sum| sum.to_vec1::<f32>())
            .map_err(bad_weights)?;

        let query_scale = 1.0 / ((hidden / heads) as f32).sqrt();
        // torch stores a Linear's weight as [out, in]: exactly the rows the kernels read, so
        // f16 weights are used where they lie in the file.
        let rows =
            |name: &str, inputs: usize, outputs: usize| -> Result<(usize, Values), MlError> {
                let name = format!("{prefix}{name}.weight");
                let view = file.get(&name).map_err(bad_weights)?;
                if view.shape() != [outputs, inputs] {
                    return Err(MlError::BadConfig {
                        model: model_id.to_string(),
                        reason: format!(
                            "{name} has shape {:?}, config.json implies {:?}",
                            view.shape(),
                            [outputs, inputs]
                        ),
                    });
                }
                let values = if view.dtype() == safetensors::Dtype::F16 {
                    Values::Half(borrow_or_copy(&weights, view.data()))
                } else {
                    let tensor = file
                        .load(&name, &device)
                        .and_then(|tensor| tensor.to_dtype(DType::F32))
                        .and_then(|tensor| tensor.flatten_all())
                        .and_then(|tensor| tensor.to_vec1::<f32>())
                        .map_err(bad_weights)?;
                    Values::Full(tensor)
                };
                Ok((outputs, values))
            };
        let linear = |name: &str, inputs: usize, outputs: usize| -> Result<Weights, MlError> {
            Weights::from_blocks(inputs, vec![rows(name, inputs, outputs)?])
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let name = |part: &str| format!("encoder.layer.{index}.{part}");
            let part = |part: &str| rows(&name(part), hidden, hidden);
            let qkv_weight = Weights::from_blocks(
                hidden,
                vec![
                    part("attention.self.query")?,
                    part("attention.self.key")?,
                    part("attention.self.value")?,
                ],
            )?;
            let mut qkv_bias = vector(&name("attention.self.query.bias"), hidden)?;
            qkv_bias.extend(vector(&name("attention.self.key.bias"), hidden)?);
            qkv_bias.extend(vector(&name("attention.self.value.bias"), hidden)?);
            layers.push(Layer {
                qkv_weight,
                qkv_bias,
                query_scale,
                attention_output_weight: linear(&name("attention.output.dense"), hidden, hidden)?,
                attention_output_bias: vector(&name("attention.output.dense.bias"), hidden)?,
                attention_norm: norm(&name("attention.output.LayerNorm"))?,
                intermediate_weight: linear(
                    &name("intermediate.dense"),
                    hidden,
                    config.intermediate_size,
                )?,
                intermediate_bias: vector(
                    &name("intermediate.dense.bias"),
                    config.intermediate_size,
                )?,
                output_weight: linear(&name("output.dense"), config.intermediate_size, hidden)?,
                output_bias: vector(&name("output.dense.bias"), hidden)?,
                output_norm: norm(&name("output.LayerNorm"))?,
            });
        }
        Ok(BertEncoder {
            word_embeddings,
            position_and_type,
            embeddings_norm: norm("embeddings.LayerNorm")?,
            layers,
            hidden,
            heads,
            max_positions: config.max_position_embeddings,
        })
    }

    /// Hidden states `[rows, hidden]` of `texts`' tokens.
    pub(super) fn forward(&self, texts: &Packed) -> Result<Vec<f32>, MlError> {
        let states = self.forward_bottom(texts, self.layers.len())?;
        Ok(states.flatten_all()?.to_vec1::<f32>()?)
    }

    pub(super) fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub(super) fn heads(&self) -> usize {
        self.heads
    }

    /// Hidden states `[rows, hidden]` of `texts`' tokens after the embeddings and the first
    /// `layers` layers: what fine-tuning the layers above starts from.
    pub(super) fn forward_bottom(&self, texts: &Packed, layers: usize) -> Result<Tensor, MlError> {
        let hidden = self.hidden;
        let mut embedded = vec![0.0f32; texts.ids.len() * hidden];
        for span in &texts.spans {
            if span.len() > self.max_positions {
                return Err(MlError::Inference(candle_core::Error::Msg(format!(
                    "{} tokens exceed the model's {} positions",
                    span.len(),
                    self.max_positions
                ))));
            }
            let rows = embedded[span.start * hidden..span.end * hidden].chunks_exact_mut(hidden);
            for (position, (row, &id)) in rows.zip(&texts.ids[span.clone()]).enumerate() {
                row.copy_from_slice(&self.position_and_type[position * hidden..][..hidden]);
                let id = id as usize;
                if id < self.word_embeddings.rows {
                    self.word_embeddings.add_row_to(id, row);
                }
            }
        }
        for row in embedded.chunks_exact_mut(hidden) {
            self.embeddings_norm.apply_in_place(row);
        }
        let states = Tensor::from_vec(embedded, (texts.ids.len(), hidden), &Device::Cpu)?;
        run_layers(
            states,
            &self.layers[..layers.min(self.layers.len())],
            &texts.spans,
            self.heads,
        )
    }
}

/// Runs `states` (`[rows, hidden]`, each text's rows one of `spans`) through `layers` with
/// the fused passes.
pub(super) fn run_layers(
    mut states: Tensor,
    layers: &[Layer],
    spans: &[Range<usize>],
    heads: usize,
) -> Result<Tensor, MlError> {
    let attention = Attention { heads, spans };
    for layer in layers {
        let qkv = layer.qkv_weight.apply(&states)?;
        let context = qkv.apply_op1_no_bwd(&AttentionWithBias {
            attention: &attention,
            bias: &layer.qkv_bias,
            query_scale: layer.query_scale,
        })?;
        let projected = layer.attention_output_weight.apply(&context)?;
        states = projected.apply_op2_no_bwd(
            &states,
            &BiasResidualNorm {
                bias: &layer.attention_output_bias,
                norm: &layer.attention_norm,
            },
        )?;
        let intermediate =
            layer
                .intermediate_weight
                .apply(&states)?
                .apply_op1_no_bwd(&BiasGelu {
                    bias: &layer.intermediate_bias,
                })?;
        let output = layer.output_weight.apply(&intermediate)?;
        states = output.apply_op2_no_bwd(
            &states,
            &BiasResidualNorm {
                bias: &layer.output_bias,
                norm: &layer.output_norm,
            },
        )?;
    }
    Ok(states)
}

/// The word-embedding table as f16 bytes: borrowed from the binary when the model is embedded
/// (no copy at all; pages are read as tokens need them), copied out of a model read from disk.
#[expect(
    clippy::ptr_arg,
    reason = "whether the bytes are borrowed from the binary decides whether to copy"
)]
fn half_rows(
    model_id: &str,
    weights: &Cow<'static, [u8]>,
    file: &candle_core::safetensors::SliceSafetensors<'_>,
    name: &str,
    width: usize,
) -> Result<HalfRows, MlError> {
    let view = file.get(name).map_err(|source| MlError::BadWeights {
        model: model_id.to_string(),
        source,
    })?;
    let shape = view.shape().to_vec();
    if shape.len() != 2 || shape[1] != width {
        return Err(MlError::BadConfig {
            model: model_id.to_string(),
            reason: format!("{name}: shape {shape:?}, expected [vocab, {width}]"),
        });
    }
    let bytes = if view.dtype() == safetensors::Dtype::F16 {
        borrow_or_copy(weights, view.data())
    } else {
        // A model stored in another precision is narrowed once, at load.
        let narrowed = file
            .load(name, &Device::Cpu)
            .and_then(|table| table.to_dtype(DType::F16))
            .and_then(|table| table.flatten_all())
            .and_then(|table| table.to_vec1::<half::f16>())
            .map_err(|source| MlError::BadWeights {
                model: model_id.to_string(),
                source,
            })?;
        Cow::Owned(
            narrowed
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect(),
        )
    };
    Ok(HalfRows {
        bytes,
        width,
        rows: shape[0],
    })
}

/// `part` (a slice of `weights`) borrowed when `weights` is borrowed from the binary, copied
/// out of a model read from disk.
#[expect(
    clippy::ptr_arg,
    reason = "whether the bytes are borrowed from the binary decides whether to copy"
)]
fn borrow_or_copy(weights: &Cow<'static, [u8]>, part: &[u8]) -> Cow<'static, [u8]> {
    let start = part.as_ptr() as usize - weights.as_ptr() as usize;
    let range = start..start + part.len();
    match weights {
        Cow::Borrowed(all) => Cow::Borrowed(&all[range]),
        Cow::Owned(all) => Cow::Owned(all[range].to_vec()),
    }
}

impl Norm {
    fn apply_in_place(&self, row: &mut [f32]) {
        let len = row.len() as f32;
        let mean = sum(row) / len;
        let variance = row
            .iter()
            .map(|value| (value - mean) * (value - mean))
            .fold(0.0f32, |total, square| total + square)
            / len;
        let inverse = 1.0 / (variance + self.eps).sqrt();
        for ((value, gamma), beta) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
            *value = (*value - mean) * inverse * gamma + beta;
        }
    }
}

/// Reads a contiguous f32 tensor's values.
fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
    let values = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&values[start..end]),
        None => candle_core::bail!("kefu's fused ops need contiguous inputs"),
    }
}

/// Runs `each_row` over `rows`-wide rows of `values`, in parallel when there is enough work.
fn for_each_row(values: &mut [f32], width: usize, each_row: impl Fn(usize, &mut [f32]) + Sync) {
    if values.len() * 8 >= PARALLEL_WORK {
        values
            .par_chunks_mut(width)
            .enumerate()
            .for_each(|(index, row)| each_row(index, row));
    } else {
        for (index, row) in values.chunks_mut(width).enumerate() {
            each_row(index, row);
        }
    }
}

/// `LayerNorm(x + bias + residual)`, one pass per row.
struct BiasResidualNorm<'a> {
    bias: &'a [f32],
    norm: &'a Norm,
}

impl CustomOp2 for BiasResidualNorm<'_> {
    fn name(&self) -> &'static str {
        "kefu-bias-residual-norm"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
        residual_storage: &CpuStorage,
        residual_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = contiguous_f32(storage, layout)?;
        let residual = contiguous_f32(residual_storage, residual_layout)?;
        let width = self.bias.len();
        if input.len() != residual.len() || input.len() % width != 0 {
            candle_core::bail!("bias-residual-norm: mismatched shapes");
        }
        let mut output: Vec<f32> = input.iter().zip(residual).map(|(x, r)| x + r).collect();
        for_each_row(&mut output, width, |_, row| {
            row.iter_mut()
                .zip(self.bias)
                .for_each(|(value, bias)| *value += bias);
            self.norm.apply_in_place(row);
        });
        Ok((CpuStorage::F32(output), layout.shape().clone()))
    }
}

/// `GELU(x + bias)` with the exact (erf) GELU that BERT was trained with.
struct BiasGelu<'a> {
    bias: &'a [f32],
}

impl CustomOp1 for BiasGelu<'_> {
    fn name(&self) -> &'static str {
        "kefu-bias-gelu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = contiguous_f32(storage, layout)?;
        let width = self.bias.len();
        if input.len() % width != 0 {
            candle_core::bail!("bias-gelu: mismatched shapes");
        }
        let mut output = input.to_vec();
        for_each_row(&mut output, width, |_, row| {
            for (value, bias) in row.iter_mut().zip(self.bias) {
                *value = gelu(*value + bias);
            }
        });
        Ok((CpuStorage::F32(output), layout.shape().clone()))
    }
}

/// The shape of one forward pass's self-attention.
struct Attention<'a> {
    heads: usize,
    /// Each text's rows: a token attends to the tokens of its own text.
    spans: &'a [Range<usize>],
}

/// Self-attention for every head from the fused `[rows, 3 * hidden]` QKV product, its bias
/// added on the way; the result is the `[rows, hidden]` context (zero on rows outside every
/// span).
struct AttentionWithBias<'a> {
    attention: &'a Attention<'a>,
    bias: &'a [f32],
    query_scale: f32,
}

impl CustomOp1 for AttentionWithBias<'_> {
    fn name(&self) -> &'static str {
        "kefu-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let Attention { heads, spans } = *self.attention;
        let qkv = contiguous_f32(storage, layout)?;
        let width = self.bias.len();
        let hidden = width / 3;
        let head_size = hidden / heads;
        let rows = qkv.len() / width.max(1);
        if qkv.len() != rows * width || spans.iter().any(|span| span.end > rows) {
            candle_core::bail!("attention: mismatched shapes");
        }
        let one_head = |pair: usize| -> Vec<f32> {
            let (span, head) = (&spans[pair / heads], pair % heads);
            head_attention(
                &qkv[span.start * width..span.end * width],
                self.bias,
                self.query_scale,
                head * head_size,
                head_size,
            )
        };
        let pairs = spans.len() * heads;
        let work: usize = spans.iter().map(|span| span.len() * span.len()).sum();
        let per_head: Vec<Vec<f32>> = if work * hidden >= PARALLEL_WORK {
            (0..pairs).into_par_iter().map(one_head).collect()
        } else {
            (0..pairs).map(one_head).collect()
        };
        let mut context = vec![0.0f32; rows * hidden];
        for (pair, values) in per_head.iter().enumerate() {
            let (span, head) = (&spans[pair / heads], pair % heads);
            for (token, head_values) in values.chunks_exact(head_size).enumerate() {
                let start = (span.start + token) * hidden + head * head_size;
                context[start..start + head_size].copy_from_slice(head_values);
            }
        }
        Ok((CpuStorage::F32(context), Shape::from((rows, hidden))))
    }
}

/// One head of one text (its `[tokens, 3 * hidden]` QKV rows): `[tokens, head_size]` context
/// values.
fn head_attention(
    rows: &[f32],
    bias: &[f32],
    query_scale: f32,
    offset: usize,
    head_size: usize,
) -> Vec<f32> {
    let width = bias.len();
    let hidden = width / 3;
    let tokens = rows.len() / width;
    let gather = |part: usize, scale: f32| -> Vec<f32> {
        let start = part * hidden + offset;
        let part_bias = &bias[start..start + head_size];
        rows.chunks_exact(width)
            .flat_map(|row| {
                row[start..start + head_size]
                    .iter()
                    .zip(part_bias)
                    .map(move |(value, bias)| (value + bias) * scale)
            })
            .collect()
    };
    let (queries, keys, values) = (gather(0, query_scale), gather(1, 1.0), gather(2, 1.0));
    let mut context = vec![0.0f32; tokens * head_size];
    let mut scores = vec![0.0f32; tokens];
    for (query, output) in queries
        .chunks_exact(head_size)
        .zip(context.chunks_exact_mut(head_size))
    {
        let mut highest = f32::NEG_INFINITY;
        for (score, key) in scores.iter_mut().zip(keys.chunks_exact(head_size)) {
            *score = dot(query, key);
            highest = highest.max(*score);
        }
        let mut total = 0.0f32;
        for score in scores.iter_mut() {
            *score = exp(*score - highest);
            total += *score;
        }
        let inverse = 1.0 / total;
        for (score, value) in scores.iter().zip(values.chunks_exact(head_size)) {
            let weight = score * inverse;
            for (out, value) in output.iter_mut().zip(value) {
                *out += weight * value;
            }
        }
    }
    context
}

/// A dot product in eight independent lanes, which the compiler turns into SIMD (a single
/// running sum would pin it to one scalar add chain).
fn dot(left: &[f32], right: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let left_chunks = left.chunks_exact(8);
    let right_chunks = right.chunks_exact(8);
    let tail: f32 = left_chunks
        .remainder()
        .iter()
        .zip(right_chunks.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in left_chunks.zip(right_chunks) {
        for lane in 0..8 {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for lane in 0..8 {
            lanes[lane] += chunk[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `e^x` to within ~2 ulp, branch-free so loops over it vectorise (libm's `expf` is a call per
/// value). Cephes' polynomial after reducing by powers of two.
fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let power = (x * LOG2_E + ROUND) - ROUND;
    let r = x - power * LN2_HIGH - power * LN2_LOW;
    let polynomial =
        ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
            + 1.666_666_5e-1)
            * r
            + 0.5;
    let mantissa = 1.0 + r + r * r * polynomial;
    let scale = f32::from_bits(((power as i32 + 127) as u32) << 23);
    mantissa * scale
}

/// `x · Φ(x)` with erf from Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
fn gelu(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let polynomial = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let erf_abs = 1.0 - polynomial * exp(-a * a);
    0.5 * x * (1.0 + erf_abs.copysign(z))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_exp_tracks_the_standard_library() {
        for step in -2000..=2000 {
            let x = step as f32 * 0.04;
            let relative = ((exp(x) - x.exp()) / x.exp()).abs();
            assert!(relative < 1e-6, "exp({x}) off by {relative}");
        }
    }

    #[test]
    fn gelu_matches_its_definition() {
        // Φ(1) = 0.841344746, Φ(-1) = 0.158655254, Φ(2.5) = 0.993790335
        for (x, phi) in [
            (1.0f32, 0.841_344_8_f32),
            (-1.0, 0.158_655_25),
            (2.5, 0.993_790_3),
        ] {
            assert!((gelu(x) - x * phi).abs() < 1e-6, "gelu({x})");
        }
        assert_eq!(gelu(0.0), 0.0);
        assert!(gelu(-20.0).abs() < 1e-6);
    }

    #[test]
    fn dot_and_sum_handle_tails() {
        let left: Vec<f32> = (0..13).map(|value| value as f32).collect();
        let right = vec![2.0f32; 13];
        assert_eq!(dot(&left, &right), 156.0);
        assert_eq!(sum(&left), 78.0);
    }
}
