//! `spawn_app()` and a browser-like client with one method per thing a person does.

use kefu::app::App;
use kefu::config::Config;
use kefu::http::ServerHandle;
use kefu::ml::{DEFAULT_MODEL, Embedder, ModelSource};
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub const ADMIN_EMAIL: &str = "owner@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// A kefu server running in this process on a free port, with its own data directory.
pub struct TestApp {
    pub address: String,
    pub setup_token: Option<String>,
    pub data_dir: PathBuf,
    handle: ServerHandle,
    stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
    _temp: Option<Arc<tempfile::TempDir>>,
}

/// The real default model, loaded once for every app this test binary starts (each would
/// otherwise hold its own ~300 MB copy).
pub fn shared_model() -> Arc<Embedder> {
    static MODEL: OnceLock<Arc<Embedder>> = OnceLock::new();
    Arc::clone(MODEL.get_or_init(|| {
        Arc::new(
            Embedder::load(&ModelSource::Embedded(DEFAULT_MODEL.to_string()))
                .expect("the default model loads"),
        )
    }))
}

pub fn test_config(data_dir: &Path) -> Config {
    Config {
        data_dir: data_dir.to_path_buf(),
        bind: "127.0.0.1:0".into(),
        workers: Some(1),
        db_readers: 2,
        demo: false,
        // Fine-tuning the encoder costs CPU minutes on a 2-core machine: tests that need it
        // turn it on (tests/api/assistant.rs).
        fine_tune_layers: 0,
        ..Config::default()
    }
}

pub async fn spawn_app() -> TestApp {
    let temp = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut app = spawn_app_in(temp.path()).await.expect("kefu starts");
    app._temp = Some(temp);
    app
}

/// A fresh app with the bilingual demo knowledge base loaded, as `kefu serve` starts.
pub async fn spawn_demo_app() -> TestApp {
    let temp = Arc::new(tempfile::tempdir().expect("temp dir"));
    let config = Config {
        demo: true,
        ..test_config(temp.path())
    };
    let mut app = spawn_with(config).await.expect("kefu starts");
    app._temp = Some(temp);
    app
}

/// Starts kefu on an existing data directory (which the caller keeps alive).
pub async fn spawn_app_in(data_dir: &Path) -> anyhow::Result<TestApp> {
    spawn_with(test_config(data_dir)).await
}

pub async fn spawn_with(config: Config) -> anyhow::Result<TestApp> {
    let data_dir = config.data_dir.clone();
    let data_dir = data_dir.as_path();
    let app = App::build_with_model(&config, shared_model()).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let setup_token = app.setup_token().map(str::to_string);
    let handle = app.handle();
    let stopped = tokio::spawn(app.run_until_stopped());
    Ok(TestApp {
        address,
        setup_token,
        data_dir: data_dir.to_path_buf(),
        handle,
        stopped,
        _temp: None,
    })
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    /// Graceful stop, as on SIGTERM; returns once the database is closed.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.stopped
            .await
            .expect("server task")
            .expect("server stops cleanly");
    }

    /// Runs first-run setup and returns the admin's signed-in browser.
    pub async fn admin(&self) -> Browser {
        let browser = self.browser();
        let token = self
            .setup_token
            .clone()
            .expect("fresh app has a setup token");
        let response = browser
            .submit(
                "/setup",
                "/setup",
                &[
                    ("token", token.as_str()),
                    ("email", ADMIN_EMAIL),
                    ("display_name", "Olivia Owner"),
                    ("password", ADMIN_PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "setup succeeds");
        browser
    }

    /// The admin's signed-in browser: via setup on a fresh data dir, else by logging in.
    pub async fn admin_or_login(&self) -> Browser {
        if self.setup_token.is_some() {
            return self.admin().await;
        }
        let browser = self.browser();
        let response = browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "admin signs in");
        browser
    }

    /// Has `admin` create an account, then signs it in from a new browser.
    pub async fn user(&self, admin: &Browser, email: &str, role: &str) -> Browser {
        let password = "agent password 123";
        let response = admin
            .submit(
                "/admin/users",
                "/admin/users",
                &[
                    ("email", email),
                    ("display_name", "Test User"),
                    ("role", role),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "user created");
        let browser = self.browser();
        let response = browser.login(email, password).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "new user signs in"
        );
        browser
    }
}

/// An HTTP client builder for the tests (kefu's TLS provider installed first, as `main`
/// does: reqwest refuses to build a client without one).
pub fn http_client() -> reqwest::ClientBuilder {
    kefu::service::install_tls_provider();
    reqwest::Client::builder()
}

/// One browser: its own cookie jar; redirects are not followed so tests can see them.
pub struct Browser {
    pub address: String,
    pub client: reqwest::Client,
}

impl Browser {
    pub fn new(address: &str) -> Browser {
        Browser {
            address: address.to_string(),
            client: http_client()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .expect("http client"),
        }
    }

    /// A browser that already carries `cookie` (e.g. one planted by an attacker).
    pub fn with_cookie(address: &str, cookie: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let url = address.parse().expect("address is a URL");
        jar.add_cookie_str(cookie, &url);
        Browser {
            address: address.to_string(),
            client: http_client()
                .cookie_provider(jar)
                .redirect(Policy::none())
                .build()
                .expect("http client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET request")
    }

    pub async fn get_html(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.expect("body")
    }

    /// The CSRF token the page at `page` embeds, as a person's browser would see it.
    pub async fn csrf_token(&self, page: &str) -> String {
        csrf_token_in(&self.get_html(page).await)
    }

    /// Posts a form as a person would: loads `page` first for its CSRF token.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf_token(page).await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", token.as_str()));
        self.post_form(action, &form).await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST request")
    }

    /// `GET /api/v1/kb/search` with these query parameters, as JSON.
    pub async fn kb_search(&self, params: &[(&str, &str)]) -> serde_json::Value {
        let response = self
            .client
            .get(self.url("/api/v1/kb/search"))
            .query(params)
            .send()
            .await
            .expect("search request");
        assert_eq!(response.status(), StatusCode::OK, "search {params:?}");
        response.json().await.expect("json")
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

pub fn csrf_token_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_string()
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The path of the `kefu` binary Cargo built for these tests.
pub fn kefu_binary() -> &'static str {
    env!("CARGO_BIN_EXE_kefu")
}

/// Runs the real `kefu` binary on `data_dir`, feeding `stdin` if given.
pub fn run_kefu(args: &[&str], data_dir: &Path, stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(kefu_binary())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kefu runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("kefu finishes")
}
