//! `VectorSet`: unit vectors held in one matrix for exact cosine search (a matrix-vector
//! product), each row tagged with the item it belongs to.
//!
//! The rows are kept as f16: a search reads every row, so at 60,000 phrases (a 10,000-entry
//! knowledge base) f32 rows were 91 MB read per message; f16 halves that and the resident
//! memory. A similarity moves by about 1e-3 at most, well below what separates answers.

use super::MlError;
use super::linear::{Values, Weights};

/// Rows of one dimension; several rows may share an owner (an entry's question and variants).
#[derive(Debug)]
pub struct VectorSet<Owner> {
    /// The rows for the SIMD kernel: a query's scores are one matrix-vector product.
    matrix: Option<Weights>,
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
        let mut flat = Vec::with_capacity(count * dimension * 2);
        let mut owners = Vec::with_capacity(count);
        for (owner, vector) in rows {
            owners.push(owner);
            flat.extend(
                vector
                    .iter()
                    .flat_map(|&value| half::f16::from_f32(value).to_le_bytes()),
            );
        }
        let matrix = if count == 0 {
            None
        } else {
            Some(Weights::from_blocks(
                dimension,
                vec![(count, Values::Half(std::borrow::Cow::Owned(flat)))],
            )?)
        };
        let owner_count = usize::from(!owners.is_empty())
            + owners.windows(2).filter(|pair| pair[0] != pair[1]).count();
        Ok(VectorSet {
            matrix,
            owners,
            owner_count,
            dimension,
        })
    }

    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// The `limit` owners closest to `query`, best first, one match per owner.
    pub fn nearest(&self, query: &[f32], limit: usize) -> Result<Vec<VectorMatch<Owner>>, MlError> {
        let Some(matrix) = &self.matrix else {
            return Ok(Vec::new());
        };
        if query.len() != self.dimension {
            return Err(MlError::Training(format!(
                "the query has {} dimensions; the set has {}",
                query.len(),
                self.dimension
            )));
        }
        let scores = matrix.multiply(query, 1);
        // Owners have a handful of rows each, so the best `limit` owners are almost always
        // among the best few `limit` rows: partition those out instead of sorting everything.
        let mut matches = self.best_owners(&scores, limit, limit.saturating_mul(16));
        if matches.len() < limit.min(self.owner_count) {
            matches = self.best_owners(&scores, limit, scores.len());
        }
        Ok(matches)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_returns_each_owner_once_by_its_best_row() {
        let rows = vec![
            ("a", vec![1.0, 0.0]),
            ("a", vec![0.6, 0.8]),
            ("b", vec![0.0, 1.0]),
            ("c", vec![-1.0, 0.0]),
        ];
        let set = VectorSet::new(rows, 2).expect("set");
        let found = set.nearest(&[0.0, 1.0], 2).expect("search");
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].owner, found[0].row), ("b", 2));
        assert_eq!((found[1].owner, found[1].row), ("a", 1));
        assert!((found[1].similarity - 0.8).abs() < 1e-3);
        assert!(set.nearest(&[1.0, 0.0, 0.0], 1).is_err(), "wrong dimension");
        let empty: VectorSet<&str> = VectorSet::new(Vec::new(), 2).expect("empty set");
        assert!(empty.nearest(&[1.0, 0.0], 3).expect("search").is_empty());
    }
}
