//! `IntentModel`: the classifier head with its class labels and calibrated thresholds — the
//! exact model the bot runs, shared by the server and `kefu eval intents`.

use std::collections::HashMap;

use crate::ml::{
    FineTuneReport, HeldOutPrediction, IntentClassifier, MlError, TrainingOptions, TrainingReport,
};

/// Where the bot's decisions switch, on the calibrated confidence of the best class.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thresholds {
    /// At or above: answer directly.
    pub answer: f32,
    /// Below: "I don't know" (out of scope). Between the two: "did you mean…".
    pub unknown: f32,
}

impl Thresholds {
    /// Used when the training set is too small to hold anything out: the medians of what
    /// calibration chose on the demo knowledge base and the public benchmarks.
    pub const FALLBACK: Thresholds = Thresholds {
        answer: 0.6,
        unknown: 0.3,
    };
}

/// Answered messages should be right at least this often; below it the bot asks "did you
/// mean…" instead, which costs the customer one click rather than a wrong answer.
const ANSWER_PRECISION_TARGET: f32 = 0.95;
/// Share of out-of-scope phrases the bot must decline. Between the two thresholds the bot
/// only suggests, so an out-of-scope message slipping past costs a "did you mean…", while
/// every in-scope message rejected costs a customer their answer: reject no more than this.
const OUT_OF_SCOPE_RECALL_TARGET: f32 = 0.9;

/// How thresholds were chosen, for `kefu eval` and the admin page.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    pub thresholds: Thresholds,
    /// Held-out in-scope phrases and out-of-scope phrases the thresholds were chosen on.
    pub in_scope_phrases: usize,
    pub out_of_scope_phrases: usize,
    /// On those phrases, at the chosen thresholds.
    pub in_scope_kept: Option<f32>,
    pub out_of_scope_rejected: Option<f32>,
    pub answered_precision: Option<f32>,
}

/// What fine-tuning the encoder did for one training set, and whether the bot uses it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FineTuning {
    pub report: FineTuneReport,
    /// The head trained on the tuned encoder did better on the held-out split than the head
    /// on the frozen one (see [`generalises_better`]), so the bot uses the tuned encoder.
    pub kept: bool,
    pub frozen_holdout_accuracy: Option<f32>,
    pub tuned_holdout_accuracy: Option<f32>,
}

impl FineTuning {
    /// Compares the two heads, trained the same way on the same split, one on each encoder.
    pub fn judge(report: FineTuneReport, frozen: &TrainingReport, tuned: &TrainingReport) -> Self {
        FineTuning {
            report,
            kept: generalises_better(tuned, frozen),
            frozen_holdout_accuracy: frozen.holdout_accuracy,
            tuned_holdout_accuracy: tuned.holdout_accuracy,
        }
    }
}

/// Whether `candidate` did better than `incumbent` on the same held-out split: more
/// accurate, or as accurate with a lower calibrated log loss (surer when right). Without a
/// held-out split there is no evidence, and the incumbent stays.
pub fn generalises_better(candidate: &TrainingReport, incumbent: &TrainingReport) -> bool {
    let (Some(accuracy), Some(incumbent_accuracy)) =
        (candidate.holdout_accuracy, incumbent.holdout_accuracy)
    else {
        return false;
    };
    if (accuracy - incumbent_accuracy).abs() > f32::EPSILON {
        return accuracy > incumbent_accuracy;
    }
    match (candidate.holdout_log_loss, incumbent.holdout_log_loss) {
        (Some(loss), Some(incumbent_loss)) => loss < incumbent_loss,
        _ => false,
    }
}

/// A class and its calibrated probability.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoredLabel<L> {
    pub label: L,
    pub confidence: f32,
}

pub struct IntentModel<L> {
    labels: Vec<L>,
    /// The class that means "none of the others"; predicting it is a rejection.
    background: Option<L>,
    classifier: IntentClassifier,
    calibration: Calibration,
    report: TrainingReport,
}

