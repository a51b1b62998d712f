//! The one path by which messages enter a conversation's transcript and reach whoever
//! watches it: stored first, then published to the customer (public messages), the agents
//! on the conversation, and every desk once people have it. The bot, agents and ticket
//! replies all write through it.

use std::sync::Arc;

use super::webhooks::WebhookService;
use super::{ServiceError, now};
use crate::domain::{Conversation, ConversationStatus, Message, NewMessage, WebhookEvent};
use crate::realtime::{ConversationEvent, Hub, Topic};
use crate::store::{Store, StoredFile};

pub struct ConversationLog {
    store: Store,
    hub: Arc<Hub>,
    webhooks: Arc<WebhookService>,
}

impl ConversationLog {
    pub fn new(store: Store, hub: Arc<Hub>, webhooks: Arc<WebhookService>) -> Self {
        Self {
            store,
            hub,
            webhooks,
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    pub fn webhooks(&self) -> &Arc<WebhookService> {
        &self.webhooks
    }

    /// Stores `messages` in `conversation`, then tells its watchers; private notes never go
    /// to the customer.
    pub async fn append(
        &self,
        conversation: &Conversation,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Message>, ServiceError> {
        self.append_with_files(conversation, messages, Vec::new())
            .await
    }

    /// `append`, with `files` (already written) attached to the first message.
    pub async fn append_with_files(
        &self,
        conversation: &Conversation,
        messages: Vec<NewMessage>,
        files: Vec<StoredFile>,
    ) -> Result<Vec<Message>, ServiceError> {
        let stored = self
            .store
            .append_messages_with_files(conversation.id, messages, files, now())
            .await?;
        for message in &stored {
            let event = ConversationEvent::Message(Box::new(message.clone()));
            if !message.private {
                self.hub
                    .publish(Topic::Customer(conversation.customer_id), event.clone());
            }
            if !conversation.status.bot_may_reply() {
                self.hub.publish(Topic::Desk, event.clone());
            }
            self.hub
                .publish(Topic::Conversation(conversation.id), event);
            self.webhooks
                .emit(WebhookEvent::MessageCreated, serde_json::json!(message))
                .await;
        }
        Ok(stored)
    }

    /// Tells the customer, the people on the conversation and every desk that it moved
    /// (and the webhooks, when it was resolved).
    pub async fn publish_status(&self, conversation: &Conversation, to: ConversationStatus) {
        for topic in [
            Topic::Conversation(conversation.id),
            Topic::Customer(conversation.customer_id),
            Topic::Desk,
        ] {
            self.hub.publish(topic, ConversationEvent::Status(to));
        }
        if to == ConversationStatus::Resolved {
            let resolved = Conversation {
                status: to,
                ..conversation.clone()
            };
            self.webhooks
                .emit(
                    WebhookEvent::ConversationResolved,
                    serde_json::json!(resolved),
                )
                .await;
        }
    }
}
