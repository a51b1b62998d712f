//! Tickets through the real server: status moves allowed and refused, SLA deadlines across
//! a weekend and holidays, breaches, the widget's left message becoming a ticket whose
//! replies reach the customer (and whose answer reopens it), team scoping (404), a chat
//! turned into a ticket on the desk, and the list's filters, search and bulk actions.

use crate::helpers::{Browser, csrf_token_in, location, spawn_app};
use crate::widget::{Customer, go_online, trained_widget};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A REST client with an API token created on the admin page.
pub struct Api {
    client: reqwest::Client,
    address: String,
    token: String,
}

impl Api {
    pub async fn new(admin: &Browser, scope: &str) -> Api {
        let token = api_token(admin, scope).await;
        Api {
            client: crate::helpers::http_client().build().expect("http client"),
            address: admin.address.clone(),
            token,
        }
    }

    pub fn with_token(address: &str, token: &str) -> Api {
        Api {
            client: crate::helpers::http_client().build().expect("http client"),
            address: address.to_string(),
            token: token.to_string(),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("API request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// A new ticket (asserting it was created) and its id.
    pub async fn ticket(&self, body: Value) -> i64 {
        let (status, ticket) = self.post("/api/v1/tickets", body).await;
        assert_eq!(status, StatusCode::CREATED, "{ticket}");
        ticket["id"].as_i64().expect("an id")
    }
}

/// Creates an API token on Admin → API & webhooks and reads its secret off the page.
pub async fn api_token(admin: &Browser, scope: &str) -> String {
    let response = admin
        .submit(
            "/admin/api",
            "/admin/api/tokens",
            &[("name", "Test program"), ("scope", scope)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("page");
    let start = html.find("<code>kefu_").expect("the new secret is shown") + "<code>".len();
    let end = start + html[start..].find('<').expect("end of the secret");
    html[start..end].to_string()
}

async fn set_sla(admin: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = vec![
        ("first_response_low", "16h"),
        ("resolution_low", "80h"),
        ("first_response_normal", "8h"),
        ("resolution_normal", "40h"),
        ("first_response_high", "4h"),
        ("resolution_high", "16h"),
        ("first_response_urgent", "1h"),
        ("resolution_urgent", "8h"),
        ("business_hours", ""),
        ("utc_offset_minutes", "0"),
        ("holidays", ""),
    ];
    for &(name, value) in fields {
        match form.iter_mut().find(|field| field.0 == name) {
            Some(field) => field.1 = value,
            None => form.push((name, value)),
        }
    }
    admin.submit("/admin/sla", "/admin/sla", &form).await
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("seconds fit")
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (civil-from-days).
fn date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[tokio::test]
async fn statuses_move_only_where_allowed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let api = Api::new(&admin, "write").await;
    let id = api
        .ticket(json!({"subject": "Kettle leaks", "requester_email": "li@example.com"}))
        .await;
    let path = format!("/api/v1/tickets/{id}");

    let (status, error) = api.patch(&path, json!({"status": "closed"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["code"], "invalid_input");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("a new ticket can't become closed")),
        "{error}"
    );
    for step in ["open", "pending", "open", "solved", "closed"] {
        let (status, ticket) = api.patch(&path, json!({"status": step})).await;
        assert_eq!(status, StatusCode::OK, "{step}: {ticket}");
        assert_eq!(ticket["status"], step);
    }
    let (status, _) = api.patch(&path, json!({"status": "open"})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "closed stays closed"
    );
    let (status, error) = api
        .post(&format!("{path}/comments"), json!({"body": "Hello?"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (_, ticket) = api.get(&path).await;
    assert_eq!(ticket["status"], "closed");
    assert!(ticket["solved_at"].is_i64(), "{ticket}");
    app.stop().await;
}

#[tokio::test]
async fn sla_deadlines_skip_weekends_and_holidays_and_missed_ones_are_flagged() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let api = Api::new(&admin, "write").await;

    // Office hours and the next ten days off: the first reply is due an hour into the first
    // working day after them (a Saturday or Sunday is skipped too).
    let today = unix_now().div_euclid(86_400);
    let holidays: Vec<String> = (0..10)
        .map(|d| format!("{} Holiday", date(today + d)))
        .collect();
    let response = set_sla(
        &admin,
        &[
            ("business_hours", "mon-fri 09:00-18:00"),
            ("holidays", &holidays.join("\n")),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mut back = today + 10;
    while (back + 3).rem_euclid(7) >= 5 {
        back += 1;
    }
    let id = api
        .ticket(json!({"subject": "Broken lid", "priority": "urgent", "requester_email": "a@example.com"}))
        .await;
    let (_, ticket) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(
        ticket["first_response_due"].as_i64(),
        Some(back * 86_400 + 10 * 3_600),
        "{ticket}"
    );
    assert_eq!(
        ticket["resolution_due"].as_i64(),
        Some(back * 86_400 + 17 * 3_600),
        "eight business hours"
    );

    // Bad settings are refused whole, each problem named.
    let response = set_sla(
        &admin,
        &[
            ("first_response_urgent", "soon"),
            ("holidays", "2026-13-45"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("page");
    assert!(html.contains("urgent priority"), "{html}");
    assert!(html.contains("line 1"), "{html}");

    // A ticket moved from another desk, three days old: both deadlines already missed.
    set_sla(&admin, &[]).await;
    let old = api
        .ticket(json!({
            "subject": "Imported: refund", "priority": "urgent",
            "requester_email": "b@example.com", "created_at": unix_now() - 3 * 86_400
        }))
        .await;
    let (_, page) = api.get("/api/v1/tickets?breached=true").await;
    let ids: Vec<i64> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .collect();
    assert_eq!(ids, [old], "only the missed one: {page}");
    let list = admin.get_html("/tickets?breached=1").await;
    assert!(
        list.contains("breached") && list.contains("Imported: refund"),
        "{list}"
    );
    let shown = admin.get_html(&format!("/tickets/{old}")).await;
    assert!(
        shown.contains("sla-breached") || shown.contains("sla-overdue"),
        "{shown}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_left_message_becomes_a_ticket_whose_replies_reach_the_customer() {
    let (app, admin, inbox) = trained_widget().await;
    // Nobody online: the customer leaves a message.
    let customer = Customer::new(&app, &inbox);
    customer.say("talk to a human").await;
    let response = customer
        .post(
            "leave-message",
            &[
                ("contact", "wang@example.com"),
                ("body", "My order 1234 arrived broken"),
            ],
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let chat = customer.chat().await;
    let at = chat.find("request #").expect("the customer gets a number") + "request #".len();
    let id: i64 = chat[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a ticket number");

    let ticket = admin.get_html(&format!("/tickets/{id}")).await;
    assert!(ticket.contains("My order 1234 arrived broken"), "{ticket}");
    assert!(ticket.contains("wang@example.com"));
    assert!(
        !admin
            .get_html("/desk/list?view=open")
            .await
            .contains("<li class=\"desk-row"),
        "worked on the ticket, not in the desk's open list"
    );

    // The agent answers on the ticket and waits for the customer.
    let token = csrf_token_in(&ticket);
    let response = admin
        .post_form(
            &format!("/tickets/{id}/comments"),
            &[
                (
                    "body",
                    "Sorry! A new one ships today. Did the box look damaged?",
                ),
                ("kind", "reply"),
                ("status", "pending"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = admin
        .post_form(
            &format!("/tickets/{id}/comments"),
            &[
                ("body", "Courier claim filed"),
                ("kind", "note"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let chat = customer.chat().await;
    assert!(
        chat.contains("A new one ships today"),
        "the reply reaches the chat"
    );
    assert!(!chat.contains("Courier claim filed"), "notes never do");

    // The customer answers in the widget: a comment on the ticket, which opens again.
    let bot_before = customer.chat().await.matches("msg msg-bot").count();
    let html = customer.say("Yes, the box was crushed").await;
    assert_eq!(
        html.matches("msg msg-bot").count(),
        bot_before,
        "the bot stays out of it"
    );
    let ticket = admin.get_html(&format!("/tickets/{id}")).await;
    assert!(ticket.contains("Yes, the box was crushed"), "{ticket}");
    assert!(ticket.contains("ticket-status-open"), "reopened: {ticket}");
    app.stop().await;
}

#[tokio::test]
async fn an_agent_outside_the_tickets_team_gets_404() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user(&admin, "alice@example.com", "agent").await;
    let bob = app.user(&admin, "bob@example.com", "agent").await;
    let response = admin
        .submit("/admin/agents", "/admin/teams", &[("name", "Billing")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = admin
        .submit(
            "/admin/agents",
            "/admin/teams/1/members",
            &[("member", "3")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let api = Api::new(&admin, "write").await;
    let billing = api
        .ticket(
            json!({"subject": "Invoice wrong", "requester_email": "c@example.com", "team_id": 1}),
        )
        .await;
    let general = api
        .ticket(json!({"subject": "Where is my parcel", "requester_email": "d@example.com"}))
        .await;

    assert_eq!(
        alice.get(&format!("/tickets/{billing}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let token = alice.csrf_token("/tickets").await;
    let response = alice
        .post_form(
            &format!("/tickets/{billing}/comments"),
            &[("body", "peek"), ("kind", "note"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = alice
        .post_form(
            &format!("/tickets/{billing}"),
            &[("status", "solved"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let list = alice.get_html("/tickets").await;
    assert!(!list.contains("Invoice wrong") && list.contains("Where is my parcel"));
    let response = alice
        .client
        .get(alice.url(&format!("/api/v1/tickets/{billing}/comments")))
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "the API scopes too"
    );

    assert_eq!(
        bob.get(&format!("/tickets/{billing}")).await.status(),
        StatusCode::OK,
        "Billing's member sees it"
    );
    assert_eq!(
        alice.get(&format!("/tickets/{general}")).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn a_chat_becomes_a_ticket_from_the_desk() {
    let (app, admin, inbox) = trained_widget().await;
    go_online(&admin).await;
    let customer = Customer::new(&app, &inbox);
    customer.say("my kettle stopped heating after a week").await;
    customer.say("talk to a human").await;
    let desk = admin.get_html("/desk/list?view=mine").await;
    let at = desk.find("data-id=\"").expect("a row") + "data-id=\"".len();
    let conversation: String = desk[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();

    let response = admin
        .submit(
            &format!("/desk/conversations/{conversation}"),
            &format!("/desk/conversations/{conversation}/ticket"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let ticket_path = location(&response);
    let ticket = admin.get_html(&ticket_path).await;
    assert!(
        ticket.contains("my kettle stopped heating after a week"),
        "subject from what they asked: {ticket}"
    );
    assert!(ticket.contains(&format!("/desk/conversations/{conversation}")));
    let side = admin
        .get_html(&format!("/desk/conversations/{conversation}"))
        .await;
    assert!(
        side.contains(&ticket_path),
        "the desk lists the customer's ticket"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_list_filters_searches_and_changes_tickets_in_bulk() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let api = Api::new(&admin, "write").await;
    let refund = api
        .ticket(
            json!({"subject": "退款还没到账", "description": "上周申请的退款", "priority": "high",
                       "tags": ["refund"], "requester_email": "e@example.com"}),
        )
        .await;
    let lid = api
        .ticket(json!({"subject": "Lid is loose", "priority": "urgent", "requester_email": "f@example.com"}))
        .await;
    let address = api
        .ticket(json!({"subject": "Change my address", "priority": "low", "requester_email": "g@example.com"}))
        .await;
    let (status, _) = api
        .post(
            &format!("/api/v1/tickets/{lid}/comments"),
            json!({"body": "The customer also wants a refund for shipping", "public": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let ids = |html: &str| -> Vec<i64> {
        html.match_indices("name=\"ticket\" value=\"")
            .filter_map(|(at, marker)| {
                html[at + marker.len()..]
                    .split('"')
                    .next()
                    .and_then(|id| id.parse().ok())
            })
            .collect()
    };
    assert_eq!(
        ids(&admin.get_html("/tickets?priority=urgent").await),
        [lid]
    );
    assert_eq!(ids(&admin.get_html("/tickets?tag=refund").await), [refund]);
    assert_eq!(
        ids(&admin.get_html("/tickets?q=%E9%80%80%E6%AC%BE").await),
        [refund],
        "中文"
    );
    assert_eq!(
        ids(&admin.get_html("/tickets?q=refund").await),
        [lid],
        "notes are searched too"
    );
    assert_eq!(
        ids(&admin.get_html("/tickets?sort=priority").await),
        [lid, refund, address]
    );

    let bulk = |action: &'static str, tickets: Vec<i64>| {
        let admin = &admin;
        async move {
            let token = admin.csrf_token("/tickets").await;
            let ids: Vec<String> = tickets.iter().map(i64::to_string).collect();
            let mut form: Vec<(&str, &str)> =
                ids.iter().map(|id| ("ticket", id.as_str())).collect();
            form.push(("action", action));
            form.push(("csrf_token", &token));
            admin.post_form("/tickets/bulk", &form).await
        }
    };
    let response = bulk("assign:me", vec![refund, lid]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mut mine = ids(&admin.get_html("/tickets?assignee=me").await);
    mine.sort_unstable();
    assert_eq!(mine, [refund, lid]);
    assert_eq!(
        ids(&admin.get_html("/tickets?assignee=none").await),
        [address]
    );

    // Closing unsolved tickets is refused for each, and nothing changes.
    let response = bulk("status:closed", vec![refund, lid]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("page");
    assert!(
        page.contains(&format!("#{refund}")) && page.contains(&format!("#{lid}")),
        "{page}"
    );
    let response = bulk("status:solved", vec![refund, lid]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = bulk("status:closed", vec![refund, lid]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        ids(&admin.get_html("/tickets?status=closed").await).len(),
        2
    );
    assert_eq!(
        ids(&admin.get_html("/tickets").await),
        [address],
        "unsolved"
    );
    app.stop().await;
}
