//! The customer's chat: `/widget.js` (the loader a shop pastes), the chat page kefu serves
//! inside the loader's iframe, its form posts, the page API calls (`setUser`, `track`,
//! `reset`) and the Server-Sent Events stream of new messages.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama::filters::Safe;
use serde::Deserialize;

use super::AppState;
use super::csrf;
use super::error::{ApiError, PageError};
use super::request_info::{client_ip, is_htmx, is_https};
use super::sse::{KEEPALIVE, sse_frame};
use super::views::{Layout, page, render};
use crate::domain::{
    Author, ConversationStatus, Inbox, Language, Message, MessageId, SanitizedHtml,
};
use crate::service::conversations::ConversationEvent;
use crate::service::{ItemCard, ServiceError, SetUser, Transcript, Visitor, rendered_message};

pub const VISITOR_COOKIE: &str = "kefu_visitor";
/// A visitor is remembered for a year: "coming back tomorrow continues the conversation".
const VISITOR_COOKIE_DAYS: i64 = 365;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/widget.js", web::get().to(loader))
        .route("/widget/{inbox}/chat", web::get().to(chat))
        .route("/widget/{inbox}/messages", web::post().to(post_message))
        .route("/widget/{inbox}/handoff", web::post().to(handoff))
        .route(
            "/widget/{inbox}/leave-message",
            web::post().to(leave_message),
        )
        .route("/widget/{inbox}/feedback", web::post().to(feedback))
        .route("/widget/{inbox}/identify", web::post().to(identify))
        .route("/widget/{inbox}/track", web::post().to(track))
        .route("/widget/{inbox}/page-time", web::post().to(page_time))
        .route("/widget/{inbox}/page-timers", web::get().to(page_timers))
        .route("/widget/{inbox}/reset", web::post().to(reset))
        .route("/widget/{inbox}/typing", web::post().to(typing))
        .route("/widget/{inbox}/events", web::get().to(events));
}

async fn loader(request: HttpRequest) -> HttpResponse {
    super::assets::serve_file(&request, "widget.js", "public, max-age=300")
}

/// One message as the widget shows it.
pub struct MessageView {
    pub id: i64,
    pub author: &'static str,
    pub text: String,
    answer: Option<SanitizedHtml>,
    pub source: Option<String>,
    /// The agent who wrote it, as the customer sees them.
    pub agent_name: Option<String>,
    pub suggestions: Vec<String>,
    pub offer_human: bool,
    pub conversation_id: i64,
    pub feedback: Option<String>,
    pub time: String,
    pub files: Vec<FileLink>,
    pub cards: Vec<ItemCard>,
}

/// A file on a message: (id, name, has a thumbnail), as `details.attachments` lists them.
pub struct FileLink {
    pub id: i64,
    pub name: String,
    pub thumbnail: bool,
}

