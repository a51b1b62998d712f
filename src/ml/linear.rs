//! `Weights`: a linear layer's matrix kept as rows of outputs (torch's `[out, in]` layout), in
//! f16 where the weights file has it (borrowed from the binary), f32, or i8 codes with a scale
//! per row (`codes.rs`, what the encoder runs), and the product `x · Wᵀ` the encoder's layers
//! run on it, with AVX-512 or AVX2 kernels chosen at run time.
//!
//! A query's product is bound by memory, not arithmetic: a 17-token query through the
//! 12-layer model streams every weight once and reuses it 17 times, so with f32 weights
//! (85 MB) most of the time went to reading them. Reading f16 halves that and i8 halves it
//! again. For f16 / f32 rows the kernel takes dot products of input rows with
//! weight rows in tiles (4 × 4 with AVX-512, 6 × 2 with AVX2); with AVX-512 an f16 weight is
//! widened by one instruction as it loads; with AVX2 it takes four integer and float
//! instructions (pulp does not wrap F16C, and the crate has no unsafe code), so there a group
//! of weight rows is widened once into an L1-sized f32 buffer that every band of input rows
//! then reads; elsewhere a portable loop the compiler vectorises widens it. For f16 / f32 weights a batch (many rows) goes to candle's
//! GEMM instead, on weights widened for that one call; i8 codes stay in the tiles at any
//! batch size, as the integer multiply-adds do twice the work of the GEMM's f32 FMAs.

use std::borrow::Cow;

