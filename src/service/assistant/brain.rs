//! `Brain`: one trained, immutable snapshot of what the bot knows — the intent model, the FAQ
//! vectors, the thresholds — and the hybrid ranking and decision made with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::ThresholdOverrides;
use super::intent_model::{Calibration, FineTuning, IntentModel, ScoredLabel, Thresholds};
use crate::domain::sentiment::{LexiconSentiment, lexicon_sentiment};
use crate::domain::{BuiltinIntent, FaqEntry, FaqEntryId, IntentLabel, Language};
use crate::ml::{IntentClassifier, MlError, TrainingReport, TunedEncoder, VectorSet};

/// Candidates each retriever contributes to the fusion.
pub(super) const CANDIDATES: usize = 20;
/// Reciprocal-rank fusion's damping constant (Cormack et al. 2009): a document's score is
/// Σ 1/(K + rank) over the rankings that contain it.
const RRF_K: f32 = 60.0;
/// Answers returned with an understanding ("did you mean" shows up to three).
pub(super) const ANSWERS_RETURNED: usize = 3;
/// A request for a person wins over any FAQ answer once it is at least this likely: a
/// customer who asked for a human and got an article instead is the worst outcome, while
/// a false handoff costs an agent a minute. (A shop's own "how do I reach an agent?" entry
/// would otherwise compete with 转人工.)
const HUMAN_REQUEST_PRIORITY: f32 = 0.2;
/// How much the complaint intent's confidence pulls the sentiment score down.
const COMPLAINT_WEIGHT: f32 = 0.6;

pub(super) struct Brain {
    pub intents: IntentModel<IntentLabel>,
    faq_vectors: VectorSet<FaqEntryId>,
    /// The knowledge base's languages; entries and classes refer to them by index, so a
    /// message's ranking filters 10,000 classes with integer compares, not string lookups.
    languages: Vec<Language>,
    entry_language: HashMap<FaqEntryId, usize>,
    /// Per class: the language of its FAQ entry (`None`: a built-in intent or out of scope,
    /// which every message may mean).
    class_language: Vec<Option<usize>>,
    entry_class: HashMap<FaqEntryId, usize>,
    human_request_class: Option<usize>,
    complaint_class: Option<usize>,
    /// Classes that are not FAQ entries: the ranking keeps this many more than `CANDIDATES`
    /// so that `CANDIDATES` entries are always among them.
    other_classes: usize,
    pub thresholds: Thresholds,
    pub fingerprint: String,
    knowledge_sequence: AtomicI64,
    /// Top layers fine-tuned on this training set: messages are embedded through them (the
    /// FAQ vectors above were too). `None`: the model's own encoder.
    pub tuned: Option<Arc<TunedEncoder>>,
    /// Set once fine-tuning has run for this training set (kept or not).
    pub fine_tuning: OnceLock<FineTuning>,
}

/// What the bot should do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "intent", rename_all = "snake_case")]
pub enum Decision {
    /// A conversational intent (greeting, human_request, …) is clearly meant.
    Intent(BuiltinIntent),
    /// The first answer is confident enough to send.
    Answer,
    /// Offer the answers as "did you mean…".
    Suggest,
    /// Nothing fits: say so honestly.
    Unknown,
}

/// One FAQ entry the message may be about, and why.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerCandidate {
    pub entry: FaqEntry,
    /// The intent model's calibrated probability that this entry answers the message.
    pub confidence: f32,
    /// 1-based ranks in each retriever, when it found the entry.
    pub keyword_rank: Option<usize>,
    pub semantic_rank: Option<usize>,
    pub semantic_similarity: Option<f32>,
    pub classifier_rank: Option<usize>,
}

/// Sentiment of one message: the lexicon's explainable cues, pulled down by how much the
/// message reads like a complaint to the model.
#[derive(Debug, Clone, Serialize)]
pub struct Sentiment {
    /// -1 (angry, distressed) ..= 1 (happy).
    pub score: f32,
    pub lexicon: LexiconSentiment,
    pub complaint_confidence: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Understanding {
    pub language: Language,
    pub decision: Decision,
    pub answers: Vec<AnswerCandidate>,
    /// The most likely classes, for explaining the decision.
    pub top_classes: Vec<ScoredLabel<IntentLabel>>,
    pub sentiment: Sentiment,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone)]
pub(super) struct RankedAnswer {
    pub entry_id: FaqEntryId,
    pub confidence: f32,
    pub keyword_rank: Option<usize>,
    pub semantic_rank: Option<usize>,
    pub semantic_similarity: Option<f32>,
    pub classifier_rank: Option<usize>,
}

pub(super) struct Ranking {
    /// The most likely classes, best first (not all of them: see `Brain::other_classes`).
    pub classes: Vec<ScoredLabel<IntentLabel>>,
    pub answers: Vec<RankedAnswer>,
    language: Language,
    human_request: f32,
    complaint: f32,
}

