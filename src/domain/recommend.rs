//! Ranking catalog items for one customer in one context: content similarity to what they
//! asked, items bought together with theirs, their interests and a popularity prior —
//! never what they already bought — each suggestion with the reason that weighed most.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

/// A customer's history counts toward "bought together" with at most this many distinct
/// items (their latest), so one wholesale buyer cannot dominate the counts or the time.
pub const BASKET_ITEMS: usize = 50;

const CONTENT_WEIGHT: f32 = 1.0;
const TOGETHER_WEIGHT: f32 = 0.8;
const INTEREST_WEIGHT: f32 = 0.3;
const POPULARITY_WEIGHT: f32 = 0.3;
/// Added to the co-occurrence norm, so that a pair seen once or twice (noise, in a shop's
/// history) counts for little and the popularity prior decides instead.
const TOGETHER_SHRINKAGE: f64 = 5.0;
/// Below this a signal is too weak to be given as the reason.
const REASON_FLOOR: f32 = 0.05;

/// How often items appear in the same customer's purchases and carts.
#[derive(Debug, Default, Clone)]
pub struct CoOccurrence {
    /// Customers whose history holds the item.
    popularity: HashMap<String, u32>,
    /// For each item, the other items in the same histories and how many customers.
    together: HashMap<String, HashMap<String, u32>>,
    max_popularity: u32,
}

impl CoOccurrence {
    /// From each customer's items, latest last (duplicates allowed).
    pub fn from_histories<'a>(histories: impl IntoIterator<Item = &'a [String]>) -> CoOccurrence {
        let mut model = CoOccurrence::default();
        for history in histories {
            let mut basket: Vec<&String> = Vec::new();
            for item in history.iter().rev() {
                if !basket.contains(&item) {
                    basket.push(item);
                    if basket.len() == BASKET_ITEMS {
                        break;
                    }
                }
            }
            for (index, item) in basket.iter().enumerate() {
                let count = model.popularity.entry((*item).clone()).or_default();
                *count += 1;
                model.max_popularity = model.max_popularity.max(*count);
                let neighbours = model.together.entry((*item).clone()).or_default();
                for (other_index, other) in basket.iter().enumerate() {
                    if other_index != index {
                        *neighbours.entry((*other).clone()).or_default() += 1;
                    }
                }
            }
        }
        model
    }

    pub fn popularity(&self, item: &str) -> u32 {
        self.popularity.get(item).copied().unwrap_or(0)
    }

    /// Cosine-normalised co-occurrence, shrunk toward 0 for pairs seen only a few times:
    /// near 1 when two items are always bought by the same (many) people.
    fn affinity(&self, seed: &str, item: &str) -> f32 {
        let Some(count) = self.together.get(seed).and_then(|n| n.get(item)) else {
            return 0.0;
        };
        let norm = (f64::from(self.popularity(seed)) * f64::from(self.popularity(item))).sqrt();
        #[allow(clippy::cast_possible_truncation)]
        let affinity = (f64::from(*count) / (norm + TOGETHER_SHRINKAGE)) as f32;
        affinity
    }

    /// Items seen with `seed`, for candidates worth scoring beyond the content matches.
    fn neighbours(&self, seed: &str) -> impl Iterator<Item = &String> {
        self.together.get(seed).into_iter().flat_map(HashMap::keys)
    }

    /// Items by how many customers have them, most first (ties by id, so runs repeat).
    pub fn most_popular(&self) -> Vec<&String> {
        let mut items: Vec<&String> = self.popularity.keys().collect();
        items.sort_by(|a, b| {
            self.popularity(b)
                .cmp(&self.popularity(a))
                .then_with(|| a.cmp(b))
        });
        items
    }
}

/// A candidate item as the recommender sees it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub category: &'a str,
    /// Cosine similarity of the item to the context (question, conversation), if any.
    pub content_similarity: Option<f32>,
}

/// Who the ranking is for.
#[derive(Debug, Clone, Default)]
pub struct RecommendationContext<'a> {
    /// Items they bought: never suggested again.
    pub purchased: &'a [String],
    /// Items they bought or put in a cart, latest last: the seeds of "bought together".
    pub seeds: &'a [String],
    /// Their interest categories (lower case), strongest first.
    pub interests: &'a [String],
    /// What the content similarity is measured against, for the reason ("your question
    /// about …").
    pub topic: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    MatchesQuestion,
    BoughtTogether,
    Interest,
    Popular,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub item_id: String,
    pub score: f32,
    pub reason_kind: ReasonKind,
    pub reason: String,
}