use candle_core::{CpuStorage, CustomOp1, Device, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::MlError;
use super::codes::{CodeKernel, CodeRows, CodedInputs, MAX_CODED_INPUTS};

/// Multiply-adds below which a product runs on the calling thread.
const PARALLEL_WORK: usize = 1 << 19;
/// Rows per task when a batch is split across threads by rows.
const ROWS_PER_TASK: usize = 16;
/// Input rows from which candle's GEMM takes over from the f16 / f32 tiles (see
/// `Weights::apply`).
const GEMM_ROWS: usize = 96;

/// The values of a block of weight rows.
#[derive(Clone)]
pub(super) enum Values {
    /// Little-endian f16, as safetensors stores it.
    Half(Cow<'static, [u8]>),
    Full(Vec<f32>),
    /// i8 codes and one scale per row (`value ≈ code · scale`), see `codes.rs`.
    Codes {
        codes: Vec<i8>,
        scales: Vec<f32>,
    },
}

#[derive(Clone)]
struct RowBlock {
    rows: usize,
    values: Values,
}

/// `outputs` rows of `inputs` weights each, possibly in several blocks (the fused Q, K and V
/// projections are three matrices of the file, side by side).
#[derive(Clone)]
pub(super) struct Weights {
    inputs: usize,
    outputs: usize,
    blocks: Vec<RowBlock>,
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Weights")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

impl Weights {
    pub(super) fn inputs(&self) -> usize {
        self.inputs
    }

    /// Blocks of `(rows, values)`, each row `inputs` wide, stacked in order.
    pub(super) fn from_blocks(
        inputs: usize,
        blocks: Vec<(usize, Values)>,
    ) -> Result<Weights, MlError> {
        let mut outputs = 0;
        let mut stacked = Vec::with_capacity(blocks.len());
        for (rows, values) in blocks {
            let len = match &values {
                Values::Half(bytes) => bytes.len() / 2,
                Values::Full(values) => values.len(),
                Values::Codes { codes, .. } => codes.len(),
            };
            let misshapen = match &values {
                Values::Half(bytes) => bytes.len() % 2 != 0,
                Values::Full(_) => false,
                Values::Codes { scales, .. } => scales.len() != rows,
            };
            if len != rows * inputs || misshapen {
                return Err(MlError::Inference(candle_core::Error::Msg(format!(
                    "a weight block holds {len} values, not {rows} × {inputs}"
                ))));
            }
            outputs += rows;
            stacked.push(RowBlock { rows, values });
        }
        Ok(Weights {
            inputs,
            outputs,
            blocks: stacked,
        })
    }

    /// The same weights as i8 codes with a scale per row: what a query's products run on
    /// (see `codes.rs`). Rows longer than the integer sums allow stay as they are.
    pub(super) fn coded(&self) -> Weights {
        if self.inputs > MAX_CODED_INPUTS || self.inputs == 0 {
            return self.clone();
        }
        let blocks = self
            .blocks
            .iter()
            .map(|block| {
                let values = match &block.values {
                    Values::Codes { .. } => block.values.clone(),
                    _ => {
                        let widened = block_values(block, self.inputs);
                        let mut codes = Vec::with_capacity(widened.len());
                        let scales = widened
                            .chunks_exact(self.inputs)
                            .map(|row| super::vectors::quantize(row, &mut codes))
                            .collect();
                        Values::Codes { codes, scales }
                    }
                };
                RowBlock {
                    rows: block.rows,
                    values,
                }
            })
            .collect();
        Weights {
            inputs: self.inputs,
            outputs: self.outputs,
            blocks,
        }
    }

    /// f32 weights from a `[inputs, outputs]` tensor (the layout `x.matmul(w)` takes).
    pub(super) fn from_tensor(tensor: &Tensor) -> Result<Weights, MlError> {
        let (inputs, outputs) = tensor.dims2()?;
        let rows = tensor.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        Weights::from_blocks(inputs, vec![(outputs, Values::Full(rows))])
    }

    /// The weights as an f32 `[inputs, outputs]` tensor (what fine-tuning trains).
    pub(super) fn to_tensor(&self) -> Result<Tensor, MlError> {
        Ok(self.to_row_tensor()?.t()?.contiguous()?)
    }

    /// `x · Wᵀ` for `rows` input rows (`x` is `[rows, inputs]`): `[rows, outputs]`.
    pub(super) fn multiply(&self, x: &[f32], rows: usize) -> Vec<f32> {
        self.multiply_with(x, rows, Kernels::detect())
    }

    fn multiply_with(&self, x: &[f32], rows: usize, kernels: Kernels) -> Vec<f32> {
        debug_assert_eq!(x.len(), rows * self.inputs);
        let mut out = vec![0.0f32; rows * self.outputs];
        let work = rows * self.inputs * self.outputs;
        let any_codes = self.any_codes();
        let coded = |x: &[f32]| any_codes.then(|| CodedInputs::new(x, self.inputs));
        if work < PARALLEL_WORK || rows == 0 {
            let coded = coded(x);
            let input = Input {
                x,
                rows,
                coded: coded.as_ref(),
            };
            self.multiply_columns(kernels, &input, 0..self.outputs, &mut out, self.outputs);
        } else if rows >= 2 * ROWS_PER_TASK {
            // A batch: each task owns a band of rows, all of their outputs.
            out.par_chunks_mut(ROWS_PER_TASK * self.outputs)
                .zip(x.par_chunks(ROWS_PER_TASK * self.inputs))
                .for_each(|(out, x)| {
                    let rows = x.len() / self.inputs;
                    let coded = coded(x);
                    let input = Input {
                        x,
                        rows,
                        coded: coded.as_ref(),
                    };
                    self.multiply_columns(kernels, &input, 0..self.outputs, out, self.outputs);
                });
        } else {
            // Coded once for every task.
            let coded = coded(x);
            let input = Input {
                x,
                rows,
                coded: coded.as_ref(),
            };
            // A query: the outputs are split, each task computing its columns for every row.
            let tasks = rayon::current_num_threads().max(1) * 2;
            let step = self.outputs.div_ceil(tasks).next_multiple_of(4);
            let columns: Vec<(usize, Vec<f32>)> = (0..self.outputs)
                .into_par_iter()
                .step_by(step)
                .map(|start| {
                    let end = (start + step).min(self.outputs);
                    let mut part = vec![0.0f32; rows * (end - start)];
                    self.multiply_columns(kernels, &input, start..end, &mut part, end - start);
                    (start, part)
                })
                .collect();
            for (start, part) in columns {
                let width = part.len() / rows;
                for (row, values) in part.chunks_exact(width).enumerate() {
                    let at = row * self.outputs + start;
                    out[at..at + width].copy_from_slice(values);
                }
            }
        }
        out
    }

    fn any_codes(&self) -> bool {
        self.blocks
            .iter()
            .any(|block| matches!(block.values, Values::Codes { .. }))
    }

    /// `states · Wᵀ` for `[rows, inputs]` states. A query's few rows go through the tiles. A
    /// batch reuses each weight many times, so there the arithmetic dominates: for f16 / f32
    /// weights candle's GEMM (packed, cache-blocked) wins, on weights widened to f32 for the
    /// call (a few percent of its time) and dropped after. Coded weights stay in the integer
    /// tiles, which beat that GEMM by half again at batch 32 (e5 on a Zen 4: 105–118 against
    /// 70–79 texts/s).
    pub(super) fn apply(&self, states: &Tensor) -> Result<Tensor, MlError> {
        if states.dims2()?.0 >= GEMM_ROWS && !self.any_codes() {
            Ok(states.matmul(&self.to_row_tensor()?.t()?)?)
        } else {
            Ok(states.apply_op1_no_bwd(&Multiply(self))?)
        }
    }

    /// The weights as an f32 `[outputs, inputs]` tensor.
    pub(super) fn to_row_tensor(&self) -> Result<Tensor, MlError> {
        let mut rows = vec![0.0f32; self.inputs * self.outputs];
        let mut start = 0;
        for block in &self.blocks {
            let target = &mut rows[start..start + block.rows * self.inputs];
            widen_block(block, self.inputs, target);
            start += block.rows * self.inputs;
        }
        Ok(Tensor::from_vec(
            rows,
            (self.outputs, self.inputs),
            &Device::Cpu,
        )?)
    }

    /// Outputs `columns` of every row into `out` (`[rows, stride]`, column 0 = `columns.start`).
    fn multiply_columns(
        &self,
        kernels: Kernels,
        input: &Input<'_>,
        columns: std::ops::Range<usize>,
        out: &mut [f32],
        stride: usize,
    ) {
        let Input { x, rows, coded } = *input;
        let mut block_start = 0;
        for block in &self.blocks {
            let block_end = block_start + block.rows;
            let start = columns.start.max(block_start);
            let end = columns.end.min(block_end);
            if start < end {
                let operands = Operands {
                    x,
                    rows,
                    inputs: self.inputs,
                    weight_rows: (start - block_start)..(end - block_start),
                };
                let target = Target {
                    out: &mut *out,
                    stride,
                    first_column: start - columns.start,
                };
                match (&block.values, coded) {
                    (Values::Half(bytes), _) => {
                        kernels.float.run(operands, HalfRows(bytes), target)
                    }
                    (Values::Full(values), _) => {
                        kernels.float.run(operands, FullRows(values), target);
                    }
                    (Values::Codes { codes, scales }, Some(coded)) => {
                        kernels
                            .codes
                            .run(&operands, coded, CodeRows { codes, scales }, target)
                    }
                    (Values::Codes { .. }, None) => {
                        unreachable!("multiply_with codes the inputs of coded weights")
                    }
                }
            }
            block_start = block_end;
        }
    }
}

/// A block's values widened to f32 into `target` (`rows × inputs` long).
fn widen_block(block: &RowBlock, inputs: usize, target: &mut [f32]) {
    match &block.values {
        Values::Half(bytes) => pulp::Arch::new().dispatch(|| {
            for (value, pair) in target.iter_mut().zip(bytes.as_chunks::<2>().0) {
                *value = widen(u16::from_le_bytes(*pair));
            }
        }),
        Values::Full(values) => target.copy_from_slice(values),
        Values::Codes { codes, scales } => {
            for ((target, codes), scale) in target
                .chunks_exact_mut(inputs)
                .zip(codes.chunks_exact(inputs))
                .zip(scales)
            {
                for (value, &code) in target.iter_mut().zip(codes) {
                    *value = f32::from(code) * scale;
                }
            }
        }
    }
}

/// A block's values as f32.
fn block_values(block: &RowBlock, inputs: usize) -> Vec<f32> {
    let mut values = vec![0.0f32; block.rows * inputs];
    widen_block(block, inputs, &mut values);
    values
}

/// The input rows of a product, and their codes when a block of the weights is coded.
#[derive(Clone, Copy)]
struct Input<'a> {
    x: &'a [f32],
    rows: usize,
    coded: Option<&'a CodedInputs>,
}

/// The kernels a product runs on: for f16 / f32 weight rows and for coded ones.
#[derive(Clone, Copy, Debug)]
struct Kernels {
    float: Kernel,
    codes: CodeKernel,
}

impl Kernels {
    fn detect() -> Kernels {
        Kernels {
            float: Kernel::detect(),
            codes: CodeKernel::detect(),
        }
    }
}

/// `x · Wᵀ` through the tiles as a candle op (inference only: no backward pass).
struct Multiply<'a>(&'a Weights);

impl CustomOp1 for Multiply<'_> {
    fn name(&self) -> &'static str {
        "kefu-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let values = storage.as_slice::<f32>()?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("kefu-linear needs contiguous inputs");
        };
        let (rows, inputs) = layout.shape().dims2()?;
        if inputs != self.0.inputs {
            candle_core::bail!(
                "kefu-linear: {inputs} inputs, the weights take {}",
                self.0.inputs
            );
        }
        let out = self.0.multiply(&values[start..end], rows);
        Ok((CpuStorage::F32(out), Shape::from((rows, self.0.outputs))))
    }
}