/// The files a message lists (the attachments table decides who may download them).
pub fn file_links(message: &Message) -> Vec<FileLink> {
    message
        .details
        .get("attachments")
        .and_then(|files| files.as_array())
        .map(|files| {
            files
                .iter()
                .filter_map(|file| {
                    Some(FileLink {
                        id: file.get("id")?.as_i64()?,
                        name: file.get("name")?.as_str()?.to_string(),
                        thumbnail: file.get("thumbnail").and_then(|t| t.as_bool()) == Some(true),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The suggested items a bot or agent message carries (`details.recommendations`).
pub fn item_cards(message: &Message) -> Vec<ItemCard> {
    message
        .details
        .get("recommendations")
        .and_then(|cards| serde_json::from_value(cards.clone()).ok())
        .unwrap_or_default()
}

impl MessageView {
    fn from_message(message: &Message) -> MessageView {
        let details = &message.details;
        let answer = rendered_message(message);
        MessageView {
            id: message.id.get(),
            author: message.author.as_str(),
            text: message.body.clone(),
            answer,
            source: details
                .get("question")
                .and_then(|q| q.as_str())
                .map(str::to_string),
            agent_name: (message.author == Author::Agent)
                .then(|| details.get("agent_name").and_then(|n| n.as_str()))
                .flatten()
                .map(str::to_string),
            suggestions: details
                .get("suggestions")
                .and_then(|s| s.as_array())
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.get("question")?.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            offer_human: details
                .get("offer_human")
                .and_then(serde_json::Value::as_bool)
                == Some(true),
            conversation_id: message.conversation_id.get(),
            feedback: message.feedback.clone(),
            time: clock(message.created_at.unix_seconds()),
            files: file_links(message),
            cards: item_cards(message),
        }
    }

    /// The FAQ answer's HTML: the Markdown sanitiser's output, and only that, unescaped.
    pub fn answer_markup(&self) -> Option<Safe<&str>> {
        self.answer.as_ref().map(|html| Safe(html.as_str()))
    }
}

fn clock(unix_seconds: i64) -> String {
    let minute = unix_seconds.div_euclid(60).rem_euclid(24 * 60);
    format!("{:02}:{:02} UTC", minute / 60, minute % 60)
}

/// Words of the widget's interface in the customer's language.
pub struct Words {
    pub zh: bool,
}

impl Words {
    pub fn t(&self, zh: &'static str, en: &'static str) -> &'static str {
        if self.zh { zh } else { en }
    }
}

#[derive(Template)]
#[template(path = "widget/message.html")]
struct MessageFragment<'a> {
    message: &'a MessageView,
    words: &'a Words,
    token: &'a str,
    csrf_token: &'a str,
}

/// What the status bar says: with the bot, queued, left a message.
pub struct StatusView {
    pub status: &'static str,
    pub queue_position: Option<i64>,
    pub needs_contact: bool,
}

#[derive(Template)]
#[template(path = "widget/typing.html")]
struct TypingFragment<'a> {
    words: &'a Words,
}

#[derive(Template)]
#[template(path = "widget/status.html")]
struct StatusFragment<'a> {
    state: &'a StatusView,
    words: &'a Words,
    token: &'a str,
    csrf_token: &'a str,
}

#[derive(Template)]
#[template(path = "widget/chat.html")]
struct ChatPage {
    layout: Layout,
    inbox: Inbox,
    words: Words,
    messages: Vec<MessageView>,
    state: StatusView,
    last_id: i64,
    /// Origins whose pages may send the page API (`setUser`, …) to this frame.
    parent_origins: String,
    error: Option<String>,
}

impl ChatPage {
    fn message_html(&self, message: &MessageView) -> Safe<String> {
        Safe(render_message(
            message,
            &self.words,
            &self.inbox.public_token,
            &self.layout.csrf_token,
        ))
    }

    fn status_html(&self) -> Safe<String> {
        Safe(render_status(
            &self.state,
            &self.words,
            &self.inbox.public_token,
            &self.layout.csrf_token,
        ))
    }
}

fn render_message(message: &MessageView, words: &Words, token: &str, csrf_token: &str) -> String {
    render(&MessageFragment {
        message,
        words,
        token,
        csrf_token,
    })
    .unwrap_or_default()
}

fn render_status(state: &StatusView, words: &Words, token: &str, csrf_token: &str) -> String {
    render(&StatusFragment {
        state,
        words,
        token,
        csrf_token,
    })
    .unwrap_or_default()
}

fn status_view(transcript: &Transcript) -> StatusView {
    let status = transcript
        .conversation
        .as_ref()
        .map_or(ConversationStatus::Bot, |c| c.status);
    StatusView {
        status: status.as_str(),
        queue_position: transcript.queue_position,
        needs_contact: status == ConversationStatus::Pending
            && transcript
                .conversation
                .as_ref()
                .is_some_and(|c| c.contact.is_none()),
    }
}

fn visitor_token(request: &HttpRequest) -> Option<String> {
    request
        .cookie(VISITOR_COOKIE)
        .map(|cookie| cookie.value().to_string())
}

/// Inside a shop's page the chat is a third-party frame: over HTTPS its cookie is
/// `SameSite=None; Secure; Partitioned` (kept per top-level site, as browsers now require);
/// over plain HTTP only same-site embedding can keep it.
fn visitor_cookie_header(request: &HttpRequest, token: &str) -> String {
    let https = is_https(request);
    let cookie = Cookie::build(VISITOR_COOKIE, token.to_string())
        .path("/widget/")
        .http_only(true)
        .secure(https)
        .same_site(if https { SameSite::None } else { SameSite::Lax })
        .max_age(actix_web::cookie::time::Duration::days(VISITOR_COOKIE_DAYS))
        .finish();
    if https {
        format!("{cookie}; Partitioned")
    } else {
        cookie.to_string()
    }
}

fn words_for(inbox: &Inbox, transcript: &Transcript, request: &HttpRequest) -> Words {
    let zh = match inbox.settings.language {
        crate::domain::WidgetLanguage::Zh => true,
        crate::domain::WidgetLanguage::En => false,
        crate::domain::WidgetLanguage::Auto => match transcript
            .messages
            .iter()
            .rev()
            .find(|m| m.author == Author::Customer)
        {
            Some(latest) => Language::detect(&latest.body).as_str() == "zh",
            None => request
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_start().starts_with("zh")),
        },
    };
    Words { zh }
}

/// The chat page inside the iframe. Opening it is what creates the visitor (and its
/// cookie): the loader only creates the iframe when the customer opens the chat.
async fn chat(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let conversations = &state.conversations;
    let inbox = conversations.widget_inbox(&path).await?;
    let token = visitor_token(&request);
    let ip = client_ip(&request, state.trust_proxy);
    let visitor = conversations
        .open_visitor(inbox.clone(), token.as_deref(), Some(ip))
        .await?;
    render_chat(&request, &state, &visitor, None).await
}

async fn render_chat(
    request: &HttpRequest,
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let transcript = state.conversations.transcript(visitor).await?;
    let binding = visitor.new_token.as_ref().map(|t| t.expose().to_string());
    let csrf_token = csrf::token_for_widget(request, &state.csrf_key, binding.as_deref());
    let words = words_for(&visitor.inbox, &transcript, request);
    let messages: Vec<MessageView> = transcript
        .messages
        .iter()
        .map(MessageView::from_message)
        .collect();
    let chat = ChatPage {
        layout: Layout::anonymous(visitor.inbox.settings.name.clone(), csrf_token),
        state: status_view(&transcript),
        last_id: transcript.messages.last().map_or(0, |m| m.id.get()),
        parent_origins: parent_origins(request, &visitor.inbox),
        inbox: visitor.inbox.clone(),
        words,
        messages,
        error,
    };
    let mut response = page(&chat)?;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_str(&widget_csp(&visitor.inbox))
            .map_err(ServiceError::internal)?,
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if let Some(token) = &visitor.new_token {
        headers.append(
            header::SET_COOKIE,
            header::HeaderValue::from_str(&visitor_cookie_header(request, token.expose()))
                .map_err(ServiceError::internal)?,
        );
    }
    Ok(response)
}

/// kefu's own origin (the preview page) and the inbox's allowed sites, space-separated.
fn parent_origins(request: &HttpRequest, inbox: &Inbox) -> String {
    let info = request.connection_info();
    std::iter::once(format!("{}://{}", info.scheme(), info.host()))
        .chain(
            inbox
                .settings
                .allowed_origins
                .iter()
                .map(|o| o.as_str().to_string()),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// The app's policy, except that the shop's allowed origins (and kefu itself, for the
/// preview page) may frame the chat.
fn widget_csp(inbox: &Inbox) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'self' {}",
        inbox
            .settings
            .allowed_origins
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

pub(super) async fn current_visitor(
    request: &HttpRequest,
    state: &AppState,
    inbox: &str,
) -> Result<Visitor, ServiceError> {
    let inbox = state.conversations.widget_inbox(inbox).await?;
    state
        .conversations
        .visitor(inbox, visitor_token(request).as_deref())
        .await
}

/// After a form post: htmx needs nothing back (the new messages arrive on the event
/// stream); a browser without JavaScript goes back to the chat.
pub(super) fn after_post(request: &HttpRequest, inbox: &str) -> HttpResponse {
    if is_htmx(request) {
        HttpResponse::NoContent().finish()
    } else {
        super::views::redirect(&format!("/widget/{inbox}/chat"))
    }
}

/// A form error: htmx shows the message in the chat's error line, a plain form gets the
/// chat page again with the message.
pub(super) fn form_error(
    request: &HttpRequest,
    error: ServiceError,
) -> Result<HttpResponse, PageError> {
    let message = match &error {
        ServiceError::Invalid(_)
        | ServiceError::InvalidFields(_)
        | ServiceError::Conflict(_)
        | ServiceError::RateLimited { .. } => error.to_string(),
        _ => return Err(error.into()),
    };
    if is_htmx(request) {
        let (status, _, _) = super::error::classify(&error);
        let mut response = HttpResponse::build(status);
        if let ServiceError::RateLimited { retry_after } = &error {
            response.insert_header((
                header::RETRY_AFTER,
                retry_after.as_secs().max(1).to_string(),
            ));
        }
        return Ok(response
            .content_type("text/plain; charset=utf-8")
            .body(message));
    }
    Err(error.into())
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    body: String,
}

async fn post_message(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<MessageForm>,
) -> Result<HttpResponse, PageError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    let ip = client_ip(&request, state.trust_proxy);
    match state
        .conversations
        .post_customer_message(&visitor, Some(ip), &form.body)
        .await
    {
        Ok(_) => Ok(after_post(&request, &path)),
        Err(error) => form_error(&request, error),
    }
}

async fn handoff(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    state.conversations.request_human(&visitor).await?;
    Ok(after_post(&request, &path))
}

#[derive(Deserialize)]
pub struct LeaveMessageForm {
    #[serde(default)]
    contact: String,
    #[serde(default)]
    body: String,
}

async fn leave_message(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<LeaveMessageForm>,
) -> Result<HttpResponse, PageError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    match state
        .conversations
        .leave_message(&visitor, &form.contact, &form.body)
        .await
    {
        Ok(_) => Ok(after_post(&request, &path)),
        Err(error) => form_error(&request, error),
    }
}

#[derive(Deserialize)]
pub struct FeedbackForm {
    conversation: i64,
    message: i64,
    helpful: String,
}

async fn feedback(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<FeedbackForm>,
) -> Result<HttpResponse, PageError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    state
        .conversations
        .feedback(
            &visitor,
            crate::domain::ConversationId::new(form.conversation),
            MessageId::new(form.message),
            form.helpful == "yes",
        )
        .await?;
    if is_htmx(&request) {
        let words = Words {
            zh: request
                .headers()
                .get("X-Kefu-Lang")
                .and_then(|v| v.to_str().ok())
                == Some("zh"),
        };
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(format!(
                "<span class=\"thanks\">{}</span>",
                words.t("谢谢您的反馈！", "Thanks for the feedback!")
            )));
    }
    Ok(after_post(&request, &path))
}

