//! `VectorSet`: unit vectors held in one matrix for exact cosine search (a scan of every
//! row), each row tagged with the item it belongs to.
//!
//! A search reads every row, so its time is the time to stream the matrix from memory: at
//! 60,000 phrases (a 10,000-entry knowledge base) f32 rows were 91 MB per message and f16
//! rows 46 MB. The rows are kept as i8 codes with one scale each (23 MB), and the query is
//! coded the same way, so a similarity is an integer dot product the compiler vectorises.
//! With a scale per vector, a code is off by at most 1/254 of the vector's largest component;
//! over 384 dimensions a similarity moves by about 5e-4 (f16 rows: about 1e-3), far below
//! what separates answers.

use rayon::prelude::*;

use super::MlError;

/// Codes per task below which a search runs on the calling thread (about 100 µs of work).
const PARALLEL_CODES: usize = 1 << 20;
/// The largest code: symmetric, so a product of two codes fits in an i16.
const CODE_MAX: f32 = 127.0;

/// Rows of one dimension; several rows may share an owner (an entry's question and variants).
#[derive(Debug)]
pub struct VectorSet<Owner> {
    /// `owners.len()` rows of `dimension` codes, row after row.
    codes: Vec<i8>,
    /// What one code step of each row is worth.
    scales: Vec<f32>,
    owners: Vec<Owner>,
    /// Distinct owners (exact when an owner's rows are adjacent, as callers give them).
    owner_count: usize,
    dimension: usize,
}

/// One owner's best match.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatch<Owner> {
    pub owner: Owner,
    /// Cosine similarity of the owner's closest row, in [-1, 1].
    pub similarity: f32,
    /// Which of the rows matched (index into the rows given to `new`).
    pub row: usize,
}

impl<Owner: Clone + PartialEq> VectorSet<Owner> {
    pub fn new(rows: Vec<(Owner, Vec<f32>)>, dimension: usize) -> Result<Self, MlError> {
        if let Some((_, vector)) = rows.iter().find(|(_, vector)| vector.len() != dimension) {
            return Err(MlError::Training(format!(
                "a vector has {} dimensions; the set has {dimension}",
                vector.len()
            )));
        }
        let count = rows.len();
        let mut codes = Vec::with_capacity(count * dimension);
        let mut scales = Vec::with_capacity(count);
        let mut owners = Vec::with_capacity(count);
        for (owner, vector) in rows {
            owners.push(owner);
            scales.push(quantize(&vector, &mut codes));
        }
        VectorSet::from_codes(codes, scales, owners, dimension)
    }

    /// A set of rows already coded: by `new`, or read back from what `codes_of` gave (the
    /// same rows, bit for bit, without coding again).
    pub(super) fn from_codes(
        codes: Vec<i8>,
        scales: Vec<f32>,
        owners: Vec<Owner>,
        dimension: usize,
    ) -> Result<Self, MlError> {
        if scales.len() != owners.len() || codes.len() != owners.len() * dimension {
            return Err(MlError::Training(format!(
                "{} codes and {} scales do not make {} rows of {dimension}",
                codes.len(),
                scales.len(),
                owners.len()
            )));
        }
        let owner_count = usize::from(!owners.is_empty())
            + owners.windows(2).filter(|pair| pair[0] != pair[1]).count();
        Ok(VectorSet {
            codes,
            scales,
            owners,
            owner_count,
            dimension,
        })
    }

    /// The rows as stored: codes row after row, each row's scale, and its owner.
    pub(super) fn codes_of(&self) -> (&[i8], &[f32], &[Owner]) {
        (&self.codes, &self.scales, &self.owners)
    }

    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// The `limit` owners closest to `query`, best first, one match per owner.
    pub fn nearest(&self, query: &[f32], limit: usize) -> Result<Vec<VectorMatch<Owner>>, MlError> {
        if self.owners.is_empty() {
            return Ok(Vec::new());
        }
        if query.len() != self.dimension {
            return Err(MlError::Training(format!(
                "the query has {} dimensions; the set has {}",
                query.len(),
                self.dimension
            )));
        }
        let scores = self.similarities(query);
        // Owners have a handful of rows each, so the best `limit` owners are almost always
        // among the best few `limit` rows: partition those out instead of sorting everything.
        let mut matches = self.best_owners(&scores, limit, limit.saturating_mul(16));
        if matches.len() < limit.min(self.owner_count) {
            matches = self.best_owners(&scores, limit, scores.len());
        }
        Ok(matches)
    }

