//! The customer's side of a chat: visitors and their tokens, the bot's turn on every
//! customer message, handoff to people, left messages when nobody is available, identity
//! from the shop's page, and live events to the widget.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::json;

use super::assistant::{AssistantService, Decision};
use super::attachments::{AttachmentService, Download, Upload};
use super::conversation_log::ConversationLog;
use super::secrets::{SessionToken, constant_time_eq, random_hex_token};
use super::tickets::TicketService;
use super::{CatalogService, CustomerService, ProactiveService, ServiceError, now};
use crate::domain::conversation::parse_message_text;
use crate::domain::desk::{RoutingFacts, pick_team};
use crate::domain::masking::mask_sensitive;
use crate::domain::proactive::Occurrence;
use crate::domain::rate_limit::{RateLimit, RateLimiter};
use crate::domain::{
    Author, BuiltinIntent, Conversation, ConversationId, ConversationStatus, CustomerId,
    HandoffReason, Inbox, InboxId, InboxInput, InboxSettings, Language, Message, MessageId,
    NewMessage, Timestamp, ValidationError, WebhookEvent, WidgetLanguage,
};
pub use crate::realtime::ConversationEvent;
use crate::realtime::{Hub, Topic};
use crate::store::{CustomerIdentity, Store};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A sentiment at or below this hands the conversation to a person: clearly angry or
/// distressed, not merely unhappy (the lexicon scores "not happy" around -0.4).
pub const UPSET_SENTIMENT: f32 = -0.6;
/// An agent counts as online this long after their desk last checked in (an open desk
/// checks in every 25 s), so closing the desk takes them offline.
pub const PRESENCE_TIMEOUT: Duration = Duration::from_secs(90);
const MAX_EVENT_NAME: usize = 64;
const MAX_JSON_BYTES: usize = 4 * 1024;
const MAX_PAGE_URL: usize = 2_000;
const MAX_CONTACT_CHARS: usize = 200;
/// A person types a few messages a minute; a script typing faster is slowed down.
const MESSAGES_PER_VISITOR: RateLimit = RateLimit {
    capacity: 10,
    refill_every: Duration::from_secs(3),
};
/// One office behind one address may hold many chats at once.
const MESSAGES_PER_IP: RateLimit = RateLimit {
    capacity: 120,
    refill_every: Duration::from_millis(500),
};
/// Typing signals are advisory: the widget sends one every few seconds while the customer
/// types; more than this is dropped without an error.
const TYPING_PER_VISITOR: RateLimit = RateLimit {
    capacity: 3,
    refill_every: Duration::from_secs(1),
};
/// Tracked events and page timers: a page sends a few per view; a flood is refused, since
/// each one re-derives the profile and checks the proactive rules.
const EVENTS_PER_VISITOR: RateLimit = RateLimit {
    capacity: 30,
    refill_every: Duration::from_secs(2),
};
/// New visitors (rows in the database) per address.
const VISITORS_PER_IP: RateLimit = RateLimit {
    capacity: 30,
    refill_every: Duration::from_secs(20),
};

/// A browser chatting in an inbox: who they are and, when just created, the token to give
/// them (the only time it exists in clear outside their browser).
#[derive(Debug, Clone)]
pub struct Visitor {
    pub inbox: Inbox,
    pub customer: CustomerId,
    token_hash: Vec<u8>,
    pub new_token: Option<SessionToken>,
}

/// What the widget shows: the open conversation (if any), its messages, and where it
/// stands in the queue.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub conversation: Option<Conversation>,
    pub messages: Vec<Message>,
    pub queue_position: Option<i64>,
}

/// `kefu('setUser', …)` as the page sent it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SetUser {
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub attributes: Option<serde_json::Value>,
    pub hash: Option<String>,
}

/// What makes the chat personal: profiles, the catalog's cards, proactive messages.
pub struct Personalisation {
    pub customers: Arc<CustomerService>,
    pub catalog: Arc<CatalogService>,
    pub proactive: Arc<ProactiveService>,
}

pub struct ConversationService {
    store: Store,
    assistant: Arc<AssistantService>,
    log: Arc<ConversationLog>,
    /// Left messages become tickets; answers in a chat that waits on a ticket reach it.
    tickets: Arc<TicketService>,
    attachments: Arc<AttachmentService>,
    customers: Arc<CustomerService>,
    catalog: Arc<CatalogService>,
    proactive: Arc<ProactiveService>,
    messages_by_visitor: Mutex<RateLimiter<CustomerId>>,
    messages_by_ip: Mutex<RateLimiter<IpAddr>>,
    visitors_by_ip: Mutex<RateLimiter<IpAddr>>,
    typing_by_visitor: Mutex<RateLimiter<CustomerId>>,
    events_by_visitor: Mutex<RateLimiter<CustomerId>>,
}

