//! `kefu bench desk`: the agents' side under load, against a real `kefu serve` started as a
//! child process on 127.0.0.1 — the time from a customer's handoff to the conversation in
//! the agent's open desk, and how many desk and widget event streams one server holds open,
//! with its memory at each level.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::domain::{InboxInput, InboxSettings};
use crate::service::{AccountService, NewUserRequest};
use crate::store::Store;

const INBOX_TOKEN: &str = "bench";
const AGENT_EMAIL: &str = "agent@bench.example";
const AGENT_PASSWORD: &str = "bench password 123";
const READY_WAIT: Duration = Duration::from_secs(600);
const EVENT_WAIT: Duration = Duration::from_secs(10);
/// Longer than two of the desk's fold windows (150 ms each: the refresh at once, then one
/// trailing refresh for what came in the window).
const QUIET: Duration = Duration::from_millis(400);

pub struct DeskBenchOptions {
    pub handoffs: usize,
    pub desks: usize,
    pub widgets: Vec<usize>,
}

/// The server under test; killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn rss_mib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib >> 10)
    }
}

pub async fn desk(config: &Config, options: DeskBenchOptions) -> anyhow::Result<()> {
    let scratch = super::scratch::ScratchDir::new("bench-desk")?;
    prepare(scratch.path()).await?;
    let server = start_server(config, scratch.path())?;
    wait_until_trained(&server.base).await?;

    let agent = signed_in_agent(&server.base).await?;
    println!(
        "server: pid {}, RSS {} MiB with the bot trained",
        server.child.id(),
        server.rss_mib().unwrap_or(0)
    );
    handoff_latency(&server.base, &agent, options.handoffs).await?;
    open_streams(&server, &agent, options.desks, &options.widgets).await?;
    Ok(())
}