    /// The `limit` rows closest to `query`, best first, several per owner if they are.
    pub(super) fn nearest_rows(
        &self,
        query: &[f32],
        limit: usize,
    ) -> Result<Vec<VectorMatch<Owner>>, MlError> {
        if query.len() != self.dimension {
            return Err(MlError::Training(format!(
                "the query has {} dimensions; the set has {}",
                query.len(),
                self.dimension
            )));
        }
        let scores = self.similarities(query);
        let mut order: Vec<usize> = (0..scores.len()).collect();
        let descending = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]);
        if limit > 0 && limit < order.len() {
            order.select_nth_unstable_by(limit - 1, descending);
        }
        order.truncate(limit);
        order.sort_unstable_by(descending);
        Ok(order
            .into_iter()
            .map(|row| VectorMatch {
                owner: self.owners[row].clone(),
                similarity: scores[row],
                row,
            })
            .collect())
    }

    /// Every row's similarity to `query`.
    fn similarities(&self, query: &[f32]) -> Vec<f32> {
        let mut query_codes = Vec::with_capacity(self.dimension);
        let query_scale = quantize(query, &mut query_codes);
        let mut similarities = vec![0.0f32; self.owners.len()];
        let dimension = self.dimension;
        let score = |similarities: &mut [f32], codes: &[i8], scales: &[f32]| {
            // Compiled for the best instruction set the CPU has (AVX-512, AVX2, …).
            pulp::Arch::new().dispatch(|| {
                for ((similarity, row), scale) in similarities
                    .iter_mut()
                    .zip(codes.chunks_exact(dimension))
                    .zip(scales)
                {
                    #[allow(clippy::cast_precision_loss)] // |dot| ≤ 127² × dimension < 2²⁴
                    let dot = code_dot(row, &query_codes) as f32;
                    *similarity = dot * scale * query_scale;
                }
            });
        };
        let tasks = rayon::current_num_threads().max(1) * 2;
        let rows_per_task = self.owners.len().div_ceil(tasks).max(1);
        if self.codes.len() < 2 * PARALLEL_CODES {
            score(&mut similarities, &self.codes, &self.scales);
        } else {
            similarities
                .par_chunks_mut(rows_per_task)
                .zip(self.codes.par_chunks(rows_per_task * self.dimension))
                .zip(self.scales.par_chunks(rows_per_task))
                .for_each(|((similarities, codes), scales)| score(similarities, codes, scales));
        }
        similarities
    }

    fn best_owners(&self, scores: &[f32], limit: usize, rows: usize) -> Vec<VectorMatch<Owner>> {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        let descending = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]);
        if rows < order.len() && rows > 0 {
            order.select_nth_unstable_by(rows - 1, descending);
            order.truncate(rows);
        }
        order.sort_unstable_by(descending);
        let mut matches: Vec<VectorMatch<Owner>> = Vec::with_capacity(limit);
        for row in order {
            if matches.len() >= limit {
                break;
            }
            let owner = &self.owners[row];
            if matches.iter().all(|found| &found.owner != owner) {
                matches.push(VectorMatch {
                    owner: owner.clone(),
                    similarity: scores[row],
                    row,
                });
            }
        }
        matches
    }
}

/// Appends `vector`'s codes to `codes` and returns the scale that turns them back into
/// values (0 for a zero vector, whose similarities are then 0).
pub(super) fn quantize(vector: &[f32], codes: &mut Vec<i8>) -> f32 {
    let largest = vector
        .iter()
        .map(|value| value.abs())
        .filter(|value| value.is_finite())
        .fold(0.0f32, f32::max);
    if largest == 0.0 {
        codes.extend(std::iter::repeat_n(0, vector.len()));
        return 0.0;
    }
    let scale = largest / CODE_MAX;
    codes.extend(vector.iter().map(|value| {
        #[allow(clippy::cast_possible_truncation)] // clamped to the i8 range first
        let code = (value / scale).round().clamp(-CODE_MAX, CODE_MAX) as i8;
        code
    }));
    scale
}

/// Codes summed side by side in `code_dot`: measured on AVX-512, 32 lanes scan 60,000 rows
/// in 1.5 ms where a plain sum took 4 ms (the compiler kept one dependent chain), 16 lanes
/// 2.2 ms and 64 lanes 4.4 ms (spilled).
const CODE_LANES: usize = 32;

