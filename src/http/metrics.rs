//! Prometheus metrics: request counts and latencies per route, database pool figures, build info.

use super::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::time::Instant;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    db_readers_total: IntGauge,
    db_readers_idle: IntGauge,
    db_writes_queued: IntGauge,
    sse_streams_open: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("kefu".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request to response head, by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let db_readers_total = IntGauge::new("db_readers_total", "Read-only SQLite connections")?;
        let db_readers_idle = IntGauge::new("db_readers_idle", "Read-only connections not in use")?;
        let db_writes_queued = IntGauge::new("db_writes_queued", "Writes waiting for the writer")?;
        let sse_streams_open = IntGauge::new(
            "sse_streams_open",
            "Server-Sent Events streams (widgets, desks) open now",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("build_info", "Always 1; labels say which kefu this is"),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(db_readers_total.clone()))?;
        registry.register(Box::new(db_readers_idle.clone()))?;
        registry.register(Box::new(db_writes_queued.clone()))?;
        registry.register(Box::new(sse_streams_open.clone()))?;
        registry.register(Box::new(build_info))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            db_readers_total,
            db_readers_idle,
            db_writes_queued,
            sse_streams_open,
        })
    }

    pub fn sse_opened(&self) {
        self.sse_streams_open.inc();
    }

    pub fn sse_closed(&self) {
        self.sse_streams_open.dec();
    }
}

/// Middleware: counts and times every request under its route pattern (never the raw
/// path, so ids in URLs cannot blow up the number of series).
pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let metrics = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let response = next.call(request).await?;
    if let Some(metrics) = metrics {
        let status = response.status().as_u16().to_string();
        metrics
            .requests
            .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
            .inc();
        metrics
            .latency
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(response)
}

pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.system.database_pool();
    let metrics = &state.metrics;
    metrics
        .db_readers_total
        .set(gauge_value(pool.readers_total));
    metrics.db_readers_idle.set(gauge_value(pool.readers_idle));
    metrics
        .db_writes_queued
        .set(gauge_value(pool.writes_queued));
    let mut body = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&metrics.registry.gather(), &mut body) {
        tracing::error!(%error, "encoding metrics failed");
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

fn gauge_value(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
