//! The customer's chat through the real server: bot answers in zh and en, every handoff
//! trigger, the bot's silence afterwards, left messages, masking, isolation between
//! visitors, identity hashes, live events with resume, limits.

use crate::helpers::{Browser, TestApp, csrf_token_in, spawn_demo_app};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// Only a bound on a hang: training is seconds on a fast machine, minutes on a slow shared one.
const TRAINING_WAIT: Duration = Duration::from_secs(600);

/// A customer's browser on the widget of one inbox.
pub(crate) struct Customer {
    pub(crate) browser: Browser,
    inbox: String,
}

impl Customer {
    pub(crate) fn new(app: &TestApp, inbox: &str) -> Customer {
        Customer {
            browser: app.browser(),
            inbox: inbox.to_string(),
        }
    }

    pub(crate) fn path(&self, action: &str) -> String {
        format!("/widget/{}/{action}", self.inbox)
    }

    pub(crate) async fn chat(&self) -> String {
        self.browser.get_html(&self.path("chat")).await
    }

    /// Posts as the widget does (htmx header, CSRF token from the chat page).
    pub(crate) async fn post(&self, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = csrf_token_in(&self.chat().await);
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", token.as_str()));
        self.browser
            .client
            .post(self.browser.url(&self.path(action)))
            .header("HX-Request", "true")
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    pub(crate) async fn say(&self, text: &str) -> String {
        let response = self.post("messages", &[("body", text)]).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "saying {text:?}");
        self.chat().await
    }

    pub(crate) async fn json(&self, action: &str, body: serde_json::Value) -> reqwest::Response {
        let token = csrf_token_in(&self.chat().await);
        self.browser
            .client
            .post(self.browser.url(&self.path(action)))
            .header("X-CSRF-Token", token)
            .json(&body)
            .send()
            .await
            .expect("POST json")
    }
}

/// The public token of the first inbox, read from the snippet on the admin page.
async fn inbox_token(admin: &Browser) -> String {
    let html = admin.get_html("/admin/inboxes").await;
    let after = &html[html.find("data-inbox=").expect("a snippet") + "data-inbox=".len()..];
    // Past the escaped quote (`&#34;` or `&quot;`) to the hex token.
    let start = after.find(';').expect("an escaped quote") + 1;
    after[start..start + 24].to_string()
}

async fn identity_secret(admin: &Browser) -> String {
    let html = admin.get_html("/admin/inboxes").await;
    let start = html.find("Secret: <code>").expect("the secret") + "Secret: <code>".len();
    html[start..start + 64].to_string()
}

