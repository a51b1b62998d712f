//! `CodeRows`: a linear layer's weight rows as i8 codes with one f32 scale per row, and the
//! integer products a query's few input rows take with them.
//!
//! Per-row i8 weights halve what a query reads against f16 (e5's twelve layers: 21 MB instead
//! of 42 MB, which fits the L3 of most server CPUs) and let the CPU's integer multiply-adds do
//! twice the work of f32 FMAs per instruction. The input rows are coded as i16 with a scale per
//! row for the call (a relative error of 1.5e-5 of the row's largest value: the weights' own
//! rounding is what moves the result), so each 32-input chunk is one `vpmaddwd` per weight row
//! and input row, folded into `vpdpwssd` where the CPU has AVX-512 VNNI.

#[cfg(target_arch = "x86_64")]
use pulp::x86::V4;

use super::linear::{Operands, Target, walk_tiles};

/// The largest i16 code of an input: ±32767, so that the sign flips stay symmetric.
const INPUT_CODE_MAX: f32 = 32767.0;

/// Inputs per chunk: one 512-bit register of i16.
const CHUNK: usize = 32;

/// Longest row the products take: each of the 16 i32 lanes adds two products of at most
/// 32767 · 127 per chunk, so after `inputs / 32` chunks a lane stays below 2³¹ up to 8,256
/// inputs. Longer rows are left in f16 / f32.
pub(super) const MAX_CODED_INPUTS: usize = 8192;

/// How many tiles ahead a tile fetches its weight rows into the cache (as the f16 tiles do).
const FETCH_TILES_AHEAD: usize = 2;

/// Tiles of at most `ROWS` input rows × `COLUMNS` weight rows: sixteen sums, four widened
/// weight rows and an input row in 32 registers.
const ROWS: usize = 4;
const COLUMNS: usize = 4;

/// Weight rows as codes, `inputs` per row, and each row's scale.
#[derive(Clone, Copy)]
pub(super) struct CodeRows<'a> {
    pub(super) codes: &'a [i8],
    pub(super) scales: &'a [f32],
}

/// Input rows as i16 codes with a scale each: `value ≈ code · scale`.
pub(super) struct CodedInputs {
    codes: Vec<i16>,
    scales: Vec<f32>,
}

impl CodedInputs {
    /// Codes `rows` rows of `x` (each `inputs` long) against each row's largest magnitude.
    pub(super) fn new(x: &[f32], inputs: usize) -> CodedInputs {
        let inputs = inputs.max(1);
        let mut codes = vec![0i16; x.len() / inputs * inputs];
        let mut scales = vec![0.0f32; x.len() / inputs];
        // Vectorised for the CPU: this runs on every product's inputs (`round_ties_even` is
        // one instruction where `round` is a library call).
        pulp::Arch::new().dispatch(|| {
            for ((row, codes), scale) in x
                .chunks_exact(inputs)
                .zip(codes.chunks_exact_mut(inputs))
                .zip(&mut scales)
            {
                let largest = row
                    .iter()
                    .fold(0.0f32, |largest, value| largest.max(value.abs()));
                if largest == 0.0 || !largest.is_finite() {
                    continue;
                }
                *scale = largest / INPUT_CODE_MAX;
                let inverse = INPUT_CODE_MAX / largest;
                for (code, value) in codes.iter_mut().zip(row) {
                    #[allow(clippy::cast_possible_truncation)] // within ±32767 by the scale
                    let coded = (value * inverse).round_ties_even() as i16;
                    *code = coded;
                }
            }
        });
        CodedInputs { codes, scales }
    }

    /// The values the codes stand for.
    #[cfg(test)]
    pub(super) fn decoded(&self) -> Vec<f32> {
        let inputs = self.codes.len() / self.scales.len().max(1);
        self.codes
            .chunks_exact(inputs.max(1))
            .zip(&self.scales)
            .flat_map(|(codes, &scale)| codes.iter().map(move |&code| f32::from(code) * scale))
            .collect()
    }
}

/// Which code computes the integer products on this CPU.
#[derive(Clone, Copy, Debug)]
pub(super) enum CodeKernel {
    /// AVX-512 with VNNI (Intel since Cascade Lake, AMD since Zen 4): multiply and add fused.
    #[cfg(target_arch = "x86_64")]
    Vnni(V4, V4Vnni),
    #[cfg(target_arch = "x86_64")]
    Avx512(V4),
    /// Plain Rust in the pairwise form the compiler turns into `pmaddwd` (AVX2, SSE2, NEON's
    /// equivalents), compiled for the best instruction set pulp finds.
    Portable,
}

