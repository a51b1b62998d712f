//! Outgoing webhooks: events are queued in SQLite (one delivery per subscribed webhook),
//! then posted by a background task, signed with HMAC-SHA256, retried with backoff, and
//! never sent into the private network unless the admin allowed it for that webhook: names
//! are resolved first and private, loopback and link-local addresses refused; redirects are
//! not followed; timeouts are short.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::json;

use super::{ServiceError, now, random_hex_token};
use crate::domain::integration::{is_public_address, retry_delay};
use crate::domain::{ValidationError, Webhook, WebhookEvent, WebhookId, WebhookUrl};
use crate::store::{DeliveryRecord, DueDelivery, Store};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the queue is looked at when nothing woke the sender.
const POLL_INTERVAL: Duration = Duration::from_secs(5);
const BATCH: i64 = 50;
const MAX_WEBHOOKS: usize = 20;
/// How much of a refusing receiver's answer is kept for the admin page.
const ERROR_CHARS: usize = 300;

pub const SIGNATURE_HEADER: &str = "X-Kefu-Signature";

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the webhook's secret>`: the
/// receiver recomputes it, and refuses old timestamps to stop replays.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Resolves names, then keeps only public addresses (or everything, for webhooks the admin
/// allowed into the private network). Connecting to what was checked — not resolving
/// again — leaves no room for DNS rebinding.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| allow_private || is_public_address(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "refused: {host} resolves only to private, loopback or link-local addresses"
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Makes ring the process's TLS crypto provider, which every HTTP client needs before it is
/// built (the webhooks, `kefu bench`, the tests). Calling it again does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client(allow_private: bool) -> Result<reqwest::Client, ServiceError> {
    install_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("kefu-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .build()
        .map_err(ServiceError::internal)
}

pub struct WebhookService {
    store: Store,
    /// The configured webhooks, so an event nobody subscribed to costs no database write.
    webhooks: RwLock<Vec<Webhook>>,
    wake: tokio::sync::Notify,
    guarded: reqwest::Client,
    open: reqwest::Client,
}

/// What one attempt ended with.
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
    delivered: bool,
}

impl WebhookService {
    pub async fn new(store: Store) -> Result<Arc<Self>, ServiceError> {
        let webhooks = store.webhooks().await?;
        Ok(Arc::new(WebhookService {
            store,
            webhooks: RwLock::new(webhooks),
            wake: tokio::sync::Notify::new(),
            guarded: client(false)?,
            open: client(true)?,
        }))
    }