/// What one call multiplies: `rows` input rows of `x` by the block's `weight_rows`.
pub(super) struct Operands<'a> {
    pub(super) x: &'a [f32],
    pub(super) rows: usize,
    pub(super) inputs: usize,
    pub(super) weight_rows: std::ops::Range<usize>,
}

/// Where the products go: `out[r * stride + first_column + j]` for weight row `j` of the call.
pub(super) struct Target<'a> {
    out: &'a mut [f32],
    stride: usize,
    first_column: usize,
}

impl Target<'_> {
    #[inline(always)]
    pub(super) fn put(&mut self, row: usize, column: usize, value: f32) {
        self.out[row * self.stride + self.first_column + column] = value;
    }
}

/// Where weight values come from: rows of `inputs` values, read a chunk at a time.
trait WeightRows<'a>: Copy + Send + Sync {
    /// Sixteen consecutive values as stored.
    type Sixteen: Copy + 'a;
    fn value(self, row: usize, inputs: usize, at: usize) -> f32;
    /// The first `chunks` chunks of sixteen values of `row`.
    fn sixteens(self, row: usize, inputs: usize, chunks: usize) -> &'a [Self::Sixteen];
    /// Where the cache line holding chunk `chunk` of `row` starts, once per line (`None` for
    /// the other chunks of a line and past the block's end).
    fn line_start(self, row: usize, inputs: usize, chunk: usize) -> Option<*const i8>;
    /// Sixteen values widened to f32, in plain Rust.
    fn widen_portable(chunk: &Self::Sixteen) -> [f32; 16];
    /// Sixteen values widened to f32 in one register.
    #[cfg(target_arch = "x86_64")]
    fn widen_avx512(simd: pulp::x86::V4, chunk: &Self::Sixteen) -> __m512;
    /// Sixteen values widened to f32 in two AVX registers.
    #[cfg(target_arch = "x86_64")]
    fn widen_avx2(simd: pulp::x86::V3, chunk: &Self::Sixteen) -> [__m256; 2];
    /// `rows` (and, when borrowed, the rows after them) as f32 values: borrowed when they are
    /// f32 already, else widened into `scratch` (which holds at least `rows.len() * inputs`
    /// values) while the same stretch `fetch_rows_ahead` rows on is fetched into the cache.
    #[cfg(target_arch = "x86_64")]
    fn widened_rows_avx2<'s>(
        self,
        simd: pulp::x86::V3,
        rows: std::ops::Range<usize>,
        inputs: usize,
        fetch_rows_ahead: usize,
        scratch: &'s mut [f32],
    ) -> &'s [f32]
    where
        'a: 's;
}

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m128i, __m256, __m256i, __m512, _MM_HINT_T0};

#[derive(Clone, Copy)]
struct HalfRows<'a>(&'a [u8]);

#[derive(Clone, Copy)]
struct FullRows<'a>(&'a [f32]);

/// f16 bits → f32 without a table or branch: shift exponent and mantissa into place, rebias
/// the exponent with one multiply by 2^112 (which also gets subnormals right), add the sign.
#[inline(always)]
fn widen(bits: u16) -> f32 {
    let bits = u32::from(bits);
    let magnitude = f32::from_bits((bits & 0x7fff) << 13) * f32::from_bits(0x7780_0000);
    f32::from_bits(magnitude.to_bits() | ((bits & 0x8000) << 16))
}