async fn identify(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    user: web::Json<SetUser>,
) -> Result<HttpResponse, ApiError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    let changed = state
        .conversations
        .identify(&visitor, user.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "customer_changed": changed })))
}

#[derive(Deserialize)]
pub struct TrackBody {
    name: String,
    #[serde(default)]
    properties: Option<serde_json::Value>,
}

async fn track(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<TrackBody>,
) -> Result<HttpResponse, ApiError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    let body = body.into_inner();
    let proactive = state
        .conversations
        .track(&visitor, &body.name, body.properties)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "proactive": proactive })))
}

#[derive(Deserialize)]
pub struct PageTimeBody {
    url: String,
    seconds: u32,
}

/// The loader timed the customer on a page that an admin's page rule watches.
async fn page_time(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<PageTimeBody>,
) -> Result<HttpResponse, ApiError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    let proactive = state
        .conversations
        .page_time(&visitor, &body.url, body.seconds)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "proactive": proactive })))
}

/// The page rules' patterns and waits, for the loader to time: public, like the rules'
/// existence on any site that shows them.
async fn page_timers(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.conversations.widget_inbox(&path).await?;
    let timers: Vec<serde_json::Value> = state
        .proactive
        .page_timers()
        .await?
        .into_iter()
        .map(|(pattern, seconds)| serde_json::json!({ "pattern": pattern, "seconds": seconds }))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(timers))
}

