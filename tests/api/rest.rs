//! The REST API as a program uses it: token scopes and revocation, JSON errors with stable
//! codes, the OpenAPI document (valid, and listing exactly the routes that answer), and
//! outgoing webhooks to a receiver on 127.0.0.1 — signed, retried, and refused for private
//! addresses unless the admin allowed them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Browser, spawn_app};
use crate::tickets::Api;

#[tokio::test]
async fn tokens_are_scoped_revocable_and_errors_are_json() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let anonymous = Api::with_token(&app.address, "");
    let (status, error) = anonymous.get("/api/v1/tickets").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error["error"]["code"], "unauthenticated");
    let (status, _) = Api::with_token(&app.address, "kefu_0123456789")
        .get("/api/v1/tickets")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let reader = Api::new(&admin, "read").await;
    let (status, page) = reader.get("/api/v1/tickets").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 0);
    let (status, error) = reader
        .post(
            "/api/v1/tickets",
            json!({"subject": "x", "requester_email": "a@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "read tokens only read");
    assert_eq!(error["error"]["code"], "forbidden");

    // No CSRF token needed: the API token is the proof, not a cookie.
    let writer = Api::new(&admin, "write").await;
    let (status, error) = writer
        .post(
            "/api/v1/tickets",
            json!({"subject": " ", "requester_email": "not-an-address"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("subject"), "{message}");
    let (status, error) = writer
        .post("/api/v1/tickets", json!({"subject": "Hi", "colour": "red"}))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused: {error}"
    );
    let id = writer
        .ticket(
            json!({"subject": "Where is my order?", "requester_email": "a@example.com",
                       "requester_name": "Ann"}),
        )
        .await;
    let (status, ticket) = reader.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ticket["source"], "api");
    let (_, customers) = reader.get("/api/v1/customers?email=A@EXAMPLE.com").await;
    assert_eq!(customers["data"][0]["name"], "Ann", "{customers}");
    let (status, error) = reader.get("/api/v1/tickets/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"]["code"], "not_found");

    // Revoked: refused from then on.
    let tokens = admin.get_html("/admin/api").await;
    let at = tokens.find("/admin/api/tokens/").expect("a revoke form") + "/admin/api/tokens/".len();
    let first: String = tokens[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let response = admin
        .submit(
            "/admin/api",
            &format!("/admin/api/tokens/{first}/revoke"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _) = writer.get("/api/v1/tickets").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the newest token (listed first) is revoked"
    );
    let (status, _) = reader.get("/api/v1/tickets").await;
    assert_eq!(status, StatusCode::OK, "the other still works");
    app.stop().await;
}

/// Every `$ref` in `value` points at a schema the document defines.
fn unresolved_refs(document: &Value, value: &Value, missing: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let name = target.trim_start_matches("#/components/schemas/");
                if document["components"]["schemas"].get(name).is_none() {
                    missing.push(target.clone());
                }
            }
            for child in map.values() {
                unresolved_refs(document, child, missing);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|child| unresolved_refs(document, child, missing)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_lists_exactly_the_routes_that_answer() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let api = Api::new(&admin, "write").await;
    let id = api
        .ticket(json!({"subject": "Doc check", "requester_email": "doc@example.com"}))
        .await;

    let (status, document) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    assert!(document["info"]["title"].is_string());
    assert!(document["components"]["securitySchemes"]["token"].is_object());
    let mut missing = Vec::new();
    unresolved_refs(&document, &document, &mut missing);
    assert!(missing.is_empty(), "dangling references: {missing:?}");

    let mut operations: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} documents its responses"
            );
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations.sort();
    let expected = [
        "GET /api/v1/assistant/understand",
        "GET /api/v1/conversations",
        "GET /api/v1/conversations/{id}",
        "GET /api/v1/conversations/{id}/messages",
        "GET /api/v1/customers",
        "GET /api/v1/customers/{id}",
        "GET /api/v1/customers/{id}/recommendations",
        "GET /api/v1/kb/search",
        "GET /api/v1/openapi.json",
        "GET /api/v1/tickets",
        "GET /api/v1/tickets/{id}",
        "GET /api/v1/tickets/{id}/comments",
        "PATCH /api/v1/tickets/{id}",
        "POST /api/v1/conversations/{id}/messages",
        "POST /api/v1/tickets",
        "POST /api/v1/tickets/{id}/comments",
    ];
    assert_eq!(operations, expected);

    // Each documented operation is served: it answers as the API (never the router's 404
    // or a 405), here with an empty body where one is expected.
    for operation in &operations {
        let (method, path) = operation.split_once(' ').expect("method and path");
        let path = path.replace("{id}", &id.to_string());
        let method: reqwest::Method = method.parse().expect("method");
        let body = (method != reqwest::Method::GET).then(|| json!({}));
        let (status, answer) = api.send(method, &path, body).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{operation}");
        if status == StatusCode::NOT_FOUND {
            // Only "no such conversation" (the ticket exists; there is no chat with its id).
            assert!(path.contains("/conversations/"), "{operation}: {answer}");
            assert_eq!(answer["error"]["code"], "not_found", "{operation}");
        }
    }
    // Nothing outside the document answers under /api/v1.
    let (status, _) = api.get("/api/v1/webhooks").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// What the test receiver saw: headers and body of each request.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, String, String)>>>);

/// A webhook receiver on 127.0.0.1 that fails its first request (500), then accepts.
fn receiver() -> (String, Received, actix_web::dev::ServerHandle) {
    let received = Received::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let seen = received.clone();
    let server = actix_web::HttpServer::new(move || {
        let seen = seen.clone();
        actix_web::App::new().default_service(actix_web::web::to(
            move |request: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                let seen = seen.clone();
                async move {
                    let header = |name: &str| {
                        request
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let mut all = seen.0.lock().expect("lock");
                    all.push((
                        header("X-Kefu-Event"),
                        header("X-Kefu-Signature"),
                        String::from_utf8_lossy(&body).to_string(),
                    ));
                    if all.len() == 1 {
                        actix_web::HttpResponse::InternalServerError().body("not yet")
                    } else {
                        actix_web::HttpResponse::Ok().finish()
                    }
                }
            },
        ))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (address, received, handle)
}

async fn add_webhook(admin: &Browser, url: &str, allow_private: bool) -> reqwest::Response {
    let mut fields = vec![("url", url), ("event", "ticket.created")];
    if allow_private {
        fields.push(("allow_private", "1"));
    }
    admin
        .submit("/admin/api", "/admin/api/webhooks", &fields)
        .await
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_kept_out_of_the_private_network() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (receiver_url, received, receiver_server) = receiver();

    // Without the admin's permission a loopback address is refused, by name or by number.
    assert_eq!(
        add_webhook(&admin, &format!("{receiver_url}/refused"), false)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let port = receiver_url.rsplit(':').next().expect("a port");
    assert_eq!(
        add_webhook(&admin, &format!("http://localhost:{port}/by-name"), false)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        add_webhook(&admin, &format!("{receiver_url}/hook"), true)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let response = add_webhook(&admin, "ftp://example.com/x", true).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let api = Api::new(&admin, "write").await;
    let id = api
        .ticket(json!({"subject": "Hook me", "requester_email": "h@example.com"}))
        .await;

    // The first delivery fails (500); the retry 10 s later succeeds.
    let started = Instant::now();
    while received.0.lock().expect("lock").len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no retry arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seen = received.0.lock().expect("lock").clone();
    assert_eq!(
        seen.len(),
        2,
        "only the allowed webhook reached the receiver"
    );
    let (event, signature, body) = &seen[1];
    assert_eq!(event, "ticket.created");
    assert_eq!(seen[0].2, *body, "the retry sends the same delivery");
    let payload: Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(payload["event"], "ticket.created");
    assert_eq!(payload["data"]["id"], id);

    // The signature is HMAC-SHA256 of "<t>.<body>" with the secret on the admin page.
    let page = admin.get_html("/admin/api").await;
    let hook_at = page.find(&format!("{receiver_url}/hook")).expect("listed");
    let secret_label = hook_at + page[hook_at..].find("Signing secret").expect("its secret");
    let secret_at =
        secret_label + page[secret_label..].find("<code>").expect("the secret") + "<code>".len();
    let secret = &page[secret_at..secret_at + page[secret_at..].find('<').expect("end")];
    let (t, v1) = signature
        .split_once(",v1=")
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1)))
        .expect("t=…,v1=…");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1);

    // The refused ones say why, and are not retried into the private network.
    assert!(
        page.contains("refused: 127.0.0.1 is a private, loopback or link-local address"),
        "{page}"
    );
    assert!(page.contains("resolves only to private"), "{page}");
    assert!(page.contains("delivered"), "{page}");
    receiver_server.stop(false).await;
    app.stop().await;
}