/// The best `limit` items, highest score first.
pub fn recommend(
    candidates: &[Candidate<'_>],
    together: &CoOccurrence,
    context: &RecommendationContext<'_>,
    limit: usize,
) -> Vec<Recommendation> {
    let purchased: HashSet<&str> = context.purchased.iter().map(String::as_str).collect();
    let titles: HashMap<&str, &str> = candidates.iter().map(|c| (c.id, c.title)).collect();
    let content = ContentScale::of(candidates);
    let log_max_popularity = (1.0 + together.max_popularity as f32).ln().max(1.0);
    // Latest seeds weigh more, and only the latest few are looked at.
    let seeds: Vec<&String> = context.seeds.iter().rev().take(BASKET_ITEMS).collect();
    let seed_set: BTreeSet<&str> = seeds.iter().map(|s| s.as_str()).collect();

    let mut ranked: Vec<Recommendation> = candidates
        .iter()
        .filter(|c| !purchased.contains(c.id))
        .map(|candidate| {
            let content_score = content.score(candidate.content_similarity);
            let mut best_seed: Option<(&str, f32)> = None;
            let mut together_score = 0.0f32;
            if !seed_set.contains(candidate.id) {
                for (rank, seed) in seeds.iter().enumerate() {
                    let affinity = together.affinity(seed, candidate.id);
                    if affinity > 0.0 {
                        #[allow(clippy::cast_precision_loss)]
                        let weighted = affinity / (1.0 + rank as f32 * 0.1);
                        together_score += weighted;
                        if best_seed.is_none_or(|(_, a)| weighted > a) {
                            best_seed = Some((seed.as_str(), weighted));
                        }
                    }
                }
            }
            let together_score = together_score.min(1.0);
            let interest_rank = context.interests.iter().position(|i| {
                !candidate.category.is_empty() && i.eq_ignore_ascii_case(candidate.category)
            });
            #[allow(clippy::cast_precision_loss)]
            let interest_score = interest_rank.map_or(0.0, |rank| 1.0 / (1.0 + rank as f32));
            let popularity_score =
                (1.0 + together.popularity(candidate.id) as f32).ln() / log_max_popularity;

            let parts = [
                (ReasonKind::MatchesQuestion, CONTENT_WEIGHT * content_score),
                (ReasonKind::BoughtTogether, TOGETHER_WEIGHT * together_score),
                (ReasonKind::Interest, INTEREST_WEIGHT * interest_score),
            ];
            let score =
                parts.iter().map(|(_, s)| s).sum::<f32>() + POPULARITY_WEIGHT * popularity_score;
            let (reason_kind, strongest) = parts
                .iter()
                .copied()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|(_, s)| *s >= REASON_FLOOR)
                .unwrap_or((ReasonKind::Popular, 0.0));
            let _ = strongest;
            let reason = match reason_kind {
                ReasonKind::MatchesQuestion => match context.topic {
                    Some(topic) => format!("matches your question about “{}”", short(topic)),
                    None => "matches what you asked".into(),
                },
                ReasonKind::BoughtTogether => {
                    let seed = best_seed.map_or("", |(seed, _)| seed);
                    format!(
                        "bought together with {}",
                        titles.get(seed).copied().unwrap_or(seed)
                    )
                }
                ReasonKind::Interest => format!("matches an interest in {}", candidate.category),
                ReasonKind::Popular => "popular in the shop".into(),
            };
            Recommendation {
                item_id: candidate.id.to_string(),
                score,
                reason_kind,
                reason,
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.item_id.cmp(&b.item_id))
    });
    ranked.truncate(limit);
    ranked
}

/// The ids worth scoring: those near the seeds plus the most popular, when the catalog is
/// too large to score whole (evaluation on a shop's full history).
pub fn shortlist<'a>(
    together: &'a CoOccurrence,
    seeds: &[String],
    popular: usize,
) -> BTreeSet<&'a String> {
    let mut ids: BTreeSet<&String> = together.most_popular().into_iter().take(popular).collect();
    for seed in seeds.iter().rev().take(BASKET_ITEMS) {
        ids.extend(together.neighbours(seed));
    }
    ids
}

/// Similarities rescaled so that the catalog's typical item scores 0 and the best 1:
/// sentence models give unrelated text a cosine well above 0.
struct ContentScale {
    mean: f32,
    span: f32,
}