impl<L: Clone + Eq + std::hash::Hash + Ord> IntentModel<L> {
    /// Trains on labelled vectors. `background` names the class (if any) of unrelated
    /// examples; `out_of_scope` vectors are never trained on, only used to place the
    /// "don't know" threshold.
    pub fn train(
        vectors: &[Vec<f32>],
        labels: &[L],
        background: Option<L>,
        out_of_scope: &[Vec<f32>],
        options: &TrainingOptions,
    ) -> Result<IntentModel<L>, MlError> {
        let mut classes: Vec<L> = labels.to_vec();
        classes.sort();
        classes.dedup();
        let index: HashMap<&L, usize> = classes.iter().enumerate().map(|(i, l)| (l, i)).collect();
        let targets: Vec<usize> = labels.iter().map(|label| index[label]).collect();
        let trained = IntentClassifier::train(vectors, &targets, classes.len(), options)?;
        let background_class = background
            .as_ref()
            .and_then(|label| index.get(label).copied());
        let out_of_scope_confidences: Vec<f32> = trained
            .classifier
            .probabilities(out_of_scope)?
            .iter()
            .map(|probabilities| in_scope_confidence(probabilities, background_class))
            .collect();
        let calibration = calibrate(
            &trained.held_out,
            background_class,
            &out_of_scope_confidences,
        );
        Ok(IntentModel {
            labels: classes,
            background,
            classifier: trained.classifier,
            calibration,
            report: trained.report,
        })
    }

    /// A model saved earlier, with the labels and calibration it was saved with.
    pub fn from_parts(
        labels: Vec<L>,
        background: Option<L>,
        classifier: IntentClassifier,
        calibration: Calibration,
        report: TrainingReport,
    ) -> Result<IntentModel<L>, MlError> {
        if classifier.classes() != labels.len() {
            return Err(MlError::Training(format!(
                "the saved head has {} classes but {} labels",
                classifier.classes(),
                labels.len()
            )));
        }
        Ok(IntentModel {
            labels,
            background,
            classifier,
            calibration,
            report,
        })
    }

    pub fn labels(&self) -> &[L] {
        &self.labels
    }

    pub fn background(&self) -> Option<&L> {
        self.background.as_ref()
    }

    /// The best class and its confidence, or `None` when the background class wins or the
    /// confidence is below the "don't know" threshold.
    pub fn predict(&self, vector: &[f32]) -> Result<Option<ScoredLabel<L>>, MlError> {
        let best = self.rank(vector)?.into_iter().next();
        Ok(best.filter(|scored| {
            Some(&scored.label) != self.background.as_ref()
                && scored.confidence >= self.calibration.thresholds.unknown
        }))
    }

    pub fn classifier(&self) -> &IntentClassifier {
        &self.classifier
    }

    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    pub fn thresholds(&self) -> Thresholds {
        self.calibration.thresholds
    }

    pub fn report(&self) -> &TrainingReport {
        &self.report
    }

    /// Each class's confidence, in label order.
    pub fn probabilities(&self, vector: &[f32]) -> Result<Vec<f32>, MlError> {
        Ok(self
            .classifier
            .probabilities(&[vector.to_vec()])?
            .pop()
            .unwrap_or_default())
    }

    /// Every class with its confidence, most likely first.
    pub fn rank(&self, vector: &[f32]) -> Result<Vec<ScoredLabel<L>>, MlError> {
        let probabilities = self.probabilities(vector)?;
        let mut ranked: Vec<ScoredLabel<L>> = self
            .labels
            .iter()
            .zip(probabilities)
            .map(|(label, confidence)| ScoredLabel {
                label: label.clone(),
                confidence,
            })
            .collect();
        ranked.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        Ok(ranked)
    }
}

