//! The real `kefu` binary: crash safety, graceful shutdown, the lock, and the admin commands.

use crate::helpers::{Browser, kefu_binary, location, run_kefu as kefu};
use reqwest::StatusCode;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const ADMIN: &str = "ops@example.com";
const PASSWORD: &str = "operator password";

/// A `kefu serve` child process and the lines it logs.
struct Served {
    child: Child,
    address: String,
    log: mpsc::Receiver<String>,
}

fn serve(data_dir: &Path) -> Served {
    let mut child = Command::new(kefu_binary())
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .arg("--data-dir")
        .arg(data_dir)
        // The background fine-tuning would only compete with the other tests for the CPU.
        .env("KEFU_FINE_TUNE_LAYERS", "0")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("kefu serve starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (lines, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let address = wait_for_line(&log, "is listening on ")
        .split("is listening on ")
        .nth(1)
        .expect("address after the marker")
        .split_whitespace()
        .next()
        .expect("address")
        .to_string();
    Served {
        child,
        address,
        log,
    }
}

fn wait_for_line(log: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        match log.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(error) => panic!("kefu never logged {needle:?}: {error}"),
        }
    }
}

fn create_admin(data_dir: &Path) {
    let output = kefu(
        &[
            "admin",
            "create-user",
            "--email",
            ADMIN,
            "--role",
            "admin",
            "--password-stdin",
        ],
        data_dir,
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn kill_9_during_a_stream_of_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_admin(dir.path());
    let mut served = serve(dir.path());
    let browser = Browser::new(&served.address);
    assert_eq!(
        browser.login(ADMIN, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let token = browser.csrf_token("/admin/users").await;

    let mut acknowledged = Vec::new();
    let mut refused_after_kill = 0;
    for n in 0..200 {
        if n == 25 {
            // Kill in the middle of the stream, while a write may be in flight.
            let client = browser.client.clone();
            let url = browser.url("/admin/users");
            let token = token.clone();
            let in_flight = tokio::spawn(async move {
                client
                    .post(url)
                    .form(&[
                        ("email", "inflight@example.com"),
                        ("display_name", "In Flight"),
                        ("role", "agent"),
                        ("password", "password 1234"),
                        ("csrf_token", token.as_str()),
                    ])
                    .send()
                    .await
            });
            signal(&served.child, "KILL");
            let outcome = in_flight.await.expect("task");
            if matches!(&outcome, Ok(response) if response.status() == StatusCode::SEE_OTHER) {
                acknowledged.push("inflight@example.com".to_string());
            }
        }
        let email = format!("agent{n}@example.com");
        let response = browser
            .client
            .post(browser.url("/admin/users"))
            .form(&[
                ("email", email.as_str()),
                ("display_name", "Agent"),
                ("role", "agent"),
                ("password", "password 1234"),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await;
        match response {
            Ok(response) if response.status() == StatusCode::SEE_OTHER => acknowledged.push(email),
            Ok(response) => panic!("unexpected status {}", response.status()),
            Err(_) => {
                refused_after_kill += 1;
                if refused_after_kill == 3 {
                    break;
                }
            }
        }
    }
    served.child.wait().expect("killed child is reaped");
    assert!(acknowledged.len() >= 25, "the stream ran before the kill");

    let listed = kefu(&["admin", "list-users"], dir.path(), None);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|email| !listed.contains(email.as_str()))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
}

#[tokio::test]
async fn sigterm_stops_gracefully_and_closes_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_admin(dir.path());
    let mut served = serve(dir.path());
    let browser = Browser::new(&served.address);
    assert_eq!(browser.get("/readyz").await.status(), StatusCode::OK);
    let bound = served.address.trim_start_matches("http://").to_string();
    let healthy = kefu(&["healthcheck", "--address", &bound], dir.path(), None);
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );

    // A customer's chat holds an event stream open; stopping must not wait on it.
    assert_eq!(
        browser.login(ADMIN, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let inboxes = browser.get_html("/admin/inboxes").await;
    let after = &inboxes[inboxes.find("data-inbox=").expect("a snippet") + "data-inbox=".len()..];
    let start = after.find(';').expect("an escaped quote") + 1;
    let inbox = &after[start..start + 24];
    let customer = Browser::new(&served.address);
    customer.get_html(&format!("/widget/{inbox}/chat")).await;
    let mut stream = customer.get(&format!("/widget/{inbox}/events")).await;
    assert_eq!(stream.status(), StatusCode::OK);

    signal(&served.child, "TERM");
    let stopping = std::time::Instant::now();
    wait_for_line(&served.log, "kefu stopped");
    // The server's shutdown timeout is 30 s: ending well before it means the stream was closed.
    assert!(
        stopping.elapsed() < Duration::from_secs(20),
        "an open event stream held the shutdown"
    );
    assert!(
        matches!(stream.chunk().await, Ok(None) | Err(_)),
        "the stream ended"
    );
    let status = served.child.wait().expect("exits");
    assert!(status.success(), "exit status {status}");
    let wal = dir.path().join("kefu.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).expect("metadata").len() == 0,
        "the WAL was checkpointed on close"
    );
    assert!(
        browser
            .client
            .get(browser.url("/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_second_kefu_serve_refuses_to_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = serve(dir.path());
    let second = kefu(&["serve", "--bind", "127.0.0.1:0"], dir.path(), None);
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!(
            "is in use by another kefu process (pid {})",
            first.child.id()
        )),
        "{stderr}"
    );
    signal(&first.child, "TERM");
    first.child.wait().expect("exits");
}

#[tokio::test]
async fn operators_manage_accounts_from_the_shell() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_admin(dir.path());

    let duplicate = kefu(
        &["admin", "create-user", "--email", ADMIN, "--password-stdin"],
        dir.path(),
        Some("some other password\n"),
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let weak = kefu(
        &[
            "admin",
            "create-user",
            "--email",
            "weak@example.com",
            "--password-stdin",
        ],
        dir.path(),
        Some("short\n"),
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10 characters"));

    let served = serve(dir.path());
    let browser = Browser::new(&served.address);
    let front = browser.get("/").await;
    assert_eq!(location(&front), "/login", "no setup once an admin exists");
    assert_eq!(
        browser.login(ADMIN, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    // Reset while the server runs: the session ends and only the new password works.
    let reset = kefu(
        &[
            "admin",
            "reset-password",
            "--email",
            ADMIN,
            "--password-stdin",
        ],
        dir.path(),
        Some("a fresh password\n"),
    );
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    assert_eq!(browser.get("/desk").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.login(ADMIN, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        browser.login(ADMIN, "a fresh password").await.status(),
        StatusCode::SEE_OTHER
    );
    let mut child = served.child;
    signal(&child, "TERM");
    child.wait().expect("exits");
}
