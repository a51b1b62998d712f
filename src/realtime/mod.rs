//! In-process fan-out of conversation events to the browsers watching them (Server-Sent
//! Events). Nothing here is the truth: every event is also in SQLite, so a client that
//! missed some reads them back from there (by message id) when it reconnects.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::domain::{ConversationId, ConversationStatus, CustomerId, Message, UserId};

/// Events per conversation buffered for slow watchers; one that falls further behind
/// reloads from the store.
const CHANNEL_CAPACITY: usize = 64;

/// What a watcher follows: one conversation (an agent) or everything a customer may see
/// (the widget, which must also learn of conversations started after it connected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Conversation(ConversationId),
    Customer(CustomerId),
    /// Every conversation handed to people: the desks' lists and counts.
    Desk,
}

#[derive(Debug, Clone)]
pub enum ConversationEvent {
    /// A message was stored (private notes included: each watcher filters what it may see).
    Message(Box<Message>),
    /// The conversation moved (handoff, assignment, resolution).
    Status(ConversationStatus),
    /// Someone is typing: `true` for kefu's side (the bot or an agent), `false` for the customer.
    Typing { by_agent: bool },
    /// The agents who have the conversation open right now (id, name).
    Viewers(Vec<(UserId, String)>),
}

/// Broadcast channels, one per watched topic, created on first watch and dropped when the
/// last watcher leaves.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<Topic, broadcast::Sender<ConversationEvent>>>,
}

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    pub fn subscribe(&self, topic: Topic) -> broadcast::Receiver<ConversationEvent> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels
            .entry(topic)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    pub fn publish(&self, topic: Topic, event: ConversationEvent) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = channels.get(&topic) {
            if sender.receiver_count() == 0 {
                channels.remove(&topic);
            } else {
                let _ = sender.send(event);
            }
        }
    }

    /// Ends every watcher's stream (shutting down): their receivers see the channel closed.
    pub fn close_all(&self) {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Topics with at least one watcher, for `/metrics`.
    pub fn watched(&self) -> usize {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels.retain(|_, sender| sender.receiver_count() > 0);
        channels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn watchers_of_one_conversation_do_not_see_another() {
        let hub = Hub::new();
        let mut first = hub.subscribe(Topic::Conversation(ConversationId::new(1)));
        let mut second = hub.subscribe(Topic::Conversation(ConversationId::new(2)));
        hub.publish(
            Topic::Conversation(ConversationId::new(1)),
            ConversationEvent::Status(ConversationStatus::Waiting),
        );
        assert!(matches!(
            first.recv().await,
            Ok(ConversationEvent::Status(ConversationStatus::Waiting))
        ));
        assert!(second.try_recv().is_err());
        drop(first);
        drop(second);
        assert_eq!(hub.watched(), 0);
    }
}