impl Brain {
    pub fn new(
        intents: IntentModel<IntentLabel>,
        faq_vectors: Vec<(FaqEntryId, Vec<f32>)>,
        entry_languages: HashMap<FaqEntryId, Language>,
        dimension: usize,
        overrides: ThresholdOverrides,
        fingerprint: String,
        knowledge_sequence: i64,
    ) -> Result<Brain, MlError> {
        let calibrated = intents.thresholds();
        let unknown = overrides.unknown.unwrap_or(calibrated.unknown);
        let thresholds = Thresholds {
            unknown,
            answer: overrides.answer.unwrap_or(calibrated.answer).max(unknown),
        };
        let mut languages: Vec<Language> = Vec::new();
        let mut entry_language = HashMap::with_capacity(entry_languages.len());
        for (id, language) in entry_languages {
            let index = languages
                .iter()
                .position(|known| *known == language)
                .unwrap_or_else(|| {
                    languages.push(language);
                    languages.len() - 1
                });
            entry_language.insert(id, index);
        }
        let labels = intents.labels();
        let class_language = labels
            .iter()
            .map(|label| match label {
                IntentLabel::Faq(id) => entry_language.get(id).copied(),
                IntentLabel::Builtin(_) | IntentLabel::OutOfScope => None,
            })
            .collect();
        let entry_class = labels
            .iter()
            .enumerate()
            .filter_map(|(class, label)| match label {
                IntentLabel::Faq(id) => Some((*id, class)),
                IntentLabel::Builtin(_) | IntentLabel::OutOfScope => None,
            })
            .collect();
        let class_of = |intent: BuiltinIntent| {
            labels
                .iter()
                .position(|label| *label == IntentLabel::Builtin(intent))
        };
        let human_request_class = class_of(BuiltinIntent::HumanRequest);
        let complaint_class = class_of(BuiltinIntent::Complaint);
        let other_classes = labels
            .iter()
            .filter(|label| !matches!(label, IntentLabel::Faq(_)))
            .count();
        Ok(Brain {
            intents,
            faq_vectors: VectorSet::new(faq_vectors, dimension)?,
            languages,
            entry_language,
            class_language,
            entry_class,
            human_request_class,
            complaint_class,
            other_classes,
            thresholds,
            fingerprint,
            knowledge_sequence: AtomicI64::new(knowledge_sequence),
            tuned: None,
            fine_tuning: OnceLock::new(),
        })
    }

    /// This brain with the encoder layers its vectors were embedded through.
    pub fn with_tuned(
        mut self,
        tuned: Option<Arc<TunedEncoder>>,
        fine_tuning: Option<FineTuning>,
    ) -> Brain {
        self.tuned = tuned;
        if let Some(fine_tuning) = fine_tuning {
            self.fine_tuning = OnceLock::from(fine_tuning);
        }
        self
    }

    pub fn knowledge_sequence(&self) -> i64 {
        self.knowledge_sequence.load(Ordering::Relaxed)
    }

    /// The model is also current at a later knowledge sequence (the change did not alter
    /// the training set, such as an edited answer).
    pub fn mark_current_at(&self, knowledge_sequence: i64) {
        self.knowledge_sequence
            .store(knowledge_sequence, Ordering::Relaxed);
    }

