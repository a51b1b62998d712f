//! Newtype ids, so a user id can never be passed where a session id is expected.

use serde::{Deserialize, Serialize};

macro_rules! entity_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

entity_id!(
    /// An agent or admin account.
    UserId
);
entity_id!(
    /// A logged-in browser session of a user.
    SessionId
);
entity_id!(
    /// An entry of the knowledge base.
    FaqEntryId
);
entity_id!(
    /// A website inbox: one site that embeds the chat widget.
    InboxId
);
entity_id!(
    /// A person who writes in through the widget.
    CustomerId
);
entity_id!(
    /// One chat between a customer and the bot or an agent.
    ConversationId
);
entity_id!(
    /// One message of a conversation; also its Server-Sent Events id.
    MessageId
);
entity_id!(
    /// A group of agents that routing can send conversations to.
    TeamId
);
entity_id!(
    /// One line of the admin's routing table.
    RoutingRuleId
);
entity_id!(
    /// A saved reply agents insert with "/".
    CannedResponseId
);
entity_id!(
    /// Follow-up work that outlives a chat.
    TicketId
);
entity_id!(
    /// A public reply or internal note on a ticket.
    TicketCommentId
);
entity_id!(
    /// A file attached to a ticket comment or a widget message.
    AttachmentId
);
entity_id!(
    /// A token that lets a program use the REST API.
    ApiTokenId
);
entity_id!(
    /// An admin-configured URL that receives events.
    WebhookId
);
entity_id!(
    /// An admin's rule for a message the widget shows unasked.
    ProactiveRuleId
);
