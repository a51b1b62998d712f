//! First-run setup, signing in and out, and what ends a session.

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Browser, location, spawn_app, spawn_app_in};
use reqwest::StatusCode;

fn setup_fields(token: &str) -> [(&str, &str); 4] {
    [
        ("token", token),
        ("email", ADMIN_EMAIL),
        ("display_name", "Olivia Owner"),
        ("password", ADMIN_PASSWORD),
    ]
}

#[tokio::test]
async fn first_run_leads_to_setup_and_the_token_works_once() {
    let app = spawn_app().await;
    let browser = app.browser();
    let token = app
        .setup_token
        .clone()
        .expect("a fresh data dir prints a setup token");

    let front = browser.get("/").await;
    assert_eq!(front.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&front), "/setup");
    assert_eq!(location(&browser.get("/login").await), "/setup");

    let wrong = browser
        .submit("/setup", "/setup", &setup_fields("not-the-token"))
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let page = wrong.text().await.expect("body");
    assert!(page.contains("setup token is wrong"), "{page}");
    assert!(page.contains(ADMIN_EMAIL), "the form keeps what was typed");

    let created = browser
        .submit("/setup", "/setup", &setup_fields(&token))
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&created), "/desk");
    let desk = browser.get_html("/desk").await;
    assert!(desk.contains("Olivia Owner"), "signed in right after setup");

    // The token is used up: setup is closed for everyone.
    let stranger = app.browser();
    assert_eq!(location(&stranger.get("/setup").await), "/login");
    let csrf = stranger.csrf_token("/login").await;
    let again = stranger
        .post_form(
            "/setup",
            &[
                ("token", token.as_str()),
                ("email", "second@example.com"),
                ("display_name", "Mallory"),
                ("password", "another password"),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn setup_validates_input_and_says_what_to_fix() {
    let app = spawn_app().await;
    let browser = app.browser();
    let token = app.setup_token.clone().expect("token");
    let response = browser
        .submit(
            "/setup",
            "/setup",
            &[
                ("token", token.as_str()),
                ("email", ADMIN_EMAIL),
                ("display_name", "Olivia"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("body");
    assert!(
        page.contains("password: must be at least 10 characters"),
        "{page}"
    );
    // Nothing was created, so the same token still works.
    app.admin().await;
}

#[tokio::test]
async fn no_setup_token_once_an_account_exists() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = spawn_app_in(dir.path()).await.expect("starts");
    first.admin().await;
    first.stop().await;
    let second = spawn_app_in(dir.path()).await.expect("restarts");
    assert!(second.setup_token.is_none());
    let browser = second.browser();
    assert_eq!(
        browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "the account survived the restart"
    );
}

#[tokio::test]
async fn login_then_logout() {
    let app = spawn_app().await;
    app.admin().await;
    let browser = app.browser();

    let desk = browser.get("/desk").await;
    assert_eq!(location(&desk), "/login?next=%2Fdesk");

    let login = browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/desk");
    assert!(browser.get_html("/desk").await.contains("Sign out"));

    let logout = browser.submit("/desk", "/logout", &[]).await;
    assert_eq!(location(&logout), "/login");
    assert_eq!(browser.get("/desk").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_returns_to_the_page_asked_for_but_never_off_site() {
    let app = spawn_app().await;
    app.admin().await;
    for (next, expected) in [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/desk"),
        ("//evil.example/", "/desk"),
    ] {
        let browser = app.browser();
        let response = browser
            .submit(
                "/login",
                "/login",
                &[
                    ("email", ADMIN_EMAIL),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&response), expected, "next={next}");
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = spawn_app().await;
    app.admin().await;
    let browser = app.browser();

    let wrong_password = browser.login(ADMIN_EMAIL, "not the password").await;
    let unknown = browser.login("nobody@example.com", ADMIN_PASSWORD).await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let message = "E-mail or password is incorrect.";
    assert!(wrong_password.text().await.expect("body").contains(message));
    assert!(unknown.text().await.expect("body").contains(message));
    assert_eq!(browser.get("/desk").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn repeated_failed_logins_for_one_account_are_rate_limited() {
    let app = spawn_app().await;
    app.admin().await;
    let browser = app.browser();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(browser.login(ADMIN_EMAIL, "guess guess guess").await);
    }
    let last = statuses.pop().expect("six attempts");
    assert!(
        statuses
            .iter()
            .all(|r| r.status() == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = last.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);
    assert!(
        last.text()
            .await
            .expect("body")
            .contains("Too many attempts")
    );
    // Even the right password waits: the limit is on attempts, not on failures.
    let right = browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn many_failed_logins_from_one_address_are_rate_limited_across_accounts() {
    let app = spawn_app().await;
    app.admin().await;
    let browser = app.browser();
    for n in 0..10 {
        let response = browser
            .login(&format!("guess{n}@example.com"), "guess guess guess")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let limited = browser
        .login("guess99@example.com", "guess guess guess")
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_planted_session_cookie_is_replaced_at_login() {
    let app = spawn_app().await;
    app.admin().await;
    let planted = "f".repeat(64);
    let browser = Browser::with_cookie(&app.address, &format!("kefu_session={planted}"));
    let response = browser.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let issued = response
        .cookies()
        .find(|cookie| cookie.name() == "kefu_session")
        .map(|cookie| cookie.value().to_string())
        .expect("session cookie set");
    assert_ne!(issued, planted);
    assert_eq!(browser.get("/desk").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn changing_the_password_ends_every_session() {
    let app = spawn_app().await;
    let laptop = app.admin().await;
    let phone = app.browser();
    phone.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(phone.get("/desk").await.status(), StatusCode::OK);

    let wrong_current = laptop
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(wrong_current.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let changed = laptop
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(location(&changed), "/login");
    assert_eq!(laptop.get("/desk").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/desk").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        phone.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        phone
            .login(ADMIN_EMAIL, "a brand new password")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn deactivating_an_agent_ends_their_sessions_and_blocks_login() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let agent = app.user(&admin, "agent@example.com", "agent").await;
    assert_eq!(agent.get("/desk").await.status(), StatusCode::OK);

    let users = admin.get_html("/admin/users").await;
    let agent_id = users
        .split("/admin/users/")
        .skip(1)
        .map(|rest| rest.split('/').next().unwrap_or_default().to_string())
        .next()
        .expect("a status form for the agent");
    let response = admin
        .submit(
            "/admin/users",
            &format!("/admin/users/{agent_id}/status"),
            &[("status", "deactivated")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    assert_eq!(agent.get("/desk").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        agent
            .login("agent@example.com", "agent password 123")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let page = admin.get_html("/admin/users").await;
    assert!(page.contains("deactivated"));
}

#[tokio::test]
async fn an_admin_cannot_deactivate_themselves() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let response = admin
        .submit(
            "/admin/users",
            "/admin/users/1/status",
            &[("status", "deactivated")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("cannot deactivate your own account")
    );
    assert_eq!(admin.get("/desk").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_second_account_with_the_same_email_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let response = admin
        .submit(
            "/admin/users",
            "/admin/users",
            &[
                ("email", "OWNER@example.com"),
                ("display_name", "Copy"),
                ("role", "agent"),
                ("password", "whatever password"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("An account with this e-mail already exists.")
    );
}