    /// Fuses the classifier's, the vectors' and the keyword index's rankings of FAQ entries
    /// (`keyword_ranking`, best first) by reciprocal rank. Entries in the message's language
    /// compete among themselves when the knowledge base has any.
    pub fn rank(
        &self,
        message: &str,
        vector: &[f32],
        keyword_ranking: &[FaqEntryId],
    ) -> Result<Ranking, MlError> {
        let language = Language::detect(message);
        // Entries in the message's language compete among themselves when there are any.
        let message_language = self.languages.iter().position(|known| *known == language);
        let same_language = |id: &FaqEntryId| {
            message_language.is_none_or(|wanted| {
                self.entry_language
                    .get(id)
                    .is_none_or(|entry_language| *entry_language == wanted)
            })
        };
        let kept = |class: usize| {
            message_language.is_none_or(|wanted| {
                self.class_language[class].is_none_or(|class_language| class_language == wanted)
            })
        };

        let probabilities = self.intents.probabilities(vector)?;
        let mut kept_classes: Vec<usize> = Vec::with_capacity(probabilities.len());
        let mut total = 0.0f32;
        for (class, probability) in probabilities.iter().enumerate() {
            if kept(class) {
                total += probability;
                kept_classes.push(class);
            }
        }
        let scale = if total > 0.0 { total.recip() } else { 1.0 };
        let confidence = |class: usize| probabilities[class] * scale;
        // Most likely first; equal ones in class order, as a stable sort of them all would.
        let likelier = |a: &usize, b: &usize| {
            probabilities[*b]
                .total_cmp(&probabilities[*a])
                .then(a.cmp(b))
        };
        let top = CANDIDATES + self.other_classes;
        if kept_classes.len() > top {
            kept_classes.select_nth_unstable_by(top - 1, likelier);
            kept_classes.truncate(top);
        }
        kept_classes.sort_unstable_by(likelier);
        let labels = self.intents.labels();
        let classes: Vec<ScoredLabel<IntentLabel>> = kept_classes
            .iter()
            .map(|&class| ScoredLabel {
                label: labels[class],
                confidence: confidence(class),
            })
            .collect();
        let entry_confidence = |id: FaqEntryId| {
            self.entry_class
                .get(&id)
                .filter(|class| kept(**class))
                .map_or(0.0, |class| confidence(*class))
        };
        let classifier_ranking: Vec<FaqEntryId> = classes
            .iter()
            .filter_map(|scored| match scored.label {
                IntentLabel::Faq(id) => Some(id),
                IntentLabel::Builtin(_) | IntentLabel::OutOfScope => None,
            })
            .take(CANDIDATES)
            .collect();
        let semantic: Vec<_> = self
            .faq_vectors
            .nearest(vector, CANDIDATES * 2)?
            .into_iter()
            .filter(|found| same_language(&found.owner))
            .take(CANDIDATES)
            .collect();
        let keyword: Vec<FaqEntryId> = keyword_ranking
            .iter()
            .copied()
            .filter(same_language)
            .take(CANDIDATES)
            .collect();

        let mut fused: HashMap<FaqEntryId, RankedAnswer> = HashMap::new();
        let mut scores: HashMap<FaqEntryId, f32> = HashMap::new();
        for (rank, id) in classifier_ranking.iter().enumerate() {
            *scores.entry(*id).or_default() += rrf(rank);
            answer_slot(&mut fused, *id, entry_confidence).classifier_rank = Some(rank + 1);
        }
        for (rank, found) in semantic.iter().enumerate() {
            *scores.entry(found.owner).or_default() += rrf(rank);
            let slot = answer_slot(&mut fused, found.owner, entry_confidence);
            slot.semantic_rank = Some(rank + 1);
            slot.semantic_similarity = Some(found.similarity);
        }
        for (rank, id) in keyword.iter().enumerate() {
            *scores.entry(*id).or_default() += rrf(rank);
            answer_slot(&mut fused, *id, entry_confidence).keyword_rank = Some(rank + 1);
        }
        let mut answers: Vec<RankedAnswer> = fused.into_values().collect();
        answers.sort_by(|a, b| {
            let score =
                |answer: &RankedAnswer| scores.get(&answer.entry_id).copied().unwrap_or(0.0);
            score(b)
                .total_cmp(&score(a))
                .then(b.confidence.total_cmp(&a.confidence))
                .then(a.entry_id.cmp(&b.entry_id))
        });
        answers.truncate(CANDIDATES);
        Ok(Ranking {
            classes,
            answers,
            language,
            human_request: self.human_request_class.map_or(0.0, confidence),
            complaint: self.complaint_class.map_or(0.0, confidence),
        })
    }

    /// Turns a ranking into the bot's decision, given the ranked entries as stored now
    /// (an entry deleted since the model was trained drops out).
    pub fn decide(
        &self,
        message: &str,
        ranking: Ranking,
        entries: Vec<FaqEntry>,
        answers_returned: usize,
    ) -> Understanding {
        let by_id: HashMap<FaqEntryId, FaqEntry> = entries.into_iter().map(|e| (e.id, e)).collect();
        let answers: Vec<AnswerCandidate> = ranking
            .answers
            .iter()
            .filter_map(|ranked| {
                Some(AnswerCandidate {
                    entry: by_id.get(&ranked.entry_id)?.clone(),
                    confidence: ranked.confidence,
                    keyword_rank: ranked.keyword_rank,
                    semantic_rank: ranked.semantic_rank,
                    semantic_similarity: ranked.semantic_similarity,
                    classifier_rank: ranked.classifier_rank,
                })
            })
            .take(answers_returned)
            .collect();
        let top_class = ranking.classes.first();
        let thresholds = self.thresholds;
        let human_request = ranking.human_request;
        let decision = match top_class {
            Some(ScoredLabel {
                label: IntentLabel::OutOfScope,
                ..
            }) => Decision::Unknown,
            Some(_) if human_request >= HUMAN_REQUEST_PRIORITY.max(thresholds.unknown) => {
                Decision::Intent(BuiltinIntent::HumanRequest)
            }
            Some(ScoredLabel {
                label: IntentLabel::Builtin(intent),
                confidence,
            }) if *confidence >= thresholds.unknown => Decision::Intent(*intent),
            _ => match answers.first() {
                Some(best) if best.confidence >= thresholds.answer => Decision::Answer,
                Some(best) if best.confidence >= thresholds.unknown => Decision::Suggest,
                _ => Decision::Unknown,
            },
        };
        let complaint_confidence = ranking.complaint;
        let lexicon = lexicon_sentiment(message);
        let score = (lexicon.score - COMPLAINT_WEIGHT * complaint_confidence).clamp(-1.0, 1.0);
        Understanding {
            language: ranking.language,
            decision,
            answers,
            top_classes: ranking.classes.into_iter().take(5).collect(),
            sentiment: Sentiment {
                score,
                lexicon,
                complaint_confidence,
            },
            thresholds,
        }
    }
}