/// Σ a·b in integers: exact, so the lanes may be summed in any order.
#[inline(always)]
fn code_dot(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0i32; CODE_LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(CODE_LANES), b.chunks_exact(CODE_LANES));
    let tail: i32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(&a, &b)| i32::from(i16::from(a) * i16::from(b)))
        .sum();
    for (a, b) in a_chunks.zip(b_chunks) {
        for lane in 0..CODE_LANES {
            lanes[lane] += i32::from(i16::from(a[lane]) * i16::from(b[lane]));
        }
    }
    lanes.iter().sum::<i32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owner "a" has two rows, "b" and "c" one each.
    fn two_dimensional_set() -> VectorSet<&'static str> {
        let rows = vec![
            ("a", vec![1.0, 0.0]),
            ("a", vec![0.6, 0.8]),
            ("b", vec![0.0, 1.0]),
            ("c", vec![-1.0, 0.0]),
        ];
        VectorSet::new(rows, 2).expect("set")
    }

    #[test]
    fn nearest_returns_each_owner_once_by_its_best_row() {
        let set = two_dimensional_set();
        let found = set.nearest(&[0.0, 1.0], 2).expect("search");
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].owner, found[0].row), ("b", 2));
        assert_eq!((found[1].owner, found[1].row), ("a", 1));
        assert!((found[1].similarity - 0.8).abs() < 1e-3);
        assert!(set.nearest(&[1.0, 0.0, 0.0], 1).is_err(), "wrong dimension");
        let empty: VectorSet<&str> = VectorSet::new(Vec::new(), 2).expect("empty set");
        assert!(empty.nearest(&[1.0, 0.0], 3).expect("search").is_empty());
    }

    #[test]
    fn nearest_rows_keeps_several_rows_of_one_owner_and_codes_read_back_exactly() {
        let set = two_dimensional_set();
        let found = set.nearest_rows(&[0.8, 0.6], 3).expect("search");
        let rows: Vec<(&str, usize)> = found.iter().map(|m| (m.owner, m.row)).collect();
        assert_eq!(rows, vec![("a", 1), ("a", 0), ("b", 2)]);
        assert!(set.nearest_rows(&[1.0], 1).is_err(), "wrong dimension");

        let (codes, scales, owners) = set.codes_of();
        let copy = VectorSet::from_codes(codes.to_vec(), scales.to_vec(), owners.to_vec(), 2)
            .expect("read back");
        assert_eq!(copy.nearest_rows(&[0.8, 0.6], 4).expect("search"), {
            set.nearest_rows(&[0.8, 0.6], 4).expect("search")
        });
        let short = VectorSet::from_codes(codes[1..].to_vec(), scales.to_vec(), owners.to_vec(), 2);
        assert!(short.is_err(), "codes that do not make whole rows");
    }

    /// Unit vectors from a fixed linear congruential sequence.
    fn unit_vectors(count: usize, dimension: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                let vector: Vec<f32> = (0..dimension)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        #[allow(clippy::cast_precision_loss)]
                        let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
                        unit - 0.5
                    })
                    .collect();
                let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
                vector.iter().map(|v| v / norm).collect()
            })
            .collect()
    }

    #[test]
    fn coded_similarities_track_the_exact_cosine_on_a_set_searched_in_parallel() {
        // Enough rows that the search is split across threads.
        let dimension = 384;
        let vectors = unit_vectors(6_000, dimension, 7);
        let query = &unit_vectors(1, dimension, 11)[0];
        let exact: Vec<f32> = vectors
            .iter()
            .map(|row| row.iter().zip(query).map(|(a, b)| a * b).sum())
            .collect();
        let rows = vectors.into_iter().enumerate().collect();
        let set = VectorSet::new(rows, dimension).expect("set");
        assert!(set.codes.len() >= 2 * PARALLEL_CODES);
        let coded = set.similarities(query);
        let worst = coded
            .iter()
            .zip(&exact)
            .map(|(coded, exact)| (coded - exact).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 2e-3, "a similarity moved by {worst}");

        let found = set.nearest(query, 5).expect("search");
        let mut by_exact: Vec<usize> = (0..exact.len()).collect();
        by_exact.sort_by(|a, b| exact[*b].total_cmp(&exact[*a]));
        let expected: Vec<usize> = by_exact.into_iter().take(5).collect();
        let owners: Vec<usize> = found.iter().map(|m| m.owner).collect();
        assert_eq!(owners, expected);
    }

    #[test]
    fn a_zero_vector_matches_nothing_and_breaks_nothing() {
        let set =
            VectorSet::new(vec![("zero", vec![0.0, 0.0]), ("x", vec![1.0, 0.0])], 2).expect("set");
        let found = set.nearest(&[1.0, 0.0], 2).expect("search");
        assert_eq!(found[0].owner, "x");
        assert!((found[0].similarity - 1.0).abs() < 1e-3);
        assert_eq!((found[1].owner, found[1].similarity), ("zero", 0.0));
        let nothing = set.nearest(&[0.0, 0.0], 2).expect("a zero query");
        assert!(nothing.iter().all(|m| m.similarity == 0.0));
    }
}
