//! The knowledge pages: browsing and live search for agents; editing, preview, delete,
//! CSV import and export for admins; and who may do which.

use crate::helpers::{Browser, location, spawn_app};
use reqwest::{Response, StatusCode};

const KETTLE: &[(&str, &str)] = &[
    ("question", "Can I return a <b>kettle</b>?"),
    (
        "variants",
        "send the kettle back\nreturn policy for kettles",
    ),
    (
        "answer",
        "Yes: pack the kettle in its box and send it **within 30 days**.",
    ),
    ("category", "returns"),
    ("tags", "Returns, refunds"),
    ("language", "en"),
    ("status", "published"),
    ("external_id", "kettle-returns"),
];

/// Creates an entry through the editor form, as an admin would; returns its id.
async fn create_entry(admin: &Browser, fields: &[(&str, &str)]) -> i64 {
    let response = admin.submit("/knowledge/new", "/knowledge", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "entry is created");
    let location = location(&response);
    let id = location
        .strip_prefix("/knowledge/")
        .and_then(|rest| rest.split('?').next())
        .expect("redirects to the entry");
    id.parse().expect("numeric id")
}

/// A GET as htmx sends it when the search box changes.
async fn htmx_get(browser: &Browser, path: &str) -> (StatusCode, String) {
    let response = browser
        .client
        .get(browser.url(path))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

/// What the import page's script sends: the file as the body, the token in a header.
async fn upload_csv(browser: &Browser, csv: &str, dry_run: bool) -> Response {
    let token = browser.csrf_token("/knowledge").await;
    let flag = if dry_run { "1" } else { "0" };
    browser
        .client
        .post(browser.url(&format!("/knowledge/import?dry_run={flag}")))
        .header("Content-Type", "text/csv")
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .body(csv.to_string())
        .send()
        .await
        .expect("upload")
}

async fn body(response: Response) -> String {
    response.text().await.expect("body")
}

fn with(
    fields: &[(&'static str, &'static str)],
    changes: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    fields
        .iter()
        .map(|(name, value)| {
            let changed = changes.iter().find(|(changed, _)| changed == name);
            (*name, changed.map_or(*value, |(_, new)| *new))
        })
        .collect()
}

const TWO_ENTRIES_CSV: &str = "question,answer,variants,category,tags,language,status,external_id\n\
    How do I get a refund?,Refunds reach your card within 5 days.,money back,returns,refunds,en,published,en-refund\n\
    怎么申请退货？,在订单页面点击**申请退货**即可。,我要退货|怎么退款,returns,退货,zh,draft,zh-return\n";

#[tokio::test]
async fn an_admin_creates_an_entry_that_the_list_and_live_search_show() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let empty = admin.get_html("/knowledge").await;
    assert!(
        empty.contains("No entries yet"),
        "the empty state says what to do"
    );
    assert!(empty.contains("href=\"/knowledge/import\""));

    let id = create_entry(&admin, KETTLE).await;

    let entry = admin.get_html(&format!("/knowledge/{id}?saved=1")).await;
    assert!(
        entry.contains("Can I return a &#60;b&#62;kettle&#60;/b&#62;?"),
        "escaped"
    );
    assert!(!entry.contains("<b>kettle</b>"));
    assert!(
        entry.contains("<strong>within 30 days</strong>"),
        "rendered answer"
    );
    assert!(entry.contains("send the kettle back"), "variants");
    assert!(entry.contains("return policy for kettles"));
    assert!(
        entry.contains(">refunds<") && entry.contains(">returns<"),
        "tags, lower-cased"
    );
    assert!(entry.contains("kettle-returns"), "external id");
    assert!(entry.contains("<dt>Revision</dt><dd>1</dd>"));
    assert!(entry.contains(&format!("href=\"/knowledge/{id}/edit\"")));

    let list = admin.get_html("/knowledge").await;
    assert!(list.contains(&format!("href=\"/knowledge/{id}\"")));
    assert!(list.contains("1–1 of 1 entry"));
    assert!(list.contains("badge-published"));

    // Typing in the search box: htmx asks for the results fragment only.
    let (status, fragment) = htmx_get(&admin, "/knowledge?q=kettle").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    assert!(fragment.contains(&format!("href=\"/knowledge/{id}\"")));
    assert!(
        fragment.to_lowercase().contains("kettle</mark>"),
        "{fragment}"
    );
    assert!(fragment.contains("matches for “kettle”"));

    // The form sends its empty fields too; the address bar gets the tidy URL.
    let pushed = admin
        .client
        .get(admin.url("/knowledge?q=kettle&category=&language=&status="))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("request");
    assert_eq!(pushed.headers()["hx-push-url"], "/knowledge?q=kettle");

    // The same URL without htmx (a reload, or a shared link) is the whole page.
    let page = admin.get_html("/knowledge?q=kettle").await;
    assert!(page.contains("<html") && page.contains("value=\"kettle\""));
    assert!(page.contains("<mark>"));

    let (_, nothing) = htmx_get(&admin, "/knowledge?q=toaster").await;
    assert!(nothing.contains("Nothing matches “toaster”"));
    let (_, filtered_out) = htmx_get(&admin, "/knowledge?q=kettle&language=zh").await;
    assert!(
        filtered_out.contains("Nothing matches"),
        "facets narrow the search"
    );
    let (_, drafts) = htmx_get(&admin, "/knowledge?q=kettle&status=draft").await;
    assert!(drafts.contains("Nothing matches"));
    let (_, published) = htmx_get(
        &admin,
        "/knowledge?q=kettle&status=published&category=returns",
    )
    .await;
    assert!(published.contains(&format!("href=\"/knowledge/{id}\"")));
}

