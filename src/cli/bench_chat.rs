//! `kefu bench chat`: a load test of the customer's chat against the real server on
//! 127.0.0.1 — concurrent widget conversations, each posting questions and waiting on its
//! event stream for the bot's reply, timed from the POST to the reply's arrival.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::app::App;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::domain::{InboxInput, InboxSettings};
use crate::service::knowledge::import_into;
use crate::store::Store;

const INBOX_TOKEN: &str = "bench";
const READY_WAIT: Duration = Duration::from_secs(1_800);
const REPLY_WAIT: Duration = Duration::from_secs(60);

pub struct ChatBenchOptions {
    pub entries: Option<usize>,
    pub conversations: Vec<usize>,
    pub messages: usize,
    /// Customers each conversation slot serves one after another.
    pub rounds: usize,
}

pub async fn chat(config: &Config, options: ChatBenchOptions) -> anyhow::Result<()> {
    let embedder = crate::app::load_model(&config.model).await?;
    let scratch = super::scratch::ScratchDir::new("bench-chat")?;
    let data_dir = DataDir::create(scratch.path())?;
    let store = Store::open(&data_dir.database(), 2).await?;
    match options.entries {
        Some(entries) => {
            import_into(&store, &super::bench::synthetic_csv(entries)?, false, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        None => {
            import_into(&store, super::bench::DEMO_FAQ.as_bytes(), false, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let settings = InboxSettings::parse(InboxInput {
        name: "Bench".into(),
        color: "#2563eb".into(),
        position: "right".into(),
        language: "auto".into(),
        // Misses hand off only after many, so every message gets a bot reply to time.
        unanswered_before_handoff: 10,
        ..InboxInput::default()
    })
    .map_err(|errors| anyhow::anyhow!("{errors:?}"))?;
    store
        .create_inbox(
            settings,
            INBOX_TOKEN.into(),
            "bench-secret".into(),
            crate::service::now(),
        )
        .await?;
    store.close().await;

    let server_config = Config {
        data_dir: scratch.path().to_path_buf(),
        bind: "127.0.0.1:0".into(),
        demo: false,
        // Each simulated customer comes from its own address (X-Forwarded-For), as real
        // customers do, so per-address limits apply per customer.
        trust_proxy: true,
        ..config.clone()
    };
    let app = App::build_with_model(&server_config, embedder).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());

    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let ready: serde_json::Value = client
            .get(format!("{base}/readyz"))
            .send()
            .await?
            .json()
            .await?;
        if ready["assistant"]["trained"] == true {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < READY_WAIT,
            "the bot never finished training"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "knowledge base: {} entries; bot trained {:.1?} after start",
        options
            .entries
            .map_or("demo (64)".to_string(), |n| n.to_string()),
        started.elapsed()
    );

    let queries: Arc<Vec<String>> = Arc::new(
        csv::Reader::from_reader(super::bench::DEMO_QUERIES.as_bytes())
            .records()
            .filter_map(|record| record.ok()?.get(0).map(str::to_string))
            .collect(),
    );
    let mut first_customer = 0;
    for &conversations in &options.conversations {
        run_level(&base, &queries, &options, conversations, first_customer).await?;
        first_customer += conversations * options.rounds;
    }
    if let Some(bytes) = crate::ml::peak_rss_bytes() {
        println!("peak RSS of the process: {} MiB", bytes >> 20);
    }
    handle.stop(true).await;
    server.await??;
    Ok(())
}

/// `conversations` customers at once, each slot serving `rounds` customers in turn.
async fn run_level(
    base: &str,
    queries: &Arc<Vec<String>>,
    options: &ChatBenchOptions,
    conversations: usize,
    first_customer: usize,
) -> anyhow::Result<()> {
    let wall = Instant::now();
    let mut tasks = Vec::new();
    for slot in 0..conversations {
        let base = base.to_string();
        let queries = Arc::clone(queries);
        let messages = options.messages;
        let rounds = options.rounds;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for round in 0..rounds {
                let customer = first_customer + slot * rounds + round;
                latencies.extend(one_customer(&base, customer, &queries, messages).await?);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let wall = wall.elapsed();
    latencies.sort();
    let percentile = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(index).copied().unwrap_or_default()
    };
    #[allow(clippy::cast_precision_loss)]
    let throughput = latencies.len() as f64 / wall.as_secs_f64();
    println!(
        "{conversations} concurrent conversations, {} bot replies: POST → reply on the event stream p50 {:.1?}, p99 {:.1?}, max {:.1?}; {throughput:.1} replies/s",
        latencies.len(),
        percentile(0.50),
        percentile(0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    Ok(())
}

/// One customer: opens the chat, listens on its event stream, asks `messages` questions
/// one after another; returns the time from each POST to the bot's reply arriving.
async fn one_customer(
    base: &str,
    number: usize,
    queries: &[String],
    messages: usize,
) -> anyhow::Result<Vec<Duration>> {
    let address = format!(
        "10.{}.{}.{}",
        (number >> 16) & 255,
        (number >> 8) & 255,
        number & 255
    );
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(
            [(
                reqwest::header::HeaderName::from_static("x-forwarded-for"),
                reqwest::header::HeaderValue::from_str(&address)?,
            )]
            .into_iter()
            .collect(),
        )
        .build()?;
    let chat = client
        .get(format!("{base}/widget/{INBOX_TOKEN}/chat"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let token = chat
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF token on the chat page")?
        .to_string();
    let mut stream = client
        .get(format!("{base}/widget/{INBOX_TOKEN}/events?after=0"))
        .send()
        .await?
        .error_for_status()?;
    let mut buffer = String::new();
    let mut latencies = Vec::with_capacity(messages);
    for turn in 0..messages {
        // Unique texts, as real customers write: the embedding cache must not answer for
        // the model.
        let text = format!(
            "{} #{}",
            queries[(number * 7 + turn) % queries.len()],
            number * messages + turn
        );
        let started = Instant::now();
        let response = client
            .post(format!("{base}/widget/{INBOX_TOKEN}/messages"))
            .header("HX-Request", "true")
            .form(&[("body", text.as_str()), ("csrf_token", token.as_str())])
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == reqwest::StatusCode::NO_CONTENT,
            "posting a message: {}",
            response.status()
        );
        // The reply is the first bot or system message after ours; a system message means
        // people took over (the bot is silent from then on), which ends this customer.
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if frame.contains("msg msg-bot") {
                    latencies.push(started.elapsed());
                    break;
                }
                if frame.contains("msg msg-system") {
                    latencies.push(started.elapsed());
                    return Ok(latencies);
                }
                continue;
            }
            let chunk = tokio::time::timeout(REPLY_WAIT, stream.chunk())
                .await
                .context("no reply within a minute")??
                .context("the event stream ended")?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    Ok(latencies)
}