async fn reset(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    state.conversations.reset(&visitor).await?;
    let expired = Cookie::build(VISITOR_COOKIE, "")
        .path("/widget/")
        .max_age(actix_web::cookie::time::Duration::ZERO)
        .finish();
    Ok(HttpResponse::NoContent().cookie(expired).finish())
}

/// The customer is typing: the agent on the conversation sees it live.
async fn typing(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    state.conversations.customer_typing(&visitor).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    after: i64,
}

/// The live stream: what the visitor missed since `Last-Event-ID` (or `after`), then every
/// new message and status change as it happens, as HTML fragments for htmx's SSE extension.
async fn events(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, PageError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    let resume_from = request
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(query.after)
        .max(0);
    // Watch first, then read what was missed: nothing falls between the two.
    let receiver = state.conversations.watch(&visitor);
    let backlog = state
        .conversations
        .messages_since(&visitor, MessageId::new(resume_from))
        .await?;
    let transcript_language = backlog
        .iter()
        .rev()
        .find(|m| m.author == Author::Customer)
        .map(|m| Language::detect(&m.body));
    let csrf_token = csrf::token_for_widget(&request, &state.csrf_key, None);
    let stream = EventStream {
        state: state.clone(),
        visitor,
        receiver,
        pending: backlog.into(),
        last_sent: resume_from,
        words: Words {
            zh: transcript_language.is_some_and(|l| l.as_str() == "zh"),
        },
        csrf_token,
    };
    state.metrics.sse_opened();
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        // Compressing would hold events back in the encoder's buffer.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .streaming(futures_util::stream::unfold(stream, EventStream::next)))
}