impl<'a> WeightRows<'a> for HalfRows<'a> {
    type Sixteen = [u8; 32];

    #[inline(always)]
    fn value(self, row: usize, inputs: usize, at: usize) -> f32 {
        let at = 2 * (row * inputs + at);
        widen(u16::from_le_bytes([self.0[at], self.0[at + 1]]))
    }

    #[inline(always)]
    fn sixteens(self, row: usize, inputs: usize, chunks: usize) -> &'a [[u8; 32]] {
        self.0[2 * row * inputs..][..chunks * 32]
            .as_chunks::<32>()
            .0
    }

    #[inline(always)]
    fn line_start(self, row: usize, inputs: usize, chunk: usize) -> Option<*const i8> {
        let bytes = self.0.get(2 * row * inputs + 32 * chunk..)?;
        chunk.is_multiple_of(2).then(|| bytes.as_ptr().cast())
    }

    #[inline(always)]
    fn widen_portable(chunk: &[u8; 32]) -> [f32; 16] {
        let mut lanes = [0.0f32; 16];
        for (lane, pair) in lanes.iter_mut().zip(chunk.as_chunks::<2>().0) {
            *lane = widen(u16::from_le_bytes(*pair));
        }
        lanes
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn widen_avx512(simd: pulp::x86::V4, chunk: &[u8; 32]) -> __m512 {
        let halves: __m256i = bytemuck::cast(*chunk);
        simd.avx512f._mm512_cvtph_ps(halves)
    }

    /// `widen` on eight lanes at once. AVX2 has no f16 conversion (F16C is a separate
    /// extension pulp does not wrap), so: sign-extend each half to 32 bits, shift it up by 13,
    /// which puts exponent and mantissa where `widen` puts them and a copy of the sign in bit
    /// 31; clear the other copies of the sign; rebias with the same multiply.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn widen_avx2(simd: pulp::x86::V3, chunk: &[u8; 32]) -> [__m256; 2] {
        let [low, high]: [__m128i; 2] = bytemuck::cast(*chunk);
        [widen_eight(simd, low), widen_eight(simd, high)]
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn widened_rows_avx2<'s>(
        self,
        simd: pulp::x86::V3,
        rows: std::ops::Range<usize>,
        inputs: usize,
        fetch_rows_ahead: usize,
        scratch: &'s mut [f32],
    ) -> &'s [f32]
    where
        'a: 's,
    {
        let start = 2 * rows.start * inputs;
        let bytes = &self.0[start..2 * rows.end * inputs];
        let widened = &mut scratch[..bytes.len() / 2];
        let (chunks, tail) = bytes.as_chunks::<32>();
        let (lanes, lanes_tail) = widened.as_chunks_mut::<16>();
        let ahead = start + 2 * fetch_rows_ahead * inputs;
        for (index, (lanes, chunk)) in lanes.iter_mut().zip(chunks).enumerate() {
            // One fetch per cache line, spread over the widening rather than in a burst.
            if index.is_multiple_of(2)
                && let Some(line) = self.0.get(ahead + 32 * index..)
            {
                simd.sse._mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
            }
            *lanes = bytemuck::cast(Self::widen_avx2(simd, chunk));
        }
        for (lane, pair) in lanes_tail.iter_mut().zip(tail.as_chunks::<2>().0) {
            *lane = widen(u16::from_le_bytes(*pair));
        }
        widened
    }
}

/// Eight halves to f32 (see `HalfRows::widen_avx2`). A function, not a closure: closures
/// (`array::map` included) are not inlined into pulp's target-feature context, and the
/// intrinsics would then run as calls.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn widen_eight(simd: pulp::x86::V3, halves: __m128i) -> __m256 {
    let sign_exponent_mantissa = simd.avx._mm256_set1_epi32(0x8fff_e000_u32 as i32);
    let rebias = simd.avx._mm256_set1_ps(f32::from_bits(0x7780_0000));
    let lanes = simd.avx2._mm256_cvtepi16_epi32(halves);
    let lanes = simd.avx2._mm256_slli_epi32::<13>(lanes);
    let lanes = simd.avx2._mm256_and_si256(lanes, sign_exponent_mantissa);
    simd.avx
        ._mm256_mul_ps(simd.avx._mm256_castsi256_ps(lanes), rebias)
}

impl<'a> WeightRows<'a> for FullRows<'a> {
    type Sixteen = [f32; 16];

    #[inline(always)]
    fn value(self, row: usize, inputs: usize, at: usize) -> f32 {
        self.0[row * inputs + at]
    }

    #[inline(always)]
    fn sixteens(self, row: usize, inputs: usize, chunks: usize) -> &'a [[f32; 16]] {
        self.0[row * inputs..][..chunks * 16].as_chunks::<16>().0
    }

    #[inline(always)]
    fn line_start(self, row: usize, inputs: usize, chunk: usize) -> Option<*const i8> {
        Some(self.0.get(row * inputs + 16 * chunk..)?.as_ptr().cast())
    }

    #[inline(always)]
    fn widen_portable(chunk: &[f32; 16]) -> [f32; 16] {
        *chunk
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn widen_avx512(_simd: pulp::x86::V4, chunk: &[f32; 16]) -> __m512 {
        bytemuck::cast(*chunk)
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn widen_avx2(_simd: pulp::x86::V3, chunk: &[f32; 16]) -> [__m256; 2] {
        bytemuck::cast(*chunk)
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn widened_rows_avx2<'s>(
        self,
        _simd: pulp::x86::V3,
        rows: std::ops::Range<usize>,
        inputs: usize,
        _fetch_rows_ahead: usize,
        _scratch: &'s mut [f32],
    ) -> &'s [f32]
    where
        'a: 's,
    {
        // The rows after the group too, so that the tiles' own fetching reaches past it.
        &self.0[rows.start * inputs..]
    }
}

/// Which code computes the products on this CPU.
#[derive(Clone, Copy, Debug)]
enum Kernel {
    #[cfg(target_arch = "x86_64")]
    Avx512(pulp::x86::V4),
    /// AVX2 + FMA: most x86 CPUs without AVX-512 (AMD before Zen 4, Intel client cores).
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
    /// Plain Rust, compiled for the best instruction set pulp finds (AVX2 + FMA on most x86).
    Portable,
}

impl Kernel {
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V4::try_new() {
            return Kernel::Avx512(simd);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            return Kernel::Avx2(simd);
        }
        Kernel::Portable
    }

    fn run<'a, W: WeightRows<'a>>(self, operands: Operands<'_>, weights: W, target: Target<'_>) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512(simd) => simd.vectorize(Avx512Job {
                simd,
                operands,
                weights,
                target,
            }),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(simd) => simd.vectorize(Avx2Job {
                simd,
                operands,
                weights,
                target,
            }),
            Kernel::Portable => pulp::Arch::new().dispatch(PortableJob {
                operands,
                weights,
                target,
            }),
        }
    }
}