#[tokio::test]
async fn invalid_entries_come_back_with_the_input_and_every_problem() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let invalid = with(
        KETTLE,
        &[
            ("question", "   "),
            ("answer", ""),
            ("language", "klingon"),
            ("category", "my typed category"),
        ],
    );
    let response = admin.submit("/knowledge/new", "/knowledge", &invalid).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = body(response).await;
    assert!(page.contains("Fix these 3 problems"), "{page}");
    assert!(page.contains("Question</a>: is missing"));
    assert!(page.contains("Answer</a>: is missing"));
    assert!(
        page.contains("Language</a>: &#34;klingon&#34; is not a language code"),
        "each problem is listed: {page}"
    );
    assert!(
        page.contains("value=\"my typed category\""),
        "input is kept"
    );
    assert!(page.contains("send the kettle back\nreturn policy for kettles"));
    assert!(page.contains("value=\"kettle-returns\""));
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(
        admin
            .get_html("/knowledge")
            .await
            .contains("No entries yet"),
        "nothing saved"
    );

    // A second entry with the same external id conflicts.
    create_entry(&admin, KETTLE).await;
    let duplicate = with(KETTLE, &[("question", "Another question about kettles")]);
    let response = admin
        .submit("/knowledge/new", "/knowledge", &duplicate)
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = body(response).await;
    assert!(page.contains("already exists"), "{page}");
    assert!(page.contains("value=\"Another question about kettles\""));
}

#[tokio::test]
async fn editing_keeps_the_entry_and_bumps_its_revision() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = create_entry(&admin, KETTLE).await;
    let edit_path = format!("/knowledge/{id}/edit");
    let form = admin.get_html(&edit_path).await;
    assert!(form.contains("value=\"Can I return a &#60;b&#62;kettle&#60;/b&#62;?\""));
    assert!(form.contains("send the kettle back\nreturn policy for kettles"));
    assert!(form.contains("value=\"returns, refunds\""));
    assert!(
        form.contains("<strong>within 30 days</strong>"),
        "the preview starts filled"
    );

    let changed = with(
        KETTLE,
        &[
            ("answer", "Send it back within **60 days**."),
            ("status", "draft"),
            ("tags", "returns | kettles"),
        ],
    );
    let response = admin
        .submit(&edit_path, &format!("/knowledge/{id}"), &changed)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/knowledge/{id}?saved=1"));
    let entry = admin.get_html(&format!("/knowledge/{id}")).await;
    assert!(entry.contains("<dt>Revision</dt><dd>2</dd>"), "{entry}");
    assert!(entry.contains("<strong>60 days</strong>"));
    assert!(entry.contains("badge-draft"));
    assert!(entry.contains(">kettles<"));

    let invalid = with(KETTLE, &[("answer", " ")]);
    let response = admin
        .submit(&edit_path, &format!("/knowledge/{id}"), &invalid)
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = body(response).await;
    assert!(
        page.contains(&format!("action=\"/knowledge/{id}\"")),
        "still editing this entry"
    );
}