/// A data dir with the demo knowledge base, an inbox and one agent (who is also an admin,
/// so the capacity can be raised for the run).
async fn prepare(path: &std::path::Path) -> anyhow::Result<()> {
    let data_dir = DataDir::create(path)?;
    let store = Store::open(&data_dir.database(), 1).await?;
    crate::service::knowledge::import_into(&store, super::bench::DEMO_FAQ.as_bytes(), false, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let settings = InboxSettings::parse(InboxInput {
        name: "Bench".into(),
        color: "#2563eb".into(),
        position: "right".into(),
        language: "auto".into(),
        unanswered_before_handoff: 2,
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
    AccountService::new(store.clone())
        .create_user(NewUserRequest {
            email: AGENT_EMAIL.into(),
            display_name: "Bench Agent".into(),
            role: "admin".into(),
            password: AGENT_PASSWORD.into(),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await;
    Ok(())
}

fn start_server(config: &Config, data_dir: &std::path::Path) -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(std::env::current_exe().context("finding the kefu binary")?)
        .args([
            "--model",
            &config.model,
            "serve",
            "--no-demo",
            "--trust-proxy",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .env("KEFU_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .context("starting kefu serve")?;
    Ok(Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

async fn wait_until_trained(base: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && let Ok(ready) = response.json::<serde_json::Value>().await
            && ready["assistant"]["trained"] == true
        {
            return Ok(());
        }
        if started.elapsed() > READY_WAIT {
            bail!("the server never became ready");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The agent's browser: signed in, online, with room for every handoff of the run.
struct Agent {
    client: reqwest::Client,
    csrf_token: String,
}

fn csrf_in(html: &str) -> anyhow::Result<String> {
    Ok(html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF token on the page")?
        .to_string())
}

async fn signed_in_agent(base: &str) -> anyhow::Result<Agent> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let response = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", AGENT_EMAIL),
            ("password", AGENT_PASSWORD),
            ("csrf_token", &csrf_in(&login)?),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_redirection(),
        "login: {}",
        response.status()
    );
    let desk = client
        .get(format!("{base}/desk"))
        .send()
        .await?
        .text()
        .await?;
    let csrf_token = csrf_in(&desk)?;
    let agent = Agent { client, csrf_token };
    agent
        .post(base, "/desk/presence", &[("presence", "online")])
        .await?;
    agent
        .post(base, "/admin/agents/1/capacity", &[("capacity", "100")])
        .await?;
    Ok(agent)
}

impl Agent {
    async fn post(&self, base: &str, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<()> {
        let mut form = fields.to_vec();
        form.push(("csrf_token", &self.csrf_token));
        let response = self
            .client
            .post(format!("{base}{path}"))
            .form(&form)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success() || response.status().is_redirection(),
            "POST {path}: {}",
            response.status()
        );
        Ok(())
    }

    /// Ids in the agent's "mine" list, as the desk fetches it after a "changed" event.
    async fn mine(&self, base: &str) -> anyhow::Result<Vec<i64>> {
        let html = self
            .client
            .get(format!("{base}/desk/list?view=mine"))
            .send()
            .await?
            .text()
            .await?;
        Ok(html
            .split("<li class=\"desk-row")
            .skip(1)
            .filter_map(|row| {
                let start = row.find("data-id=\"")? + "data-id=\"".len();
                row[start..start + row[start..].find('"')?].parse().ok()
            })
            .collect())
    }
}

/// A customer's browser from its own address.
fn customer_client(number: usize) -> anyhow::Result<reqwest::Client> {
    let address = format!(
        "10.{}.{}.{}",
        (number >> 16) & 255,
        (number >> 8) & 255,
        number & 255
    );
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(
            [(
                reqwest::header::HeaderName::from_static("x-forwarded-for"),
                reqwest::header::HeaderValue::from_str(&address)?,
            )]
            .into_iter()
            .collect(),
        )
        .build()?)
}

/// Customers hand off one after another while the agent's desk stream is open; each is
/// timed from the handoff POST until the desk's list (fetched on the "changed" event, as the
/// page does) shows the conversation. The agent resolves it to keep room.
async fn handoff_latency(base: &str, agent: &Agent, handoffs: usize) -> anyhow::Result<()> {
    let mut stream = agent
        .client
        .get(format!("{base}/desk/events"))
        .send()
        .await?
        .error_for_status()?;
    let mut latencies = Vec::with_capacity(handoffs);
    // How long the handoff POST itself took (the customer's side).
    let mut posted = Vec::with_capacity(handoffs);
    for number in 0..handoffs {
        let customer = customer_client(number)?;
        let chat = customer
            .get(format!("{base}/widget/{INBOX_TOKEN}/chat"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let token = csrf_in(&chat)?;
        let before = agent.mine(base).await?;
        let started = Instant::now();
        let response = customer
            .post(format!("{base}/widget/{INBOX_TOKEN}/handoff"))
            .header("HX-Request", "true")
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "handoff: {}",
            response.status()
        );
        posted.push(started.elapsed());
        let arrived = loop {
            let chunk = tokio::time::timeout(EVENT_WAIT, stream.chunk())
                .await
                .context("the desk heard nothing within 10 s")??
                .context("the desk stream ended")?;
            if !String::from_utf8_lossy(&chunk).contains("event: changed") {
                continue;
            }
            let now_mine = agent.mine(base).await?;
            if let Some(new) = now_mine.iter().find(|id| !before.contains(id)) {
                break *new;
            }
        };
        latencies.push(started.elapsed());
        agent
            .post(base, &format!("/desk/conversations/{arrived}/resolve"), &[])
            .await?;
        // Measure each handoff on a quiet desk: within 150 ms of a refresh a desk folds
        // further changes into one refresh at the end of that window (by design), which
        // would time the fold, not the handoff. Read what the resolve sent meanwhile.
        let quiet_until = Instant::now() + QUIET;
        while let Ok(chunk) = tokio::time::timeout_at(quiet_until.into(), stream.chunk()).await {
            chunk?.context("the desk stream ended")?;
        }
    }
    println!(
        "{handoffs} handoffs: customer POST → conversation in the agent's open desk {}; the POST alone {}",
        summary(&mut latencies),
        summary(&mut posted)
    );
    Ok(())
}

/// Opens `desks` desk streams, then widget streams up to each level, and reports the
/// server's memory and its own count of open streams at each level.
async fn open_streams(
    server: &Server,
    agent: &Agent,
    desks: usize,
    widget_levels: &[usize],
) -> anyhow::Result<()> {
    let base = &server.base;
    let mut open = Vec::new();
    for _ in 0..desks {
        open.push(
            agent
                .client
                .get(format!("{base}/desk/events"))
                .send()
                .await?
                .error_for_status()?,
        );
    }
    let mut widgets = 0;
    for &level in widget_levels {
        let started = Instant::now();
        while widgets < level {
            let batch: Vec<usize> = (widgets..level.min(widgets + 200)).collect();
            let mut tasks = Vec::new();
            for number in batch {
                let base = base.clone();
                tasks.push(tokio::spawn(async move {
                    let customer = customer_client(1_000_000 + number)?;
                    customer
                        .get(format!("{base}/widget/{INBOX_TOKEN}/chat"))
                        .send()
                        .await?
                        .error_for_status()?;
                    let stream = customer
                        .get(format!("{base}/widget/{INBOX_TOKEN}/events?after=0"))
                        .send()
                        .await?
                        .error_for_status()?;
                    anyhow::Ok((customer, stream))
                }));
            }
            for task in tasks {
                open.push(task.await??.1);
                widgets += 1;
            }
        }
        // Let the server settle, then ask it how many streams it holds.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await?
            .text()
            .await?;
        let held = metrics
            .lines()
            .find(|line| line.starts_with("kefu_sse_streams_open "))
            .and_then(|line| line.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string();
        println!(
            "{desks} desks + {widgets} widgets on SSE ({held} streams open by the server's count): server RSS {} MiB (opened in {:.1?})",
            server.rss_mib().unwrap_or(0),
            started.elapsed()
        );
    }
    drop(open);
    Ok(())
}

/// "p50 …, p99 …, max …" of `samples`.
fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    let percentile = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(index).copied().unwrap_or_default()
    };
    format!(
        "p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        percentile(0.50),
        percentile(0.99),
        samples.last().copied().unwrap_or_default()
    )
}
