//! Liveness and readiness probes for load balancers, Docker and Kubernetes.

use super::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .body("ok")
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    database: &'static str,
    knowledge_index_entries: u64,
    assistant: AssistantReadiness,
}

/// The model is loaded (or kefu would not have started); `trained` turns true once the bot
/// can answer. Readiness does not wait for it: agents can work while it trains.
#[derive(Serialize)]
struct AssistantReadiness {
    model: String,
    trained: bool,
    training: bool,
    classes: usize,
    /// Encoder layers replaced by ones fine-tuned on this knowledge base (0: frozen).
    tuned_layers: usize,
    /// Whether fine-tuning has run for the current training set (it keeps the frozen
    /// encoder when tuning does not beat it).
    fine_tuned: bool,
    last_error: Option<String>,
}

/// Everything kefu needs to answer requests is open: the database answers, and the
/// knowledge index was opened (or rebuilt) before the server started listening.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database_ok = state.system.database_ready().await;
    let body = Readiness {
        ready: database_ok,
        database: if database_ok { "ok" } else { "unavailable" },
        knowledge_index_entries: state.knowledge.indexed_entries(),
        assistant: {
            let status = state.assistant.status();
            AssistantReadiness {
                model: status.model_id,
                trained: status.ready,
                training: status.training,
                classes: status.classes,
                tuned_layers: status.tuned_layers,
                fine_tuned: status.fine_tuning.is_some(),
                last_error: status.last_error,
            }
        },
    };
    let mut response = if database_ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}
