//! Customers through the real server: profiles and identity merge, scoping between inboxes,
//! export and erase with their log, the catalog import, recommendations (purchases excluded,
//! reasons given, better than popularity on a held-out split), cards after product answers
//! and from the desk, proactive messages within their cap — and, in a real browser, a shop
//! page's `cart_abandoned` opening the widget with the proactive message.

use crate::desk::{add_to_inbox, conversations};
use crate::helpers::{Browser, csrf_token_in, run_kefu};
use crate::widget::{Customer, allow_origin, go_online, serve_shop_page, trained_widget};
use reqwest::StatusCode;
use serde_json::json;

/// The customers' ids on the admin's (or agent's) list for `query`.
async fn customer_ids(browser: &Browser, query: &str) -> Vec<i64> {
    let html = browser
        .get_html(&format!("/customers?q={}", urlencode(query)))
        .await;
    html.match_indices("<a href=\"/customers/")
        .filter_map(|(at, marker)| {
            let rest = &html[at + marker.len()..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("q", text)])
        .expect("encodes")
        .trim_start_matches("q=")
        .to_string()
}

async fn identity_secret(admin: &Browser) -> String {
    let html = admin.get_html("/admin/inboxes").await;
    let start = html.find("Secret: <code>").expect("the secret") + "Secret: <code>".len();
    html[start..start + 64].to_string()
}

async fn track(customer: &Customer, name: &str, properties: serde_json::Value) -> bool {
    let response = customer
        .json("track", json!({"name": name, "properties": properties}))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "tracking {name}");
    let body: serde_json::Value = response.json().await.expect("json");
    body["proactive"].as_bool().expect("a proactive flag")
}