#[cfg(target_arch = "x86_64")]
pulp::simd_type! {
    /// pulp's AVX-512 level plus VNNI, so that the compiler may fuse each `vpmaddwd` with the
    /// add after it into one `vpdpwssd`.
    pub(super) struct V4Vnni {
        pub sse: "sse",
        pub sse2: "sse2",
        pub fxsr: "fxsr",
        pub sse3: "sse3",
        pub ssse3: "ssse3",
        pub sse4_1: "sse4.1",
        pub sse4_2: "sse4.2",
        pub popcnt: "popcnt",
        pub avx: "avx",
        pub avx2: "avx2",
        pub bmi1: "bmi1",
        pub bmi2: "bmi2",
        pub fma: "fma",
        pub lzcnt: "lzcnt",
        pub avx512f: "avx512f",
        pub avx512bw: "avx512bw",
        pub avx512cd: "avx512cd",
        pub avx512dq: "avx512dq",
        pub avx512vl: "avx512vl",
        pub avx512vnni: "avx512vnni",
    }
}

impl CodeKernel {
    pub(super) fn detect() -> CodeKernel {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = V4::try_new() {
            return match V4Vnni::try_new() {
                Some(vnni) => CodeKernel::Vnni(simd, vnni),
                None => CodeKernel::Avx512(simd),
            };
        }
        CodeKernel::Portable
    }

    /// Every kernel this CPU can run (for the tests).
    #[cfg(test)]
    pub(super) fn available() -> Vec<CodeKernel> {
        let mut kernels = vec![CodeKernel::Portable];
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = V4::try_new() {
            kernels.push(CodeKernel::Avx512(simd));
            kernels.extend(V4Vnni::try_new().map(|vnni| CodeKernel::Vnni(simd, vnni)));
        }
        kernels
    }

    /// The products of `operands.x` (coded as `inputs`) with `weights`' rows
    /// `operands.weight_rows`, into `target`.
    pub(super) fn run(
        self,
        operands: &Operands<'_>,
        inputs: &CodedInputs,
        weights: CodeRows<'_>,
        target: Target<'_>,
    ) {
        let job = Job {
            operands,
            inputs,
            weights,
            target,
        };
        match self {
            #[cfg(target_arch = "x86_64")]
            CodeKernel::Vnni(simd, vnni) => vnni.vectorize(Avx512Job { simd, job }),
            #[cfg(target_arch = "x86_64")]
            CodeKernel::Avx512(simd) => simd.vectorize(Avx512Job { simd, job }),
            CodeKernel::Portable => pulp::Arch::new().dispatch(PortableJob(job)),
        }
    }
}

struct Job<'a> {
    operands: &'a Operands<'a>,
    inputs: &'a CodedInputs,
    weights: CodeRows<'a>,
    target: Target<'a>,
}

/// A tile's operands in whole chunks: its `R` input rows and `C` weight rows.
struct Tile<'a, const R: usize, const C: usize> {
    x: [&'a [[i16; CHUNK]]; R],
    w: [&'a [[i8; CHUNK]]; C],
    first_weight: usize,
    chunks: usize,
}

impl Job<'_> {
    #[inline(always)]
    fn tile<const R: usize, const C: usize>(
        &self,
        first_row: usize,
        column: usize,
    ) -> Tile<'_, R, C> {
        let inputs = self.operands.inputs;
        let chunks = inputs / CHUNK;
        let first_weight = self.operands.weight_rows.start + column;
        Tile {
            x: std::array::from_fn(|r| {
                self.inputs.codes[(first_row + r) * inputs..][..chunks * CHUNK]
                    .as_chunks::<CHUNK>()
                    .0
            }),
            w: std::array::from_fn(|c| {
                self.weights.codes[(first_weight + c) * inputs..][..chunks * CHUNK]
                    .as_chunks::<CHUNK>()
                    .0
            }),
            first_weight,
            chunks,
        }
    }

    /// Adds the inputs past the last whole chunk to the tile's integer sums and writes the
    /// scaled products.
    #[inline(always)]
    fn finish<const R: usize, const C: usize>(
        &mut self,
        first_row: usize,
        column: usize,
        totals: [[f32; C]; R],
    ) {
        let inputs = self.operands.inputs;
        let first_weight = self.operands.weight_rows.start + column;
        let tail = inputs / CHUNK * CHUNK;
        for (r, totals) in totals.iter().enumerate() {
            let row = first_row + r;
            let x = &self.inputs.codes[row * inputs..][..inputs];
            for (c, total) in totals.iter().enumerate() {
                let weight = first_weight + c;
                let w = &self.weights.codes[weight * inputs..][..inputs];
                let rest: i32 = x[tail..]
                    .iter()
                    .zip(&w[tail..])
                    .map(|(&x, &w)| i32::from(x) * i32::from(w))
                    .sum();
                let scale = self.inputs.scales[row] * self.weights.scales[weight];
                #[allow(clippy::cast_precision_loss)] // the sums are f32 already
                let value = (total + rest as f32) * scale;
                self.target.put(row, column + c, value);
            }
        }
    }
}