struct EventStream {
    state: web::Data<AppState>,
    visitor: Visitor,
    receiver: tokio::sync::broadcast::Receiver<ConversationEvent>,
    pending: std::collections::VecDeque<Message>,
    last_sent: i64,
    words: Words,
    csrf_token: String,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.state.metrics.sse_closed();
    }
}

impl EventStream {
    async fn next(mut self) -> Option<(Result<web::Bytes, actix_web::Error>, EventStream)> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                if message.id.get() <= self.last_sent {
                    continue;
                }
                let frame = self.message_frame(&message);
                return Some((Ok(frame), self));
            }
            let event = tokio::time::timeout(KEEPALIVE, self.receiver.recv()).await;
            match event {
                Err(_) => return Some((Ok(web::Bytes::from_static(b": keepalive\n\n")), self)),
                Ok(Ok(ConversationEvent::Message(message))) => {
                    self.pending.push_back(*message);
                }
                Ok(Ok(ConversationEvent::Status(_))) => {
                    let frame = self.status_frame().await;
                    return Some((Ok(frame), self));
                }
                Ok(Ok(ConversationEvent::Typing { by_agent: true })) => {
                    let html = render(&TypingFragment { words: &self.words }).unwrap_or_default();
                    return Some((Ok(web::Bytes::from(sse_frame("typing", None, &html))), self));
                }
                // The customer's own typing and the agents' comings and goings are for the
                // desk, not for the customer.
                Ok(Ok(
                    ConversationEvent::Typing { by_agent: false } | ConversationEvent::Viewers(_),
                )) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                    // Fell behind: read the gap back from the store.
                    match self
                        .state
                        .conversations
                        .messages_since(&self.visitor, MessageId::new(self.last_sent))
                        .await
                    {
                        Ok(missed) => self.pending.extend(missed),
                        Err(_) => return None,
                    }
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
            }
        }
    }

    fn message_frame(&mut self, message: &Message) -> web::Bytes {
        self.last_sent = message.id.get();
        if message.author == Author::Customer {
            self.words.zh = Language::detect(&message.body).as_str() == "zh";
        }
        let html = render_message(
            &MessageView::from_message(message),
            &self.words,
            &self.visitor.inbox.public_token,
            &self.csrf_token,
        );
        web::Bytes::from(sse_frame("message", Some(message.id.get()), &html))
    }

    async fn status_frame(&self) -> web::Bytes {
        let transcript = self.state.conversations.transcript(&self.visitor).await;
        let html = match transcript {
            Ok(transcript) => render_status(
                &status_view(&transcript),
                &self.words,
                &self.visitor.inbox.public_token,
                &self.csrf_token,
            ),
            Err(_) => String::new(),
        };
        web::Bytes::from(sse_frame("status", None, &html))
    }
}