/// A demo app whose bot has finished learning the knowledge base, its admin and inbox.
pub(crate) async fn trained_widget() -> (TestApp, Browser, String) {
    let app = spawn_demo_app().await;
    let admin = app.admin().await;
    let started = Instant::now();
    loop {
        let status = admin
            .client
            .get(admin.url("/api/v1/assistant/understand"))
            .query(&[("q", "hello")])
            .send()
            .await
            .expect("understand")
            .status();
        if status == StatusCode::OK {
            break;
        }
        assert!(
            started.elapsed() < TRAINING_WAIT,
            "the bot never finished training"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let inbox = inbox_token(&admin).await;
    (app, admin, inbox)
}

/// Saves the first inbox through the admin form: sensible settings, with `changes` applied.
async fn save_inbox(admin: &Browser, changes: &[(&str, &str)]) -> reqwest::Response {
    let token = csrf_token_in(&admin.get_html("/admin/inboxes").await);
    let mut fields: Vec<(&str, &str)> = vec![
        ("name", "Website"),
        ("allowed_origins", ""),
        ("greeting", "Hi"),
        ("color", "#2563eb"),
        ("position", "right"),
        ("language", "auto"),
        ("offline_message", ""),
        ("business_hours", ""),
        ("utc_offset_minutes", "0"),
        ("unanswered_before_handoff", "2"),
    ];
    for &(name, value) in changes {
        match fields.iter_mut().find(|field| field.0 == name) {
            Some(field) => field.1 = value,
            None => fields.push((name, value)),
        }
    }
    fields.push(("csrf_token", token.as_str()));
    admin.post_form("/admin/inboxes/1", &fields).await
}

pub(crate) async fn go_online(agent: &Browser) {
    let response = agent
        .submit("/desk", "/desk/presence", &[("presence", "online")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// Routing gives an agent at most `capacity` conversations at once.
pub(crate) async fn set_capacity(admin: &Browser, user: i64, capacity: &str) {
    let response = admin
        .submit(
            "/admin/agents",
            &format!("/admin/agents/{user}/capacity"),
            &[("capacity", capacity)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "capacity saved");
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test]
async fn the_bot_answers_faq_questions_in_english_and_chinese_with_the_source() {
    let (app, _admin, inbox) = trained_widget().await;
    let customer = Customer::new(&app, &inbox);
    let first = customer.chat().await;
    assert!(first.contains("Hi! Ask me anything"), "greeting shown");

    let html = customer.say("where is my package").await;
    assert!(html.contains("tracking number by email"), "{html}");
    assert!(
        html.contains("From: How do I track my order?"),
        "source shown"
    );
    assert!(html.contains("Was this helpful?"));

    // Reloading (or coming back tomorrow) continues the same conversation.
    let again = customer.chat().await;
    assert!(again.contains("where is my package"));

    let customer_zh = Customer::new(&app, &inbox);
    let html = customer_zh.say("我的快递到哪了").await;
    assert!(html.contains("快递单号"), "{html}");
    assert!(html.contains("来源：怎么查询我的订单物流？"));

    let html = customer_zh.say("你好").await;
    assert!(
        html.contains("您好！有什么可以帮您"),
        "a natural greeting: {html}"
    );

    let html = customer.say("what's the weather on Mars").await;
    assert!(
        html.contains("know the answer to that") || html.contains("Did you mean"),
        "{html}"
    );
    app.stop().await;
}

#[tokio::test]
async fn asking_for_a_person_hands_off_once_and_the_bot_stays_silent() {
    let (app, admin, inbox) = trained_widget().await;
    go_online(&admin).await;
    let customer = Customer::new(&app, &inbox);
    customer.say("hello").await;
    // The only agent online takes one chat at a time.
    set_capacity(&admin, 1, "1").await;
    let html = customer.say("转人工").await;
    assert!(html.contains("已为您接通人工客服"), "{html}");
    assert!(
        html.contains("客服已接入对话"),
        "routed to the online agent at once: {html}"
    );

    let bot_messages = count(&html, "msg msg-bot");
    let html = customer.say("where is my package").await;
    assert_eq!(
        count(&html, "msg msg-bot"),
        bot_messages,
        "the bot never talks over people"
    );
    assert!(
        html.contains("where is my package"),
        "the customer's message is kept"
    );

    // The button is a second trigger on an already handed-off conversation: nothing new.
    let response = customer.post("handoff", &[]).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(count(&customer.chat().await, "已为您接通人工客服"), 1);

    // A second customer queues behind the first.
    let second = Customer::new(&app, &inbox);
    let html = second.say("talk to a human").await;
    assert!(html.contains("Your place in the queue: 1"), "{html}");
    let third = Customer::new(&app, &inbox);
    let html = third.say("talk to a human").await;
    assert!(html.contains("Your place in the queue: 2"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn unanswered_messages_and_anger_hand_off_too() {
    let (app, admin, inbox) = trained_widget().await;
    go_online(&admin).await;
    let lost = Customer::new(&app, &inbox);
    lost.say("what's the weather on Mars").await;
    let html = lost.say("recommend a good movie about pirates").await;
    assert!(
        html.contains("You&#39;re through to a person"),
        "two unanswered in a row: {html}"
    );

    let angry = Customer::new(&app, &inbox);
    let html = angry
        .say("This is the worst service ever, absolutely terrible and useless!!!")
        .await;
    assert!(
        html.contains("You&#39;re through to a person"),
        "upset customer: {html}"
    );
    app.stop().await;
}

#[tokio::test]
async fn with_nobody_online_the_customer_leaves_a_message() {
    let (app, _admin, inbox) = trained_widget().await;
    let customer = Customer::new(&app, &inbox);
    let html = customer.say("talk to a human").await;
    assert!(html.contains("Leave your email or phone"), "{html}");
    assert!(html.contains("name=\"contact\""), "the form is shown");

    let response = customer
        .post("leave-message", &[("contact", ""), ("body", "call me")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("email address or a phone number"),
        "the error says what to fix"
    );

    let response = customer
        .post(
            "leave-message",
            &[
                ("contact", "li@example.com"),
                ("body", "My kettle arrived broken"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let html = customer.chat().await;
    assert!(html.contains("My kettle arrived broken"));
    assert!(html.contains("We have your message"), "{html}");
    assert!(
        !html.contains("name=\"contact\""),
        "the form is gone once used"
    );
    app.stop().await;
}

#[tokio::test]
async fn card_id_and_phone_numbers_are_masked_before_they_are_stored() {
    let (app, _admin, inbox) = trained_widget().await;
    let customer = Customer::new(&app, &inbox);
    let html = customer
        .say("my card 4111 1111 1111 1111 and phone 13812345678, ID 11010519491231002X")
        .await;
    assert!(!html.contains("4111 1111 1111 1111"));
    assert!(!html.contains("13812345678"));
    assert!(!html.contains("11010519491231002X"));
    assert!(html.contains("411111******1111"), "{html}");
    assert!(
        html.contains("hid the card, ID or phone number"),
        "the customer is warned"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_visitor_never_sees_another_visitors_conversation() {
    let (app, _admin, inbox) = trained_widget().await;
    let alice = Customer::new(&app, &inbox);
    let html = alice.say("where is my package, order 5521").await;
    let message_id = html
        .split("id=\"m-")
        .nth(2)
        .and_then(|rest| rest.split('"').next())
        .expect("a bot message id")
        .to_string();
    let conversation_id = html
        .split("name=\"conversation\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("conversation id")
        .to_string();

    let mallory = Customer::new(&app, &inbox);
    assert!(!mallory.chat().await.contains("order 5521"));
    let response = mallory
        .post(
            "feedback",
            &[
                ("conversation", conversation_id.as_str()),
                ("message", message_id.as_str()),
                ("helpful", "no"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Without the visitor cookie there is no stream to read.
    let stranger = app.browser();
    let response = stranger.get(&format!("/widget/{inbox}/events")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // An unknown inbox token is a 404.
    assert_eq!(
        stranger.get("/widget/not-a-real-inbox/chat").await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn a_verified_user_sees_their_history_on_another_device_and_a_bad_hash_is_refused() {
    let (app, admin, inbox) = trained_widget().await;
    let secret = identity_secret(&admin).await;
    let hash = kefu::service::conversations::identity_hash(&secret, "user-42");

    let laptop = Customer::new(&app, &inbox);
    laptop.say("where is my package, order 7788").await;
    let response = laptop
        .json(
            "identify",
            serde_json::json!({"id": "user-42", "name": "Li Lei", "hash": hash}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let phone = Customer::new(&app, &inbox);
    assert!(
        !phone.chat().await.contains("order 7788"),
        "not before identifying"
    );
    let forged = phone
        .json(
            "identify",
            serde_json::json!({"id": "user-42", "hash": "00".repeat(32)}),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        !phone.chat().await.contains("order 7788"),
        "a bad hash joins nothing"
    );
    // Unverified details decorate this visitor only.
    let unverified = phone
        .json("identify", serde_json::json!({"id": "user-42"}))
        .await;
    assert_eq!(unverified.status(), StatusCode::OK);
    assert!(!phone.chat().await.contains("order 7788"));

    let response = phone
        .json(
            "identify",
            serde_json::json!({"id": "user-42", "hash": hash}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["customer_changed"], true);
    assert!(
        phone.chat().await.contains("order 7788"),
        "history follows the verified user"
    );

    let tracked = phone
        .json(
            "track",
            serde_json::json!({"name": "add_to_cart", "properties": {"sku": "kettle-1"}}),
        )
        .await;
    assert_eq!(tracked.status(), StatusCode::OK);
    let bad = phone
        .json("track", serde_json::json!({"name": "<script>"}))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Logging out of the shop forgets this browser.
    assert_eq!(
        phone.json("reset", serde_json::json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!phone.chat().await.contains("order 7788"));
    app.stop().await;
}

/// One Server-Sent Event as the browser sees it.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) event: String,
    pub(crate) id: Option<i64>,
    pub(crate) data: String,
}

/// Reads SSE frames until `wanted` of them carry ids (messages) or the time is up.
pub(crate) async fn read_frames(response: &mut reqwest::Response, wanted: usize) -> Vec<Frame> {
    let mut buffer = String::new();
    let mut frames: Vec<Frame> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while frames.iter().filter(|f| f.id.is_some()).count() < wanted && Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await;
        let Ok(Ok(Some(bytes))) = chunk else { break };
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find("\n\n") {
            let raw: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| raw.lines().find_map(|l| l.strip_prefix(name));
            let Some(event) = field("event: ") else {
                continue; // a keepalive comment
            };
            let data: Vec<&str> = raw
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            frames.push(Frame {
                event: event.to_string(),
                id: field("id: ").and_then(|v| v.parse().ok()),
                data: data.join("\n"),
            });
        }
    }
    frames
}

/// The messages among the next frames: (id, HTML).
async fn read_events(response: &mut reqwest::Response, wanted: usize) -> Vec<(i64, String)> {
    read_frames(response, wanted)
        .await
        .into_iter()
        .filter_map(|frame| Some((frame.id?, frame.data)))
        .collect()
}

#[tokio::test]
async fn live_events_arrive_and_a_reconnect_resumes_after_the_last_id() {
    let (app, _admin, inbox) = trained_widget().await;
    let customer = Customer::new(&app, &inbox);
    customer.chat().await;
    let mut stream = customer.browser.get(&customer.path("events?after=0")).await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(
        stream.headers()["content-type"].to_str().expect("ascii"),
        "text/event-stream"
    );
    customer.say("where is my package").await;
    let frames = read_frames(&mut stream, 2).await;
    let names: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(
        names,
        ["message", "typing", "message"],
        "the question, the bot typing, then its answer: {frames:?}"
    );
    assert!(frames[1].data.contains("class=\"typing\""), "{frames:?}");
    let live: Vec<(i64, String)> = frames
        .into_iter()
        .filter_map(|frame| Some((frame.id?, frame.data)))
        .collect();
    assert!(live[0].1.contains("where is my package"));
    assert!(live[1].1.contains("tracking number"));
    // The customer's typing signal is accepted (the desk shows it) and never echoed back.
    assert_eq!(
        customer
            .json("typing", serde_json::json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    drop(stream);

    // While disconnected, more happens.
    customer.say("how do I cancel my order").await;
    let mut resumed = customer
        .browser
        .client
        .get(customer.browser.url(&customer.path("events")))
        .header("Last-Event-ID", live[1].0.to_string())
        .send()
        .await
        .expect("reconnect");
    let missed = read_events(&mut resumed, 2).await;
    assert_eq!(missed.len(), 2, "{missed:?}");
    assert!(
        missed.iter().all(|(id, _)| *id > live[1].0),
        "nothing repeated"
    );
    assert!(missed[0].1.contains("how do I cancel my order"));
    app.stop().await;
}

#[tokio::test]
async fn widget_limits_and_framing_rules() {
    let (app, admin, inbox) = trained_widget().await;
    let customer = Customer::new(&app, &inbox);
    let response = customer.browser.get(&customer.path("chat")).await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    assert!(response.headers().get("x-frame-options").is_none());

    // The admin allows a shop's site; the widget may then be framed there.
    let response = save_inbox(
        &admin,
        &[("allowed_origins", "https://shop.example\nnot an origin")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("is not an origin")
    );
    let response = save_inbox(&admin, &[("allowed_origins", "https://shop.example")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = customer.browser.get(&customer.path("chat")).await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'self' https://shop.example"),
        "{csp}"
    );
    // Every other page still refuses to be framed.
    let login = app.browser().get("/login").await;
    assert_eq!(login.headers()["x-frame-options"], "DENY");

    let long = "a".repeat(2_001);
    let response = customer.post("messages", &[("body", long.as_str())]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("limit is 2000")
    );

    let token = csrf_token_in(&customer.chat().await);
    // All at once, so that however long each takes on a slow machine, the burst arrives
    // faster than the bucket refills.
    let burst: Vec<_> = (0..15)
        .map(|n| {
            let request = customer
                .browser
                .client
                .post(customer.browser.url(&customer.path("messages")))
                .header("HX-Request", "true")
                .form(&[
                    ("body", format!("hello {n}")),
                    ("csrf_token", token.clone()),
                ]);
            tokio::spawn(async move { request.send().await.expect("POST") })
        })
        .collect();
    let mut limited = None;
    for sent in burst {
        let response = sent.await.expect("the request task");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
        }
    }
    let limited = limited.expect("a burst of messages is slowed down");
    assert!(limited.headers().get("retry-after").is_some());

    // The loader is served from a fixed URL.
    let loader = app.browser().get("/widget.js").await;
    assert_eq!(loader.status(), StatusCode::OK);
    assert!(
        loader.headers().get("set-cookie").is_none(),
        "no cookie before the customer opens the chat"
    );
    assert!(
        loader.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .contains("javascript")
    );
    app.stop().await;
}

/// Lets `origin` embed the first inbox, through the admin form.
pub(crate) async fn allow_origin(admin: &Browser, origin: &str) {
    let response = save_inbox(
        admin,
        &[
            ("name", "Teapot Shop"),
            ("allowed_origins", origin),
            ("greeting", "Hi! Ask me anything. 您好，有什么可以帮您？"),
            ("color", "#0f766e"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// A shop's plain page on its own port, with the snippet pasted in.
pub(crate) fn serve_shop_page(kefu: &str, inbox: &str) -> (String, actix_web::dev::ServerHandle) {
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Teapot Shop</title>\
         <style>body{{font-family:serif;margin:40px;background:#fdf6e3}} div,button,iframe{{border:4px solid red}}</style>\
         </head><body><h1>Teapot Shop</h1><p>Fine teapots since 1999.</p>\
         <script src=\"{kefu}/widget.js\" data-inbox=\"{inbox}\" data-color=\"#0f766e\" async></script>\
         </body></html>"
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let server = actix_web::HttpServer::new(move || {
        let page = page.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            let page = page.clone();
            async move {
                actix_web::HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(page)
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (address, handle)
}

/// Opens the shop's page and the chat in it, the way a customer does, and enters the chat's
/// frame.
pub(crate) async fn open_widget(chromium: &crate::browser::Chromium, shop: &str) {
    chromium.goto(&format!("{shop}/")).await;
    chromium
        .wait_until("document.querySelector('kefu-widget')")
        .await;
    // The launcher, bottom right, clicked where a person would click it.
    let viewport = chromium
        .execute("return [window.innerWidth, window.innerHeight];")
        .await;
    let (width, height) = (
        viewport[0].as_i64().expect("width"),
        viewport[1].as_i64().expect("height"),
    );
    chromium.click_at(width - 48, height - 48).await;
    chromium.enter_shadow_frame("kefu-widget", "iframe").await;
    chromium
        .wait_until("document.querySelector('#composer-body')")
        .await;
}

#[tokio::test]
async fn in_a_real_browser_a_customer_on_a_shop_page_gets_answers_and_a_person() {
    let Some(chromium) = crate::browser::Chromium::start().await else {
        return;
    };
    let (app, admin, inbox) = trained_widget().await;
    go_online(&admin).await;
    let (shop, shop_server) = serve_shop_page(&app.address, &inbox);
    allow_origin(&admin, &shop).await;

    open_widget(&chromium, &shop).await;
    // The chat keeps its own look whatever the shop's CSS says.
    chromium
        .wait_until("getComputedStyle(document.querySelector('.send')).borderTopStyle !== 'solid'")
        .await;

    chromium
        .type_into("#composer-body", "How do I track my order?\n")
        .await;
    chromium
        .wait_until("document.querySelector('.msg-bot .bubble.answer')")
        .await;
    let answer = chromium.text_of(".msg-bot .bubble.answer").await;
    assert!(answer.contains("tracking number"), "{answer}");

    chromium
        .type_into("#composer-body", "怎么申请退货？\n")
        .await;
    chromium
        .wait_until("document.querySelectorAll('.msg-bot .bubble.answer').length >= 2")
        .await;
    let answers = chromium
        .execute("return [...document.querySelectorAll('.msg-bot .bubble.answer')].map(e => e.textContent).join('\\n');")
        .await;
    assert!(
        answers.as_str().unwrap_or_default().contains("退货"),
        "{answers}"
    );
    chromium.screenshot("widget-answers.png").await;

    chromium.type_into("#composer-body", "转人工\n").await;
    chromium
        .wait_until("document.querySelector('.status-bar.assigned')")
        .await;
    let status = chromium.text_of(".status-bar.assigned").await;
    assert!(status.contains("客服已接入对话"), "with a person: {status}");
    let transcript = chromium.text_of("#messages").await;
    assert!(transcript.contains("已为您接通人工客服"), "{transcript}");
    let shot = chromium.screenshot("widget-handoff.png").await;
    eprintln!("screenshots: {}", shot.display());

    chromium.quit().await;
    shop_server.stop(false).await;
    app.stop().await;
}

#[tokio::test]
async fn outside_business_hours_the_customer_is_told_when_we_open() {
    let (app, admin, inbox) = trained_widget().await;
    go_online(&admin).await;
    // Open one minute a week, at a time that is not now: closed whenever this test runs.
    let now_minute = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        / 60)
        % (24 * 60);
    let opens = (now_minute + 12 * 60) % (24 * 60 - 1);
    let hours = format!(
        "sun {:02}:{:02}-{:02}:{:02}",
        opens / 60,
        opens % 60,
        (opens + 1) / 60,
        (opens + 1) % 60
    );
    let response = save_inbox(&admin, &[("business_hours", hours.as_str())]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let customer = Customer::new(&app, &inbox);
    let html = customer.say("talk to a human").await;
    assert!(html.contains("We are open again from Sun"), "{html}");
    assert!(
        html.contains("name=\"contact\""),
        "closed: a left message, even with agents online"
    );
    app.stop().await;
}