/// Tiles of at most `ROWS` input rows × `COLUMNS` weight rows; the callers cover the edges
/// with narrower tiles.
const ROWS: usize = 4;
const COLUMNS: usize = 4;
/// AVX2 has 16 vector registers of 8 lanes: a 6 × 2 tile keeps its twelve sums and the two
/// widened weight rows in registers and reads the inputs from L1. Measured on a Zen 1 EPYC
/// (17 × 384 rows through e5's 48 products): 6 × 2 and 8 × 1 at ~23 ms on two threads,
/// 4 × 2 at ~38 ms, 3 × 4 at ~52 ms.
const AVX2_ROWS: usize = 6;
const AVX2_COLUMNS: usize = 2;
/// With AVX2 the f16 → f32 widening takes four instructions, as many as the multiply-adds it
/// feeds in a band of four rows; so the AVX2 job widens a group of weight rows once into an
/// f32 buffer of about this many values (16 KiB: it stays in L1 while every band of input rows
/// runs over it) instead of once per band.
const WIDENED_VALUES: usize = 4096;
/// How many tiles ahead a tile fetches its weight rows into the cache.
const FETCH_TILES_AHEAD: usize = 2;

/// Runs `$tile::<$types.., R, C>($args.., first_row, column)` over the whole product: groups of
/// `$columns` weight rows, then single ones, each against bands of at most `$rows` input
/// rows. The bands are of even height (17 rows in bands of 4 are 4, 4, 3, 3, 3, not four of
/// 4 and a lone row): every band widens the weights again, so a thin last band costs as much
/// widening as a full one for a fraction of the arithmetic. A macro rather than a function
/// taking a closure: the tiles must be inlined into the function that enables the CPU's
/// instruction set, and a closure is not.
macro_rules! walk_tiles {
    ($tile:ident, types: [$($w:ty),*], rows: $rows:expr, columns: $columns:expr, $operands:expr, [$($arg:expr),*]) => {{
        let count = $operands.weight_rows.len();
        let mut column = 0;
        while column + $columns <= count {
            walk_tiles!(@bands $tile, [$($w),*], $rows, $columns, $operands, column, [$($arg),*]);
            column += $columns;
        }
        while column < count {
            walk_tiles!(@bands $tile, [$($w),*], $rows, 1, $operands, column, [$($arg),*]);
            column += 1;
        }
    }};
    (@bands $tile:ident, [$($w:ty),*], $rows:expr, $columns:expr, $operands:expr, $column:expr, [$($arg:expr),*]) => {{
        let rows = $operands.rows;
        let bands = rows.div_ceil($rows);
        let mut row = 0;
        for band in 0..bands {
            let height = rows / bands + usize::from(band < rows % bands);
            match height {
                1 => $tile::<$($w,)* 1, { $columns }>($($arg,)* row, $column),
                2 if $rows >= 2 => $tile::<$($w,)* 2, { $columns }>($($arg,)* row, $column),
                3 if $rows >= 3 => $tile::<$($w,)* 3, { $columns }>($($arg,)* row, $column),
                4 if $rows >= 4 => $tile::<$($w,)* 4, { $columns }>($($arg,)* row, $column),
                5 if $rows >= 5 => $tile::<$($w,)* 5, { $columns }>($($arg,)* row, $column),
                6 if $rows >= 6 => $tile::<$($w,)* 6, { $columns }>($($arg,)* row, $column),
                7 if $rows >= 7 => $tile::<$($w,)* 7, { $columns }>($($arg,)* row, $column),
                8 if $rows >= 8 => $tile::<$($w,)* 8, { $columns }>($($arg,)* row, $column),
                // Bands are never higher than `$rows` ≤ 8; a row at a time stays correct.
                _ => {
                    for single in row..row + height {
                        $tile::<$($w,)* 1, { $columns }>($($arg,)* single, $column);
                    }
                }
            }
            row += height;
        }
    }};
}
pub(super) use walk_tiles;

/// A tile's operands in chunks of sixteen values: its `R` input rows and `C` weight rows,
/// up to the last whole chunk (`finish_tile` adds the rest).
struct TileRows<'x, 'w, Sixteen, const R: usize, const C: usize> {
    x: [&'x [[f32; 16]]; R],
    w: [&'w [Sixteen]; C],
    /// The tile's first weight row in the block.
    first_weight: usize,
    chunks: usize,
}

#[inline(always)]
fn tile_rows<'x, 'w, W: WeightRows<'w>, const R: usize, const C: usize>(
    operands: &Operands<'x>,
    weights: W,
    first_row: usize,
    column: usize,
) -> TileRows<'x, 'w, W::Sixteen, R, C> {
    let inputs = operands.inputs;
    let first_weight = operands.weight_rows.start + column;
    let chunks = inputs / 16;
    TileRows {
        x: std::array::from_fn(|r| {
            operands.x[(first_row + r) * inputs..][..chunks * 16]
                .as_chunks::<16>()
                .0
        }),
        w: std::array::from_fn(|c| weights.sixteens(first_weight + c, inputs, chunks)),
        first_weight,
        chunks,
    }
}

/// Writes a tile's products: each of `totals` (the whole chunks' sums) plus the inputs past
/// the last whole chunk.
#[inline(always)]
fn finish_tile<'w, W: WeightRows<'w>, const R: usize, const C: usize>(
    operands: &Operands<'_>,
    weights: W,
    target: &mut Target<'_>,
    first_row: usize,
    column: usize,
    totals: &[[f32; C]; R],
) {
    let inputs = operands.inputs;
    let first_weight = operands.weight_rows.start + column;
    let tail = inputs / 16 * 16;
    for (r, totals) in totals.iter().enumerate() {
        let x = &operands.x[(first_row + r) * inputs..][..inputs];
        for (c, total) in totals.iter().enumerate() {
            let mut total = *total;
            for (at, x) in x.iter().enumerate().skip(tail) {
                total += x * weights.value(first_weight + c, inputs, at);
            }
            target.put(first_row + r, column + c, total);
        }
    }
}

struct PortableJob<'a, W> {
    operands: Operands<'a>,
    weights: W,
    target: Target<'a>,
}