async fn recommendations(admin: &Browser, customer: i64, context: &str) -> serde_json::Value {
    let response = admin
        .client
        .get(admin.url(&format!("/api/v1/customers/{customer}/recommendations")))
        .query(&[("context", context), ("limit", "10")])
        .send()
        .await
        .expect("recommendations");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn item_ids(cards: &serde_json::Value) -> Vec<String> {
    cards
        .as_array()
        .expect("a list")
        .iter()
        .map(|card| card["item_id"].as_str().expect("an id").to_string())
        .collect()
}

#[tokio::test]
async fn a_verified_identity_merges_the_anonymous_history_and_an_unverified_claim_does_not() {
    let (app, admin, inbox) = trained_widget().await;
    let secret = identity_secret(&admin).await;
    let hash = kefu::service::conversations::identity_hash(&secret, "user-7");

    let visitor = Customer::new(&app, &inbox);
    visitor.say("How do I return an item?").await;
    track(&visitor, "add_to_cart", json!({"item_id": "LH-LAMP-01"})).await;
    track(
        &visitor,
        "purchase",
        json!({"items": [{"item_id": "LH-BULB-01"}], "value": 129}),
    )
    .await;
    let response = visitor
        .json(
            "identify",
            json!({"id": "user-7", "name": "Wang Fang", "email": "fang@example.com", "hash": hash}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    // Someone else claims the same id without the hash: their events stay theirs.
    let claimant = Customer::new(&app, &inbox);
    let response = claimant
        .json("identify", json!({"id": "user-7", "name": "Impostor"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    track(&claimant, "purchase", json!({"item_id": "LH-KTL-01"})).await;

    let ids = customer_ids(&admin, "user-7").await;
    assert_eq!(ids.len(), 1, "one verified customer: {ids:?}");
    let profile = admin.get_html(&format!("/customers/{}", ids[0])).await;
    assert!(profile.contains("Wang Fang") && profile.contains("fang@example.com"));
    assert!(profile.contains("verified · id user-7"), "{profile}");
    assert!(
        profile.contains("add_to_cart") && profile.contains("LH-BULB-01"),
        "the anonymous history moved over"
    );
    assert!(
        !profile.contains("LH-KTL-01") && !profile.contains("Impostor"),
        "nothing of the unverified claimant"
    );
    // Derived tags, each with its reason.
    assert!(
        profile.contains("interest:lighting") && profile.contains("2 events about lighting"),
        "{profile}"
    );
    assert!(profile.contains("value:low") && profile.contains("1 purchase worth 129.00 in total"));
    assert!(profile.contains("returning"));
    assert!(
        profile.contains("class=\"sentiment-chart\""),
        "the bot scored their message"
    );
    assert!(
        profile.contains("<dt>Language</dt><dd>en</dd>"),
        "{profile}"
    );
    assert!(
        profile.contains("returns × 1"),
        "the FAQ category they asked about: {profile}"
    );

    let tagged = admin.get_html("/customers?tag=interest%3Alighting").await;
    assert!(tagged.contains("Wang Fang") && !tagged.contains("Impostor"));
    app.stop().await;
}

#[tokio::test]
async fn an_agent_sees_only_the_customers_of_their_inboxes() {
    let (app, admin, inbox) = trained_widget().await;
    let visitor = Customer::new(&app, &inbox);
    visitor.say("hello").await;
    visitor
        .json("identify", json!({"name": "Only In Inbox One"}))
        .await;
    let ids = customer_ids(&admin, "Only In Inbox One").await;
    assert_eq!(ids.len(), 1);

    let outsider = app.user(&admin, "outsider@example.com", "agent").await;
    assert!(
        !outsider
            .get_html("/customers")
            .await
            .contains("Only In Inbox One")
    );
    let response = outsider.get(&format!("/customers/{}", ids[0])).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = outsider
        .submit("/desk", &format!("/customers/{}/export", ids[0]), &[])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "exports are for admins"
    );

    let member = app.user(&admin, "member@example.com", "agent").await;
    add_to_inbox(&admin, &[3]).await;
    let html = member.get_html(&format!("/customers/{}", ids[0])).await;
    assert!(html.contains("Only In Inbox One"));
    assert!(!html.contains("Erase customer"), "erasing is for admins");
    app.stop().await;
}

#[tokio::test]
async fn export_holds_the_customers_data_and_erase_removes_it_both_logged() {
    let (app, admin, inbox) = trained_widget().await;
    let visitor = Customer::new(&app, &inbox);
    visitor
        .json(
            "identify",
            json!({"name": "Zhao Lei", "email": "zhao@example.com"}),
        )
        .await;
    visitor.say("My parcel zebracorn-4471 is late").await;
    track(&visitor, "page_view", json!({"path": "/kettles"})).await;
    // Nobody is online: the customer leaves a message, which becomes a ticket.
    let response = visitor.post("handoff", &[]).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = visitor
        .post(
            "leave-message",
            &[
                ("contact", "zhao@example.com"),
                ("body", "Please call me about zebracorn-4471"),
            ],
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let ids = customer_ids(&admin, "zhao@example.com").await;
    assert_eq!(ids.len(), 1);
    let id = ids[0];

    let token = csrf_token_in(&admin.get_html(&format!("/customers/{id}")).await);
    let response = admin
        .post_form(
            &format!("/customers/{id}/export"),
            &[("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment"))
    );
    let export: serde_json::Value = response.json().await.expect("json");
    assert_eq!(export["customer"]["email"], "zhao@example.com");
    assert_eq!(export["events"][0]["name"], "page_view");
    let text = export.to_string();
    assert!(text.contains("My parcel zebracorn-4471 is late"), "{text}");
    assert_eq!(
        export["tickets"].as_array().map(Vec::len),
        Some(1),
        "{text}"
    );

    // A wrong confirmation erases nothing.
    let response = admin
        .post_form(
            &format!("/customers/{id}/erase"),
            &[("csrf_token", token.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        admin
            .get_html(&format!("/customers/{id}"))
            .await
            .contains("zhao@example.com")
    );
    let search = admin.get_html("/tickets?q=zebracorn").await;
    assert!(search.contains("zebracorn"), "found before the erasure");

    let response = admin
        .post_form(
            &format!("/customers/{id}/erase"),
            &[("csrf_token", token.as_str()), ("confirm", "ERASE")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let profile = admin.get_html(&format!("/customers/{id}")).await;
    assert!(profile.contains("Erased on"));
    assert!(!profile.contains("zhao@example.com") && !profile.contains("Zhao Lei"));
    assert!(!profile.contains("page_view"), "events deleted");
    let export: serde_json::Value = admin
        .post_form(
            &format!("/customers/{id}/export"),
            &[("csrf_token", token.as_str())],
        )
        .await
        .json()
        .await
        .expect("json");
    let text = export.to_string();
    assert!(!text.contains("zebracorn"), "their words are gone: {text}");
    assert!(text.contains("[erased]"));
    assert_eq!(export["events"].as_array().map(Vec::len), Some(0));
    // Out of the ticket index too (it follows the change log within a second or two).
    let started = std::time::Instant::now();
    loop {
        let search = admin.get_html("/tickets?q=zebracorn").await;
        if !search.contains("zebracorn-4471") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "still indexed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let log = admin.get_html("/customers").await;
    assert!(log.contains("customer.exported") && log.contains("customer.erased"));
    assert!(log.contains(&format!("customer {id}")));
    app.stop().await;
}

async fn upload_catalog(admin: &Browser, csv: &str, dry_run: bool) -> (StatusCode, String) {
    let token = csrf_token_in(&admin.get_html("/admin/catalog").await);
    let response = admin
        .client
        .post(admin.url("/admin/catalog/import"))
        .query(&[("dry_run", if dry_run { "1" } else { "0" })])
        .header("Content-Type", "text/csv")
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .body(csv.to_string())
        .send()
        .await
        .expect("upload");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn the_catalog_imports_all_rows_or_none_and_names_bad_lines() {
    let (app, admin, _inbox) = trained_widget().await;
    let before = admin.get_html("/admin/catalog").await;
    assert!(before.contains("18 items"), "the demo catalog");

    let bad = "id,title,price,url\nNEW-1,Teapot,59,/teapot\nNEW-2,,abc,javascript:alert(1)\n";
    let (status, html) = upload_catalog(&admin, bad, false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("line 3: title: is empty"), "{html}");
    assert!(html.contains("line 3: price:") && html.contains("line 3: url:"));
    assert!(html.contains("Nothing was imported"));
    assert!(!admin.get_html("/admin/catalog").await.contains("NEW-1"));

    let good =
        "id,title,category,price\nNEW-1,Teapot,kitchen,59\nLH-GIFT-01,Lumen Gift Card,gifts,100\n";
    let (status, html) = upload_catalog(&admin, good, true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Dry run"));
    assert!(!admin.get_html("/admin/catalog").await.contains("NEW-1"));
    let (status, html) = upload_catalog(&admin, good, false).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Created <strong>1</strong>, updated <strong>1</strong>"),
        "{html}"
    );
    let (_, html) = upload_catalog(&admin, good, false).await;
    assert!(
        html.contains(
            "Created <strong>0</strong>, updated <strong>0</strong>, unchanged <strong>2</strong>"
        ),
        "a second import changes nothing: {html}"
    );
    assert!(admin.get_html("/admin/catalog").await.contains("19 items"));
    app.stop().await;
}

#[test]
fn kefu_import_catalog_reads_gbk_and_refuses_a_bad_file_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (gbk, _, _) = encoding_rs::GBK.encode("id,title,category,price\nT-1,紫砂茶壶,茶具,268\n");
    let good = dir.path().join("good.csv");
    std::fs::write(&good, &gbk).expect("write");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,title,price\nT-2,Cup,1\nT-2,Cup again,2\nT-3,Saucer,x\n",
    )
    .expect("write");
    let data = dir.path().join("data");

    let output = run_kefu(
        &["import", "catalog", bad.to_str().expect("path")],
        &data,
        None,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3: id \"T-2\" is also on line 2"),
        "{stderr}"
    );
    assert!(stderr.contains("line 4: price:") && stderr.contains("nothing was imported"));

    let output = run_kefu(
        &["import", "catalog", good.to_str().expect("path")],
        &data,
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("1 created") && stdout.contains("embedded"),
        "{stdout}"
    );
    let output = run_kefu(
        &["import", "catalog", good.to_str().expect("path")],
        &data,
        None,
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 unchanged"));
}

#[tokio::test]
async fn recommendations_leave_out_purchases_and_say_why() {
    let (app, admin, inbox) = trained_widget().await;
    // Other customers bought the lamp with its replacement module.
    for _ in 0..4 {
        let other = Customer::new(&app, &inbox);
        track(
            &other,
            "purchase",
            json!({"items": [{"item_id": "LH-LAMP-01"}, {"item_id": "LH-BULB-02"}]}),
        )
        .await;
    }
    let buyer = Customer::new(&app, &inbox);
    buyer
        .json("identify", json!({"email": "buyer@example.com"}))
        .await;
    track(&buyer, "purchase", json!({"item_id": "LH-LAMP-01"})).await;
    let id = customer_ids(&admin, "buyer@example.com").await[0];

    let cards = recommendations(&admin, id, "").await;
    let ids = item_ids(&cards);
    assert!(
        !ids.contains(&"LH-LAMP-01".to_string()),
        "already bought: {ids:?}"
    );
    assert_eq!(ids[0], "LH-BULB-02", "{cards}");
    assert_eq!(
        cards[0]["reason"],
        "bought together with Lumen Smart Desk Lamp"
    );
    assert_eq!(cards[0]["reason_kind"], "bought_together");
    assert!(
        cards
            .as_array()
            .expect("list")
            .iter()
            .all(|card| !card["reason"].as_str().unwrap_or_default().is_empty())
    );

    // With a question, what matches it comes first, and says so.
    let cards = recommendations(&admin, id, "my kettle has limescale").await;
    let first = &cards[0];
    assert!(
        first["title"]
            .as_str()
            .unwrap_or_default()
            .contains("Kettle"),
        "{cards}"
    );
    assert_eq!(first["reason_kind"], "matches_question");
    assert!(
        first["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("my kettle has limescale")
    );

    let response = admin
        .client
        .get(admin.url(&format!("/api/v1/customers/{id}/recommendations")))
        .query(&[("limit", "500")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = admin
        .client
        .get(admin.url("/api/v1/customers/999999/recommendations"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// Events where each customer's last purchase is the partner of something they bought
/// before (accessories after their device), among items everyone buys: the shape
/// "bought together" exists to find. A small, fixed stand-in for a shop's history; the
/// closing note's figures come from a public retail data set.
fn bundle_events() -> String {
    let mut csv = String::from("customer,item,event,timestamp\n");
    let mut seed: u64 = 7;
    let mut next = move |bound: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) % bound
    };
    for customer in 0..300u64 {
        let bundle = next(20);
        let staple = next(5);
        let mut at = 1_700_000_000 + customer * 10;
        for _ in 0..3 {
            csv.push_str(&format!("c{customer},staple-{staple},purchase,{at}\n"));
            at += 86_400;
        }
        csv.push_str(&format!("c{customer},device-{bundle},purchase,{at}\n"));
        at += 86_400;
        csv.push_str(&format!("c{customer},accessory-{bundle},purchase,{at}\n"));
        // Half of them buy a staple again last: nothing new to hold out, so their device
        // and accessory teach "bought together" to the rest.
        if customer % 2 == 1 {
            at += 86_400;
            csv.push_str(&format!("c{customer},staple-{staple},purchase,{at}\n"));
        }
    }
    csv
}

#[test]
fn the_recommender_beats_popularity_on_a_held_out_split() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = dir.path().join("events.csv");
    std::fs::write(&events, bundle_events()).expect("write");
    let output = run_kefu(
        &[
            "eval",
            "recommend",
            "--events",
            events.to_str().expect("path"),
            "--json",
        ],
        &dir.path().join("data"),
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["evaluated_customers"], 150);
    let kefu = report["kefu"]["hit_rate_at_10"].as_f64().expect("hit rate");
    let popularity = report["popularity"]["hit_rate_at_10"]
        .as_f64()
        .expect("hit rate");
    assert!(kefu > popularity + 0.2, "{report}");
    assert!(
        report["kefu"]["ndcg_at_10"].as_f64() > report["popularity"]["ndcg_at_10"].as_f64(),
        "{report}"
    );
}

#[tokio::test]
async fn answers_about_products_bring_cards_and_agents_send_them_from_the_desk() {
    let (app, admin, inbox) = trained_widget().await;
    let customer = Customer::new(&app, &inbox);
    let chat = customer.say("Can I return the kettle?").await;
    assert!(
        chat.contains("class=\"card\""),
        "cards follow the answer: {chat}"
    );
    assert!(chat.contains("Lumen Glass Electric Kettle 1.7 L"));
    assert!(chat.contains("matches your question about"));

    let other = Customer::new(&app, &inbox);
    let chat = other.say("How do I reset my password?").await;
    assert!(chat.contains("bubble answer"), "answered: {chat}");
    assert!(
        !chat.contains("class=\"card\""),
        "no product in the question"
    );

    go_online(&admin).await;
    other.say("talk to a human").await;
    let id = conversations(&admin, "mine")
        .await
        .first()
        .copied()
        .expect("assigned to the admin");
    let insights = admin
        .get_html(&format!("/desk/conversations/{id}/insights"))
        .await;
    assert!(
        insights.contains("Send card") && insights.contains("new"),
        "{insights}"
    );
    let response = admin
        .submit(
            "/desk",
            &format!("/desk/conversations/{id}/card"),
            &[("item_id", "LH-KTL-02")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let chat = other.chat().await;
    assert!(
        chat.contains("class=\"card\"") && chat.contains("Kettle Limescale Filter (3-pack)"),
        "{chat}"
    );
    assert!(chat.contains("suggested by our team"));
    let response = admin
        .submit(
            "/desk",
            &format!("/desk/conversations/{id}/card"),
            &[("item_id", "NO-SUCH-ITEM")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn add_rule(admin: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    admin
        .submit("/admin/proactive", "/admin/proactive", fields)
        .await
}

const CART_RULE: [(&str, &str); 6] = [
    ("name", "Cart rescue"),
    ("trigger", "event"),
    ("event_name", "cart_abandoned"),
    (
        "message",
        "Still thinking it over? Ask me anything about your cart.",
    ),
    ("max_sends", "1"),
    ("per_days", "7"),
];

#[tokio::test]
async fn a_proactive_rule_fires_once_within_its_cap_and_never_over_a_person() {
    let (app, admin, inbox) = trained_widget().await;
    let response = add_rule(
        &admin,
        &[
            ("name", "No message"),
            ("trigger", "event"),
            ("event_name", "x"),
            ("max_sends", "0"),
            ("per_days", "7"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("page");
    assert!(
        html.contains("message: write the message") && html.contains("max_sends: from 1 to 100")
    );

    let mut rule: Vec<(&str, &str)> = CART_RULE.to_vec();
    rule.push(("with_recommendations", "on"));
    let response = add_rule(&admin, &rule).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let customer = Customer::new(&app, &inbox);
    track(&customer, "add_to_cart", json!({"item_id": "LH-LAMP-01"})).await;
    assert!(
        track(
            &customer,
            "cart_abandoned",
            json!({"item_id": "LH-LAMP-01"})
        )
        .await
    );
    let chat = customer.chat().await;
    assert_eq!(chat.matches("Still thinking it over?").count(), 1, "{chat}");
    assert!(chat.contains("class=\"card\""), "with suggested items");
    assert!(
        !track(&customer, "cart_abandoned", json!({})).await,
        "the cap: once a week"
    );
    assert_eq!(
        customer
            .chat()
            .await
            .matches("Still thinking it over?")
            .count(),
        1
    );
    // The reply continues as a normal conversation.
    let chat = customer.say("How do I track my order?").await;
    assert!(chat.contains("tracking number"));

    let page = admin.get_html("/admin/proactive").await;
    assert!(
        page.contains("Cart rescue") && page.contains("<td>1</td>"),
        "one send recorded"
    );

    let token = csrf_token_in(&page);
    let rule_id: i64 = {
        let start =
            page.find("/admin/proactive/").expect("a rule link") + "/admin/proactive/".len();
        page[start..start + page[start..].find('/').expect("end")]
            .trim_end_matches('"')
            .parse()
            .unwrap_or(1)
    };
    let response = admin
        .post_form(
            &format!("/admin/proactive/{rule_id}/pause"),
            &[("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let paused = Customer::new(&app, &inbox);
    assert!(!track(&paused, "cart_abandoned", json!({})).await, "paused");

    admin
        .post_form(
            &format!("/admin/proactive/{rule_id}/resume"),
            &[("csrf_token", token.as_str())],
        )
        .await;
    go_online(&admin).await;
    let with_a_person = Customer::new(&app, &inbox);
    with_a_person.say("talk to a human").await;
    assert!(
        !track(&with_a_person, "cart_abandoned", json!({})).await,
        "the bot never talks over a person"
    );
    assert!(track(&paused, "cart_abandoned", json!({})).await, "resumed");

    // A page rule: the loader learns the pattern, times the page, and reports the time.
    let response = add_rule(
        &admin,
        &[
            ("name", "Pricing help"),
            ("trigger", "page"),
            ("url_pattern", "*/pricing*"),
            ("seconds_on_page", "20"),
            ("message", "Questions about our prices?"),
            ("max_sends", "1"),
            ("per_days", "1"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let timers: serde_json::Value = admin
        .client
        .get(admin.url(&format!("/widget/{inbox}/page-timers")))
        .send()
        .await
        .expect("timers")
        .json()
        .await
        .expect("json");
    assert_eq!(timers, json!([{"pattern": "*/pricing*", "seconds": 20}]));
    let reader = Customer::new(&app, &inbox);
    let page_time =
        |seconds: u32| json!({"url": "https://shop.example/pricing?plan=pro", "seconds": seconds});
    let early: serde_json::Value = reader
        .json("page-time", page_time(5))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(early["proactive"], false, "not before 20 s");
    let on_time: serde_json::Value = reader
        .json("page-time", page_time(20))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(on_time["proactive"], true);
    assert!(reader.chat().await.contains("Questions about our prices?"));
    let response = reader
        .json(
            "page-time",
            json!({"url": "javascript:alert(1)", "seconds": 20}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn in_a_real_browser_cart_abandoned_on_the_shop_page_opens_the_widget_with_the_message() {
    let Some(chromium) = crate::browser::Chromium::start().await else {
        return;
    };
    let (app, admin, inbox) = trained_widget().await;
    let (shop, shop_server) = serve_shop_page(&app.address, &inbox);
    allow_origin(&admin, &shop).await;
    let mut rule: Vec<(&str, &str)> = CART_RULE.to_vec();
    rule.push(("with_recommendations", "on"));
    assert_eq!(
        add_rule(&admin, &rule).await.status(),
        StatusCode::SEE_OTHER
    );

    chromium.goto(&format!("{shop}/")).await;
    chromium
        .wait_until("document.querySelector('kefu-widget')")
        .await;
    // The shop's own script, as its cart page would run it.
    chromium
        .execute(
            "kefu('track', 'add_to_cart', {item_id: 'LH-LAMP-01'}); \
             kefu('track', 'cart_abandoned', {item_id: 'LH-LAMP-01'}); return true;",
        )
        .await;
    chromium
        .wait_until(
            "(() => { const f = document.querySelector('kefu-widget').shadowRoot.querySelector('iframe'); \
             return f && !f.hidden; })()",
        )
        .await;
    chromium.enter_shadow_frame("kefu-widget", "iframe").await;
    chromium
        .wait_until("document.querySelector('.msg-bot') && document.querySelector('#messages').textContent.includes('Still thinking it over?')")
        .await;
    chromium.wait_until("document.querySelector('.card')").await;
    let shot = chromium.screenshot("widget-proactive.png").await;
    eprintln!("screenshot: {}", shot.display());
    // The customer answers and the bot replies as in any chat.
    chromium
        .type_into("#composer-body", "How do I track my order?\n")
        .await;
    chromium
        .wait_until("document.querySelector('.msg-bot .bubble.answer')")
        .await;
    chromium.quit().await;
    shop_server.stop(false).await;
    app.stop().await;
}

#[tokio::test]
async fn a_flood_of_tracked_events_is_refused() {
    let (app, _admin, inbox) = trained_widget().await;
    let page = Customer::new(&app, &inbox);
    let mut refused = None;
    for sent in 0..40 {
        let response = page
            .json(
                "track",
                json!({"name": "page_view", "properties": {"n": sent}}),
            )
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((sent, response.headers().contains_key("retry-after")));
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (after, retry_after) = refused.expect("the flood is slowed down");
    assert!(
        after >= 30,
        "a page's normal burst passes: refused after {after}"
    );
    assert!(retry_after, "429 says when to retry");
    app.stop().await;
}