#[tokio::test]
async fn deleting_asks_first_then_removes_the_entry_from_list_and_search() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = create_entry(&admin, KETTLE).await;
    let confirm_path = format!("/knowledge/{id}/delete");
    let confirm = admin.get_html(&confirm_path).await;
    assert!(confirm.contains("Delete this entry?"));
    assert!(confirm.contains(&format!("action=\"/knowledge/{id}/delete\"")));

    let response = admin.submit(&confirm_path, &confirm_path, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    assert!(back.starts_with("/knowledge?deleted="), "{back}");
    assert!(
        admin
            .get_html(&back)
            .await
            .contains("Deleted “Can I return a &#60;b&#62;kettle&#60;/b&#62;?”")
    );

    assert_eq!(
        admin.get(&format!("/knowledge/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, results) = htmx_get(&admin, "/knowledge?q=kettle").await;
    assert!(results.contains("Nothing matches"), "{results}");
    assert!(!results.contains(&format!("/knowledge/{id}\"")));
    let again = admin.submit("/knowledge", &confirm_path, &[]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_markdown_preview_is_sanitised() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.csrf_token("/knowledge/new").await;
    let response = admin
        .client
        .post(admin.url("/knowledge/preview"))
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .form(&[(
            "answer",
            "**Hi** <script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1))",
        )])
        .send()
        .await
        .expect("preview");
    assert_eq!(response.status(), StatusCode::OK);
    let fragment = body(response).await;
    assert!(fragment.contains("<strong>Hi</strong>"), "{fragment}");
    assert!(!fragment.contains("<script"), "{fragment}");
    assert!(!fragment.contains("onerror"), "{fragment}");
    assert!(!fragment.contains("javascript:"), "{fragment}");
    assert!(!fragment.contains("<html"), "a fragment");
}

#[tokio::test]
async fn agents_read_the_knowledge_base_but_cannot_change_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = create_entry(&admin, KETTLE).await;
    let agent = app.user(&admin, "agent@example.com", "agent").await;

    let list = agent.get_html("/knowledge").await;
    assert!(list.contains(&format!("href=\"/knowledge/{id}\"")));
    assert!(
        !list.contains("href=\"/knowledge/new\""),
        "no admin buttons"
    );
    assert!(!list.contains("Import CSV") && !list.contains("Export CSV"));
    let entry = agent.get_html(&format!("/knowledge/{id}")).await;
    assert!(entry.contains("<strong>within 30 days</strong>"));
    assert!(!entry.contains("/edit\""), "no edit link");
    let (status, results) = htmx_get(&agent, "/knowledge?q=kettle").await;
    assert_eq!(status, StatusCode::OK);
    assert!(results.contains("<mark>"));

    for page in [
        "/knowledge/new".to_string(),
        format!("/knowledge/{id}/edit"),
        format!("/knowledge/{id}/delete"),
        "/knowledge/import".to_string(),
        "/knowledge/export.csv".to_string(),
    ] {
        assert_eq!(
            agent.get(&page).await.status(),
            StatusCode::FORBIDDEN,
            "GET {page}"
        );
    }
    for action in [
        "/knowledge".to_string(),
        format!("/knowledge/{id}"),
        format!("/knowledge/{id}/delete"),
        "/knowledge/preview".to_string(),
    ] {
        let response = agent.submit("/knowledge", &action, KETTLE).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {action}");
    }
    let upload = upload_csv(&agent, TWO_ENTRIES_CSV, false).await;
    assert_eq!(upload.status(), StatusCode::FORBIDDEN, "import");

    let entry = admin.get_html(&format!("/knowledge/{id}")).await;
    assert!(entry.contains("<dt>Revision</dt><dd>1</dd>"), "unchanged");
    assert!(
        !admin
            .get_html("/knowledge")
            .await
            .contains("How do I get a refund?")
    );
}

#[tokio::test]
async fn importing_through_the_page_shows_a_dry_run_then_imports() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let page = admin.get_html("/knowledge/import").await;
    assert!(page.contains("data-csv-upload") && page.contains("name=\"dry_run\""));

    let dry = upload_csv(&admin, TWO_ENTRIES_CSV, true).await;
    assert_eq!(dry.status(), StatusCode::OK);
    let summary = body(dry).await;
    assert!(summary.contains("Dry run: nothing was saved"), "{summary}");
    assert!(
        summary.contains("would create <strong>2</strong>"),
        "{summary}"
    );
    assert!(summary.contains("How do I get a refund?") && summary.contains("怎么申请退货？"));
    assert!(summary.contains("data-import-again"));
    assert!(
        admin
            .get_html("/knowledge")
            .await
            .contains("No entries yet"),
        "nothing saved"
    );

    let real = upload_csv(&admin, TWO_ENTRIES_CSV, false).await;
    assert_eq!(real.status(), StatusCode::OK);
    let summary = body(real).await;
    assert!(
        summary.contains("Created <strong>2</strong>, updated <strong>0</strong>"),
        "{summary}"
    );
    assert!(
        summary.contains("<td class=\"num\">2</td>")
            && summary.contains("<td class=\"num\">3</td>"),
        "line numbers"
    );

    let list = admin.get_html("/knowledge").await;
    assert!(list.contains("How do I get a refund?") && list.contains("怎么申请退货？"));
    assert!(list.contains("badge-draft"), "the zh row is a draft");
    let (_, chinese) = htmx_get(&admin, "/knowledge?q=%E9%80%80%E8%B4%A7").await;
    assert!(
        chinese.contains("<mark>退货</mark>") || chinese.contains("退货</mark>"),
        "{chinese}"
    );
    assert!(chinese.contains("怎么申请退货？"), "drafts are found too");
    let (_, english) = htmx_get(&admin, "/knowledge?q=refund").await;
    assert!(english.contains("How do I get a refund?"));

    let again = body(upload_csv(&admin, TWO_ENTRIES_CSV, false).await).await;
    assert!(again.contains("unchanged <strong>2</strong>"), "{again}");
}

#[tokio::test]
async fn a_bad_csv_lists_its_lines_and_imports_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let bad = "question,answer,status\n\
        Fine question,Fine answer,published\n\
        Missing answer,,published\n\
        Odd status,Some answer,live\n";
    let response = upload_csv(&admin, bad, false).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = body(response).await;
    assert!(page.contains("line 3: "), "{page}");
    assert!(page.contains("line 4: "), "{page}");
    assert!(page.contains("Nothing was imported"));
    assert!(
        admin
            .get_html("/knowledge")
            .await
            .contains("No entries yet")
    );

    let token = admin.csrf_token("/knowledge/import").await;
    let not_csv = admin
        .client
        .post(admin.url("/knowledge/import"))
        .header("X-CSRF-Token", token.as_str())
        .header("HX-Request", "true")
        .form(&[("file", "x")])
        .send()
        .await
        .expect("request");
    assert_eq!(not_csv.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = "q".repeat(10 * 1024 * 1024 + 1);
    let too_large = admin
        .client
        .post(admin.url("/knowledge/import"))
        .header("X-CSRF-Token", token.as_str())
        .header("HX-Request", "true")
        .header("Content-Type", "text/csv")
        .body(huge)
        .send()
        .await
        .expect("request");
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body(too_large).await.contains("the limit is 10 MiB"));

    let empty = upload_csv(&admin, "", false).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(empty).await.contains("The file is empty"));
}