/// Chooses thresholds from held-out predictions of the in-scope classes and the confidences
/// given to out-of-scope phrases.
///
/// `unknown` is the lowest value that declines `OUT_OF_SCOPE_RECALL_TARGET` of the
/// out-of-scope phrases (scored by the final model, which never trained on them); `answer`
/// is the lowest value above it at which the held-out phrases (scored by the model trained
/// without them) reach `ANSWER_PRECISION_TARGET`.
pub fn calibrate(
    held_out: &[HeldOutPrediction],
    background_class: Option<usize>,
    out_of_scope: &[f32],
) -> Calibration {
    let predictions: Vec<(f32, bool)> = held_out
        .iter()
        .filter(|prediction| Some(prediction.class) != background_class)
        .map(|prediction| {
            let best = crate::ml::argmax(&prediction.probabilities);
            let confidence = in_scope_confidence(&prediction.probabilities, background_class);
            (confidence, best == Some(prediction.class))
        })
        .collect();
    if predictions.is_empty() {
        return Calibration {
            thresholds: Thresholds::FALLBACK,
            in_scope_phrases: 0,
            out_of_scope_phrases: out_of_scope.len(),
            in_scope_kept: None,
            out_of_scope_rejected: None,
            answered_precision: None,
        };
    }
    #[allow(clippy::cast_precision_loss)]
    let share = |count: usize, total: usize| count as f32 / total.max(1) as f32;
    let kept_right = |threshold: f32| {
        share(
            predictions
                .iter()
                .filter(|(confidence, right)| *right && *confidence >= threshold)
                .count(),
            predictions.len(),
        )
    };
    let rejected = |threshold: f32| {
        share(
            out_of_scope.iter().filter(|&&c| c < threshold).count(),
            out_of_scope.len(),
        )
    };
    let precision = |threshold: f32| {
        let kept: Vec<bool> = predictions
            .iter()
            .filter(|(confidence, _)| *confidence >= threshold)
            .map(|(_, right)| *right)
            .collect();
        (!kept.is_empty()).then(|| share(kept.iter().filter(|r| **r).count(), kept.len()))
    };
    #[allow(clippy::cast_precision_loss)]
    let candidates: Vec<f32> = (1..100).map(|step| step as f32 * 0.01).collect();
    let unknown = if out_of_scope.is_empty() {
        Thresholds::FALLBACK.unknown
    } else {
        candidates
            .iter()
            .copied()
            .find(|&threshold| rejected(threshold) >= OUT_OF_SCOPE_RECALL_TARGET)
            .unwrap_or(Thresholds::FALLBACK.answer)
    };
    let answer = candidates
        .iter()
        .copied()
        .filter(|&threshold| threshold >= unknown)
        .find(|&threshold| precision(threshold).is_some_and(|p| p >= ANSWER_PRECISION_TARGET))
        .unwrap_or(unknown.max(Thresholds::FALLBACK.answer));
    Calibration {
        thresholds: Thresholds { answer, unknown },
        in_scope_phrases: predictions.len(),
        out_of_scope_phrases: out_of_scope.len(),
        in_scope_kept: Some(kept_right(unknown)),
        out_of_scope_rejected: (!out_of_scope.is_empty()).then(|| rejected(unknown)),
        answered_precision: precision(answer),
    }
}

/// The winning class's probability, or 0 when the background class wins (a rejection at
/// any threshold).
fn in_scope_confidence(probabilities: &[f32], background_class: Option<usize>) -> f32 {
    match crate::ml::argmax(probabilities) {
        Some(best) if Some(best) != background_class => probabilities[best],
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_out(class: usize, probabilities: &[f32]) -> HeldOutPrediction {
        HeldOutPrediction {
            class,
            probabilities: probabilities.to_vec(),
        }
    }

    #[test]
    fn thresholds_separate_in_scope_from_out_of_scope() {
        let held = vec![
            held_out(0, &[0.9, 0.1]),
            held_out(1, &[0.2, 0.8]),
            held_out(0, &[0.7, 0.3]),
            held_out(1, &[0.55, 0.45]), // wrong, and not very sure
        ];
        let calibration = calibrate(&held, None, &[0.5, 0.52, 0.6]);
        let thresholds = calibration.thresholds;
        assert!(
            thresholds.unknown > 0.6 && thresholds.unknown <= 0.61,
            "{thresholds:?}"
        );
        assert_eq!(calibration.out_of_scope_rejected, Some(1.0));
        assert!(thresholds.answer >= thresholds.unknown);
        assert_eq!(calibration.answered_precision, Some(1.0));
    }

    #[test]
    fn without_held_out_phrases_the_fallback_applies() {
        let calibration = calibrate(&[], None, &[0.4]);
        assert_eq!(calibration.thresholds, Thresholds::FALLBACK);
        assert_eq!(calibration.in_scope_kept, None);
    }
}