struct PortableJob<'a>(Job<'a>);

impl pulp::WithSimd for PortableJob<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        let mut job = self.0;
        walk_tiles!(portable_tile, types: [], rows: ROWS, columns: COLUMNS, job.operands, [&mut job]);
    }
}

/// `R × C` sums of 16 i32 lanes, each lane adding the products of a pair of neighbouring
/// inputs: the shape of `pmaddwd`.
#[inline(always)]
fn portable_tile<const R: usize, const C: usize>(
    job: &mut Job<'_>,
    first_row: usize,
    column: usize,
) {
    let Tile { x, w, chunks, .. } = job.tile::<R, C>(first_row, column);
    let mut lanes = [[[0i32; CHUNK / 2]; C]; R];
    for chunk in 0..chunks {
        for (lanes, x) in lanes.iter_mut().zip(&x) {
            let x = &x[chunk];
            for (lanes, w) in lanes.iter_mut().zip(&w) {
                let w = &w[chunk];
                for lane in 0..CHUNK / 2 {
                    lanes[lane] += i32::from(x[2 * lane]) * i32::from(w[2 * lane])
                        + i32::from(x[2 * lane + 1]) * i32::from(w[2 * lane + 1]);
                }
            }
        }
    }
    let mut totals = [[0.0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            #[allow(clippy::cast_precision_loss)] // summed as f32: the total may pass i32
            let total = lanes[r][c].iter().map(|&lane| lane as f32).sum();
            totals[r][c] = total;
        }
    }
    job.finish(first_row, column, totals);
}

#[cfg(target_arch = "x86_64")]
struct Avx512Job<'a> {
    simd: V4,
    job: Job<'a>,
}

#[cfg(target_arch = "x86_64")]
impl pulp::NullaryFnOnce for Avx512Job<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) -> Self::Output {
        let Avx512Job { simd, mut job } = self;
        walk_tiles!(avx512_tile, types: [], rows: ROWS, columns: COLUMNS, job.operands, [simd, &mut job]);
    }
}

/// `R` input rows × `C` weight rows in `R × C` registers of 16 i32 sums.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn avx512_tile<const R: usize, const C: usize>(
    simd: V4,
    job: &mut Job<'_>,
    first_row: usize,
    column: usize,
) {
    use std::arch::x86_64::{__m256i, __m512i, _MM_HINT_T0};
    let (f, bw) = (simd.avx512f, simd.avx512bw);
    let Tile {
        x,
        w,
        first_weight,
        chunks,
    } = job.tile::<R, C>(first_row, column);
    let zero = f._mm512_setzero_si512();
    let mut sums = [[zero; C]; R];
    // The first band of rows also fetches the weight rows a few tiles on, a cache line (two
    // chunks) at a time: the rows are too short for the hardware prefetcher.
    let inputs = job.operands.inputs;
    let ahead = (first_weight + FETCH_TILES_AHEAD * C) * inputs;
    let fetch_ahead = first_row == 0;
    for chunk in 0..chunks {
        if fetch_ahead && chunk.is_multiple_of(2) {
            for c in 0..C {
                if let Some(line) = job.weights.codes.get(ahead + c * inputs + chunk * CHUNK..) {
                    simd.sse._mm_prefetch::<_MM_HINT_T0>(line.as_ptr());
                }
            }
        }
        let mut widened = [zero; C];
        for c in 0..C {
            let codes: __m256i = bytemuck::cast(w[c][chunk]);
            widened[c] = bw._mm512_cvtepi8_epi16(codes);
        }
        for r in 0..R {
            let x: __m512i = bytemuck::cast(x[r][chunk]);
            for c in 0..C {
                sums[r][c] = f._mm512_add_epi32(sums[r][c], bw._mm512_madd_epi16(x, widened[c]));
            }
        }
    }
    let mut totals = [[0.0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            totals[r][c] = f._mm512_reduce_add_ps(f._mm512_cvtepi32_ps(sums[r][c]));
        }
    }
    job.finish(first_row, column, totals);
}