#[tokio::test]
async fn export_downloads_the_faq_as_csv() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    create_entry(&admin, KETTLE).await;
    let response = admin.get("/knowledge/export.csv").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(
        disposition.starts_with("attachment; filename=\"kefu-faq-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let csv = body(response).await;
    assert!(
        csv.contains("question") && csv.contains("kettle-returns"),
        "{csv}"
    );
}

#[tokio::test]
async fn unknown_entries_are_404_pages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for path in [
        "/knowledge/999",
        "/knowledge/0",
        "/knowledge/abc",
        "/knowledge/99999999999999999999999",
        "/knowledge/999/edit",
        "/knowledge/999/delete",
    ] {
        let response = admin.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            body(response).await.contains("<html"),
            "an error page for {path}"
        );
    }
    let update = admin.submit("/knowledge", "/knowledge/999", KETTLE).await;
    assert_eq!(update.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn long_lists_are_paged_25_at_a_time() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut csv = String::from("question,answer,category\n");
    for n in 1..=27 {
        csv.push_str(&format!("Question number {n}?,Answer number {n}.,paging\n"));
    }
    let response = upload_csv(&admin, &csv, false).await;
    assert_eq!(response.status(), StatusCode::OK);

    let first = admin.get_html("/knowledge").await;
    assert!(first.contains("1–25 of 27 entries"), "{first}");
    assert!(first.contains("href=\"/knowledge?page=2\""));
    assert!(!first.contains("rel=\"prev\""));
    let (_, second) = htmx_get(&admin, "/knowledge?page=2").await;
    assert!(second.contains("26–27 of 27 entries"), "{second}");
    assert!(second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""));
    let (_, filtered) = htmx_get(&admin, "/knowledge?category=paging&page=2").await;
    assert!(filtered.contains("26–27 of 27 entries (filtered)"));
    assert!(
        filtered.contains("href=\"/knowledge?category=paging\""),
        "{filtered}"
    );
    let past_the_end = admin.get_html("/knowledge?page=9").await;
    assert!(past_the_end.contains("past the end"));
    assert_eq!(
        admin.get("/knowledge?page=abc").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
