//! CSRF, cross-site requests, role checks, anonymous access and the headers on every response.

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token_in, location, spawn_app};
use reqwest::StatusCode;

#[tokio::test]
async fn state_changes_without_a_valid_csrf_token_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    let no_token = admin.post_form("/logout", &[]).await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    assert!(
        no_token
            .text()
            .await
            .expect("body")
            .contains("This form has expired")
    );

    let forged = admin.post_form("/logout", &[("csrf_token", "0000")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // A token is bound to its browser: another browser's token does not work here.
    let other = app.browser();
    other.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let foreign_token = other.csrf_token("/desk").await;
    let foreign = admin
        .post_form("/logout", &[("csrf_token", foreign_token.as_str())])
        .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        admin.get("/desk").await.status(),
        StatusCode::OK,
        "still signed in"
    );

    let anonymous = app.browser();
    let login_without_token = anonymous
        .post_form(
            "/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(login_without_token.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_csrf_token_may_come_in_a_header_as_htmx_sends_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.csrf_token("/desk").await;
    let response = admin
        .client
        .post(admin.url("/logout"))
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(admin.get("/desk").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn cross_site_requests_are_refused_even_with_a_token() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.csrf_token("/desk").await;
    for (header, value) in [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let response = admin
            .client
            .post(admin.url("/logout"))
            .header(header, value)
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{header}: {value}"
        );
    }
    let same_origin = admin
        .client
        .post(admin.url("/logout"))
        .header("Origin", app.address.clone())
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(same_origin.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_login() {
    let app = spawn_app().await;
    app.admin().await;
    let browser = app.browser();
    for page in [
        "/desk",
        "/tickets",
        "/knowledge",
        "/admin/users",
        "/account",
    ] {
        let response = browser.get(page).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        assert!(location(&response).starts_with("/login?next="), "{page}");
    }
    let htmx = browser
        .client
        .get(browser.url("/desk"))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("request");
    assert_eq!(htmx.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(htmx.headers()["hx-redirect"], "/login");
}

#[tokio::test]
async fn admin_pages_refuse_agents() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let agent = app.user(&admin, "agent@example.com", "agent").await;

    assert_eq!(agent.get("/desk").await.status(), StatusCode::OK);
    let page = agent.get("/admin/users").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await.expect("body").contains("Only admins"));

    let token = agent.csrf_token("/desk").await;
    let create = agent
        .post_form(
            "/admin/users",
            &[
                ("email", "sneaky@example.com"),
                ("display_name", "Sneaky"),
                ("role", "admin"),
                ("password", "sneaky password"),
                ("csrf_token", token.as_str()),
            ],
        )
        .await;
    assert_eq!(create.status(), StatusCode::FORBIDDEN);
    assert!(
        !admin
            .get_html("/admin/users")
            .await
            .contains("sneaky@example.com")
    );

    let desk = agent.get_html("/desk").await;
    assert!(
        !desk.contains("href=\"/admin/users\""),
        "agents see no Admin link"
    );
    assert!(
        admin
            .get_html("/desk")
            .await
            .contains("href=\"/admin/users\"")
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let browser = app.browser();
    for path in ["/setup", "/healthz", "/no-such-page"] {
        let response = browser.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test]
async fn session_cookies_are_http_only_lax_and_secure_behind_tls() {
    let app = spawn_app().await;
    app.admin().await;
    let browser = app.browser();
    let page = browser.get_html("/login").await;
    let token = csrf_token_in(&page);
    let form = [
        ("email", ADMIN_EMAIL),
        ("password", ADMIN_PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    let plain = browser.post_form("/login", &form).await;
    let cookie = plain.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http cannot carry Secure cookies"
    );

    let other = app.browser();
    let token = other.csrf_token("/login").await;
    let form = [
        ("email", ADMIN_EMAIL),
        ("password", ADMIN_PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    let behind_tls = other
        .client
        .post(other.url("/login"))
        .header("X-Forwarded-Proto", "https")
        .form(&form)
        .send()
        .await
        .expect("request");
    let cookie = behind_tls.headers()["set-cookie"].to_str().expect("ascii");
    assert!(cookie.contains("Secure"), "{cookie}");
}
