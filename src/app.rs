//! Wires kefu together from one `Config`: data directory and its lock, the store, the
//! services, and the HTTP server on a bound port.

use crate::config::Config;
use crate::data_dir::{DataDir, DataDirLock};
use crate::http::{self, AppState, CsrfKey, Metrics, Server, ServerHandle};
use crate::ml::{Embedder, ModelSource};
use crate::realtime::Hub;
use crate::service::{
    AccountService, ApiTokenService, AssistantService, AttachmentService, CatalogService,
    ConversationLog, ConversationService, CustomerService, DeskService, KnowledgeService,
    Personalisation, ProactiveService, SystemService, ThresholdOverrides, TicketService,
    WebhookService, random_hex_token,
};
use crate::store::{AttachmentFiles, Store};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;

/// A kefu instance that has taken its data directory and bound its port, ready to run.
pub struct App {
    server: Server,
    port: u16,
    url: String,
    store: Store,
    setup_token: Option<String>,
    index_follower: tokio::task::JoinHandle<()>,
    assistant_follower: tokio::task::JoinHandle<()>,
    /// The ticket index follower, the SLA deadline sweeper and the webhook sender.
    background: Vec<tokio::task::JoinHandle<()>>,
    hub: Arc<Hub>,
    lock: DataDirLock,
}

impl App {
    /// Loads the configured model, then builds the instance around it.
    pub async fn build(config: &Config) -> anyhow::Result<App> {
        let embedder = load_model(&config.model).await?;
        App::build_with_model(config, embedder).await
    }

