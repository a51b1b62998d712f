//! The knowledge base end to end: CSV import (encodings, bad rows, dry run, idempotence),
//! export round trip, Chinese/English/mixed search over a real tantivy index, and imports
//! from another process reaching a running server.

use crate::helpers::{run_kefu, spawn_app_in, spawn_demo_app};
use reqwest::StatusCode;
use std::path::Path;
use std::time::{Duration, Instant};

const SMALL_FAQ: &str = "question,answer,variants,category,tags,language,status,external_id
How do I return an item?,\"Send it back within **7 days**:

- pack it
- print the label\",return a product|send something back,returns,returns|refund,en,published,ret-1
退货怎么办理？,七天无理由退货，在订单页申请。,我想退货|怎么退款,returns,returns,zh,published,ret-2
When do you ship the holiday collection?,Soon.,,shipping,,en,draft,holiday-1
";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write file");
    path
}

fn import(data_dir: &Path, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import", "faq", file.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    run_kefu(&args, data_dir, None)
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn export(data_dir: &Path, file: &Path) -> Vec<u8> {
    let output = run_kefu(
        &["export", "faq", file.to_str().expect("utf-8")],
        data_dir,
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::read(file).expect("exported file")
}

fn first_question(results: &serde_json::Value) -> String {
    results["results"][0]["question"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn utf8_bom_and_gbk_files_import_the_same_entries() {
    let files = tempfile::tempdir().expect("temp dir");
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(SMALL_FAQ);
    assert!(!unmappable);
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(SMALL_FAQ.as_bytes());
    let mut exports = Vec::new();
    for (name, bytes) in [
        ("utf8.csv", SMALL_FAQ.as_bytes().to_vec()),
        ("bom.csv", with_bom),
        ("gbk.csv", gbk.into_owned()),
    ] {
        let data = tempfile::tempdir().expect("temp dir");
        let output = import(data.path(), &write(files.path(), name, &bytes), &[]);
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        assert!(
            stdout(&output).contains("3 created, 0 updated, 0 unchanged"),
            "{name}"
        );
        exports.push(export(
            data.path(),
            &files.path().join(format!("{name}.out")),
        ));
    }
    assert_eq!(exports[0], exports[1], "BOM file imports identically");
    assert_eq!(exports[0], exports[2], "GBK file imports identically");
    assert!(String::from_utf8_lossy(&exports[2]).contains("七天无理由退货"));
}

#[tokio::test]
async fn every_bad_row_is_reported_with_its_line_and_nothing_is_imported() {
    let files = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    let long_question = "x".repeat(501);
    let csv = format!(
        "question,answer,status,language,external_id
Good question?,Good answer.,published,en,a
,An answer without a question,,,
A question without an answer,,,,
{long_question},answer,,,
Duplicate id?,answer,,,a
Odd status?,answer,live,,
Odd language?,answer,,klingon,
Too many fields?,answer,,,,extra
"
    );
    let output = import(
        data.path(),
        &write(files.path(), "bad.csv", csv.as_bytes()),
        &[],
    );
    assert!(!output.status.success());
    let errors = stderr(&output);
    for expected in [
        "line 3: question: is missing",
        "line 4: answer: is missing",
        "line 5: question: is 501 characters long; at most 500",
        "line 6: external_id \"a\" is also on line 2",
        "line 7: status: \"live\" is not a status",
        "line 8: language: \"klingon\" is not a language code",
        "line 9: has 6 fields but the header has 5",
        "nothing was imported",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in:\n{errors}"
        );
    }
    assert!(!errors.contains("line 2:"), "the good row is fine");

    let unknown_column = write(
        files.path(),
        "cols.csv",
        b"question,answer,colour\nq?,a,red\n",
    );
    let errors = stderr(&import(data.path(), &unknown_column, &[]));
    assert!(
        errors.contains("line 1: unknown column \"colour\""),
        "{errors}"
    );

    let undecodable = write(
        files.path(),
        "bin.csv",
        b"question,answer\nok?,fine\n\xff\xfe\xfd,\x81\n",
    );
    let errors = stderr(&import(data.path(), &undecodable, &[]));
    assert!(errors.contains("line 3: undecodable bytes"), "{errors}");

    let exported = export(data.path(), &files.path().join("after.csv"));
    assert_eq!(
        String::from_utf8_lossy(&exported).lines().count(),
        1,
        "only the header: nothing was half-imported"
    );
}

#[tokio::test]
async fn dry_run_reports_without_writing_and_reimport_changes_nothing() {
    let files = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    let file = write(files.path(), "faq.csv", SMALL_FAQ.as_bytes());

    let dry = import(data.path(), &file, &["--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let report = stdout(&dry);
    assert!(report.contains("3 created"), "{report}");
    assert!(report.contains("dry run, nothing written"), "{report}");
    assert!(
        report.contains("line 2\tcreated\tHow do I return an item?"),
        "{report}"
    );
    let empty = export(data.path(), &files.path().join("empty.csv"));
    assert_eq!(String::from_utf8_lossy(&empty).lines().count(), 1);

    assert!(import(data.path(), &file, &[]).status.success());
    let first = export(data.path(), &files.path().join("first.csv"));
    let again = import(data.path(), &file, &[]);
    assert!(
        stdout(&again).contains("0 created, 0 updated, 3 unchanged"),
        "{}",
        stdout(&again)
    );
    assert_eq!(first, export(data.path(), &files.path().join("second.csv")));

    // Without external ids, rows match by their normalised question.
    let reworded = "question,answer\nHOW DO I RETURN AN ITEM,New answer.\n";
    let update = import(
        data.path(),
        &write(files.path(), "upd.csv", reworded.as_bytes()),
        &[],
    );
    assert!(
        stdout(&update).contains("0 created, 1 updated"),
        "{}",
        stdout(&update)
    );
}

#[tokio::test]
async fn export_then_import_round_trips_losslessly_and_neutralises_formulas() {
    let files = tempfile::tempdir().expect("temp dir");
    let source = tempfile::tempdir().expect("temp dir");
    let tricky = "question,answer,tags,external_id
=SUM(A1:A9),\"- a list item
- another\",@home|+plus,-dash
'Quoted question,'single quote answer,,x1
";
    let demo_and_tricky = [SMALL_FAQ, tricky];
    for (n, csv) in demo_and_tricky.iter().enumerate() {
        let output = import(
            source.path(),
            &write(files.path(), &format!("in{n}.csv"), csv.as_bytes()),
            &[],
        );
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let exported = export(source.path(), &files.path().join("out.csv"));
    let text = String::from_utf8_lossy(&exported);
    assert!(
        text.contains("'=SUM(A1:A9)"),
        "formula neutralised:\n{text}"
    );
    assert!(text.contains("\"'- a list item"), "{text}");
    assert!(text.contains("'@home|+plus"), "{text}");

    let target = tempfile::tempdir().expect("temp dir");
    let output = import(target.path(), &files.path().join("out.csv"), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let again = export(target.path(), &files.path().join("out2.csv"));
    assert_eq!(exported, again, "export → import → export is lossless");
}

#[tokio::test]
async fn chinese_english_and_mixed_queries_find_the_right_demo_entry() {
    let app = spawn_demo_app().await;
    let admin = app.admin().await;
    for (query, expected) in [
        ("how can I send back an item", "How do I return an item?"),
        (
            "refund taking long",
            "How long does it take to get my refund?",
        ),
        ("退货", "怎么申请退货？"),
        ("发票", "怎么开发票？"),
        ("我的 order 还没到", "订单一直没收到怎么办？"),
        ("可以用 PayPal 付款吗", "支持哪些付款方式？"),
    ] {
        let results = admin
            .kb_search(&[("q", query), ("published_only", "true")])
            .await;
        let questions: Vec<&str> = results["results"]
            .as_array()
            .expect("results")
            .iter()
            .take(3)
            .filter_map(|r| r["question"].as_str())
            .collect();
        assert!(
            questions.contains(&expected),
            "{query:?} should find {expected:?} in the top 3, got {questions:?}"
        );
    }
    let hit = &admin.kb_search(&[("q", "发票")]).await["results"][0];
    assert!(hit["score"].as_f64().expect("score") > 0.0);
    let snippet = hit["snippet"].as_array().expect("snippet parts");
    assert!(
        snippet.iter().any(|part| part["highlighted"] == true),
        "{snippet:?}"
    );
}

#[tokio::test]
async fn drafts_are_hidden_from_the_bot_but_not_from_admins() {
    let app = spawn_demo_app().await;
    let admin = app.admin().await;
    let query = [("q", "Spring Festival holiday shipping")];
    let all = admin.kb_search(&query).await;
    assert_eq!(
        first_question(&all),
        "Will you ship during the Spring Festival holiday?"
    );
    assert_eq!(all["results"][0]["status"], "draft");
    let published = admin
        .kb_search(&[
            ("q", "Spring Festival holiday shipping"),
            ("published_only", "true"),
        ])
        .await;
    assert!(
        published["results"]
            .as_array()
            .expect("results")
            .iter()
            .all(|r| r["status"] == "published")
    );
}

#[tokio::test]
async fn the_search_api_checks_its_caller_and_input() {
    let app = spawn_demo_app().await;
    let admin = app.admin().await;
    let anonymous = app.browser();
    let response = anonymous.get("/api/v1/kb/search?q=refund").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthenticated");

    for (query, message) in [
        ("/api/v1/kb/search", "q: is required"),
        (
            "/api/v1/kb/search?q=x&limit=500",
            "limit: must be between 1 and 50",
        ),
        ("/api/v1/kb/search?q=x&language=martian", "language:"),
    ] {
        let response = admin.get(query).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        let body: serde_json::Value = response.json().await.expect("json");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains(message),
            "{query}: {body}"
        );
    }
    for hostile in ["\"unbalanced", "AND OR (", "*", ":"] {
        admin.kb_search(&[("q", hostile)]).await;
    }
    let english = admin
        .kb_search(&[("q", "refund"), ("language", "en"), ("limit", "2")])
        .await;
    let results = english["results"].as_array().expect("results");
    assert!(results.len() <= 2);
    assert!(results.iter().all(|r| r["language"] == "en"));
}

#[tokio::test]
async fn an_import_from_the_shell_reaches_a_running_server_within_a_second() {
    let data = tempfile::tempdir().expect("temp dir");
    let files = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_in(data.path()).await.expect("starts");
    let admin = app.admin().await;
    assert!(
        admin.kb_search(&[("q", "退货")]).await["results"]
            .as_array()
            .expect("results")
            .is_empty()
    );

    let output = import(
        data.path(),
        &write(files.path(), "faq.csv", SMALL_FAQ.as_bytes()),
        &[],
    );
    assert!(
        output.status.success(),
        "no lock error while serving: {}",
        stderr(&output)
    );
    let imported = Instant::now();
    loop {
        let results = admin.kb_search(&[("q", "退货")]).await;
        if first_question(&results) == "退货怎么办理？" {
            break;
        }
        assert!(
            imported.elapsed() < Duration::from_secs(5),
            "the server never saw the import"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("an import became searchable after {:?}", imported.elapsed());
}

#[tokio::test]
async fn a_missing_or_damaged_index_is_rebuilt_and_reindex_works() {
    let data = tempfile::tempdir().expect("temp dir");
    let files = tempfile::tempdir().expect("temp dir");
    assert!(
        import(
            data.path(),
            &write(files.path(), "faq.csv", SMALL_FAQ.as_bytes()),
            &[]
        )
        .status
        .success()
    );

    let index = data.path().join("index").join("knowledge");
    for damage in ["missing", "garbage"] {
        if index.exists() {
            std::fs::remove_dir_all(&index).expect("remove index");
        }
        if damage == "garbage" {
            std::fs::create_dir_all(&index).expect("dir");
            std::fs::write(index.join("meta.json"), b"{ this is not json").expect("garbage");
        }
        let app = spawn_app_in(data.path())
            .await
            .expect("starts despite the index");
        let admin = app.admin_or_login().await;
        let results = admin.kb_search(&[("q", "return an item")]).await;
        assert_eq!(
            first_question(&results),
            "How do I return an item?",
            "after {damage} index"
        );
        app.stop().await;
    }

    let output = run_kefu(&["reindex"], data.path(), None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("indexed 3 entries"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn files_over_the_size_or_row_limits_are_refused_with_a_clear_message() {
    let files = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    let mut many_rows = String::from("question,answer\n");
    for n in 0..20_001 {
        many_rows.push_str(&format!("Question number {n}?,Answer {n}.\n"));
    }
    let output = import(
        data.path(),
        &write(files.path(), "rows.csv", many_rows.as_bytes()),
        &[],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("the file has more than 20000 rows; split it"),
        "{}",
        stderr(&output)
    );

    let huge = vec![b'a'; 10 * 1024 * 1024 + 1];
    let output = import(data.path(), &write(files.path(), "huge.csv", &huge), &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("at most 10485760 bytes (10 MiB)"),
        "{}",
        stderr(&output)
    );
}
