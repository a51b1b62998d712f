//! Attachments through the real server: type by content (not name), size and count limits
//! with nothing half-saved, random names on disk, downloads only as downloads and only for
//! those who may see the ticket or chat, thumbnails re-encoded, and files in the widget.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::helpers::{Browser, TestApp, csrf_token_in, spawn_app};
use crate::tickets::Api;
use crate::widget::{Customer, trained_widget};

/// A real PNG (`width` × `height`, a colour gradient).
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encode PNG");
    bytes
}

/// A `multipart/form-data` body and its content type.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "kefu-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the ticket page's reply form with files, as the browser does.
async fn reply_with_files(
    agent: &Browser,
    ticket: i64,
    body: &str,
    files: &[(&str, &[u8])],
) -> reqwest::Response {
    let token = agent.csrf_token(&format!("/tickets/{ticket}")).await;
    let (content_type, payload) = multipart(&[("body", body), ("kind", "reply")], files);
    agent
        .client
        .post(agent.url(&format!("/tickets/{ticket}/comments?csrf_token={token}")))
        .header(CONTENT_TYPE, content_type)
        .body(payload)
        .send()
        .await
        .expect("upload")
}

/// Every file kefu keeps under the data dir's `attachments/`.
fn stored_files(app: &TestApp) -> Vec<String> {
    let root = app.data_dir.join("attachments");
    let mut names = Vec::new();
    for folder in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(folder.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            names.push(file.file_name().to_string_lossy().into_owned());
        }
    }
    names
}

/// The `/attachments/N` ids a page links to, in order, without repeats.
fn attachment_ids(html: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for (at, marker) in html.match_indices("href=\"/attachments/") {
        let id: String = html[at + marker.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(id) = id.parse()
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

#[tokio::test]
async fn ticket_files_are_checked_by_content_and_served_only_as_downloads() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let api = Api::new(&admin, "write").await;
    let ticket = api
        .ticket(json!({"subject": "Broken kettle", "requester_email": "k@example.com"}))
        .await;
    let photo = png(800, 600);

    let response = reply_with_files(
        &admin,
        ticket,
        "Here is the photo and the notes.",
        &[
            ("../../kettle photo.png", &photo),
            ("notes.txt", "订单 1234\n".as_bytes()),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = admin.get_html(&format!("/tickets/{ticket}")).await;
    assert!(
        page.contains("kettle photo.png") && page.contains("notes.txt"),
        "{page}"
    );
    let ids = attachment_ids(&page);
    assert_eq!(ids.len(), 2, "{page}");

    let download = admin.get(&format!("/attachments/{}", ids[0])).await;
    assert_eq!(download.status(), StatusCode::OK);
    let headers = download.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "image/png");
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("kettle%20photo.png"),
        "{disposition}"
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .is_ok_and(|csp| csp.starts_with("sandbox"))
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        download.bytes().await.expect("bytes").as_ref(),
        photo.as_slice()
    );

    let thumbnail = admin
        .get(&format!("/attachments/{}/thumbnail", ids[0]))
        .await;
    assert_eq!(thumbnail.status(), StatusCode::OK);
    let small = image::load_from_memory(&thumbnail.bytes().await.expect("bytes")).expect("a PNG");
    assert!(small.width() <= 320 && small.height() <= 320, "shrunk");
    assert_eq!(
        admin
            .get(&format!("/attachments/{}/thumbnail", ids[1]))
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "text has no thumbnail"
    );
    let on_disk = stored_files(&app);
    assert_eq!(on_disk.len(), 3, "two files and one thumbnail: {on_disk:?}");
    assert!(
        on_disk
            .iter()
            .all(|name| !name.contains("kettle") && !name.contains("notes")),
        "random names only: {on_disk:?}"
    );

    // Refused: HTML named as a PDF, too many files, too large. Nothing is kept.
    let html = b"<html><body><script>alert(document.cookie)</script></body></html>";
    let response = reply_with_files(&admin, ticket, "invoice", &[("invoice.pdf", html)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = response.text().await.expect("page");
    assert!(
        text.contains("invoice.pdf") && text.contains("HTML"),
        "{text}"
    );
    let six: Vec<(&str, &[u8])> = (0..6).map(|_| ("a.txt", b"hello".as_slice())).collect();
    let response = reply_with_files(&admin, ticket, "six", &six).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("page").contains("at most 5"));
    let big = vec![b'a'; 10 * 1024 * 1024 + 10];
    let response = reply_with_files(&admin, ticket, "big", &[("big.txt", &big)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("page").contains("10 MB"));
    assert_eq!(stored_files(&app).len(), 3, "nothing half-saved");
    let (_, comments) = api.get(&format!("/api/v1/tickets/{ticket}/comments")).await;
    assert_eq!(comments.as_array().map(Vec::len), Some(1), "{comments}");
    app.stop().await;
}

#[tokio::test]
async fn an_agent_outside_the_tickets_team_gets_404_for_its_files() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user(&admin, "alice@example.com", "agent").await;
    admin
        .submit("/admin/agents", "/admin/teams", &[("name", "Billing")])
        .await;
    let api = Api::new(&admin, "write").await;
    let ticket = api
        .ticket(json!({"subject": "Invoice", "requester_email": "i@example.com", "team_id": 1}))
        .await;
    let response = reply_with_files(&admin, ticket, "scan", &[("scan.png", &png(40, 30))]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let id = attachment_ids(&admin.get_html(&format!("/tickets/{ticket}")).await)[0];
    for path in [
        format!("/attachments/{id}"),
        format!("/attachments/{id}/thumbnail"),
    ] {
        assert_eq!(
            alice.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(admin.get(&path).await.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(
        app.browser()
            .get(&format!("/attachments/{id}"))
            .await
            .status(),
        StatusCode::SEE_OTHER,
        "signed out: to the login page"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_customer_sends_a_photo_in_the_chat_and_only_they_and_the_agents_get_it() {
    let (app, admin, inbox) = trained_widget().await;
    let customer = Customer::new(&app, &inbox);
    customer.say("hello").await;
    let token = csrf_token_in(&customer.chat().await);
    let (content_type, body) = multipart(&[], &[("receipt.png", &png(64, 64))]);
    let response = customer
        .browser
        .client
        .post(customer.browser.url(&customer.path("attachments")))
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    assert!(response.status().is_success(), "{}", response.status());
    let chat = customer.chat().await;
    let marker = format!("/widget/{inbox}/attachments/");
    let at = chat.find(&marker).expect("the file is in the chat") + marker.len();
    let id: String = chat[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let own = customer
        .browser
        .get(&customer.path(&format!("attachments/{id}")))
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    assert!(
        own.headers()["content-disposition"]
            .to_str()
            .is_ok_and(|d| d.starts_with("attachment"))
    );

    let stranger = Customer::new(&app, &inbox);
    stranger.say("hi").await;
    assert_eq!(
        stranger
            .browser
            .get(&stranger.path(&format!("attachments/{id}")))
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "another visitor never gets it"
    );
    assert_eq!(
        admin.get(&format!("/attachments/{id}")).await.status(),
        StatusCode::OK,
        "the agents do"
    );
    app.stop().await;
}