    /// Builds the instance with an already loaded model (several instances in one process,
    /// as the integration tests run, share one).
    pub async fn build_with_model(config: &Config, embedder: Arc<Embedder>) -> anyhow::Result<App> {
        let data_dir = DataDir::create(&config.data_dir)?;
        let lock = data_dir.lock()?;
        let store = Store::open(&data_dir.database(), config.db_readers)
            .await
            .with_context(|| format!("opening {}", data_dir.database().display()))?;

        let csrf_key = store
            .setting_or_insert("csrf_key", random_hex_token())
            .await
            .context("loading the CSRF signing key")?;
        let csrf_key = CsrfKey::new(hex::decode(csrf_key).context("the stored CSRF key")?);
        let accounts = Arc::new(AccountService::new(store.clone()));
        let setup_token = accounts
            .prepare_first_run()
            .await
            .context("checking for a first run")?;

        let knowledge = KnowledgeService::open(store.clone(), &data_dir.knowledge_index())
            .await
            .context("opening the knowledge index")?;
        if config.demo {
            knowledge
                .load_demo_if_new()
                .await
                .context("loading the demo knowledge base")?;
        }
        let index_follower = knowledge.follow_changes();
        let assistant = assistant_service(
            config,
            &data_dir,
            store.clone(),
            Arc::clone(&knowledge),
            embedder,
        );
        // Trains in the background: the server answers at once, the bot once it is ready.
        let assistant_follower = assistant.follow_changes();
        let hub = Arc::new(Hub::new());
        let webhooks = WebhookService::new(store.clone())
            .await
            .context("loading the webhooks")?;
        let webhook_sender = webhooks.run();
        let attachments = Arc::new(AttachmentService::new(
            store.clone(),
            AttachmentFiles::new(data_dir.attachments()),
        ));
        let log = Arc::new(ConversationLog::new(
            store.clone(),
            Arc::clone(&hub),
            Arc::clone(&webhooks),
        ));
        let tickets = TicketService::open(
            store.clone(),
            &data_dir.ticket_index(),
            Arc::clone(&log),
            Arc::clone(&attachments),
        )
        .await
        .context("opening the ticket index")?;
        let catalog = CatalogService::new(store.clone(), Arc::clone(assistant.embedder()));
        if config.demo {
            catalog
                .load_demo_if_new()
                .await
                .context("loading the demo catalog")?;
        }
        let customers = CustomerService::new(
            store.clone(),
            Arc::clone(&tickets),
            AttachmentFiles::new(data_dir.attachments()),
        );
        let proactive = ProactiveService::new(
            store.clone(),
            Arc::clone(&log),
            Arc::clone(&customers),
            Arc::clone(&catalog),
        );
        let background = vec![
            tickets.follow_changes(),
            tickets.watch_deadlines(),
            webhook_sender,
            catalog.embed_in_background(),
            customers.backfill_in_background(),
        ];
        let conversations = Arc::new(ConversationService::new(
            store.clone(),
            Arc::clone(&assistant),
            Arc::clone(&log),
            Arc::clone(&tickets),
            Arc::clone(&attachments),
            Personalisation {
                customers: Arc::clone(&customers),
                catalog: Arc::clone(&catalog),
                proactive: Arc::clone(&proactive),
            },
        ));
        conversations
            .ensure_default_inbox("")
            .await
            .context("creating the website inbox")?;

        let desk = Arc::new(DeskService::new(
            store.clone(),
            Arc::clone(&conversations),
            Arc::clone(&assistant),
            Arc::clone(&knowledge),
            Arc::clone(&tickets),
            Arc::clone(&customers),
            Arc::clone(&catalog),
        ));

        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let state = AppState {
            accounts,
            knowledge,
            assistant,
            conversations,
            desk,
            tickets,
            customers,
            catalog,
            proactive,
            api_tokens: Arc::new(ApiTokenService::new(store.clone())),
            attachments,
            webhooks,
            system: SystemService::new(store.clone()),
            metrics: Arc::new(Metrics::new().context("registering metrics")?),
            csrf_key,
            trust_proxy: config.trust_proxy,
        };
        let server = http::server(state, listener, config.workers)?;
        Ok(App {
            server,
            port,
            url: config.display_url(port),
            store,
            setup_token,
            index_follower,
            assistant_follower,
            background,
            hub,
            lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address people should open, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The one-time token for `/setup`, while no account exists.
    pub fn setup_token(&self) -> Option<&str> {
        self.setup_token.as_deref()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT (or `handle().stop()`): stops accepting, ends the open
    /// event streams (widgets reconnect to the next kefu and resume), lets in-flight requests
    /// finish, then closes the database cleanly.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let App {
            server,
            store,
            lock,
            index_follower,
            assistant_follower,
            background,
            hub,
            ..
        } = self;
        let signals = tokio::spawn(stop_on_signal(server.handle(), Arc::clone(&hub)));
        let served = server.await;
        signals.abort();
        hub.close_all();
        index_follower.abort();
        assistant_follower.abort();
        for task in background {
            task.abort();
        }
        store.close().await;
        drop(lock);
        tracing::info!("kefu stopped");
        served.context("the HTTP server failed")
    }
}

/// The server's signal handling is ours (see `http::server`), because a graceful stop must
/// first end the event streams, which would otherwise hold it open until its timeout.
async fn stop_on_signal(server: ServerHandle, hub: Arc<Hub>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut terminate), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot listen for signals; stop kefu with SIGKILL");
            return;
        };
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    tracing::info!("stopping: finishing requests in flight");
    hub.close_all();
    server.stop(true).await;
}

/// The assistant as the configuration sets it up (thresholds, fine-tuning), for `kefu serve`
/// and `kefu train` alike.
pub fn assistant_service(
    config: &Config,
    data_dir: &DataDir,
    store: Store,
    knowledge: Arc<KnowledgeService>,
    embedder: Arc<Embedder>,
) -> Arc<AssistantService> {
    AssistantService::new(
        store,
        knowledge,
        embedder,
        data_dir.assistant_model(),
        ThresholdOverrides {
            answer: config.answer_threshold,
            unknown: config.unknown_threshold,
        },
        config.fine_tune_options(),
    )
}

/// Loads an embedded model by name or one from a directory, off the async threads.
pub async fn load_model(name_or_dir: &str) -> anyhow::Result<Arc<Embedder>> {
    let source = ModelSource::parse(name_or_dir);
    let started = std::time::Instant::now();
    let embedder = tokio::task::spawn_blocking(move || Embedder::load(&source))
        .await?
        .with_context(|| format!("loading the model {name_or_dir:?}"))?;
    tracing::info!(
        model = embedder.model_id(),
        elapsed_ms = started.elapsed().as_millis(),
        "model loaded"
    );
    Ok(Arc::new(embedder))
}
