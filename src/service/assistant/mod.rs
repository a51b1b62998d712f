//! The bot's understanding of a message: intent, hybrid FAQ retrieval with a calibrated
//! confidence, out-of-scope detection and sentiment — and keeping the model that does it
//! trained on the current knowledge base, in the background.

mod brain;
mod intent_model;

pub use brain::{AnswerCandidate, Decision, Sentiment, Understanding};
pub use intent_model::{
    Calibration, FineTuning, IntentModel, ScoredLabel, Thresholds, calibrate, generalises_better,
};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{KnowledgeService, ServiceError, blocking, now};
use crate::domain::intent::{BACKGROUND_PHRASES, OUT_OF_SCOPE_PHRASES};
use crate::domain::{BuiltinIntent, FaqStatus, IntentLabel, IntentPhrase, NewIntentPhrase, UserId};
use crate::ml::{
    Embedder, FineTuneOptions, MlError, TrainingOptions, TrainingReport, TunedEncoder,
};
use crate::store::{EmbeddingRecord, ModelKey, Store};
use brain::Brain;

/// A burst of edits (an import, an admin typing phrases) trains once, this long after the
/// last of them.
const RETRAIN_DEBOUNCE: Duration = Duration::from_millis(1_500);
/// How often the follower looks for knowledge changes made by other processes.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Texts embedded per blocking job, so a big import shares the CPU with requests.
const EMBED_CHUNK: usize = 256;

/// Configured threshold overrides; `None` keeps the calibrated value.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThresholdOverrides {
    pub answer: Option<f32>,
    pub unknown: Option<f32>,
}

/// Where the assistant stands, for `/readyz` and the admin page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AssistantStatus {
    pub model_id: String,
    pub model_checksum: String,
    /// A trained model is answering.
    pub ready: bool,
    pub training: bool,
    pub last_error: Option<String>,
    pub classes: usize,
    pub knowledge_sequence: i64,
    pub report: Option<TrainingReport>,
    /// How fine-tuning the encoder went for the current training set, once it has run.
    pub fine_tuning: Option<FineTuning>,
    /// Encoder layers the current model replaced with tuned ones (0: frozen encoder).
    pub tuned_layers: usize,
    pub calibration: Option<Calibration>,
    pub thresholds: Option<Thresholds>,
}

pub struct AssistantService {
    store: Store,
    knowledge: Arc<KnowledgeService>,
    embedder: Arc<Embedder>,
    model_dir: PathBuf,
    overrides: ThresholdOverrides,
    /// `None`: the encoder stays frozen.
    fine_tune: Option<FineTuneOptions>,
    /// The training set the last refresh left for fine-tuning.
    tuning: Mutex<Option<Arc<TrainingSet>>>,
    brain: RwLock<Option<Arc<Brain>>>,
    progress: Mutex<Progress>,
    changed: tokio::sync::Notify,
    /// One refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Progress {
    training: bool,
    last_error: Option<String>,
}

/// Above this many phrases the encoder is not fine-tuned: fine-tuning takes both cores of a
/// small box (31 s for the demo's 519 phrases, over ten minutes for the 10,000 of BANKING77 or
/// MASSIVE, 4 layers), and chats share them.
const FINE_TUNE_MAX_EXAMPLES: usize = 5_000;

/// Whether a knowledge base too big to fine-tune in the background is fine-tuned anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuningSize {
    AsServed,
    AnySize,
}

/// What one training run learns from: the phrases with their classes, and what the brain
/// needs besides.
struct TrainingSet {
    texts: Vec<String>,
    labels: Vec<IntentLabel>,
    /// The FAQ entry of each of the first `faq_rows.len()` phrases.
    faq_rows: Vec<crate::domain::FaqEntryId>,
    entry_languages: HashMap<crate::domain::FaqEntryId, crate::domain::Language>,
    oos_texts: Vec<String>,
    fingerprint: String,
    sequence: i64,
}