fn rrf(zero_based_rank: usize) -> f32 {
    #[allow(clippy::cast_precision_loss)]
    let rank = zero_based_rank as f32 + 1.0;
    1.0 / (RRF_K + rank)
}

fn answer_slot(
    fused: &mut HashMap<FaqEntryId, RankedAnswer>,
    id: FaqEntryId,
    confidence: impl Fn(FaqEntryId) -> f32,
) -> &mut RankedAnswer {
    fused.entry(id).or_insert_with(|| RankedAnswer {
        entry_id: id,
        confidence: confidence(id),
        keyword_rank: None,
        semantic_rank: None,
        semantic_similarity: None,
        classifier_rank: None,
    })
}

/// The intent model on disk: the head as safetensors, its labels and calibration as JSON,
/// both tagged with the training set's fingerprint.
pub(super) struct SavedModel {
    weights: PathBuf,
    metadata: PathBuf,
    tuned_layers: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct SavedMetadata {
    fingerprint: String,
    labels: Vec<IntentLabel>,
    background: Option<IntentLabel>,
    calibration: Calibration,
    report: TrainingReport,
    /// Fine-tuning of this training set: its layers are in `tuned_layers` when kept.
    #[serde(default)]
    fine_tuning: Option<FineTuning>,
}

/// A saved model and how fine-tuning went for its training set.
pub(super) struct LoadedModel {
    pub intents: IntentModel<IntentLabel>,
    pub fine_tuning: Option<FineTuning>,
}

impl SavedModel {
    pub fn paths(dir: &Path) -> SavedModel {
        SavedModel {
            weights: dir.join("intent-model.safetensors"),
            metadata: dir.join("intent-model.json"),
            tuned_layers: dir.join("intent-encoder.safetensors"),
        }
    }

    /// The saved model if it was trained on exactly this training set; `None` otherwise
    /// (missing, stale or unreadable files just mean training again).
    pub fn load(&self, fingerprint: &str) -> Option<LoadedModel> {
        let metadata: SavedMetadata =
            serde_json::from_slice(&std::fs::read(&self.metadata).ok()?).ok()?;
        if metadata.fingerprint != fingerprint {
            return None;
        }
        let classifier = IntentClassifier::load(&self.weights).ok()?;
        let intents = IntentModel::from_parts(
            metadata.labels,
            metadata.background,
            classifier,
            metadata.calibration,
            metadata.report,
        )
        .ok()?;
        Some(LoadedModel {
            intents,
            fine_tuning: metadata.fine_tuning,
        })
    }

    /// The tuned layers saved with the model, when they fit `embedder`'s model.
    pub fn load_tuned(&self, embedder: &crate::ml::Embedder) -> Option<TunedEncoder> {
        TunedEncoder::load(&self.tuned_layers, embedder).ok()
    }

    /// Weights first, metadata last: metadata that names a fingerprint always has its weights
    /// (and its tuned layers, when it says it has them).
    pub fn save(
        &self,
        model: &IntentModel<IntentLabel>,
        fingerprint: &str,
        tuned: Option<&TunedEncoder>,
        fine_tuning: Option<&FineTuning>,
    ) -> Result<(), MlError> {
        model.classifier().save(&self.weights)?;
        if let Some(layers) = tuned {
            layers.save(&self.tuned_layers)?;
        }
        let metadata = SavedMetadata {
            fingerprint: fingerprint.to_string(),
            labels: model.labels().to_vec(),
            background: model.background().copied(),
            calibration: model.calibration().clone(),
            report: model.report().clone(),
            fine_tuning: fine_tuning.cloned(),
        };
        let json = serde_json::to_vec_pretty(&metadata)
            .map_err(|error| MlError::Training(error.to_string()))?;
        let temporary = self.metadata.with_extension("tmp");
        std::fs::write(&temporary, json)
            .and_then(|()| std::fs::rename(&temporary, &self.metadata))
            .map_err(|source| MlError::Read {
                path: self.metadata.clone(),
                source,
            })
    }
}