impl ContentScale {
    fn of(candidates: &[Candidate<'_>]) -> ContentScale {
        let values: Vec<f32> = candidates
            .iter()
            .filter_map(|c| c.content_similarity)
            .collect();
        if values.is_empty() {
            return ContentScale {
                mean: 0.0,
                span: 0.0,
            };
        }
        #[allow(clippy::cast_precision_loss)]
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        let max = values.iter().copied().fold(f32::MIN, f32::max);
        ContentScale {
            mean,
            span: max - mean,
        }
    }

    fn score(&self, similarity: Option<f32>) -> f32 {
        match similarity {
            Some(similarity) if self.span > f32::EPSILON => {
                ((similarity - self.mean) / self.span).clamp(0.0, 1.0)
            }
            _ => 0.0,
        }
    }
}

fn short(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.chars().count() <= 40 {
        trimmed.to_string()
    } else {
        let head: String = trimmed.chars().take(39).collect();
        format!("{head}…")
    }
}

/// Offline ranking quality for one held-out customer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RankingQuality {
    pub hit: bool,
    pub ndcg: f64,
}

/// Hit and NDCG of `ranked` against the held-out `relevant` items, at the list's length.
pub fn ranking_quality(ranked: &[String], relevant: &HashSet<String>) -> RankingQuality {
    if relevant.is_empty() {
        return RankingQuality::default();
    }
    let mut dcg = 0.0f64;
    let mut hit = false;
    for (index, item) in ranked.iter().enumerate() {
        if relevant.contains(item) {
            hit = true;
            #[allow(clippy::cast_precision_loss)]
            let position = (index + 2) as f64;
            dcg += 1.0 / position.log2();
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let ideal: f64 = (0..relevant.len().min(ranked.len().max(1)))
        .map(|index| 1.0 / ((index + 2) as f64).log2())
        .sum();
    RankingQuality {
        hit,
        ndcg: if ideal > 0.0 { dcg / ideal } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    fn candidates<'a>(items: &'a [(&'a str, &'a str)], similarity: &[f32]) -> Vec<Candidate<'a>> {
        items
            .iter()
            .enumerate()
            .map(|(index, (id, category))| Candidate {
                id,
                title: id,
                category,
                content_similarity: similarity.get(index).copied(),
            })
            .collect()
    }

    #[test]
    fn bought_together_beats_popular_and_purchases_are_excluded() {
        let histories = [
            ids(&["lamp", "bulb"]),
            ids(&["lamp", "bulb"]),
            ids(&["lamp", "cable"]),
            ids(&["cable"]),
            ids(&["cable"]),
            ids(&["cable"]),
        ];
        let together = CoOccurrence::from_histories(histories.iter().map(Vec::as_slice));
        let items = [
            ("lamp", "lighting"),
            ("bulb", "lighting"),
            ("cable", "power"),
        ];
        let purchased = ids(&["lamp"]);
        let ranked = recommend(
            &candidates(&items, &[]),
            &together,
            &RecommendationContext {
                purchased: &purchased,
                seeds: &purchased,
                ..RecommendationContext::default()
            },
            10,
        );
        let order: Vec<&str> = ranked.iter().map(|r| r.item_id.as_str()).collect();
        assert_eq!(order, ["bulb", "cable"]);
        assert_eq!(ranked[0].reason, "bought together with lamp");
        assert_eq!(ranked[0].reason_kind, ReasonKind::BoughtTogether);
    }

    #[test]
    fn the_question_wins_when_nothing_was_bought() {
        let together = CoOccurrence::default();
        let items = [("case", "phone"), ("bulb", "lighting"), ("mug", "kitchen")];
        let ranked = recommend(
            &candidates(&items, &[0.80, 0.92, 0.79]),
            &together,
            &RecommendationContext {
                topic: Some("my lamp flickers"),
                interests: &ids(&["kitchen"]),
                ..RecommendationContext::default()
            },
            2,
        );
        assert_eq!(ranked[0].item_id, "bulb");
        assert_eq!(
            ranked[0].reason,
            "matches your question about “my lamp flickers”"
        );
        assert_eq!(ranked[1].item_id, "mug");
        assert_eq!(ranked[1].reason, "matches an interest in kitchen");
    }

    #[test]
    fn ndcg_rewards_an_early_hit() {
        let relevant: HashSet<String> = ids(&["b"]).into_iter().collect();
        let first = ranking_quality(&ids(&["b", "a"]), &relevant);
        let second = ranking_quality(&ids(&["a", "b"]), &relevant);
        let none = ranking_quality(&ids(&["a", "c"]), &relevant);
        assert!(first.hit && second.hit && !none.hit);
        assert!((first.ndcg - 1.0).abs() < 1e-9);
        assert!((second.ndcg - 1.0 / 3f64.log2()).abs() < 1e-9);
        assert!(none.ndcg == 0.0);
    }
}
