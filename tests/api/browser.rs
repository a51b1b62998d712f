//! A real headless Chromium driven over the W3C WebDriver protocol (chromedriver), for the
//! tests that must see what a customer sees. The protocol is plain JSON over HTTP, so this
//! speaks it with the reqwest client the tests already use: fantoccini, the usual crate,
//! would bring a second copy of the icu/zerovec/base64 stack into the build.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// W3C's key for element references in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// … and for shadow roots.
const SHADOW_KEY: &str = "shadow-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(30);

pub struct Chromium {
    client: reqwest::Client,
    session: String,
    driver: Child,
}

/// Where screenshots go: `target/test-screenshots/`, next to the test output.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

fn find_program(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            candidates.iter().find_map(|name| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(name))
                    .find(|candidate| candidate.exists())
            })
        })
}

impl Chromium {
    /// Starts chromedriver and a headless Chromium. `None` when they are not installed
    /// (`.ci/run` installs them and sets `KEFU_REQUIRE_BROWSER=1`, which makes that a failure).
    pub async fn start() -> Option<Chromium> {
        let driver_path = find_program(&["/usr/bin/chromedriver", "chromedriver"]);
        let browser_path = find_program(&["/usr/bin/chromium", "chromium", "chromium-browser"]);
        let (Some(driver_path), Some(browser_path)) = (driver_path, browser_path) else {
            assert!(
                std::env::var_os("KEFU_REQUIRE_BROWSER").is_none(),
                "KEFU_REQUIRE_BROWSER is set but chromium / chromedriver are not installed \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!("SKIPPED browser test: install chromium and chromium-driver to run it");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = crate::helpers::http_client().build().expect("http client");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while client.get(format!("{base}/status")).send().await.is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser_path,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,860",
                         "--lang=en-US"]
            }
        }}});
        let created: Value = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        Some(Chromium {
            client,
            session: format!("{base}/session/{session}"),
            driver,
        })
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.session));
        if !body.is_null() {
            request = request.json(&body);
        }
        let response: Value = request
            .send()
            .await
            .expect("webdriver request")
            .json()
            .await
            .expect("webdriver json");
        response["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, body).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let found = self
                .post("/element", json!({"using": "css selector", "value": css}))
                .await;
            if let Some(id) = found[ELEMENT_KEY].as_str() {
                return id.to_string();
            }
            assert!(started.elapsed() < WAIT, "no element {css}: {found}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs one element command (`/element/{id}{action}`) on the first element matching
    /// `css`, waiting for it. A live list may be re-rendered between finding the element and
    /// acting on it: then it finds it again. Any other WebDriver error fails the test.
    async fn on_element(
        &self,
        css: &str,
        method: reqwest::Method,
        action: &str,
        body: Value,
    ) -> Value {
        for _ in 0..5 {
            let element = self.find(css).await;
            let outcome = self
                .command(
                    method.clone(),
                    &format!("/element/{element}{action}"),
                    body.clone(),
                )
                .await;
            let Some(error) = outcome.get("error").and_then(Value::as_str) else {
                return outcome;
            };
            assert_eq!(
                error, "stale element reference",
                "{action} on {css}: {outcome}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} kept being replaced before {action} could reach it");
    }

    /// Clicks the first element matching `css` (waiting for it), as a person would.
    pub async fn click(&self, css: &str) {
        self.on_element(css, reqwest::Method::POST, "/click", json!({}))
            .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.on_element(
            css,
            reqwest::Method::POST,
            "/value",
            json!({ "text": text }),
        )
        .await;
    }

    /// A real pointer click at viewport coordinates (the widget's launcher lives in a
    /// closed shadow root, out of reach of selectors, as on a shop's page).
    pub async fn click_at(&self, x: i64, y: i64) {
        self.post(
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse",
            "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "duration": 0, "x": x, "y": y, "origin": "viewport"},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0}
            ]}]}),
        )
        .await;
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// Enters the iframe matching `css` inside the shadow root of the element matching
    /// `host` (waiting for it).
    pub async fn enter_shadow_frame(&self, host: &str, css: &str) {
        let started = Instant::now();
        loop {
            let host_element = self.find(host).await;
            let root = self
                .command(
                    reqwest::Method::GET,
                    &format!("/element/{host_element}/shadow"),
                    Value::Null,
                )
                .await;
            let root_id = root[SHADOW_KEY].as_str().unwrap_or_default().to_string();
            let frame = self
                .post(
                    &format!("/shadow/{root_id}/element"),
                    json!({"using": "css selector", "value": css}),
                )
                .await;
            if frame.get(ELEMENT_KEY).is_some() {
                let outcome = self.post("/frame", json!({ "id": frame })).await;
                assert!(outcome.is_null(), "entering the frame: {outcome}");
                return;
            }
            assert!(started.elapsed() < WAIT, "no {css} in {host}: {frame}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` (a JavaScript expression) is true in the current frame.
    pub async fn wait_until(&self, script: &str) {
        let started = Instant::now();
        loop {
            if self.execute(&format!("return !!({script});")).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > WAIT {
                let shot = self.screenshot("failure.png").await;
                panic!("never true: {script} (screenshot {})", shot.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The rendered text of the first element matching `css` (waiting for it).
    pub async fn text_of(&self, css: &str) -> String {
        self.on_element(css, reqwest::Method::GET, "/text", Value::Null)
            .await
            .as_str()
            .expect("element text is a string")
            .to_string()
    }

    /// Leaves any frame for the page itself.
    pub async fn leave_frames(&self) {
        self.post("/frame", json!({ "id": null })).await;
    }

    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            encoded.as_str().expect("png as base64"),
        )
        .expect("valid base64");
        let path = screenshot_dir().join(name);
        std::fs::write(&path, bytes).expect("write screenshot");
        path
    }

    pub async fn quit(mut self) {
        let _ = self.client.delete(&self.session).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
