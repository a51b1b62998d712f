//! The desk's two event streams: the lists' "changed" stream (which also keeps the agent's
//! presence fresh) and one conversation's resumable stream of messages, typing and viewers.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::views::{DeskMessageView, MessageFragment};
use super::{names, scope};
use crate::domain::{ConversationId, DeskScope, Message, MessageId, UserId};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::PageError;
use crate::http::sse::{KEEPALIVE, sse_frame};
use crate::http::views::render;
use crate::service::conversations::ConversationEvent;

/// The lists' stream: "changed" whenever a conversation with people moves or gets a
/// message (bursts folded into one), and the agent's presence kept fresh while it is open.
pub(super) async fn desk_events(
    who: SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let user = who.session.user.id;
    state.desk.heartbeat(user).await?;
    let stream = DeskStream {
        receiver: state.desk.watch_desk(),
        state: state.clone(),
        user,
        last_refresh: None,
    };
    state.metrics.sse_opened();
    Ok(event_stream(futures_util::stream::unfold(
        stream,
        DeskStream::next,
    )))
}

fn event_stream<S>(stream: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .streaming(stream)
}

struct DeskStream {
    receiver: tokio::sync::broadcast::Receiver<ConversationEvent>,
    state: web::Data<AppState>,
    user: UserId,
    /// When the last "changed" went out.
    last_refresh: Option<tokio::time::Instant>,
}

impl Drop for DeskStream {
    fn drop(&mut self) {
        self.state.metrics.sse_closed();
    }
}

/// A change reaches the desk at once; more changes within this window after it reach it
/// as one more refresh at the window's end, so a burst costs the page two reloads.
const FOLD_WINDOW: std::time::Duration = std::time::Duration::from_millis(150);

impl DeskStream {
    async fn next(mut self) -> Option<(Result<web::Bytes, actix_web::Error>, DeskStream)> {
        use tokio::sync::broadcast::error::RecvError;
        match tokio::time::timeout(KEEPALIVE, self.receiver.recv()).await {
            Err(_) => {
                if self.state.desk.heartbeat(self.user).await.is_err() {
                    return None;
                }
                Some((Ok(web::Bytes::from_static(b": keepalive\n\n")), self))
            }
            Ok(Err(RecvError::Closed)) => None,
            Ok(Ok(_) | Err(RecvError::Lagged(_))) => {
                if let Some(last) = self.last_refresh
                    && last.elapsed() < FOLD_WINDOW
                {
                    while let Ok(Ok(_) | Err(RecvError::Lagged(_))) =
                        tokio::time::timeout_at(last + FOLD_WINDOW, self.receiver.recv()).await
                    {
                    }
                }
                self.last_refresh = Some(tokio::time::Instant::now());
                Some((Ok(web::Bytes::from(sse_frame("changed", None, "1"))), self))
            }
        }
    }
}

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    after: i64,
}

#[derive(Template)]
#[template(path = "desk/typing.html")]
struct TypingFragment;

#[derive(Template)]
#[template(path = "desk/viewers.html")]
struct ViewersFragment {
    others: Vec<String>,
}

/// One conversation's stream: new messages (notes included), the customer typing, and
/// "changed" when its status moves. Resumes after `Last-Event-ID`.
pub(super) async fn conversation_events(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, PageError> {
    let me = scope(&who);
    let id = ConversationId::new(*path);
    let after = request
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(query.after)
        .max(0);
    let receiver = state.desk.watch_conversation(me, id).await?;
    let backlog = state
        .desk
        .messages_since(me, id, MessageId::new(after))
        .await?;
    let names = names(&state).await?;
    // From here the stream exists, and its drop says the agent left.
    state.desk.join_viewers(
        id,
        me.user,
        who.session.user.display_name.as_str().to_string(),
    );
    let stream = ConversationStream {
        receiver,
        pending: backlog.into(),
        last_sent: after,
        names,
        state: state.clone(),
        scope: me,
        id,
    };
    state.metrics.sse_opened();
    Ok(event_stream(futures_util::stream::unfold(
        stream,
        ConversationStream::next,
    )))
}

struct ConversationStream {
    receiver: tokio::sync::broadcast::Receiver<ConversationEvent>,
    pending: std::collections::VecDeque<Message>,
    last_sent: i64,
    names: HashMap<UserId, String>,
    state: web::Data<AppState>,
    scope: DeskScope,
    id: ConversationId,
}

impl Drop for ConversationStream {
    fn drop(&mut self) {
        self.state.desk.leave_viewers(self.id, self.scope.user);
        self.state.metrics.sse_closed();
    }
}

impl ConversationStream {
    async fn next(mut self) -> Option<(Result<web::Bytes, actix_web::Error>, ConversationStream)> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            if let Some(message) = self.pending.pop_front() {
                if message.id.get() <= self.last_sent {
                    continue;
                }
                self.last_sent = message.id.get();
                if message
                    .author_user_id
                    .is_some_and(|id| !self.names.contains_key(&id))
                    && let Ok(names) = names(&self.state).await
                {
                    self.names = names;
                }
                let view = DeskMessageView::new(&message, &self.names);
                let html = render(&MessageFragment {
                    message: &view,
                    conversation_id: self.id.get(),
                })
                .unwrap_or_default();
                let frame = sse_frame("message", Some(message.id.get()), &html);
                return Some((Ok(web::Bytes::from(frame)), self));
            }
            match tokio::time::timeout(KEEPALIVE, self.receiver.recv()).await {
                Err(_) => return Some((Ok(web::Bytes::from_static(b": keepalive\n\n")), self)),
                Ok(Ok(ConversationEvent::Message(message))) => self.pending.push_back(*message),
                Ok(Ok(ConversationEvent::Status(_))) => {
                    let frame = sse_frame("changed", None, "1");
                    return Some((Ok(web::Bytes::from(frame)), self));
                }
                Ok(Ok(ConversationEvent::Typing { by_agent: false })) => {
                    let html = render(&TypingFragment).unwrap_or_default();
                    return Some((Ok(web::Bytes::from(sse_frame("typing", None, &html))), self));
                }
                Ok(Ok(ConversationEvent::Typing { by_agent: true })) => {}
                Ok(Ok(ConversationEvent::Viewers(here))) => {
                    let others: Vec<String> = here
                        .into_iter()
                        .filter(|(viewer, _)| *viewer != self.scope.user)
                        .map(|(_, name)| name)
                        .collect();
                    let html = render(&ViewersFragment { others }).unwrap_or_default();
                    return Some((
                        Ok(web::Bytes::from(sse_frame("viewers", None, &html))),
                        self,
                    ));
                }
                Ok(Err(RecvError::Lagged(_))) => {
                    match self
                        .state
                        .desk
                        .messages_since(self.scope, self.id, MessageId::new(self.last_sent))
                        .await
                    {
                        Ok(missed) => self.pending.extend(missed),
                        Err(_) => return None,
                    }
                }
                Ok(Err(RecvError::Closed)) => return None,
            }
        }
    }
}
