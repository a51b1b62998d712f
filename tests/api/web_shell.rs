//! Probes, metrics, static files, error pages and the navigation shell.

use crate::helpers::spawn_app;
use reqwest::StatusCode;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let browser = app.browser();

    let health = browser.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.expect("body"), "ok");

    let ready: serde_json::Value = browser.get("/readyz").await.json().await.expect("json");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["database"], "ok");

    let metrics = browser.get("/metrics").await;
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text().await.expect("body");
    for expected in [
        "kefu_build_info{version=\"",
        "kefu_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1",
        "kefu_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\"",
        "kefu_db_readers_total 2",
        "kefu_db_readers_idle",
        "kefu_db_writes_queued",
    ] {
        assert!(text.contains(expected), "metrics lack {expected}:\n{text}");
    }
}

#[tokio::test]
async fn unknown_pages_get_a_plain_404_page() {
    let app = spawn_app().await;
    let browser = app.browser();
    let page = browser.get("/wp-admin/../../etc/passwd").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let body = page.text().await.expect("body");
    assert!(body.contains("There is no page at this address."));

    let api = browser.get("/api/v1/nothing-here").await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let json: serde_json::Value = api.json().await.expect("json");
    assert_eq!(json["error"]["code"], "not_found");
}

#[tokio::test]
async fn pages_load_vendored_assets_that_cache_well() {
    let app = spawn_app().await;
    let browser = app.browser();
    let page = browser.get_html("/setup").await;
    let marker = "src=\"/static/vendor/htmx.min.js?v=";
    let start = page.find(marker).expect("page loads the vendored htmx");
    let src_end = page[start + 5..].find('"').expect("quote") + start + 5;
    let src = &page[start + 5..src_end];
    assert!(
        !page.contains("src=\"http"),
        "no script from another origin"
    );
    assert!(
        !page.contains("href=\"http"),
        "no stylesheet from another origin"
    );

    let versioned = browser.get(src).await;
    assert_eq!(versioned.status(), StatusCode::OK);
    assert_eq!(
        versioned.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        versioned.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .contains("javascript")
    );
    let etag = versioned.headers()["etag"]
        .to_str()
        .expect("ascii")
        .to_string();
    let body = versioned.text().await.expect("body");
    assert!(body.contains("htmx"), "the real htmx");

    let revalidated = browser
        .client
        .get(browser.url("/static/vendor/htmx.min.js"))
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("request");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    for asset in [
        "/static/app.css",
        "/static/vendor/htmx-ext-sse.js",
        "/static/favicon.svg",
    ] {
        assert_eq!(browser.get(asset).await.status(), StatusCode::OK, "{asset}");
    }
    assert_eq!(
        browser.get("/static/../Cargo.toml").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_shell_has_navigation_for_every_area() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let desk = admin.get_html("/desk").await;
    for link in [
        "/desk",
        "/tickets",
        "/knowledge",
        "/admin/users",
        "/account",
    ] {
        assert!(
            desk.contains(&format!("href=\"{link}\"")),
            "nav links to {link}"
        );
    }
    assert!(
        desk.contains("aria-current=\"page\">Desk<"),
        "the current area is marked"
    );
    for area in ["/tickets", "/knowledge", "/account", "/admin/users"] {
        admin.get_html(area).await;
    }
}