impl<'w, W: WeightRows<'w>> pulp::WithSimd for PortableJob<'_, W> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        let PortableJob {
            operands,
            weights,
            mut target,
        } = self;
        walk_tiles!(portable_tile, types: [W], rows: ROWS, columns: COLUMNS, operands, [&operands, weights, &mut target]);
    }
}

/// `R` input rows × `C` weight rows, accumulated in 16 lanes each, summed at the end.
#[inline(always)]
fn portable_tile<'w, W: WeightRows<'w>, const R: usize, const C: usize>(
    operands: &Operands<'_>,
    weights: W,
    target: &mut Target<'_>,
    first_row: usize,
    column: usize,
) {
    let TileRows { x, w, chunks, .. } = tile_rows::<W, R, C>(operands, weights, first_row, column);
    let mut lanes = [[[0.0f32; 16]; C]; R];
    for chunk in 0..chunks {
        let mut widened = [[0.0f32; 16]; C];
        for (widened, w) in widened.iter_mut().zip(&w) {
            *widened = W::widen_portable(&w[chunk]);
        }
        for (lanes, x) in lanes.iter_mut().zip(&x) {
            let x = &x[chunk];
            for (lanes, w) in lanes.iter_mut().zip(&widened) {
                for lane in 0..16 {
                    lanes[lane] += x[lane] * w[lane];
                }
            }
        }
    }
    let mut totals = [[0.0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            totals[r][c] = lanes[r][c].iter().sum();
        }
    }
    finish_tile(operands, weights, target, first_row, column, &totals);
}

#[cfg(target_arch = "x86_64")]
struct Avx512Job<'a, W> {
    simd: pulp::x86::V4,
    operands: Operands<'a>,
    weights: W,
    target: Target<'a>,
}

#[cfg(target_arch = "x86_64")]
impl<'w, W: WeightRows<'w>> pulp::NullaryFnOnce for Avx512Job<'_, W> {
    type Output = ();

    #[inline(always)]
    fn call(self) -> Self::Output {
        let Avx512Job {
            simd,
            operands,
            weights,
            mut target,
        } = self;
        walk_tiles!(
            avx512_tile,
            types: [W],
            rows: ROWS,
            columns: COLUMNS,
            operands,
            [simd, &operands, weights, &mut target]
        );
    }
}

/// `R` input rows × `C` weight rows in `R × C` registers, summed across lanes at the end.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn avx512_tile<'w, W: WeightRows<'w>, const R: usize, const C: usize>(
    simd: pulp::x86::V4,
    operands: &Operands<'_>,
    weights: W,
    target: &mut Target<'_>,
    first_row: usize,
    column: usize,
) {
    let f = simd.avx512f;
    let TileRows {
        x,
        w,
        first_weight,
        chunks,
    } = tile_rows::<W, R, C>(operands, weights, first_row, column);
    let zero = f._mm512_setzero_ps();
    let mut sums = [[zero; C]; R];
    // The first band of rows also fetches the weight rows a few tiles on into the cache: the
    // hardware prefetcher does not look ahead of the short rows, so each new tile would
    // otherwise wait for memory.
    let fetch_ahead = first_row == 0;
    for chunk in 0..chunks {
        if fetch_ahead {
            for c in 0..C {
                if let Some(line) = weights.line_start(
                    first_weight + FETCH_TILES_AHEAD * C + c,
                    operands.inputs,
                    chunk,
                ) {
                    simd.sse._mm_prefetch::<_MM_HINT_T0>(line);
                }
            }
        }
        let mut widened = [zero; C];
        for c in 0..C {
            widened[c] = W::widen_avx512(simd, &w[c][chunk]);
        }
        for r in 0..R {
            let x: __m512 = bytemuck::cast(x[r][chunk]);
            for c in 0..C {
                sums[r][c] = f._mm512_fmadd_ps(x, widened[c], sums[r][c]);
            }
        }
    }
    let mut totals = [[0.0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            totals[r][c] = f._mm512_reduce_add_ps(sums[r][c]);
        }
    }
    finish_tile(operands, weights, target, first_row, column, &totals);
}

#[cfg(target_arch = "x86_64")]
struct Avx2Job<'a, W> {
    simd: pulp::x86::V3,
    operands: Operands<'a>,
    weights: W,
    target: Target<'a>,
}

#[cfg(target_arch = "x86_64")]
impl<'w, W: WeightRows<'w>> pulp::NullaryFnOnce for Avx2Job<'_, W> {
    type Output = ();

    #[inline(always)]
    fn call(self) -> Self::Output {
        let Avx2Job {
            simd,
            operands,
            weights,
            target,
        } = self;
        let inputs = operands.inputs;
        let group = (WIDENED_VALUES / inputs.max(1))
            .max(1)
            .next_multiple_of(AVX2_COLUMNS);
        let mut scratch = vec![0.0f32; group * inputs];
        let mut start = operands.weight_rows.start;
        while start < operands.weight_rows.end {
            let end = (start + group).min(operands.weight_rows.end);
            let rows = FullRows(weights.widened_rows_avx2(
                simd,
                start..end,
                inputs,
                FETCH_TILES_AHEAD * group,
                &mut scratch,
            ));
            let group_operands = Operands {
                x: operands.x,
                rows: operands.rows,
                inputs,
                weight_rows: 0..end - start,
            };
            let mut group_target = Target {
                out: &mut *target.out,
                stride: target.stride,
                first_column: target.first_column + (start - operands.weight_rows.start),
            };
            walk_tiles!(
                avx2_tile,
                types: [FullRows<'_>],
                rows: AVX2_ROWS,
                columns: AVX2_COLUMNS,
                group_operands,
                [simd, &group_operands, rows, &mut group_target]
            );
            start = end;
        }
    }
}

