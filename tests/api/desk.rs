//! The agent desk through the real server: routing to the least-loaded agent with room,
//! the queue draining, notes that never reach the customer, inbox scoping (404), transfer,
//! resolve, reopen, hand back to the bot, suggested replies, save as FAQ, live streams, and
//! the whole handoff in two real browsers (customer on a shop page, agent on the desk).

use crate::browser::Chromium;
use crate::helpers::{Browser, TestApp, csrf_token_in};
use crate::widget::{
    Customer, allow_origin, go_online, open_widget, read_frames, serve_shop_page, set_capacity,
    trained_widget,
};
use reqwest::StatusCode;

/// `n` in `data-count="view">n<` of a desk page.
async fn count(agent: &Browser, view: &str) -> i64 {
    let html = agent.get_html("/desk").await;
    let marker = format!("data-count=\"{view}\">");
    let start = html.find(&marker).expect("a count") + marker.len();
    html[start..start + html[start..].find('<').expect("end")]
        .parse()
        .expect("a number")
}

/// Ids of the conversations in one of the agent's views.
pub(crate) async fn conversations(agent: &Browser, view: &str) -> Vec<i64> {
    let html = agent.get_html(&format!("/desk/list?view={view}")).await;
    html.match_indices("<li class=\"desk-row")
        .filter_map(|(at, _)| {
            let rest = &html[at..];
            let start = rest.find("data-id=\"")? + "data-id=\"".len();
            rest[start..start + rest[start..].find('"')?].parse().ok()
        })
        .collect()
}

pub(crate) async fn add_to_inbox(admin: &Browser, members: &[i64]) {
    let ids: Vec<String> = members.iter().map(i64::to_string).collect();
    let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("member", id.as_str())).collect();
    let token = csrf_token_in(&admin.get_html("/admin/agents").await);
    fields.push(("csrf_token", &token));
    let response = admin.post_form("/admin/inboxes/1/members", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "members saved");
}

/// Posts a desk form as the page does (plain form, CSRF token from the desk).
async fn act(agent: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    agent.submit("/desk", path, fields).await
}

