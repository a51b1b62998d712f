//! Keeping the ticket index in step with the store: rebuilt when new or stale, then
//! following the `ticket_changes` log (a local write catches up at once, a follower task
//! picks up anything else).

use std::sync::Arc;
use std::time::Duration;

use super::TicketService;
use crate::search::IndexState;
use crate::service::{ServiceError, blocking};

const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);
const CHANGES_PER_BATCH: u32 = 2_000;

impl TicketService {
    pub(super) async fn bring_index_up_to_date(
        &self,
        state: IndexState,
    ) -> Result<(), ServiceError> {
        let latest = self.store.latest_ticket_sequence().await?;
        let needs_rebuild = match state {
            IndexState::Fresh => true,
            IndexState::UpToDate { applied_sequence } => applied_sequence > latest,
        };
        if needs_rebuild {
            self.rebuild_index().await?;
        } else {
            self.catch_up().await?;
        }
        Ok(())
    }

    /// Rebuilds the ticket index from the database; returns how many tickets it holds.
    pub async fn rebuild_index(&self) -> Result<usize, ServiceError> {
        let _guard = self.catching_up.lock().await;
        let (documents, sequence) = self.store.ticket_documents_snapshot().await?;
        let count = documents.len();
        let index = Arc::clone(&self.index);
        blocking(move || index.rebuild(&documents, sequence)).await??;
        tracing::info!(tickets = count, "ticket index rebuilt");
        Ok(count)
    }

    /// Applies every change the index has not seen yet.
    pub async fn catch_up(&self) -> Result<usize, ServiceError> {
        let _guard = self.catching_up.lock().await;
        let mut applied = 0;
        loop {
            let after = self.index.applied_sequence();
            let changes = self
                .store
                .ticket_changes_since(after, CHANGES_PER_BATCH)
                .await?;
            if changes.is_empty() {
                return Ok(applied);
            }
            applied += changes.len();
            let index = Arc::clone(&self.index);
            blocking(move || index.apply(&changes)).await??;
        }
    }

    /// Keeps the index following the database until the process ends.
    pub fn follow_changes(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = service.changed.notified() => {}
                    () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
                }
                if let Err(error) = service.catch_up().await {
                    tracing::warn!(%error, "updating the ticket index failed");
                }
            }
        })
    }

    /// After a local write: the database has it; bring the index along right away.
    pub(super) async fn after_write(&self) {
        if let Err(error) = self.catch_up().await {
            tracing::warn!(%error, "ticket index update after a write failed; the follower retries");
            self.changed.notify_one();
        }
    }

    pub fn indexed_tickets(&self) -> u64 {
        self.index.num_docs()
    }
}