    /// Queues `event` for every webhook that wants it. Never fails the caller: a problem
    /// here is logged, and the change that caused the event stands.
    pub async fn emit(&self, event: WebhookEvent, data: serde_json::Value) {
        let targets: Vec<WebhookId> = self
            .webhooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|webhook| webhook.wants(event))
            .map(|webhook| webhook.id)
            .collect();
        if targets.is_empty() {
            return;
        }
        let at = now();
        let payload = json!({
            "id": random_hex_token(),
            "event": event.as_str(),
            "created_at": at.unix_seconds(),
            "data": data,
        })
        .to_string();
        match self
            .store
            .enqueue_deliveries(targets, event, payload, at)
            .await
        {
            Ok(()) => self.wake.notify_one(),
            Err(error) => {
                tracing::error!(%error, event = event.as_str(), "queueing a webhook failed")
            }
        }
    }

    /// Posts queued deliveries until the process ends.
    pub fn run(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match service.deliver_due().await {
                    Ok(sent) if sent > 0 => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "sending webhooks failed"),
                }
                tokio::select! {
                    () = service.wake.notified() => {}
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
            }
        })
    }

    /// Attempts every delivery that is due; returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, ServiceError> {
        let due = self.store.due_deliveries(now(), BATCH).await?;
        let count = due.len();
        for delivery in due {
            let attempt = self.attempt(&delivery).await;
            let retry_at = if attempt.delivered {
                None
            } else {
                retry_delay(delivery.attempts + 1).map(|delay| now().plus(delay))
            };
            if !attempt.delivered {
                tracing::info!(
                    delivery = delivery.id,
                    webhook = %delivery.webhook.id,
                    error = attempt.error.as_deref().unwrap_or(""),
                    retry = retry_at.is_some(),
                    "webhook delivery failed"
                );
            }
            self.store
                .record_delivery_attempt(
                    delivery.id,
                    attempt.status,
                    attempt.error,
                    attempt.delivered,
                    retry_at,
                    now(),
                )
                .await?;
        }
        Ok(count)
    }

    async fn attempt(&self, delivery: &DueDelivery) -> Attempt {
        let failed = |error: String| Attempt {
            status: None,
            error: Some(error),
            delivered: false,
        };
        let webhook = &delivery.webhook;
        if !webhook.active {
            return failed("the webhook is switched off".into());
        }
        let url = match reqwest::Url::parse(webhook.url.as_str()) {
            Ok(url) => url,
            Err(error) => return failed(format!("bad URL: {error}")),
        };
        // A literal address is not resolved, so the resolver can't check it: check here.
        let literal = url
            .host_str()
            .map(|host| host.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|host| host.parse::<std::net::IpAddr>().ok());
        if let Some(address) = literal
            && !webhook.allow_private
            && !is_public_address(address)
        {
            return failed(format!(
                "refused: {address} is a private, loopback or link-local address"
            ));
        }
        let timestamp = now().unix_seconds();
        let client = if webhook.allow_private {
            &self.open
        } else {
            &self.guarded
        };
        let response = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Kefu-Event", delivery.event.as_str())
            .header("X-Kefu-Delivery", delivery.id.to_string())
            .header(
                SIGNATURE_HEADER,
                signature(&webhook.secret, timestamp, &delivery.payload),
            )
            .body(delivery.payload.clone())
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    Attempt {
                        status: Some(status.as_u16()),
                        error: None,
                        delivered: true,
                    }
                } else {
                    let body = response.text().await.unwrap_or_default();
                    Attempt {
                        status: Some(status.as_u16()),
                        error: Some(
                            format!("answered {status}: {body}")
                                .chars()
                                .take(ERROR_CHARS)
                                .collect(),
                        ),
                        delivered: false,
                    }
                }
            }
            Err(error) => failed(describe(&error)),
        }
    }

    // ---- admin ----

    pub fn webhooks(&self) -> Vec<Webhook> {
        self.webhooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A new webhook; its secret is shown to the admin with it.
    pub async fn create(
        &self,
        url: &str,
        events: &[String],
        allow_private: bool,
    ) -> Result<Webhook, ServiceError> {
        let mut errors = Vec::new();
        let url = WebhookUrl::parse(url).map_err(|error| errors.push(error));
        let mut chosen = Vec::new();
        for raw in events {
            match WebhookEvent::parse(raw) {
                Some(event) if !chosen.contains(&event) => chosen.push(event),
                Some(_) => {}
                None => errors.push(ValidationError::new(
                    "events",
                    format!("{raw:?} is not an event kefu sends"),
                )),
            }
        }
        if chosen.is_empty() {
            errors.push(ValidationError::new("events", "choose at least one event"));
        }
        if self.webhooks().len() >= MAX_WEBHOOKS {
            errors.push(ValidationError::new(
                "url",
                format!("at most {MAX_WEBHOOKS} webhooks; delete one first"),
            ));
        }
        let Ok(url) = url else {
            return Err(ServiceError::InvalidFields(errors));
        };
        if !errors.is_empty() {
            return Err(ServiceError::InvalidFields(errors));
        }
        let webhook = self
            .store
            .create_webhook(url, random_hex_token(), chosen, allow_private, now())
            .await?;
        self.reload().await?;
        Ok(webhook)
    }

    pub async fn delete(&self, id: WebhookId) -> Result<(), ServiceError> {
        self.store.delete_webhook(id).await?;
        self.reload().await
    }

    pub async fn deliveries(&self, id: WebhookId) -> Result<Vec<DeliveryRecord>, ServiceError> {
        Ok(self.store.webhook_deliveries(id, 20).await?)
    }

    async fn reload(&self) -> Result<(), ServiceError> {
        let webhooks = self.store.webhooks().await?;
        *self
            .webhooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = webhooks;
        Ok(())
    }
}

/// An error and its causes on one line.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(ERROR_CHARS).collect()
}