/// `avx512_tile` in 8-lane registers, on f32 rows: each chunk of sixteen inputs is two
/// halves, both accumulated into the same `R × C` sums.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn avx2_tile<'w, W: WeightRows<'w>, const R: usize, const C: usize>(
    simd: pulp::x86::V3,
    operands: &Operands<'_>,
    weights: W,
    target: &mut Target<'_>,
    first_row: usize,
    column: usize,
) {
    let TileRows {
        x,
        w,
        first_weight,
        chunks,
    } = tile_rows::<W, R, C>(operands, weights, first_row, column);
    let zero = simd.avx._mm256_setzero_ps();
    let mut sums = [[zero; C]; R];
    // As in `avx512_tile`; on widened rows (in L1 already) the fetches end at the group's end.
    let fetch_ahead = first_row == 0;
    for chunk in 0..chunks {
        if fetch_ahead {
            for c in 0..C {
                if let Some(line) = weights.line_start(
                    first_weight + FETCH_TILES_AHEAD * C + c,
                    operands.inputs,
                    chunk,
                ) {
                    simd.sse._mm_prefetch::<_MM_HINT_T0>(line);
                }
            }
        }
        let mut widened = [[zero; 2]; C];
        for c in 0..C {
            widened[c] = W::widen_avx2(simd, &w[c][chunk]);
        }
        for r in 0..R {
            let [low, high]: [__m256; 2] = bytemuck::cast(x[r][chunk]);
            for c in 0..C {
                let sum = simd.fma._mm256_fmadd_ps(low, widened[c][0], sums[r][c]);
                sums[r][c] = simd.fma._mm256_fmadd_ps(high, widened[c][1], sum);
            }
        }
    }
    let mut totals = [[0.0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            let lanes: [f32; 8] = bytemuck::cast(sums[r][c]);
            totals[r][c] = lanes.iter().sum();
        }
    }
    finish_tile(operands, weights, target, first_row, column, &totals);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values_of(tensor: &Tensor) -> Vec<f32> {
        tensor
            .flatten_all()
            .and_then(|flat| flat.to_vec1::<f32>())
            .expect("tensor values")
    }

    fn reference(x: &[f32], rows: usize, weights: &[f32], outputs: usize) -> Vec<f32> {
        let inputs = x.len() / rows;
        let mut out = vec![0.0f32; rows * outputs];
        for r in 0..rows {
            for o in 0..outputs {
                out[r * outputs + o] = (0..inputs)
                    .map(|i| f64::from(x[r * inputs + i]) * f64::from(weights[o * inputs + i]))
                    .sum::<f64>() as f32;
            }
        }
        out
    }

    fn pseudo_random(count: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn f16_widening_is_exact() {
        for bits in 0..=u16::MAX {
            let expected = half::f16::from_bits(bits);
            if expected.is_finite() {
                assert_eq!(widen(bits), expected.to_f32(), "bits {bits:#06x}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_widening_is_exact() {
        // Only CPUs with AVX2 run this kernel; on the others there is nothing to check.
        let Some(simd) = pulp::x86::V3::try_new() else {
            return;
        };
        let finite: Vec<half::f16> = (0..=u16::MAX)
            .map(half::f16::from_bits)
            .filter(|h| h.is_finite())
            .collect();
        // Rows of 37 values: whole chunks of sixteen and a tail.
        let inputs = 37;
        let rows = finite.len() / inputs;
        let bytes: Vec<u8> = finite[..rows * inputs]
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect();
        let mut scratch = vec![0.0f32; rows * inputs];
        let widened = HalfRows(&bytes).widened_rows_avx2(simd, 0..rows, inputs, 4, &mut scratch);
        for (got, expected) in widened.iter().zip(&finite) {
            assert_eq!(got.to_bits(), expected.to_f32().to_bits(), "{expected:?}");
        }
    }

    #[test]
    fn every_kernel_and_split_matches_a_plain_product() {
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            kernels.extend(pulp::x86::V3::try_new().map(Kernel::Avx2));
            kernels.extend(pulp::x86::V4::try_new().map(Kernel::Avx512));
        }
        // Shapes with edges everywhere: rows and outputs not multiples of the tile, inputs
        // not a multiple of the vector width, a batch big enough to split by rows, a query
        // big enough to split by columns.
        // Rows from 1 to 9 give every band height the kernels use.
        for (rows, inputs, outputs) in [
            (1, 8, 1),
            (2, 16, 3),
            (3, 40, 7),
            (4, 33, 5),
            (5, 37, 9),
            (9, 48, 10),
            (17, 384, 1152),
            (70, 64, 130),
        ] {
            let x = pseudo_random(rows * inputs, 1);
            let full = pseudo_random(outputs * inputs, 2);
            let halves: Vec<half::f16> = full.iter().map(|&v| half::f16::from_f32(v)).collect();
            let rounded: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
            let bytes: Vec<u8> = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
            let split = outputs / 3;
            let half_weights = Weights::from_blocks(
                inputs,
                vec![
                    (
                        split,
                        Values::Half(Cow::Owned(bytes[..split * inputs * 2].to_vec())),
                    ),
                    (
                        outputs - split,
                        Values::Half(Cow::Owned(bytes[split * inputs * 2..].to_vec())),
                    ),
                ],
            )
            .expect("half weights");
            let full_weights =
                Weights::from_blocks(inputs, vec![(outputs, Values::Full(full.clone()))])
                    .expect("full weights");
            let expected_half = reference(&x, rows, &rounded, outputs);
            let expected_full = reference(&x, rows, &full, outputs);
            for kernel in &kernels {
                for (weights, expected) in [
                    (&half_weights, &expected_half),
                    (&full_weights, &expected_full),
                ] {
                    let kernels = Kernels {
                        float: *kernel,
                        codes: CodeKernel::detect(),
                    };
                    let got = weights.multiply_with(&x, rows, kernels);
                    for (index, (got, expected)) in got.iter().zip(expected.iter()).enumerate() {
                        assert!(
                            (got - expected).abs() < 1e-4,
                            "{kernel:?} {rows}×{inputs}×{outputs} at {index}: {got} vs {expected}"
                        );
                    }
                }
            }
        }
    }

    /// The integer kernels compute exactly the product of the codes (up to f32 rounding of the
    /// scaled sums), and that product stays within the rounding of both operands of the
    /// exact one.
    #[test]
    fn coded_weights_multiply_their_codes_on_every_kernel() {
        for (rows, inputs, outputs) in [
            (1, 8, 1),
            (2, 32, 3),
            (3, 40, 7),
            (4, 64, 5),
            (5, 97, 9),
            (9, 96, 10),
            (17, 384, 1152),
            (70, 64, 130),
        ] {
            let x = pseudo_random(rows * inputs, 6);
            let full = pseudo_random(outputs * inputs, 7);
            let split = outputs / 3;
            let weights = Weights::from_blocks(
                inputs,
                vec![
                    (split, Values::Full(full[..split * inputs].to_vec())),
                    (
                        outputs - split,
                        Values::Full(full[split * inputs..].to_vec()),
                    ),
                ],
            )
            .expect("weights")
            .coded();
            let decoded_weights = values_of(&weights.to_row_tensor().expect("widened"));
            let decoded_x = CodedInputs::new(&x, inputs).decoded();
            let of_codes = reference(&decoded_x, rows, &decoded_weights, outputs);
            let exact = reference(&x, rows, &full, outputs);
            for codes in CodeKernel::available() {
                let kernels = Kernels {
                    float: Kernel::detect(),
                    codes,
                };
                let got = weights.multiply_with(&x, rows, kernels);
                for (index, got) in got.iter().enumerate() {
                    let (row, output) = (index / outputs, index % outputs);
                    let x = &x[row * inputs..][..inputs];
                    let w = &full[output * inputs..][..inputs];
                    let largest =
                        |values: &[f32]| values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    // Each code is within half a step of its value.
                    let bound = x.iter().map(|v| v.abs()).sum::<f32>() * largest(w) / 254.0
                        + w.iter().map(|v| v.abs()).sum::<f32>() * largest(x) / 65534.0;
                    assert!(
                        (got - of_codes[index]).abs() < 1e-4,
                        "{codes:?} {rows}×{inputs}×{outputs} at {index}: {got} vs {}",
                        of_codes[index]
                    );
                    assert!(
                        (got - exact[index]).abs() <= bound * 1.01 + 1e-6,
                        "{codes:?} at {index}: {got} vs exact {} (bound {bound})",
                        exact[index]
                    );
                }
            }
        }
    }

    #[test]
    fn a_zero_row_of_inputs_or_weights_gives_zeros() {
        let inputs = 64;
        let mut x = pseudo_random(2 * inputs, 8);
        x[..inputs].fill(0.0);
        let mut full = pseudo_random(3 * inputs, 9);
        full[inputs..2 * inputs].fill(0.0);
        let weights = Weights::from_blocks(inputs, vec![(3, Values::Full(full))])
            .expect("weights")
            .coded();
        let got = weights.multiply(&x, 2);
        assert_eq!(&got[..3], &[0.0; 3]);
        assert_eq!(got[4], 0.0);
        assert!(got[3] != 0.0 && got[5] != 0.0);
    }

    #[test]
    fn tensors_round_trip_in_the_matmul_layout() {
        let values = pseudo_random(6, 3);
        let tensor = Tensor::from_vec(values.clone(), (2, 3), &Device::Cpu).expect("tensor");
        let weights = Weights::from_tensor(&tensor).expect("weights");
        assert_eq!((weights.inputs, weights.outputs), (2, 3));
        let back = weights.to_tensor().expect("tensor");
        assert_eq!(values_of(&back), values);
        // x · W through the kernel equals candle's matmul.
        let x = Tensor::from_vec(vec![1.0f32, 2.0], (1, 2), &Device::Cpu).expect("x");
        let expected = values_of(&x.matmul(&tensor).expect("matmul"));
        let got = weights.multiply(&[1.0, 2.0], 1);
        for (got, expected) in got.iter().zip(&expected) {
            assert!((got - expected).abs() < 1e-6);
        }
    }

    #[test]
    fn batches_through_the_gemm_match_the_tiles() {
        let (rows, inputs, outputs) = (GEMM_ROWS + 5, 40, 33);
        let x = pseudo_random(rows * inputs, 4);
        let full = pseudo_random(outputs * inputs, 5);
        let bytes: Vec<u8> = full
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        let weights =
            Weights::from_blocks(inputs, vec![(outputs, Values::Half(Cow::Owned(bytes)))])
                .expect("weights");
        let states = Tensor::from_slice(&x, (rows, inputs), &Device::Cpu).expect("states");
        let by_gemm = weights.apply(&states).expect("gemm");
        assert_eq!(by_gemm.dims(), [rows, outputs]);
        let by_gemm = values_of(&by_gemm);
        let by_tiles = weights.multiply(&x, rows);
        for (gemm, tiles) in by_gemm.iter().zip(&by_tiles) {
            assert!((gemm - tiles).abs() < 1e-4, "{gemm} vs {tiles}");
        }
        let query = states.narrow(0, 0, 3).expect("three rows");
        let by_tiles = weights.apply(&query).expect("tiles");
        let expected = weights.multiply(&x[..3 * inputs], 3);
        assert_eq!(values_of(&by_tiles), expected);
    }

    #[test]
    fn coded_batches_stay_in_the_integer_tiles() {
        let (rows, inputs, outputs) = (GEMM_ROWS + 5, 64, 96);
        let x = pseudo_random(rows * inputs, 8);
        let weights = Weights::from_blocks(
            inputs,
            vec![(outputs, Values::Full(pseudo_random(outputs * inputs, 9)))],
        )
        .expect("weights")
        .coded();
        let states = Tensor::from_slice(&x, (rows, inputs), &Device::Cpu).expect("states");
        let applied = values_of(&weights.apply(&states).expect("applied"));
        // Bit for bit the tiles' sums: candle's GEMM on the decoded weights would round
        // differently.
        assert_eq!(applied, weights.multiply(&x, rows));
    }
}
