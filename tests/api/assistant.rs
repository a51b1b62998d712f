//! The bot's understanding with the real model: intents in both languages, out-of-scope
//! rejection, answers from the demo knowledge base, retraining after an edit, `kefu eval`.

use crate::helpers::{Browser, TestApp, kefu_binary, spawn_demo_app, spawn_with, test_config};
use kefu::config::Config;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Training the demo knowledge base takes seconds; on a loaded 2-core CI machine, longer.
/// Only a bound on a hang: training is seconds on a fast machine, minutes on a slow shared one.
const TRAINING_WAIT: Duration = Duration::from_secs(600);

async fn understand(browser: &Browser, message: &str) -> (StatusCode, Value) {
    let response = browser
        .client
        .get(browser.url("/api/v1/assistant/understand"))
        .query(&[("q", message)])
        .send()
        .await
        .expect("understand request");
    let status = response.status();
    (status, response.json().await.expect("json body"))
}

/// Polls until `check` accepts what the bot makes of `message`, or fails after the wait.
async fn eventually_understood(
    browser: &Browser,
    message: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = understand(browser, message).await;
        if status == StatusCode::OK && check(&body) {
            return body;
        }
        assert!(
            started.elapsed() < TRAINING_WAIT,
            "{message:?} never understood as expected; last answer {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn trained_demo() -> (TestApp, Browser) {
    let app = spawn_demo_app().await;
    let admin = app.admin().await;
    eventually_understood(&admin, "hello", |_| true).await;
    (app, admin)
}

fn decision(body: &Value) -> (&str, Option<&str>) {
    (
        body["decision"]["action"].as_str().unwrap_or_default(),
        body["decision"]["intent"].as_str(),
    )
}

fn first_question(body: &Value) -> &str {
    body["answers"][0]["question"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_human_request_is_recognised_in_chinese_and_english() {
    let (app, admin) = trained_demo().await;
    for message in [
        "转人工",
        "我要找人工客服",
        "I want to talk to a real person",
        "agent please",
    ] {
        let (status, body) = understand(&admin, message).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            decision(&body),
            ("intent", Some("human_request")),
            "{message}: {body}"
        );
    }
    let (_, body) = understand(&admin, "谢谢你，帮大忙了").await;
    assert_eq!(decision(&body), ("intent", Some("thanks")), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn out_of_scope_messages_get_an_honest_dont_know() {
    let (app, admin) = trained_demo().await;
    for message in ["what's the weather on Mars", "谁发明了电灯泡"] {
        let (_, body) = understand(&admin, message).await;
        assert_eq!(decision(&body).0, "unknown", "{message}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn questions_find_their_faq_entry_in_either_language_with_reasons() {
    let (app, admin) = trained_demo().await;
    let (_, body) = understand(&admin, "where is my package? it's been a week").await;
    assert_eq!(first_question(&body), "How do I track my order?", "{body}");
    assert!(matches!(decision(&body).0, "answer" | "suggest"), "{body}");
    let best = &body["answers"][0];
    let confidence = best["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&confidence), "{best}");
    assert!(
        best["semantic_rank"].is_u64(),
        "the vectors found it: {best}"
    );
    assert_eq!(body["language"], "en");

    let (_, body) = understand(&admin, "我的快递到哪里了").await;
    assert_eq!(first_question(&body), "怎么查询我的订单物流？", "{body}");
    assert_eq!(body["language"], "zh");
    app.stop().await;
}

#[tokio::test]
async fn an_angry_message_scores_negative_and_says_why() {
    let (app, admin) = trained_demo().await;
    let (_, angry) = understand(
        &admin,
        "This is the worst service ever, I want my money back NOW!!!",
    )
    .await;
    let (_, calm) = understand(&admin, "thanks, that was really helpful").await;
    let angry_score = angry["sentiment"]["score"].as_f64().expect("score");
    let calm_score = calm["sentiment"]["score"].as_f64().expect("score");
    assert!(angry_score < -0.5, "{angry}");
    assert!(calm_score > 0.3, "{calm}");
    let cues = angry["sentiment"]["lexicon"]["cues"]
        .as_array()
        .expect("cues");
    assert!(cues.iter().any(|cue| cue["term"] == "worst"), "{angry}");
    app.stop().await;
}

#[tokio::test]
async fn the_bot_learns_a_new_faq_entry_without_a_restart() {
    let (app, admin) = trained_demo().await;
    let message = "can I pay with a gift voucher from your shop";
    let (_, before) = understand(&admin, message).await;
    assert_ne!(first_question(&before), "Do you sell gift cards?");

    let response = admin
        .submit(
            "/knowledge/new",
            "/knowledge",
            &[
                ("question", "Do you sell gift cards?"),
                (
                    "variants",
                    "can I buy a gift voucher\ngift card for a friend\nhow do gift cards work\ncan I pay with a gift card",
                ),
                ("answer", "Yes: gift cards from 10 to 500 euros, valid for two years."),
                ("category", "payment"),
                ("tags", "gift"),
                ("language", "en"),
                ("status", "published"),
                ("external_id", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "entry is created");

    let after = eventually_understood(&admin, message, |body| {
        first_question(body) == "Do you sell gift cards?"
    })
    .await;
    assert!(after["answers"][0]["classifier_rank"] == 1, "{after}");
    let ready: Value = admin.get("/readyz").await.json().await.expect("json");
    assert_eq!(ready["assistant"]["model"], "multilingual-e5-small-zh-en");
    assert_eq!(ready["assistant"]["trained"], true);
    app.stop().await;
}

#[tokio::test]
async fn understanding_needs_a_signed_in_user_and_a_sane_message() {
    let (app, admin) = trained_demo().await;
    let (status, _) = understand(&app.browser(), "hello").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = understand(&admin, "   ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = understand(&admin, &"很".repeat(2_001)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("2000"), "{body}");
    app.stop().await;
}

/// `kefu eval intents` on a small slice of BANKING77 (five intents) trains the production
/// model (fine-tuned encoder included) and reports every figure the full benchmark reports.
#[test]
fn kefu_eval_intents_runs_end_to_end() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let output = std::process::Command::new(kefu_binary())
        .args([
            "--log",
            "warn",
            "eval",
            "intents",
            "--train",
            &format!("{fixtures}/banking77-slice-train.csv"),
            "--test",
            &format!("{fixtures}/banking77-slice-test.csv"),
            "--json",
        ])
        .output()
        .expect("kefu runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("json report");
    assert_eq!(report["classes"], 5, "{report}");
    assert!(
        report["accuracy"].as_f64().expect("accuracy") > 0.8,
        "{report}"
    );
    assert!(
        report["macro_f1"].as_f64().expect("macro-F1") > 0.8,
        "{report}"
    );
    for field in ["training_seconds", "latency_p50_ms", "latency_p99_ms"] {
        assert!(
            report[field].as_f64().expect(field) > 0.0,
            "{field}: {report}"
        );
    }
    assert!(report["most_confused"].is_array(), "{report}");
    // As `kefu serve` does, the encoder's top four layers were fine-tuned too, and both
    // models were scored.
    let tuning = &report["fine_tuning"];
    assert_eq!(tuning["report"]["layers"], 4, "{report}");
    assert!(
        tuning["report"]["epochs"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{report}"
    );
    assert!(tuning["kept"].is_boolean(), "{report}");
    for field in ["frozen_accuracy", "tuned_accuracy"] {
        assert!(tuning[field].as_f64().is_some(), "{field}: {report}");
    }
    assert!(
        report["out_of_scope_recall"].is_null(),
        "no oos rows: {report}"
    );
}

#[test]
fn kefu_eval_reports_a_bad_file_by_line_and_a_bad_model_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "text,label\nhello,greeting\n,empty\n").expect("write");
    let output = std::process::Command::new(kefu_binary())
        .args(["eval", "intents", "--train"])
        .arg(&bad)
        .arg("--test")
        .arg(&bad)
        .output()
        .expect("kefu runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");

    let good = dir.path().join("good.csv");
    std::fs::write(&good, "text,label\nhello,greeting\nbye,goodbye\n").expect("write");
    let output = std::process::Command::new(kefu_binary())
        .args(["--model", "no-such-model", "eval", "intents", "--train"])
        .arg(&good)
        .arg("--test")
        .arg(&good)
        .output()
        .expect("kefu runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown embedded model") && stderr.contains("multilingual-e5-small-zh-en"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn an_admin_teaches_an_intent_a_phrase_and_tries_messages() {
    let (app, admin) = trained_demo().await;
    let page = admin.get_html("/admin/intents").await;
    assert!(page.contains("multilingual-e5-small-zh-en"), "model shown");
    assert!(
        page.contains("human_request") && page.contains("转人工"),
        "seeds shown"
    );

    let tried = admin
        .get_html("/admin/intents?try=%E8%BD%AC%E4%BA%BA%E5%B7%A5")
        .await;
    assert!(tried.contains("intent: human_request"), "{tried}");

    let response = admin
        .submit(
            "/admin/intents",
            "/admin/intents/phrases",
            &[
                ("intent", "human_request"),
                ("text", "<b>put me through to your staff</b>"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = admin.get_html("/admin/intents").await;
    assert!(
        page.contains("&#60;b&#62;put me through to your staff"),
        "shown, escaped"
    );
    assert!(!page.contains("<b>put me"), "escaped");

    let refused = admin
        .submit(
            "/admin/intents",
            "/admin/intents/phrases",
            &[("intent", "weather"), ("text", "hi")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("unknown intent")
    );

    let duplicate = admin
        .submit(
            "/admin/intents",
            "/admin/intents/phrases",
            &[("intent", "human_request"), ("text", "转人工")],
        )
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);

    let agent_page = app.browser().get("/admin/intents").await;
    assert_ne!(
        agent_page.status(),
        StatusCode::OK,
        "signed-out visitors are turned away"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_taught_phrase_changes_what_the_bot_understands() {
    let (app, admin) = trained_demo().await;
    let phrase = "pineapple protocol now";
    let (_, before) = understand(&admin, phrase).await;
    assert_ne!(
        decision(&before),
        ("intent", Some("human_request")),
        "{before}"
    );
    let response = admin
        .submit(
            "/admin/intents",
            "/admin/intents/phrases",
            &[("intent", "human_request"), ("text", phrase)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    eventually_understood(&admin, phrase, |body| {
        decision(body) == ("intent", Some("human_request"))
    })
    .await;
    app.stop().await;
}

async fn readiness(browser: &Browser) -> Value {
    let ready: Value = browser.get("/readyz").await.json().await.expect("json");
    ready["assistant"].clone()
}

/// As `kefu serve` runs: the bot answers with the frozen encoder first, fine-tunes the top
/// layers on the knowledge base in the background and swaps the result in when it does
/// better on held-out phrases; a restart loads that outcome instead of training again.
#[tokio::test]
async fn the_encoder_is_fine_tuned_in_the_background_and_reloaded_after_a_restart() {
    let temp = tempfile::tempdir().expect("temp dir");
    let config = Config {
        demo: true,
        fine_tune_layers: 1,
        ..test_config(temp.path())
    };
    let app = spawn_with(config.clone()).await.expect("kefu starts");
    let admin = app.admin().await;
    eventually_understood(&admin, "hello", |_| true).await;
    let started = Instant::now();
    let tuned = loop {
        let assistant = readiness(&admin).await;
        if assistant["fine_tuned"] == true && assistant["training"] == false {
            break assistant;
        }
        assert!(
            started.elapsed() < TRAINING_WAIT * 5,
            "fine-tuning never finished: {assistant}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(tuned["last_error"].is_null(), "{tuned}");
    assert_eq!(tuned["tuned_layers"], 1, "the tuned layer serves: {tuned}");
    let page = admin.get_html("/admin/intents").await;
    assert!(
        page.contains("top 1 layer fine-tuned on this knowledge base"),
        "the admin sees it: {page}"
    );

    // The bot understands through the tuned layer as before.
    let body = eventually_understood(&admin, "转人工", |_| true).await;
    assert_eq!(decision(&body), ("intent", Some("human_request")), "{body}");
    let body = eventually_understood(&admin, "I want to talk to a real person", |_| true).await;
    assert_eq!(decision(&body), ("intent", Some("human_request")), "{body}");
    let body = eventually_understood(&admin, "what's the weather on Mars", |_| true).await;
    assert_eq!(decision(&body).0, "unknown", "{body}");
    let (_, body) = understand(&admin, "where is my package? it's been a week").await;
    assert_eq!(first_question(&body), "How do I track my order?", "{body}");
    let (_, body) = understand(&admin, "我的快递到哪里了").await;
    assert_eq!(first_question(&body), "怎么查询我的订单物流？", "{body}");
    app.stop().await;

    // A restart finds the tuned model in the data directory: it answers through the tuned
    // layer as soon as it is trained, without fine-tuning again.
    let app = spawn_with(config).await.expect("kefu restarts");
    let admin = app.admin_or_login().await;
    eventually_understood(&admin, "hello", |_| true).await;
    let reloaded = readiness(&admin).await;
    assert_eq!(reloaded["tuned_layers"], 1, "{reloaded}");
    assert_eq!(reloaded["fine_tuned"], true, "{reloaded}");
    assert_eq!(
        reloaded["training"], false,
        "nothing left to train: {reloaded}"
    );
    app.stop().await;
}

/// `kefu train` trains and fine-tunes in the foreground (here on the built-in intents of a
/// fresh data directory) and leaves the outcome where `kefu serve` loads it.
#[test]
fn kefu_train_fine_tunes_now_and_saves_the_outcome_for_serve() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = crate::helpers::run_kefu(
        &["--log", "warn", "--fine-tune-layers", "1", "train"],
        dir.path(),
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("trained on"), "{stdout}");
    assert!(
        stdout.contains("encoder: top 1 layers fine-tuned"),
        "{stdout}"
    );
    assert!(stdout.contains("saved in"), "{stdout}");
    let metadata = std::fs::read_to_string(dir.path().join("assistant/intent-model.json"))
        .expect("the model's metadata is saved");
    let metadata: Value = serde_json::from_str(&metadata).expect("json");
    assert_eq!(metadata["fine_tuning"]["report"]["layers"], 1, "{metadata}");
}