fn take<K: Eq + std::hash::Hash + Clone>(
    limiter: &Mutex<RateLimiter<K>>,
    key: &K,
) -> Result<(), ServiceError> {
    limiter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .check(key, Instant::now())
        .map_err(|retry_after| ServiceError::RateLimited { retry_after })
}

impl ConversationService {
    pub fn new(
        store: Store,
        assistant: Arc<AssistantService>,
        log: Arc<ConversationLog>,
        tickets: Arc<TicketService>,
        attachments: Arc<AttachmentService>,
        personal: Personalisation,
    ) -> Self {
        Self {
            store,
            assistant,
            log,
            tickets,
            attachments,
            customers: personal.customers,
            catalog: personal.catalog,
            proactive: personal.proactive,
            messages_by_visitor: Mutex::new(RateLimiter::new(MESSAGES_PER_VISITOR)),
            messages_by_ip: Mutex::new(RateLimiter::new(MESSAGES_PER_IP)),
            visitors_by_ip: Mutex::new(RateLimiter::new(VISITORS_PER_IP)),
            typing_by_visitor: Mutex::new(RateLimiter::new(TYPING_PER_VISITOR)),
            events_by_visitor: Mutex::new(RateLimiter::new(EVENTS_PER_VISITOR)),
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        self.log.hub()
    }

    // ---- inboxes (admin) ----

    pub async fn inboxes(&self) -> Result<Vec<Inbox>, ServiceError> {
        Ok(self.store.inboxes().await?)
    }

    pub async fn inbox(&self, id: InboxId) -> Result<Inbox, ServiceError> {
        Ok(self.store.inbox(id).await?)
    }

    pub async fn create_inbox(&self, input: InboxInput) -> Result<Inbox, ServiceError> {
        let settings = InboxSettings::parse(input).map_err(ServiceError::InvalidFields)?;
        let id = self
            .store
            .create_inbox(
                settings,
                random_hex_token()[..24].to_string(),
                random_hex_token(),
                now(),
            )
            .await?;
        Ok(self.store.inbox(id).await?)
    }

    pub async fn update_inbox(
        &self,
        id: InboxId,
        input: InboxInput,
    ) -> Result<Inbox, ServiceError> {
        let settings = InboxSettings::parse(input).map_err(ServiceError::InvalidFields)?;
        self.store.update_inbox(id, settings, now()).await?;
        Ok(self.store.inbox(id).await?)
    }

    /// Gives a new data directory a website inbox, so the widget works at once.
    pub async fn ensure_default_inbox(&self, origins: &str) -> Result<(), ServiceError> {
        if !self.store.inboxes().await?.is_empty() {
            return Ok(());
        }
        self.create_inbox(InboxInput {
            name: "Website".into(),
            allowed_origins: origins.into(),
            greeting:
                "Hi! Ask me anything about orders, shipping and returns. 您好，有什么可以帮您？"
                    .into(),
            color: "#2563eb".into(),
            position: "right".into(),
            language: "auto".into(),
            offline_message:
                "We're away right now. Leave your email or phone and we'll get back to you.".into(),
            business_hours: String::new(),
            utc_offset_minutes: 0,
            require_identity: None,
            unanswered_before_handoff: 2,
        })
        .await?;
        Ok(())
    }

    // ---- visitors ----

    /// The inbox of a widget token; an unknown token is a 404.
    pub async fn widget_inbox(&self, public_token: &str) -> Result<Inbox, ServiceError> {
        if public_token.is_empty() || public_token.len() > 64 {
            return Err(ServiceError::NotFound);
        }
        Ok(self.store.inbox_by_token(public_token.to_string()).await?)
    }

    /// The visitor behind `token`, or a new one when the browser has none (or an unknown
    /// one: a token from before a data reset starts afresh).
    pub async fn open_visitor(
        &self,
        inbox: Inbox,
        token: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<Visitor, ServiceError> {
        if let Some(visitor) = self.existing_visitor(inbox.clone(), token).await? {
            return Ok(visitor);
        }
        if let Some(ip) = ip {
            take(&self.visitors_by_ip, &ip)?;
        }
        let token = SessionToken::generate();
        let token_hash = token.storage_hash();
        let customer = self
            .store
            .create_visitor(inbox.id, token_hash.clone(), None, now())
            .await?;
        Ok(Visitor {
            inbox,
            customer,
            token_hash,
            new_token: Some(token),
        })
    }

    /// The visitor behind `token`; requests other than opening the chat need one.
    pub async fn visitor(
        &self,
        inbox: Inbox,
        token: Option<&str>,
    ) -> Result<Visitor, ServiceError> {
        self.existing_visitor(inbox, token).await?.ok_or_else(|| {
            ServiceError::Forbidden(
                "Your chat session has ended. Reload the chat to start again.".into(),
            )
        })
    }

    async fn existing_visitor(
        &self,
        inbox: Inbox,
        token: Option<&str>,
    ) -> Result<Option<Visitor>, ServiceError> {
        let Some(token) = token.filter(|t| t.len() == 64) else {
            return Ok(None);
        };
        let token_hash = SessionToken::from_cookie(token).storage_hash();
        let customer = self
            .store
            .visitor_customer(inbox.id, token_hash.clone(), now())
            .await?;
        Ok(customer.map(|customer| Visitor {
            inbox,
            customer,
            token_hash,
            new_token: None,
        }))
    }

    pub async fn transcript(&self, visitor: &Visitor) -> Result<Transcript, ServiceError> {
        let conversation = self
            .store
            .open_conversation(visitor.inbox.id, visitor.customer)
            .await?;
        let Some(conversation) = conversation else {
            return Ok(Transcript {
                conversation: None,
                messages: Vec::new(),
                queue_position: None,
            });
        };
        let messages = self
            .store
            .messages_after(conversation.id, None, false)
            .await?;
        let queue_position = self.store.queue_position(conversation.id).await?;
        Ok(Transcript {
            conversation: Some(conversation),
            messages,
            queue_position,
        })
    }

    /// A conversation of this visitor (another visitor's id is a 404).
    pub async fn visitor_conversation(
        &self,
        visitor: &Visitor,
        id: ConversationId,
    ) -> Result<Conversation, ServiceError> {
        let conversation = self
            .store
            .customer_conversation(visitor.customer, id)
            .await?;
        if conversation.inbox_id != visitor.inbox.id {
            return Err(ServiceError::NotFound);
        }
        Ok(conversation)
    }

    /// What the visitor may see that came after `after` (for SSE resume).
    pub async fn messages_since(
        &self,
        visitor: &Visitor,
        after: MessageId,
    ) -> Result<Vec<Message>, ServiceError> {
        Ok(self
            .store
            .customer_messages_after(visitor.inbox.id, visitor.customer, after)
            .await?)
    }

    /// Live events for the widget of this visitor.
    pub fn watch(&self, visitor: &Visitor) -> tokio::sync::broadcast::Receiver<ConversationEvent> {
        self.log.hub().subscribe(Topic::Customer(visitor.customer))
    }

    pub async fn queue_position(&self, id: ConversationId) -> Result<Option<i64>, ServiceError> {
        Ok(self.store.queue_position(id).await?)
    }

    // ---- the customer writes ----

    /// Stores a customer message (sensitive numbers masked first) and lets the bot take
    /// its turn if the conversation is still the bot's. Returns the messages stored.
    pub async fn post_customer_message(
        &self,
        visitor: &Visitor,
        ip: Option<IpAddr>,
        raw_text: &str,
    ) -> Result<Vec<Message>, ServiceError> {
        take(&self.messages_by_visitor, &visitor.customer)?;
        if let Some(ip) = ip {
            take(&self.messages_by_ip, &ip)?;
        }
        let text = parse_message_text(raw_text).map_err(ServiceError::Invalid)?;
        let masked = mask_sensitive(&text);
        let conversation = self.conversation_for_writing(visitor, &masked.text).await?;
        let language = self.reply_language(&visitor.inbox, &masked.text);

        let mut stored = self
            .append(
                &conversation,
                vec![NewMessage {
                    author: Author::Customer,
                    author_user_id: None,
                    body: masked.text.clone(),
                    details: json!({ "masked": masked.kinds.any() }),
                    private: false,
                }],
            )
            .await?;
        if masked.kinds.any() {
            stored.extend(
                self.append(
                    &conversation,
                    vec![system_message(
                        &language,
                        "为了您的安全，我们已隐藏消息中的卡号、身份证号或电话号码。请不要在聊天中发送这些信息。",
                        "For your safety we hid the card, ID or phone number in your message. Please don't send these in chat.",
                    )],
                )
                .await?,
            );
        }
        if let Some(message) = stored.first() {
            self.tickets
                .customer_replied(&conversation, message)
                .await?;
        }
        if conversation.status.bot_may_reply() {
            // The customer sees the bot "typing" while it reads the knowledge base.
            self.log.hub().publish(
                Topic::Customer(conversation.customer_id),
                ConversationEvent::Typing { by_agent: true },
            );
            stored.extend(
                self.bot_turn(visitor, &conversation, &masked.text, &language)
                    .await?,
            );
        }
        Ok(stored)
    }

    /// Files the customer sends in their chat: one message listing them. The bot does not
    /// read files; people see them on the desk (and on a ticket waiting on this chat).
    pub async fn post_customer_files(
        &self,
        visitor: &Visitor,
        ip: Option<IpAddr>,
        uploads: Vec<Upload>,
    ) -> Result<Vec<Message>, ServiceError> {
        take(&self.messages_by_visitor, &visitor.customer)?;
        if let Some(ip) = ip {
            take(&self.messages_by_ip, &ip)?;
        }
        if uploads.is_empty() {
            return Err(invalid("file", "choose a file to send"));
        }
        let names: Vec<String> = uploads
            .iter()
            .map(|upload| format!("📎 {}", upload.file_name))
            .collect();
        let conversation = self.conversation_for_writing(visitor, "").await?;
        let files = self.attachments.store_uploads(uploads).await?;
        let message = NewMessage {
            author: Author::Customer,
            author_user_id: None,
            body: names.join("\n"),
            details: json!({}),
            private: false,
        };
        let stored = match self
            .log
            .append_with_files(&conversation, vec![message], files.clone())
            .await
        {
            Ok(stored) => stored,
            Err(error) => {
                self.attachments.discard(files).await;
                return Err(error);
            }
        };
        if let Some(message) = stored.first() {
            self.tickets
                .customer_replied(&conversation, message)
                .await?;
        }
        Ok(stored)
    }

    /// A file from this visitor's own chat (or a public reply to their ticket).
    pub async fn customer_attachment(
        &self,
        visitor: &Visitor,
        id: crate::domain::AttachmentId,
        thumbnail: bool,
    ) -> Result<Download, ServiceError> {
        self.attachments
            .download_for_customer(visitor.customer, id, thumbnail)
            .await
    }

    /// The customer is typing in an open conversation: whoever watches it sees that live.
    /// Nothing is stored.
    pub async fn customer_typing(&self, visitor: &Visitor) -> Result<(), ServiceError> {
        if take(&self.typing_by_visitor, &visitor.customer).is_err() {
            return Ok(());
        }
        if let Some(conversation) = self
            .store
            .open_conversation(visitor.inbox.id, visitor.customer)
            .await?
        {
            self.log.hub().publish(
                Topic::Conversation(conversation.id),
                ConversationEvent::Typing { by_agent: false },
            );
        }
        Ok(())
    }

    /// The customer pressed "talk to a person".
    pub async fn request_human(&self, visitor: &Visitor) -> Result<Vec<Message>, ServiceError> {
        let conversation = self.conversation_for_writing(visitor, "").await?;
        let language = Language::from_trusted(conversation.language.clone());
        self.hand_off(visitor, &conversation, HandoffReason::Requested, &language)
            .await
    }

    /// Contact details and a message left when nobody was available.
    pub async fn leave_message(
        &self,
        visitor: &Visitor,
        contact: &str,
        raw_text: &str,
    ) -> Result<Vec<Message>, ServiceError> {
        let contact = contact.trim();
        let mut errors = Vec::new();
        let contact_ok = !contact.is_empty()
            && contact.chars().count() <= MAX_CONTACT_CHARS
            && (contact.contains('@') || contact.chars().filter(char::is_ascii_digit).count() >= 6);
        if !contact_ok {
            errors.push(ValidationError::new(
                "contact",
                "leave an email address or a phone number so we can reach you",
            ));
        }
        let text = parse_message_text(raw_text).map_err(|e| {
            errors.push(e);
        });
        if !errors.is_empty() {
            return Err(ServiceError::InvalidFields(errors));
        }
        let text = text.unwrap_or_default();
        let conversation = self
            .store
            .open_conversation(visitor.inbox.id, visitor.customer)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if conversation.status != ConversationStatus::Pending {
            return Err(ServiceError::Conflict(
                "Someone is available to chat now; write your message in the conversation.".into(),
            ));
        }
        self.store
            .set_conversation_contact(conversation.id, contact.to_string(), now())
            .await?;
        let language = self.reply_language(&visitor.inbox, &text);
        let masked = mask_sensitive(&text);
        let mut stored = self
            .append(
                &conversation,
                vec![NewMessage {
                    author: Author::Customer,
                    author_user_id: None,
                    body: masked.text.clone(),
                    details: json!({ "left_message": true, "contact": contact }),
                    private: false,
                }],
            )
            .await?;
        let ticket = self
            .tickets
            .create_from_left_message(&conversation, contact, &masked.text)
            .await?;
        let hours = visitor.inbox.business_hours();
        let opening = hours.next_opening(now());
        let number = ticket.id;
        let (zh, en) = if hours.always_open() || opening.unix_seconds() <= now().unix_seconds() {
            (
                format!(
                    "谢谢！我们已收到您的留言（工单 #{number}），会尽快在这里回复您，必要时通过您留下的联系方式联系您。"
                ),
                format!(
                    "Thanks! We have your message (request #{number}) and will reply here as soon as we can, or reach you at the contact you left."
                ),
            )
        } else {
            let when = hours.describe_local(opening);
            (
                format!(
                    "谢谢！我们已收到您的留言（工单 #{number}），将在营业时间（{when} 起）在这里回复您，必要时通过您留下的联系方式联系您。"
                ),
                format!(
                    "Thanks! We have your message (request #{number}) and will reply here when we open ({when}), or reach you at the contact you left."
                ),
            )
        };
        let mut confirmation = system_message(&language, &zh, &en);
        confirmation.details = json!({ "ticket_id": number });
        stored.extend(self.append(&conversation, vec![confirmation]).await?);
        // The widget swaps its form for "we have your message".
        self.log.hub().publish(
            Topic::Customer(conversation.customer_id),
            ConversationEvent::Status(ConversationStatus::Pending),
        );
        Ok(stored)
    }

    /// Helpful / not helpful on one of the bot's answers.
    pub async fn feedback(
        &self,
        visitor: &Visitor,
        conversation: ConversationId,
        message: MessageId,
        helpful: bool,
    ) -> Result<(), ServiceError> {
        let conversation = self.visitor_conversation(visitor, conversation).await?;
        self.store
            .set_message_feedback(
                conversation.id,
                message,
                if helpful { "helpful" } else { "not_helpful" },
            )
            .await?;
        Ok(())
    }

    // ---- identity and tracking from the shop's page ----

    /// `setUser`: a valid hash (HMAC-SHA256 of the id under the inbox secret, compared in
    /// constant time) joins this visitor to the person with that id; without one, the
    /// details decorate this visitor only — or are refused when the inbox requires proof.
    /// Returns whether this browser now speaks for another customer (its history changed).
    pub async fn identify(&self, visitor: &Visitor, user: SetUser) -> Result<bool, ServiceError> {
        let id = user
            .id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        if id.is_some_and(|id| id.len() > 128) {
            return Err(invalid("id", "is longer than 128 characters"));
        }
        let verified = match (id, user.hash.as_deref()) {
            (Some(id), Some(hash)) => {
                if !constant_time_eq(
                    &identity_hash(&visitor.inbox.identity_secret, id),
                    &hash.trim().to_ascii_lowercase(),
                ) {
                    return Err(ServiceError::Forbidden(
                        "The identity hash does not match this user id; compute it on your server as HMAC-SHA256(inbox secret, id).".into(),
                    ));
                }
                Some(id.to_string())
            }
            _ if visitor.inbox.settings.require_identity => {
                return Err(ServiceError::Forbidden(
                    "This inbox requires a verified user: pass id and hash to setUser.".into(),
                ));
            }
            _ => None,
        };
        let attributes = match user.attributes {
            Some(value) if !value.is_object() => {
                return Err(invalid("attributes", "must be an object"));
            }
            Some(value) if value.to_string().len() > MAX_JSON_BYTES => {
                return Err(invalid("attributes", "are larger than 4 KiB"));
            }
            other => other,
        };
        let clip = |value: Option<String>| {
            value
                .map(|v| v.trim().chars().take(200).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        let customer = self
            .store
            .identify_customer(
                visitor.token_hash.clone(),
                CustomerIdentity {
                    verified_external_id: verified,
                    name: clip(user.name),
                    email: clip(user.email),
                    attributes,
                },
                now(),
            )
            .await?;
        Ok(customer != visitor.customer)
    }

    /// `track`: an event on the customer's timeline, which may trigger a proactive message
    /// (`true` when one went out).
    pub async fn track(
        &self,
        visitor: &Visitor,
        name: &str,
        properties: Option<serde_json::Value>,
    ) -> Result<bool, ServiceError> {
        let name = name.trim();
        let name_ok = !name.is_empty()
            && name.len() <= MAX_EVENT_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !name_ok {
            return Err(invalid(
                "name",
                "must be 1 to 64 letters, digits, '_', '-' or '.', e.g. add_to_cart",
            ));
        }
        let properties = properties.unwrap_or_else(|| json!({}));
        if !properties.is_object() || properties.to_string().len() > MAX_JSON_BYTES {
            return Err(invalid("properties", "must be an object of at most 4 KiB"));
        }
        take(&self.events_by_visitor, &visitor.customer)?;
        self.store
            .record_customer_event(visitor.customer, name.to_string(), properties, now())
            .await?;
        let sent = self
            .proactive
            .on_occurrence(&visitor.inbox, visitor.customer, Occurrence::Event(name))
            .await?;
        if !sent {
            self.customers.refresh_tags(visitor.customer).await?;
        }
        Ok(sent)
    }

    /// The widget timed the customer on a page (for page rules); `true` when a proactive
    /// message went out.
    pub async fn page_time(
        &self,
        visitor: &Visitor,
        url: &str,
        seconds: u32,
    ) -> Result<bool, ServiceError> {
        if url.len() > MAX_PAGE_URL || !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(invalid(
                "url",
                "must be the page's http(s) address, at most 2,000 characters",
            ));
        }
        take(&self.events_by_visitor, &visitor.customer)?;
        self.proactive
            .on_occurrence(
                &visitor.inbox,
                visitor.customer,
                Occurrence::PageTime { url, seconds },
            )
            .await
    }

    /// `reset` (the shop's user logged out): this browser's token is forgotten, so the next
    /// chat starts as a new visitor and cannot read the previous person's messages.
    pub async fn reset(&self, visitor: &Visitor) -> Result<(), ServiceError> {
        self.store
            .forget_visitor(visitor.token_hash.clone())
            .await?;
        Ok(())
    }

    // ---- internals ----

    /// The open conversation, or a new one for a first message.
    async fn conversation_for_writing(
        &self,
        visitor: &Visitor,
        first_text: &str,
    ) -> Result<Conversation, ServiceError> {
        if let Some(conversation) = self
            .store
            .open_conversation(visitor.inbox.id, visitor.customer)
            .await?
        {
            return Ok(conversation);
        }
        let language = self.reply_language(&visitor.inbox, first_text);
        let created = self
            .store
            .create_conversation(
                visitor.inbox.id,
                visitor.customer,
                language.as_str().to_string(),
                now(),
            )
            .await?;
        self.log
            .webhooks()
            .emit(WebhookEvent::ConversationCreated, json!(created))
            .await;
        Ok(created)
    }

    fn reply_language(&self, inbox: &Inbox, text: &str) -> Language {
        match inbox.settings.language {
            WidgetLanguage::Zh => Language::zh(),
            WidgetLanguage::En => Language::en(),
            WidgetLanguage::Auto => Language::detect(text),
        }
    }

    pub(super) async fn append(
        &self,
        conversation: &Conversation,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Message>, ServiceError> {
        self.log.append(conversation, messages).await
    }

    /// Tells the customer, the people on the conversation and every desk that it moved.
    pub(super) async fn publish_status(&self, conversation: &Conversation, to: ConversationStatus) {
        self.log.publish_status(conversation, to).await;
    }

    /// Gives queued conversations to agents with room (see `Store::drain_queue`); returns
    /// which ones it gave.
    pub(super) async fn route_queue(&self) -> Result<Vec<ConversationId>, ServiceError> {
        let given = self.store.drain_queue(online_since(), now()).await?;
        let mut ids = Vec::with_capacity(given.len());
        for (conversation, _agent) in given {
            self.publish_status(&conversation, ConversationStatus::Assigned)
                .await;
            ids.push(conversation.id);
        }
        Ok(ids)
    }

    /// The bot's reply to one customer message.
    async fn bot_turn(
        &self,
        visitor: &Visitor,
        conversation: &Conversation,
        text: &str,
        language: &Language,
    ) -> Result<Vec<Message>, ServiceError> {
        let understanding = match self.assistant.understand(text).await {
            Ok(understanding) => understanding,
            Err(ServiceError::Unavailable(_)) => {
                // Still learning the knowledge base (first start): people take it.
                return self
                    .hand_off(visitor, conversation, HandoffReason::Unanswered, language)
                    .await;
            }
            Err(error) => return Err(error),
        };
        // What the customer asks about routes the conversation if it goes to people.
        let with_topic;
        let conversation = match understanding.answers.first() {
            Some(best)
                if !best.entry.content.category.is_empty()
                    && conversation.topic.as_deref()
                        != Some(best.entry.content.category.as_str()) =>
            {
                let topic = best.entry.content.category.clone();
                self.store
                    .set_conversation_topic(conversation.id, topic.clone())
                    .await?;
                with_topic = Conversation {
                    topic: Some(topic),
                    ..conversation.clone()
                };
                &with_topic
            }
            _ => conversation,
        };
        let sentiment = understanding.sentiment.score;
        let cues: Vec<&str> = understanding
            .sentiment
            .lexicon
            .cues
            .iter()
            .map(|cue| cue.term.as_str())
            .collect();
        let base = json!({
            "decision": understanding.decision,
            "sentiment": sentiment,
            "sentiment_cues": cues,
            "complaint_confidence": understanding.sentiment.complaint_confidence,
        });
        if understanding.decision == Decision::Intent(BuiltinIntent::HumanRequest) {
            return self
                .hand_off(visitor, conversation, HandoffReason::Requested, language)
                .await;
        }
        if sentiment <= UPSET_SENTIMENT {
            return self
                .hand_off(visitor, conversation, HandoffReason::Upset, language)
                .await;
        }
        let (reply, answered) = match understanding.decision {
            Decision::Answer => {
                let best = &understanding.answers[0];
                let mut details = base.clone();
                details["kind"] = json!("answer");
                details["faq_id"] = json!(best.entry.id);
                details["question"] = json!(best.entry.content.question);
                details["confidence"] = json!(best.confidence);
                let cards = self
                    .catalog
                    .cards_for_question(visitor.customer, text)
                    .await?;
                if !cards.is_empty() {
                    details["recommendations"] = json!(cards);
                }
                (
                    NewMessage {
                        author: Author::Bot,
                        author_user_id: None,
                        body: best.entry.content.answer_markdown.clone(),
                        details,
                        private: false,
                    },
                    true,
                )
            }
            Decision::Suggest => {
                let questions: Vec<_> = understanding
                    .answers
                    .iter()
                    .take(3)
                    .map(|a| json!({ "faq_id": a.entry.id, "question": a.entry.content.question, "confidence": a.confidence }))
                    .collect();
                let mut details = base.clone();
                details["kind"] = json!("suggestions");
                details["suggestions"] = json!(questions);
                (
                    bot_text(
                        language,
                        "您是想问以下问题吗？",
                        "Did you mean one of these?",
                        details,
                    ),
                    false,
                )
            }
            Decision::Unknown | Decision::Intent(BuiltinIntent::Complaint) => {
                let mut details = base.clone();
                details["kind"] = json!("unknown");
                details["offer_human"] = json!(true);
                (
                    bot_text(
                        language,
                        "抱歉，这个问题我还不知道答案。您可以换个说法，或者转人工客服。",
                        "Sorry, I don't know the answer to that. You can rephrase it, or talk to a person.",
                        details,
                    ),
                    false,
                )
            }
            Decision::Intent(intent) => {
                let (zh, en) = small_talk(intent);
                let mut details = base.clone();
                details["kind"] = json!("small_talk");
                (bot_text(language, zh, en, details), true)
            }
        };
        let unanswered = self
            .store
            .record_bot_outcome(conversation.id, answered)
            .await?;
        let mut stored = self.append(conversation, vec![reply]).await?;
        if !answered && unanswered >= visitor.inbox.settings.unanswered_before_handoff {
            stored.extend(
                self.hand_off(visitor, conversation, HandoffReason::Unanswered, language)
                    .await?,
            );
        }
        Ok(stored)
    }

    /// One atomic move from the bot to people: queued for an agent when someone is
    /// available and the shop is open, else a left message.
    async fn hand_off(
        &self,
        visitor: &Visitor,
        conversation: &Conversation,
        reason: HandoffReason,
        language: &Language,
    ) -> Result<Vec<Message>, ServiceError> {
        let at = now();
        let available = visitor.inbox.business_hours().is_open(at)
            && self
                .store
                .agents_available(visitor.inbox.id, online_since())
                .await?
                > 0;
        let to = if available {
            ConversationStatus::Waiting
        } else {
            ConversationStatus::Pending
        };
        let rules = self.store.routing_rules().await?;
        let team = pick_team(
            &rules,
            &RoutingFacts {
                inbox: conversation.inbox_id,
                language: &conversation.language,
                topic: conversation.topic.as_deref(),
            },
        );
        if !self
            .store
            .hand_off(conversation.id, to, reason, team, at)
            .await?
        {
            // Already with people: say nothing new.
            return Ok(Vec::new());
        }
        let routed = if available {
            self.route_queue().await?.contains(&conversation.id)
        } else {
            false
        };
        // Given to an agent at once: everyone already heard "assigned", not "waiting".
        if !routed {
            self.publish_status(conversation, to).await;
        }
        let handed_off_to = Conversation {
            status: if routed {
                ConversationStatus::Assigned
            } else {
                to
            },
            handoff_reason: Some(reason.as_str().to_string()),
            ..conversation.clone()
        };
        self.log
            .webhooks()
            .emit(WebhookEvent::ConversationHandedOff, json!(handed_off_to))
            .await;
        let details =
            json!({ "kind": "handoff", "reason": reason.as_str(), "status": to.as_str() });
        let message = if routed {
            NewMessage {
                details,
                ..system_message(
                    language,
                    "已为您接通人工客服，请稍候，客服马上在这里回复您。",
                    "You're through to a person; they'll reply here shortly.",
                )
            }
        } else if available {
            let position = self
                .store
                .queue_position(conversation.id)
                .await?
                .unwrap_or(1);
            NewMessage {
                details,
                ..system_message(
                    language,
                    &match position - 1 {
                        0 => "正在为您转接人工客服…".to_string(),
                        n => format!("正在为您转接人工客服… 您前面还有 {n} 位顾客。"),
                    },
                    &format!(
                        "Connecting you to a person… {} ahead of you in the queue.",
                        match position - 1 {
                            0 => "Nobody is".to_string(),
                            1 => "1 customer is".to_string(),
                            n => format!("{n} customers are"),
                        }
                    ),
                )
            }
        } else {
            let offline = visitor.inbox.settings.offline_message.trim();
            let (mut zh, mut en) = if offline.is_empty() {
                (
                    "现在没有客服在线。请留下您的邮箱或电话和留言，我们会尽快回复您。".to_string(),
                    "Nobody is available right now. Leave your email or phone and a message, and we'll get back to you.".to_string(),
                )
            } else {
                (offline.to_string(), offline.to_string())
            };
            let hours = visitor.inbox.business_hours();
            if !hours.is_open(at) {
                let when = hours.describe_local(hours.next_opening(at));
                zh.push_str(&format!("（我们的营业时间从 {when} 开始。）"));
                en.push_str(&format!(" (We are open again from {when}.)"));
            }
            NewMessage {
                details,
                ..system_message(language, &zh, &en)
            }
        };
        let handed_off = Conversation {
            status: if routed {
                ConversationStatus::Assigned
            } else {
                to
            },
            ..conversation.clone()
        };
        self.append(&handed_off, vec![message]).await
    }
}

/// Presence updated since then counts as current.
pub(super) fn online_since() -> Timestamp {
    Timestamp::from_unix_seconds(
        now().unix_seconds() - i64::try_from(PRESENCE_TIMEOUT.as_secs()).unwrap_or(0),
    )
}

fn invalid(field: &'static str, message: &str) -> ServiceError {
    ServiceError::Invalid(ValidationError::new(field, message))
}

/// HMAC-SHA256(secret, id), hex: what the shop's server computes for `setUser`.
pub fn identity_hash(secret: &str, id: &str) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn pick<'a>(language: &Language, zh: &'a str, en: &'a str) -> &'a str {
    if language.as_str() == "zh" { zh } else { en }
}

fn system_message(language: &Language, zh: &str, en: &str) -> NewMessage {
    NewMessage {
        author: Author::System,
        author_user_id: None,
        body: pick(language, zh, en).to_string(),
        details: json!({}),
        private: false,
    }
}

fn bot_text(language: &Language, zh: &str, en: &str, details: serde_json::Value) -> NewMessage {
    NewMessage {
        author: Author::Bot,
        author_user_id: None,
        body: pick(language, zh, en).to_string(),
        details,
        private: false,
    }
}

fn small_talk(intent: BuiltinIntent) -> (&'static str, &'static str) {
    match intent {
        BuiltinIntent::Greeting => (
            "您好！有什么可以帮您？可以问我订单、配送、退换货等问题。",
            "Hello! How can I help? Ask me about orders, shipping, returns and more.",
        ),
        BuiltinIntent::Thanks => (
            "不客气！还有其他问题吗？",
            "You're welcome! Anything else I can help with?",
        ),
        BuiltinIntent::Goodbye => ("再见，祝您愉快！", "Goodbye, have a nice day!"),
        BuiltinIntent::Affirm => (
            "好的。还有什么可以帮您？",
            "Great. What else can I help with?",
        ),
        BuiltinIntent::Deny => (
            "好的。您可以换个说法再问，或者转人工客服。",
            "OK. You can ask in other words, or talk to a person.",
        ),
        BuiltinIntent::HumanRequest | BuiltinIntent::Complaint => {
            ("正在为您转接人工客服…", "Connecting you to a person…")
        }
    }
}