/// The blocking half of training: runs on a blocking thread with what it needs.
struct TrainingJob {
    set: Arc<TrainingSet>,
    saved: brain::SavedModel,
    model_dir: PathBuf,
    embedder: Arc<Embedder>,
    overrides: ThresholdOverrides,
}

enum Tuning {
    Better(Box<Brain>),
    NoBetter(FineTuning),
}

impl TrainingJob {
    fn brain(
        &self,
        intents: IntentModel<IntentLabel>,
        vectors: Vec<Vec<f32>>,
        tuned: Option<TunedEncoder>,
        fine_tuning: Option<FineTuning>,
    ) -> Result<Brain, MlError> {
        let faq_vectors = self.set.faq_rows.iter().copied().zip(vectors).collect();
        Ok(Brain::new(
            intents,
            faq_vectors,
            self.set.entry_languages.clone(),
            self.embedder.dimension(),
            self.overrides,
            self.set.fingerprint.clone(),
            self.set.sequence,
        )?
        .with_tuned(tuned.map(Arc::new), fine_tuning))
    }

    fn save(
        &self,
        intents: &IntentModel<IntentLabel>,
        tuned: Option<&TunedEncoder>,
        fine_tuning: Option<&FineTuning>,
    ) {
        let saved = std::fs::create_dir_all(&self.model_dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                self.saved
                    .save(intents, &self.set.fingerprint, tuned, fine_tuning)
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = saved {
            tracing::warn!(%error, "could not save the intent model; it is retrained at the next start");
        }
    }

    /// The saved model for this training set, or the head trained on the frozen encoder's
    /// `vectors`; and whether fine-tuning is still to be tried for it.
    fn first_brain(
        &self,
        vectors: Vec<Vec<f32>>,
        oos_vectors: &[Vec<f32>],
    ) -> Result<(Brain, bool), MlError> {
        if let Some(loaded) = self.saved.load(&self.set.fingerprint) {
            match loaded.fine_tuning {
                None => return Ok((self.brain(loaded.intents, vectors, None, None)?, true)),
                Some(fine_tuning) if !fine_tuning.kept => {
                    let brain = self.brain(loaded.intents, vectors, None, Some(fine_tuning))?;
                    return Ok((brain, false));
                }
                Some(fine_tuning) => {
                    if let Some(layers) = self.saved.load_tuned(&self.embedder) {
                        let texts: Vec<&str> = self.set.texts.iter().map(String::as_str).collect();
                        let tuned_vectors = self.embedder.embed_queries_tuned(&layers, &texts)?;
                        let brain = self.brain(
                            loaded.intents,
                            tuned_vectors,
                            Some(layers),
                            Some(fine_tuning),
                        )?;
                        return Ok((brain, false));
                    }
                    // The tuned layers are gone or unreadable: train again from the start.
                }
            }
        }
        let intents = IntentModel::train(
            &vectors,
            &self.set.labels,
            Some(IntentLabel::OutOfScope),
            oos_vectors,
            &TrainingOptions::default(),
        )?;
        self.save(&intents, None, None);
        Ok((self.brain(intents, vectors, None, None)?, true))
    }

    /// Fine-tunes the encoder's top layers on the training set and trains the head on the
    /// tuned vectors; the result replaces `frozen` (the head on the frozen encoder) only when
    /// it generalises better on the held-out split.
    fn tuned_brain(
        &self,
        frozen: &TrainingReport,
        options: &FineTuneOptions,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Tuning, MlError> {
        let mut classes = self.set.labels.clone();
        classes.sort();
        classes.dedup();
        let targets: Vec<usize> = self
            .set
            .labels
            .iter()
            .map(|label| classes.binary_search(label).unwrap_or(0))
            .collect();
        let texts: Vec<&str> = self.set.texts.iter().map(String::as_str).collect();
        let tuned = self.embedder.fine_tune_queries_until(
            &texts,
            &targets,
            classes.len(),
            options,
            stop,
        )?;
        let oos_texts: Vec<&str> = self.set.oos_texts.iter().map(String::as_str).collect();
        let oos_vectors = self
            .embedder
            .embed_queries_tuned(&tuned.encoder, &oos_texts)?;
        let intents = IntentModel::train(
            &tuned.vectors,
            &self.set.labels,
            Some(IntentLabel::OutOfScope),
            &oos_vectors,
            &TrainingOptions::default(),
        )?;
        let fine_tuning = FineTuning::judge(tuned.report, frozen, intents.report());
        if !fine_tuning.kept {
            return Ok(Tuning::NoBetter(fine_tuning));
        }
        self.save(&intents, Some(&tuned.encoder), Some(&fine_tuning));
        Ok(Tuning::Better(Box::new(self.brain(
            intents,
            tuned.vectors,
            Some(tuned.encoder),
            Some(fine_tuning),
        )?)))
    }
}

/// One phrase the classifier learns.
#[derive(Debug, Clone)]
struct TrainingExample {
    label: IntentLabel,
    text: String,
}

impl AssistantService {
    /// Sets the service up; the first model is built by `refresh` (or `follow_changes`).
    pub fn new(
        store: Store,
        knowledge: Arc<KnowledgeService>,
        embedder: Arc<Embedder>,
        model_dir: PathBuf,
        overrides: ThresholdOverrides,
        fine_tune: Option<FineTuneOptions>,
    ) -> Arc<AssistantService> {
        Arc::new(AssistantService {
            store,
            knowledge,
            embedder,
            model_dir,
            overrides,
            fine_tune,
            tuning: Mutex::new(None),
            brain: RwLock::new(None),
            progress: Mutex::new(Progress::default()),
            changed: tokio::sync::Notify::new(),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    fn current(&self) -> Option<Arc<Brain>> {
        self.brain
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn status(&self) -> AssistantStatus {
        let brain = self.current();
        let progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        AssistantStatus {
            model_id: self.embedder.model_id().to_string(),
            model_checksum: self.embedder.checksum().to_string(),
            ready: brain.is_some(),
            training: progress.training,
            last_error: progress.last_error.clone(),
            classes: brain.as_ref().map_or(0, |b| b.intents.labels().len()),
            knowledge_sequence: brain.as_ref().map_or(0, |b| b.knowledge_sequence()),
            report: brain.as_ref().map(|b| b.intents.report().clone()),
            fine_tuning: brain.as_ref().and_then(|b| b.fine_tuning.get().cloned()),
            tuned_layers: brain
                .as_ref()
                .and_then(|b| b.tuned.as_ref())
                .map_or(0, |t| t.layer_count()),
            calibration: brain.as_ref().map(|b| b.intents.calibration().clone()),
            thresholds: brain.as_ref().map(|b| b.thresholds),
        }
    }

    /// Understands one customer message with the current model.
    pub async fn understand(&self, message: &str) -> Result<Understanding, ServiceError> {
        self.understand_deep(message, brain::ANSWERS_RETURNED).await
    }

    /// `understand`, returning up to `answers` ranked entries (evaluation looks deeper).
    pub async fn understand_deep(
        &self,
        message: &str,
        answers: usize,
    ) -> Result<Understanding, ServiceError> {
        let brain = self.current().ok_or_else(|| {
            ServiceError::Unavailable("The assistant is still learning the knowledge base.".into())
        })?;
        let message = message.trim().to_string();
        if message.is_empty() {
            return Err(crate::domain::ValidationError::new("message", "is empty").into());
        }
        let started = Instant::now();
        let embedder = Arc::clone(&self.embedder);
        let text = message.clone();
        let tuned = brain.tuned.clone();
        let embedding = async {
            let vector = blocking(move || match tuned {
                Some(tuned) => embedder.embed_queries_tuned(&tuned, &[text.as_str()]),
                None => embedder.embed_queries(&[text.as_str()]),
            })
            .await;
            (vector, started.elapsed())
        };
        // The keyword search needs one core for a few milliseconds while the embedding
        // rarely keeps both busy: side by side, it mostly hides behind the embedding.
        let keyword_search = async {
            let ranking = self
                .knowledge
                .search_ids(
                    &message,
                    crate::domain::KnowledgeFilter {
                        published_only: true,
                        ..Default::default()
                    },
                    brain::CANDIDATES,
                )
                .await;
            (ranking, started.elapsed())
        };
        let ((vector, embedded), (keyword_ranking, searched)) =
            tokio::join!(embedding, keyword_search);
        let vector = vector??.pop().unwrap_or_default();
        let keyword_ranking = keyword_ranking?;
        let searched = searched.max(embedded);
        let ranked = {
            let brain = Arc::clone(&brain);
            let message = message.clone();
            blocking(move || brain.rank(&message, &vector, &keyword_ranking)).await??
        };
        let ranked_at = started.elapsed();
        let ids: Vec<_> = ranked.answers.iter().map(|a| a.entry_id).collect();
        // The decision shows the first `answers`; the rest are only needed in place of an
        // entry deleted since the model was trained.
        let first = answers.min(ids.len());
        let mut entries = self.knowledge.entries(ids[..first].to_vec()).await?;
        if entries.len() < first {
            entries = self.knowledge.entries(ids).await?;
        }
        let fetched = started.elapsed();
        let understanding = brain.decide(&message, ranked, entries, answers);
        tracing::debug!(
            embed_us = embedded.as_micros(),
            embed_and_keyword_us = searched.as_micros(),
            rank_us = (ranked_at - searched).as_micros(),
            fetch_us = (fetched - ranked_at).as_micros(),
            decide_us = (started.elapsed() - fetched).as_micros(),
            "understood a message"
        );
        Ok(understanding)
    }

    /// Brings the model up to date with the knowledge base and the intent phrases: embeds
    /// what is new, and retrains unless the training set is unchanged. Requests keep using
    /// the previous model until the new one is swapped in.
    pub async fn refresh(&self) -> Result<(), ServiceError> {
        let _one_at_a_time = self.refreshing.lock().await;
        self.set_training(true, None);
        let outcome = self.refresh_now().await;
        let error = outcome.as_ref().err().map(ToString::to_string);
        if let Some(error) = &error {
            tracing::warn!(%error, "training the assistant failed; the previous model stays");
        }
        self.set_training(false, error);
        outcome
    }

    fn set_training(&self, training: bool, last_error: Option<String>) {
        let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        progress.training = training;
        if !training {
            progress.last_error = last_error;
        }
    }

    async fn refresh_now(&self) -> Result<(), ServiceError> {
        let started = Instant::now();
        let (entries, sequence) = self.store.knowledge_snapshot().await?;
        let phrases = self.store.intent_phrases().await?;
        let mut examples = Vec::new();
        let mut faq_rows = Vec::new();
        let mut entry_languages = HashMap::new();
        for entry in entries
            .iter()
            .filter(|e| e.content.status == FaqStatus::Published)
        {
            entry_languages.insert(entry.id, entry.content.language.clone());
            for text in std::iter::once(&entry.content.question).chain(&entry.content.variants) {
                examples.push(TrainingExample {
                    label: IntentLabel::Faq(entry.id),
                    text: text.clone(),
                });
                faq_rows.push(entry.id);
            }
        }
        for intent in BuiltinIntent::ALL {
            let taught = phrases.iter().filter(|p| p.intent == intent);
            let texts = intent
                .seed_phrases()
                .iter()
                .map(|s| (*s).to_string())
                .chain(taught.map(|p| p.text.clone()));
            examples.extend(texts.map(|text| TrainingExample {
                label: IntentLabel::Builtin(intent),
                text,
            }));
        }
        examples.extend(BACKGROUND_PHRASES.iter().map(|text| TrainingExample {
            label: IntentLabel::OutOfScope,
            text: (*text).to_string(),
        }));
        let fingerprint = self.fingerprint(&examples);
        if let Some(current) = self.current()
            && current.fingerprint == fingerprint
        {
            current.mark_current_at(sequence);
            return Ok(());
        }

        let texts: Vec<String> = examples.iter().map(|e| e.text.clone()).collect();
        let vectors = self.embed_with_cache(&texts).await?;
        let oos_texts: Vec<String> = OUT_OF_SCOPE_PHRASES
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        let oos_vectors = self.embed_with_cache(&oos_texts).await?;

        let set = Arc::new(TrainingSet {
            texts,
            labels: examples.iter().map(|e| e.label).collect(),
            faq_rows,
            entry_languages,
            oos_texts,
            fingerprint,
            sequence,
        });
        let (brain, needs_tuning) = {
            let job = self.job(&set);
            blocking(move || job.first_brain(vectors, &oos_vectors)).await??
        };
        let report = brain.intents.report().clone();
        let thresholds = brain.thresholds;
        let tuned_layers = brain.tuned.as_ref().map_or(0, |t| t.layer_count());
        self.swap(Arc::new(brain));
        tracing::info!(
            classes = report.classes,
            examples = report.examples,
            holdout_accuracy = ?report.holdout_accuracy,
            answer_threshold = thresholds.answer,
            unknown_threshold = thresholds.unknown,
            tuned_layers,
            elapsed_ms = started.elapsed().as_millis(),
            "assistant model ready"
        );
        let live: Vec<String> = set
            .texts
            .iter()
            .chain(&set.oos_texts)
            .map(|t| text_sha256(t))
            .collect();
        self.store.prune_embeddings(self.model_key(), live).await?;
        if needs_tuning && self.fine_tune.is_some() {
            *self.tuning.lock().unwrap_or_else(PoisonError::into_inner) = Some(set);
        }
        Ok(())
    }

    fn job(&self, set: &Arc<TrainingSet>) -> TrainingJob {
        TrainingJob {
            set: Arc::clone(set),
            saved: brain::SavedModel::paths(&self.model_dir),
            model_dir: self.model_dir.clone(),
            embedder: Arc::clone(&self.embedder),
            overrides: self.overrides,
        }
    }

    /// Fine-tunes the encoder for the training set the last refresh left waiting (if any),
    /// then swaps in the tuned model — unless `stop` turns true first. Returns whether it
    /// stopped.
    async fn fine_tune_pending(&self, size: TuningSize, stop: Arc<AtomicBool>) -> bool {
        let Some(options) = self.fine_tune.clone() else {
            return false;
        };
        let Some(set) = self
            .tuning
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return false;
        };
        if size == TuningSize::AsServed && set.texts.len() > FINE_TUNE_MAX_EXAMPLES {
            tracing::info!(
                examples = set.texts.len(),
                limit = FINE_TUNE_MAX_EXAMPLES,
                "too many phrases to fine-tune the encoder in the background; the head alone \
                 serves (`kefu train` fine-tunes any size)"
            );
            return false;
        }
        let Some(frozen) = self
            .current()
            .filter(|brain| brain.fingerprint == set.fingerprint)
            .map(|brain| brain.intents.report().clone())
        else {
            return false;
        };
        let job = self.job(&set);
        self.set_training(true, None);
        let started = Instant::now();
        let stopped = Arc::clone(&stop);
        let outcome = blocking(move || {
            job.tuned_brain(&frozen, &options, &|| stopped.load(Ordering::Relaxed))
        })
        .await;
        let mut last_error = None;
        match outcome {
            Ok(Ok(Tuning::Better(brain))) => {
                let fine_tuning = brain.fine_tuning.get().cloned();
                // A refresh may have swapped in a newer training set meanwhile.
                if self.swap_if_still_current(Arc::from(brain)) {
                    tracing::info!(
                        elapsed_ms = started.elapsed().as_millis(),
                        frozen = ?fine_tuning.as_ref().and_then(|f| f.frozen_holdout_accuracy),
                        tuned = ?fine_tuning.as_ref().and_then(|f| f.tuned_holdout_accuracy),
                        "the bot now uses the encoder fine-tuned on the knowledge base"
                    );
                }
            }
            Ok(Ok(Tuning::NoBetter(fine_tuning))) => {
                tracing::info!(
                    frozen = ?fine_tuning.frozen_holdout_accuracy,
                    tuned = ?fine_tuning.tuned_holdout_accuracy,
                    "fine-tuning did not beat the frozen encoder on held-out phrases; the bot keeps it"
                );
                if let Some(current) = self.current()
                    && current.fingerprint == set.fingerprint
                {
                    let saved = brain::SavedModel::paths(&self.model_dir);
                    let recorded = fine_tuning.clone();
                    let record = blocking(move || {
                        saved.save(
                            &current.intents,
                            &current.fingerprint,
                            None,
                            Some(&recorded),
                        )
                    })
                    .await;
                    // The brain in use learns that tuning ran, for the status page.
                    if let Some(current) = self.current()
                        && current.fingerprint == set.fingerprint
                    {
                        let _first = current.fine_tuning.set(fine_tuning);
                    }
                    if let Ok(Err(error)) = record {
                        tracing::warn!(%error, "could not record the fine-tuning outcome");
                    }
                }
            }
            Ok(Err(MlError::Stopped)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "fine-tuning failed; the frozen encoder stays");
                last_error = Some(error.to_string());
            }
            Err(error) => {
                tracing::warn!(%error, "fine-tuning failed; the frozen encoder stays");
                last_error = Some(error.to_string());
            }
        }
        self.set_training(false, last_error);
        stop.load(Ordering::Relaxed)
    }

    /// `refresh`, then fine-tuning to the end: the model `kefu serve` ends up with
    /// (`TuningSize::AsServed`, for evaluations), or fine-tuned whatever its size (`kefu train`).
    pub async fn refresh_and_fine_tune(&self, size: TuningSize) -> Result<(), ServiceError> {
        self.refresh().await?;
        self.fine_tune_pending(size, Arc::new(AtomicBool::new(false)))
            .await;
        let error = self.status().last_error;
        match error {
            Some(error) => Err(ServiceError::Unavailable(error)),
            None => Ok(()),
        }
    }

    fn swap(&self, brain: Arc<Brain>) {
        *self.brain.write().unwrap_or_else(PoisonError::into_inner) = Some(brain);
    }

    /// Swaps in `brain` only if the one serving was trained on the same training set.
    fn swap_if_still_current(&self, brain: Arc<Brain>) -> bool {
        let mut serving = self.brain.write().unwrap_or_else(PoisonError::into_inner);
        let Some(current) = serving
            .as_ref()
            .filter(|serving| serving.fingerprint == brain.fingerprint)
        else {
            return false;
        };
        // Edits that left the training set alone may have moved the serving brain on.
        brain.mark_current_at(current.knowledge_sequence());
        *serving = Some(brain);
        true
    }

    fn model_key(&self) -> ModelKey {
        ModelKey {
            model_id: self.embedder.model_id().to_string(),
            checksum: self.embedder.checksum().to_string(),
        }
    }

    /// Identifies a training set: the same model and phrases give the same classifier, so
    /// a saved one can be reused.
    fn fingerprint(&self, examples: &[TrainingExample]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.embedder.checksum().as_bytes());
        hasher.update(format!("{:?}", TrainingOptions::default()).as_bytes());
        for example in examples {
            hasher.update(format!("{:?}\u{0}{}\u{0}", example.label, example.text).as_bytes());
        }
        hex::encode(hasher.finalize())
    }

    /// Vectors for `texts` (as queries), from SQLite where this model embedded them before.
    async fn embed_with_cache(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ServiceError> {
        let hashes: Vec<String> = texts.iter().map(|t| text_sha256(t)).collect();
        let mut cached = self
            .store
            .cached_embeddings(self.model_key(), hashes.clone())
            .await?;
        let mut queued = std::collections::HashSet::new();
        let mut missing: Vec<(String, String)> = Vec::new();
        for (text, hash) in texts.iter().zip(&hashes) {
            if !cached.contains_key(hash) && queued.insert(hash) {
                missing.push((hash.clone(), text.clone()));
            }
        }
        for chunk in missing.chunks(EMBED_CHUNK) {
            let embedder = Arc::clone(&self.embedder);
            let chunk_texts: Vec<String> = chunk.iter().map(|(_, t)| t.clone()).collect();
            let vectors = blocking(move || {
                let refs: Vec<&str> = chunk_texts.iter().map(String::as_str).collect();
                embedder.embed_queries(&refs)
            })
            .await??;
            let records: Vec<EmbeddingRecord> = chunk
                .iter()
                .zip(vectors)
                .map(|((hash, _), vector)| EmbeddingRecord {
                    text_sha256: hash.clone(),
                    vector,
                })
                .collect();
            for record in &records {
                cached.insert(record.text_sha256.clone(), record.vector.clone());
            }
            self.store
                .save_embeddings(self.model_key(), records, now())
                .await?;
        }
        Ok(hashes
            .iter()
            .map(|hash| cached.get(hash).cloned().unwrap_or_default())
            .collect())
    }

    /// Keeps the model following the knowledge base and the intent phrases until the
    /// process ends: trains at once, then again (debounced) after every change.
    pub fn follow_changes(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let mut changed = false;
            loop {
                if changed {
                    // Let the burst finish: every further change restarts the wait.
                    loop {
                        tokio::select! {
                            () = service.changed.notified() => {}
                            () = tokio::time::sleep(RETRAIN_DEBOUNCE) => break,
                        }
                    }
                }
                let _ = service.refresh().await;
                changed = service.fine_tune_until_changed().await;
                if !changed {
                    service.wait_for_change().await;
                    changed = true;
                }
            }
        })
    }

    async fn wait_for_change(&self) {
        loop {
            tokio::select! {
                () = self.changed.notified() => return,
                () = tokio::time::sleep(POLL_INTERVAL) => {
                    if self.knowledge_changed().await {
                        return;
                    }
                }
            }
        }
    }

    /// Runs any pending fine-tuning, stopping it at the first change to the knowledge base
    /// (the frozen model for the new one comes first). True when a change stopped it.
    async fn fine_tune_until_changed(&self) -> bool {
        let stop = Arc::new(AtomicBool::new(false));
        let tuning = self.fine_tune_pending(TuningSize::AsServed, Arc::clone(&stop));
        tokio::pin!(tuning);
        let mut saw_change = false;
        loop {
            tokio::select! {
                stopped = &mut tuning => return stopped || saw_change,
                () = self.wait_for_change(), if !saw_change => {
                    saw_change = true;
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    async fn knowledge_changed(&self) -> bool {
        let seen = self
            .current()
            .map_or(-1, |brain| brain.knowledge_sequence());
        match self.store.latest_knowledge_sequence().await {
            Ok(latest) => latest != seen,
            Err(_) => false,
        }
    }

    /// Tells the follower to retrain soon (after an admin edit in this process).
    pub fn knowledge_edited(&self) {
        self.changed.notify_one();
    }

    pub async fn intent_phrases(&self) -> Result<Vec<IntentPhrase>, ServiceError> {
        Ok(self.store.intent_phrases().await?)
    }

    pub async fn add_intent_phrase(
        &self,
        intent: &str,
        text: &str,
        by: Option<UserId>,
    ) -> Result<IntentPhrase, ServiceError> {
        let phrase = NewIntentPhrase::parse(intent, text).map_err(ServiceError::InvalidFields)?;
        let seeded = phrase
            .intent
            .seed_phrases()
            .iter()
            .any(|seed| crate::domain::knowledge::normalize_question(seed) == phrase.text_key);
        if seeded {
            return Err(ServiceError::Conflict(
                "That phrase is already one of the built-in phrases.".into(),
            ));
        }
        let added = self.store.add_intent_phrase(phrase, by, now()).await?;
        tracing::info!(intent = added.intent.as_str(), "intent phrase added");
        self.knowledge_edited();
        Ok(added)
    }

    pub async fn delete_intent_phrase(&self, id: i64) -> Result<(), ServiceError> {
        self.store.delete_intent_phrase(id).await?;
        self.knowledge_edited();
        Ok(())
    }
}

fn text_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