/// The `after=N` a page's event stream starts from: what the page already shows.
fn shown_up_to(html: &str) -> String {
    let start = html.find("events?after=").expect("an event stream") + "events?after=".len();
    html[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

/// Two agents of the inbox (ids 2 and 3), both online.
async fn two_agents(app: &TestApp, admin: &Browser) -> (Browser, Browser) {
    let alice = app.user(admin, "alice@example.com", "agent").await;
    let bob = app.user(admin, "bob@example.com", "agent").await;
    add_to_inbox(admin, &[2, 3]).await;
    go_online(&alice).await;
    go_online(&bob).await;
    (alice, bob)
}

#[tokio::test]
async fn routing_gives_the_least_loaded_agent_respects_capacity_queues_and_drains() {
    let (app, admin, inbox) = trained_widget().await;
    let (alice, bob) = two_agents(&app, &admin).await;
    set_capacity(&admin, 2, "1").await;
    set_capacity(&admin, 3, "2").await;

    let mut customers = Vec::new();
    for _ in 0..4 {
        let customer = Customer::new(&app, &inbox);
        customer.say("talk to a human").await;
        customers.push(customer);
    }
    // Alice (never assigned, lower id) took the first and is full; Bob took two.
    assert_eq!(count(&alice, "mine").await, 1);
    assert_eq!(count(&bob, "mine").await, 2);
    assert_eq!(count(&alice, "waiting").await, 1, "the fourth waits");
    assert!(
        customers[3]
            .chat()
            .await
            .contains("Your place in the queue: 1")
    );

    // Alice resolves hers: the queue drains into her free seat.
    let hers = conversations(&alice, "mine").await;
    let response = act(
        &alice,
        &format!("/desk/conversations/{}/resolve", hers[0]),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(count(&alice, "waiting").await, 0);
    assert_eq!(count(&alice, "mine").await, 1);
    assert!(
        customers[3]
            .chat()
            .await
            .contains("You&#39;re chatting with a person")
    );
    assert_eq!(count(&alice, "resolved").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn replies_reach_the_customer_live_and_notes_never_do() {
    let (app, admin, inbox) = trained_widget().await;
    let (alice, _bob) = two_agents(&app, &admin).await;
    let customer = Customer::new(&app, &inbox);
    customer.say("转人工").await;
    let id = conversations(&alice, "mine").await[0];
    let after = shown_up_to(&customer.chat().await);
    let mut stream = customer
        .browser
        .get(&customer.path(&format!("events?after={after}")))
        .await;

    let reply = act(
        &alice,
        &format!("/desk/conversations/{id}/reply"),
        &[("body", "Hi, this is Alice. Let me check.")],
    )
    .await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    let note = act(
        &alice,
        &format!("/desk/conversations/{id}/note"),
        &[("body", "VIP customer, secret note")],
    )
    .await;
    assert_eq!(note.status(), StatusCode::SEE_OTHER);
    let empty = act(
        &alice,
        &format!("/desk/conversations/{id}/reply"),
        &[("body", "  ")],
    )
    .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let frames = read_frames(&mut stream, 1).await;
    assert!(
        frames
            .iter()
            .any(|f| f.event == "message" && f.data.contains("this is Alice")),
        "{frames:?}"
    );
    let chat = customer.chat().await;
    assert!(chat.contains("this is Alice"));
    assert!(!chat.contains("secret note"), "notes stay with agents");
    let desk = alice.get_html(&format!("/desk/conversations/{id}")).await;
    assert!(desk.contains("secret note") && desk.contains("private note"));

    // The desk's own stream: the customer's typing and message arrive live.
    let after = shown_up_to(&desk);
    let mut desk_stream = alice
        .get(&format!("/desk/conversations/{id}/events?after={after}"))
        .await;
    // A second agent opens it too: Alice sees who else is on it.
    let admin_stream = admin
        .get(&format!("/desk/conversations/{id}/events?after={after}"))
        .await;
    assert_eq!(
        customer
            .json("typing", serde_json::json!({}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    customer.say("thanks, my order is 7788").await;
    let frames = read_frames(&mut desk_stream, 1).await;
    assert!(
        frames
            .iter()
            .any(|f| f.event == "viewers" && f.data.contains("Olivia Owner")),
        "{frames:?}"
    );
    let names: Vec<&str> = frames
        .iter()
        .map(|f| f.event.as_str())
        .filter(|name| *name != "viewers")
        .collect();
    assert_eq!(names, ["typing", "message"], "{frames:?}");
    assert!(
        frames
            .last()
            .expect("a message")
            .data
            .contains("my order is 7788")
    );
    drop(admin_stream);
    app.stop().await;
}

#[tokio::test]
async fn an_agent_outside_the_inbox_gets_404() {
    let (app, admin, inbox) = trained_widget().await;
    let (alice, _bob) = two_agents(&app, &admin).await;
    let outsider = app.user(&admin, "carol@example.com", "agent").await;
    let customer = Customer::new(&app, &inbox);
    customer.say("talk to a human").await;
    let id = conversations(&alice, "mine").await[0];

    assert!(conversations(&outsider, "open").await.is_empty());
    assert_eq!(count(&outsider, "open").await, 0);
    for path in [
        format!("/desk/conversations/{id}"),
        format!("/desk/conversations/{id}/events"),
        format!("/desk/conversations/{id}/suggestions"),
    ] {
        assert_eq!(
            outsider.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for action in ["reply", "note", "resolve", "assign", "hand-back"] {
        let response = act(
            &outsider,
            &format!("/desk/conversations/{id}/{action}"),
            &[("body", "hi")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    // The admin works every inbox.
    assert_eq!(
        admin
            .get(&format!("/desk/conversations/{id}"))
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn transfer_resolve_reopen_and_hand_back_to_the_bot() {
    let (app, admin, inbox) = trained_widget().await;
    let (alice, bob) = two_agents(&app, &admin).await;
    let response = admin
        .submit("/admin/agents", "/admin/teams", &[("name", "Billing")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = admin.get_html("/admin/agents").await;
    let start = page.find("/admin/teams/").expect("a team") + "/admin/teams/".len();
    let team: String = page[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let response = admin
        .submit(
            "/admin/agents",
            &format!("/admin/teams/{team}/members"),
            &[("member", "3")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let customer = Customer::new(&app, &inbox);
    customer.say("talk to a human").await;
    let id = conversations(&alice, "mine").await[0];
    // To the Billing team: Bob is its only member, online with room.
    let response = act(
        &alice,
        &format!("/desk/conversations/{id}/transfer"),
        &[("team", team.as_str())],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(conversations(&bob, "mine").await, [id]);
    assert!(conversations(&alice, "mine").await.is_empty());

    // Resolve, then a second resolve is refused with a reason.
    let path = |action: &str| format!("/desk/conversations/{id}/{action}");
    assert_eq!(
        act(&bob, &path("resolve"), &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let again = act(&bob, &path("resolve"), &[]).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again
            .text()
            .await
            .expect("body")
            .contains("can&#39;t be resolved again")
    );
    // Reopen: it is the reopener's.
    assert_eq!(
        act(&alice, &path("reopen"), &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(conversations(&alice, "mine").await, [id]);

    // Hand back: the bot answers the customer's next question again.
    assert_eq!(
        act(&alice, &path("hand-back"), &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let chat = customer.say("how long does shipping take").await;
    assert!(chat.contains("The assistant is back"), "{chat}");
    assert!(
        chat.matches("msg msg-bot").count() >= 1,
        "the bot answers again: {chat}"
    );
    assert!(conversations(&alice, "open").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn suggested_replies_and_save_as_faq() {
    let (app, admin, inbox) = trained_widget().await;
    let (alice, _bob) = two_agents(&app, &admin).await;
    let customer = Customer::new(&app, &inbox);
    customer.say("talk to a human").await;
    customer.say("where is my package").await;
    let id = conversations(&alice, "mine").await[0];

    let suggestions = alice
        .get_html(&format!("/desk/conversations/{id}/suggestions"))
        .await;
    assert!(suggestions.contains("tracking number"), "{suggestions}");
    assert!(suggestions.contains("insert-suggestion"));

    act(
        &alice,
        &format!("/desk/conversations/{id}/reply"),
        &[(
            "body",
            "Your parcel left our warehouse today; it arrives in 2 days.",
        )],
    )
    .await;
    let desk = alice.get_html(&format!("/desk/conversations/{id}")).await;
    let marker = "/save-faq\"";
    let end = desk.find(marker).expect("a save-as-FAQ button");
    let start = desk[..end].rfind("/messages/").expect("message path") + "/messages/".len();
    let message = &desk[start..end];
    let response = act(
        &alice,
        &format!("/desk/conversations/{id}/messages/{message}/save-faq"),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let editor = crate::helpers::location(&response);
    let html = admin.get_html(&editor).await;
    assert!(html.contains("where is my package"), "{html}");
    assert!(html.contains("left our warehouse today"));
    assert!(html.contains("draft"));
    app.stop().await;
}

#[tokio::test]
async fn the_desk_list_changes_live_when_a_customer_hands_off() {
    let (app, admin, inbox) = trained_widget().await;
    go_online(&admin).await;
    let mut stream = admin.get("/desk/events").await;
    assert_eq!(stream.status(), StatusCode::OK);
    let customer = Customer::new(&app, &inbox);
    customer.say("转人工").await;
    let mut changed = false;
    for _ in 0..3 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk()).await;
        let Ok(Ok(Some(bytes))) = chunk else { break };
        if String::from_utf8_lossy(&bytes).contains("event: changed") {
            changed = true;
            break;
        }
    }
    assert!(changed, "the desk hears about the handoff");
    assert_eq!(
        count(&admin, "mine").await,
        1,
        "routed to the only agent online"
    );
    app.stop().await;
}

#[tokio::test]
async fn admin_pages_for_teams_rules_capacity_and_canned_responses() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin().await;
    let agent = app.user(&admin, "dora@example.com", "agent").await;
    assert_eq!(
        agent.get("/admin/agents").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        agent.get("/admin/canned").await.status(),
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        admin
            .submit("/admin/agents", "/admin/teams", &[("name", "Billing")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let duplicate = admin
        .submit("/admin/agents", "/admin/teams", &[("name", "billing")])
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert!(
        duplicate
            .text()
            .await
            .expect("body")
            .contains("already exists")
    );

    let page = admin.get_html("/admin/agents").await;
    let start = page.find("/admin/teams/").expect("the team") + "/admin/teams/".len();
    let team: String = page[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let no_condition = admin
        .submit(
            "/admin/agents",
            "/admin/routing-rules",
            &[("team", team.as_str())],
        )
        .await;
    assert_eq!(no_condition.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_condition
            .text()
            .await
            .expect("body")
            .contains("at least one condition")
    );
    let rule = admin
        .submit(
            "/admin/agents",
            "/admin/routing-rules",
            &[
                ("team", team.as_str()),
                ("language", "zh"),
                ("category", "Returns"),
            ],
        )
        .await;
    assert_eq!(rule.status(), StatusCode::SEE_OTHER);
    let page = admin.get_html("/admin/agents").await;
    assert!(
        page.contains("If language is zh and the question is about Returns → team Billing"),
        "{page}"
    );

    let too_small = admin
        .submit(
            "/admin/agents",
            "/admin/agents/2/capacity",
            &[("capacity", "0")],
        )
        .await;
    assert_eq!(too_small.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_small.text().await.expect("body").contains("capacity"));
    assert_eq!(
        admin
            .submit(
                "/admin/agents",
                "/admin/agents/2/capacity",
                &[("capacity", "3")]
            )
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        admin
            .get_html("/admin/agents")
            .await
            .contains("value=\"3\"")
    );
    // Dora works the website inbox once the admin ticks her.
    add_to_inbox(&admin, &[2]).await;
    assert!(
        admin
            .get_html("/admin/agents")
            .await
            .contains("name=\"member\" value=\"2\" checked")
    );

    let bad = admin
        .submit(
            "/admin/canned",
            "/admin/canned",
            &[("shortcut", "two words"), ("body", "Hello")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = bad.text().await.expect("body");
    assert!(text.contains("shortcut: use up to 40 letters"), "{text}");
    assert!(text.contains("Hello"), "the typed text is kept");
    assert_eq!(
        admin
            .submit(
                "/admin/canned",
                "/admin/canned",
                &[("shortcut", "/refund"), ("body", "Refunds take 3 days.")]
            )
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let page = admin.get_html("/admin/canned").await;
    assert!(page.contains("value=\"refund\"") && page.contains("Refunds take 3 days."));
    let start = page.find("/admin/canned/").expect("its form") + "/admin/canned/".len();
    let id: String = page[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let edit = format!("/admin/canned/{id}");
    assert_eq!(
        admin
            .submit(
                "/admin/canned",
                &edit,
                &[("shortcut", "refund"), ("body", "Refunds take 5 days.")]
            )
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        admin
            .get_html("/admin/canned")
            .await
            .contains("Refunds take 5 days.")
    );
    let delete = format!("/admin/canned/{id}/delete");
    assert_eq!(
        admin.submit("/admin/canned", &delete, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        !admin
            .get_html("/admin/canned")
            .await
            .contains("Refunds take")
    );
    // The desk's "/" menu reads them: none left.
    app.stop().await;
}

/// Signs `email` in on a real browser, as an agent would at the start of the day.
async fn sign_in(chromium: &Chromium, app: &TestApp, email: &str, password: &str) {
    chromium.goto(&format!("{}/login", app.address)).await;
    chromium.type_into("input[name=email]", email).await;
    chromium
        .type_into("input[name=password]", &format!("{password}\n"))
        .await;
    chromium.wait_until("location.pathname !== '/login'").await;
}

#[tokio::test]
async fn in_real_browsers_a_handoff_reaches_the_desk_live_and_the_reply_reaches_the_customer() {
    let Some(agent) = Chromium::start().await else {
        return;
    };
    let customer = Chromium::start().await.expect("a second browser");
    let (app, admin, inbox) = trained_widget().await;
    app.user(&admin, "alice@example.com", "agent").await;
    add_to_inbox(&admin, &[2]).await;
    let (shop, shop_server) = serve_shop_page(&app.address, &inbox);
    allow_origin(&admin, &shop).await;

    // The agent opens the desk and goes online from the presence menu.
    sign_in(&agent, &app, "alice@example.com", "agent password 123").await;
    agent.goto(&format!("{}/desk", app.address)).await;
    agent
        .execute(
            "const menu = document.getElementById('presence'); menu.value = 'online'; \
             menu.dispatchEvent(new Event('change'));",
        )
        .await;
    agent
        .wait_until("document.querySelector('select.presence-online')")
        .await;
    agent
        .wait_until("document.querySelector('.desk-none')")
        .await;

    // A customer on the shop's page asks the bot, then for a person.
    open_widget(&customer, &shop).await;
    customer
        .type_into(
            "#composer-body",
            "My parcel has not arrived, where is it?\n",
        )
        .await;
    customer
        .wait_until("document.querySelector('.msg-bot')")
        .await;
    customer
        .type_into("#composer-body", "talk to a human\n")
        .await;
    customer
        .wait_until("document.querySelector('.status-bar.assigned')")
        .await;

    // The desk, never reloaded, lists it in Mine: routing gave it to the one agent online.
    // The list may first show the row while routing is still under way, so wait for the
    // assignment to reach it rather than reading the first version of the row.
    agent
        .wait_until(
            "Array.from(document.querySelectorAll('.desk-row')).some(r => /assigned/i.test(r.textContent))",
        )
        .await;
    let row = agent.text_of(".desk-row").await;
    assert!(row.to_lowercase().contains("assigned"), "{row}");
    agent.screenshot("desk-arrived.png").await;

    agent.click(".desk-row a").await;
    agent
        .wait_until("document.querySelector('.insert-suggestion')")
        .await;
    let transcript = agent.text_of("#transcript").await;
    assert!(
        transcript.contains("My parcel has not arrived") && transcript.contains("Bot"),
        "the bot's part too: {transcript}"
    );
    let suggestion = agent.text_of(".suggested").await;
    assert!(
        suggestion.contains("My order hasn't arrived yet"),
        "{suggestion}"
    );
    agent.click(".insert-suggestion").await;
    agent
        .wait_until("document.getElementById('composer-body').value.includes('Check the tracking')")
        .await;
    agent.type_into("#composer-body", " Anything else?\n").await;
    agent
        .wait_until("document.querySelector('.dmsg-agent')")
        .await;
    let shot = agent.screenshot("desk-conversation.png").await;

    // The customer sees the reply live, rendered as the FAQ answer was.
    customer
        .wait_until(
            "[...document.querySelectorAll('.msg-agent')].some(m => m.textContent.includes('Anything else?'))",
        )
        .await;
    let author = customer.text_of(".msg-agent .msg-author").await;
    assert_eq!(author, "Test User", "the customer sees who answers");
    customer.leave_frames().await;
    customer.screenshot("widget-agent-reply.png").await;

    // The reply becomes a draft FAQ entry for the question the customer asked.
    agent.click(".dmsg-agent .save-faq button").await;
    agent.wait_until("document.querySelector('a.saved')").await;
    agent.click("a.saved").await;
    agent
        .wait_until("/^\\/knowledge\\/\\d+$/.test(location.pathname)")
        .await;
    let editor = agent
        .execute("return document.querySelector('main').innerHTML;")
        .await;
    let editor = editor.as_str().unwrap_or_default();
    assert!(editor.contains("My parcel has not arrived"), "{editor}");
    assert!(editor.contains("Anything else?"), "{editor}");
    eprintln!("screenshots: {}", shot.display());

    agent.quit().await;
    customer.quit().await;
    shop_server.stop(false).await;
    app.stop().await;
}

#[tokio::test]
async fn an_away_agent_gets_no_new_chats_and_coming_online_takes_the_queue() {
    let (app, admin, inbox) = trained_widget().await;
    let (alice, bob) = two_agents(&app, &admin).await;
    let response = alice
        .submit("/desk", "/desk/presence", &[("presence", "away")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(alice.get_html("/desk").await.contains("presence-away"));
    set_capacity(&admin, 3, "1").await;

    let first = Customer::new(&app, &inbox);
    first.say("talk to a human").await;
    let second = Customer::new(&app, &inbox);
    let html = second.say("talk to a human").await;
    assert!(html.contains("Your place in the queue: 1"), "{html}");
    assert_eq!(count(&bob, "mine").await, 1);
    assert_eq!(count(&alice, "mine").await, 0, "away takes no new chats");

    // Alice comes online: the waiting customer is hers at once.
    go_online(&alice).await;
    assert_eq!(count(&alice, "mine").await, 1);
    assert_eq!(count(&alice, "waiting").await, 0);
    assert!(
        second
            .chat()
            .await
            .contains("You&#39;re chatting with a person")
    );
    app.stop().await;
}
