//! The agents' side: desk lists, a conversation with everything an agent needs beside it,
//! replies and private notes, assign / transfer / resolve / reopen / hand back, presence,
//! suggested replies, "save as FAQ", and the admin's teams, rules and canned responses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::json;

use super::assistant::{Decision, Understanding};
use super::conversations::{ConversationService, online_since};
use super::{
    AssistantService, CatalogService, CustomerService, ItemCard, KnowledgeService, ServiceError,
    TicketService, now,
};
use crate::domain::conversation::parse_message_text;
use crate::domain::desk::{parse_canned, parse_capacity, parse_team_name};
use crate::domain::profile::ProfileTag;
use crate::domain::{
    Author, CannedResponse, CannedResponseId, Conversation, ConversationId, ConversationStatus,
    Customer, CustomerId, DeskAction, DeskScope, DeskView, FaqEntry, FaqEntryId, FaqInput, InboxId,
    Language, Message, MessageId, NewMessage, Presence, RoutingRule, RoutingRuleId, TeamId,
    Timestamp, UserId, ValidationError,
};
use crate::realtime::{ConversationEvent, Topic};
use crate::store::{AgentSummary, DeskRow, Store, Team, TicketRow};

/// Rows per desk list.
const LIST_LIMIT: i64 = 200;
const EARLIER_CONVERSATIONS: i64 = 10;
const PROFILE_EVENTS: i64 = 20;
const SUGGESTIONS: usize = 3;
/// Items suggested in the side panel.
const PANEL_RECOMMENDATIONS: usize = 4;
/// Customer messages looked at, newest first, to find the question behind the handoff.
const SUGGESTION_LOOKBACK: usize = 3;
/// Below this the answer is noise, not a suggestion.
const MIN_SUGGESTION_CONFIDENCE: f32 = 0.02;

/// A desk list and the counts of every view.
pub struct DeskLists {
    pub view: DeskView,
    pub counts: [i64; 4],
    pub rows: Vec<DeskRow>,
}

/// A knowledge-base answer offered for the customer's last message.
#[derive(Debug, Clone)]
pub struct SuggestedReply {
    pub faq_id: FaqEntryId,
    pub question: String,
    pub answer: String,
    pub confidence: f32,
}

/// Everything the conversation page shows.
pub struct DeskConversation {
    pub conversation: Conversation,
    pub inbox_name: String,
    pub messages: Vec<Message>,
    pub customer: Customer,
    pub events: Vec<(String, serde_json::Value, Timestamp)>,
    pub earlier: Vec<Conversation>,
    pub agents: Vec<AgentSummary>,
    pub teams: Vec<Team>,
    pub canned: Vec<CannedResponse>,
    /// The customer's tickets, newest first.
    pub tickets: Vec<TicketRow>,
}

pub struct DeskService {
    store: Store,
    /// Who has which conversation open (one entry per open page), for "also here".
    viewers: Mutex<HashMap<ConversationId, Vec<(UserId, String)>>>,
    conversations: Arc<ConversationService>,
    assistant: Arc<AssistantService>,
    knowledge: Arc<KnowledgeService>,
    tickets: Arc<TicketService>,
    customers: Arc<CustomerService>,
    catalog: Arc<CatalogService>,
}

impl DeskService {
    pub fn new(
        store: Store,
        conversations: Arc<ConversationService>,
        assistant: Arc<AssistantService>,
        knowledge: Arc<KnowledgeService>,
        tickets: Arc<TicketService>,
        customers: Arc<CustomerService>,
        catalog: Arc<CatalogService>,
    ) -> Self {
        Self {
            store,
            viewers: Mutex::new(HashMap::new()),
            conversations,
            assistant,
            knowledge,
            tickets,
            customers,
            catalog,
        }
    }

    // ---- lists and live updates ----

    pub async fn lists(&self, scope: DeskScope, view: DeskView) -> Result<DeskLists, ServiceError> {
        let counts = self.store.desk_counts(scope).await?;
        let rows = self.store.desk_list(scope, view, LIST_LIMIT).await?;
        Ok(DeskLists { view, counts, rows })
    }

    /// Every change to conversations with people (for the lists).
    pub fn watch_desk(&self) -> tokio::sync::broadcast::Receiver<ConversationEvent> {
        self.conversations.hub().subscribe(Topic::Desk)
    }

    /// Live events of one conversation the agent may see.
    pub async fn watch_conversation(
        &self,
        scope: DeskScope,
        id: ConversationId,
    ) -> Result<tokio::sync::broadcast::Receiver<ConversationEvent>, ServiceError> {
        self.store.desk_conversation(scope, id).await?;
        Ok(self.conversations.hub().subscribe(Topic::Conversation(id)))
    }

    /// An agent opened the conversation: everyone on it learns who is there.
    pub fn join_viewers(&self, id: ConversationId, user: UserId, name: String) {
        let mut viewers = self.viewers.lock().unwrap_or_else(PoisonError::into_inner);
        let here = viewers.entry(id).or_default();
        here.push((user, name));
        let now_here = here.clone();
        drop(viewers);
        self.publish_viewers(id, now_here);
    }

    /// The agent's page closed (its event stream ended).
    pub fn leave_viewers(&self, id: ConversationId, user: UserId) {
        let mut viewers = self.viewers.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(here) = viewers.get_mut(&id) else {
            return;
        };
        if let Some(at) = here.iter().position(|(viewer, _)| *viewer == user) {
            here.remove(at);
        }
        let now_here = here.clone();
        if now_here.is_empty() {
            viewers.remove(&id);
        }
        drop(viewers);
        self.publish_viewers(id, now_here);
    }

    fn publish_viewers(&self, id: ConversationId, mut here: Vec<(UserId, String)>) {
        here.sort();
        here.dedup();
        self.conversations
            .hub()
            .publish(Topic::Conversation(id), ConversationEvent::Viewers(here));
    }

    /// Messages after `after`, notes included (agents only).
    pub async fn messages_since(
        &self,
        scope: DeskScope,
        id: ConversationId,
        after: MessageId,
    ) -> Result<Vec<Message>, ServiceError> {
        self.store.desk_conversation(scope, id).await?;
        Ok(self.store.messages_after(id, Some(after), true).await?)
    }

    /// A page of the conversations the agent may see (the API).
    pub async fn list_conversations(
        &self,
        scope: DeskScope,
        status: Option<ConversationStatus>,
        customer: Option<CustomerId>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Conversation>, i64), ServiceError> {
        Ok(self
            .store
            .list_conversations(scope, status, customer, page.max(1), per_page)
            .await?)
    }

    /// One conversation the agent may see, and its whole transcript (notes included).
    pub async fn transcript(
        &self,
        scope: DeskScope,
        id: ConversationId,
    ) -> Result<(Conversation, Vec<Message>), ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        let messages = self.store.messages_after(id, None, true).await?;
        Ok((conversation, messages))
    }

    /// A page of customers (the API); with `email`, only that address.
    pub async fn customers(
        &self,
        email: Option<String>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Customer>, i64), ServiceError> {
        let (ids, total) = self
            .store
            .list_customers(email, page.max(1), per_page)
            .await?;
        let mut customers = Vec::with_capacity(ids.len());
        for id in ids {
            customers.push(self.store.customer(id).await?);
        }
        Ok((customers, total))
    }

    pub async fn customer(&self, id: CustomerId) -> Result<Customer, ServiceError> {
        Ok(self.store.customer(id).await?)
    }

    // ---- one conversation ----

    pub async fn conversation(
        &self,
        scope: DeskScope,
        id: ConversationId,
    ) -> Result<DeskConversation, ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        let inbox = self.store.inbox(conversation.inbox_id).await?;
        let messages = self.store.messages_after(id, None, true).await?;
        let customer = self.store.customer(conversation.customer_id).await?;
        let events = self
            .store
            .customer_events(conversation.customer_id, PROFILE_EVENTS)
            .await?;
        let earlier = self
            .store
            .customer_conversations_in_scope(
                scope,
                conversation.customer_id,
                EARLIER_CONVERSATIONS + 1,
            )
            .await?
            .into_iter()
            .filter(|other| other.id != id)
            .take(usize::try_from(EARLIER_CONVERSATIONS).unwrap_or(10))
            .collect();
        let agents = self
            .store
            .inbox_agents(Some(conversation.inbox_id), online_since())
            .await?;
        let customer_id = conversation.customer_id;
        Ok(DeskConversation {
            tickets: self.tickets.of_customer(scope, customer_id).await?.rows,
            conversation,
            inbox_name: inbox.settings.name,
            messages,
            customer,
            events,
            earlier,
            agents,
            teams: self.store.teams().await?,
            canned: self.store.canned_responses().await?,
        })
    }

    /// A public reply (the customer sees it live; an unassigned conversation becomes the
    /// replier's) or a private note (only agents ever see it).
    pub async fn write_message(
        &self,
        scope: DeskScope,
        id: ConversationId,
        body: &str,
        private: bool,
    ) -> Result<Message, ServiceError> {
        let text = parse_message_text(body).map_err(ServiceError::Invalid)?;
        self.write(scope, id, text, private, json!({})).await
    }

    /// Sends an item of the catalog to the customer as a card.
    pub async fn send_card(
        &self,
        scope: DeskScope,
        id: ConversationId,
        item_id: &str,
    ) -> Result<Message, ServiceError> {
        self.store.desk_conversation(scope, id).await?;
        let card = self.catalog.card(item_id).await?;
        let text = card.title.clone();
        self.write(scope, id, text, false, json!({ "recommendations": [card] }))
            .await
    }

    /// The customer's derived tags (with reasons) and the items that fit them and their
    /// latest question, for the side panel.
    pub async fn insights(
        &self,
        scope: DeskScope,
        id: ConversationId,
    ) -> Result<(CustomerId, Vec<ProfileTag>, Vec<ItemCard>), ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        let tags = self
            .customers
            .refresh_tags(conversation.customer_id)
            .await?;
        let messages = self.store.messages_after(id, None, false).await?;
        // What they asked, not "a person please".
        let question = self
            .latest_question(&messages)
            .await?
            .map(|(message, _)| message.body.clone());
        let cards = self
            .catalog
            .recommend(
                Some(conversation.customer_id),
                question.as_deref(),
                PANEL_RECOMMENDATIONS,
            )
            .await?;
        Ok((conversation.customer_id, tags, cards))
    }

    async fn write(
        &self,
        scope: DeskScope,
        id: ConversationId,
        text: String,
        private: bool,
        extra_details: serde_json::Value,
    ) -> Result<Message, ServiceError> {
        let mut conversation = self.store.desk_conversation(scope, id).await?;
        if !private {
            let to = DeskAction::Reply
                .apply(conversation.status)
                .map_err(ServiceError::Invalid)?;
            let assignee = conversation.assignee_id.unwrap_or(scope.user);
            if conversation.status != to || conversation.assignee_id.is_none() {
                self.transition(&conversation, to, Some(assignee), None)
                    .await?;
                conversation.status = to;
                conversation.assignee_id = Some(assignee);
            }
        }
        // The customer sees who answers, as they were called when they wrote.
        let agent_name = self.store.user(scope.user).await?.display_name;
        let stored = self
            .conversations
            .append(
                &conversation,
                vec![NewMessage {
                    author: Author::Agent,
                    author_user_id: Some(scope.user),
                    body: text,
                    details: {
                        let mut details = extra_details;
                        details["agent_name"] = json!(agent_name.as_str());
                        details
                    },
                    private,
                }],
            )
            .await?;
        stored
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::Unavailable("the message was not stored".into()))
    }

    /// Gives the conversation to `agent` (who must work its inbox).
    pub async fn assign(
        &self,
        scope: DeskScope,
        id: ConversationId,
        agent: UserId,
    ) -> Result<(), ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        let allowed = self
            .store
            .inbox_agents(Some(conversation.inbox_id), online_since())
            .await?
            .iter()
            .any(|candidate| candidate.id == agent);
        if !allowed {
            return Err(ServiceError::Invalid(ValidationError::new(
                "agent",
                "is not an agent of this conversation's inbox",
            )));
        }
        let to = DeskAction::Assign
            .apply(conversation.status)
            .map_err(ServiceError::Invalid)?;
        self.transition(&conversation, to, Some(agent), None)
            .await?;
        self.note_event(&conversation, scope, "assigned").await
    }

    /// Back into the queue, for `team`.
    pub async fn transfer_to_team(
        &self,
        scope: DeskScope,
        id: ConversationId,
        team: TeamId,
    ) -> Result<(), ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        if !self.store.teams().await?.iter().any(|t| t.id == team) {
            return Err(ServiceError::Invalid(ValidationError::new(
                "team",
                "no such team",
            )));
        }
        let to = DeskAction::TransferToTeam
            .apply(conversation.status)
            .map_err(ServiceError::Invalid)?;
        self.transition(&conversation, to, None, Some(team)).await?;
        self.note_event(&conversation, scope, "transferred").await?;
        self.conversations.route_queue().await?;
        Ok(())
    }

    pub async fn resolve(&self, scope: DeskScope, id: ConversationId) -> Result<(), ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        let to = DeskAction::Resolve
            .apply(conversation.status)
            .map_err(ServiceError::Invalid)?;
        self.transition(&conversation, to, conversation.assignee_id, None)
            .await?;
        // A freed seat: the queue moves.
        self.conversations.route_queue().await?;
        Ok(())
    }

    pub async fn reopen(&self, scope: DeskScope, id: ConversationId) -> Result<(), ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        let to = DeskAction::Reopen
            .apply(conversation.status)
            .map_err(ServiceError::Invalid)?;
        self.transition(&conversation, to, Some(scope.user), None)
            .await
    }

    /// The bot answers again; the agent's seat frees up.
    pub async fn hand_back_to_bot(
        &self,
        scope: DeskScope,
        id: ConversationId,
    ) -> Result<(), ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        let to = DeskAction::HandBackToBot
            .apply(conversation.status)
            .map_err(ServiceError::Invalid)?;
        self.transition(&conversation, to, None, None).await?;
        let language = Language::from_trusted(conversation.language.clone());
        let back = Conversation {
            status: to,
            ..conversation.clone()
        };
        self.conversations
            .append(
                &back,
                vec![NewMessage {
                    author: Author::System,
                    author_user_id: None,
                    body: if language.as_str() == "zh" {
                        "机器人助手将继续为您服务。需要时可随时转人工客服。"
                    } else {
                        "The assistant is back. You can ask for a person again at any time."
                    }
                    .to_string(),
                    details: json!({ "kind": "handed_back", "by": scope.user }),
                    private: false,
                }],
            )
            .await?;
        self.conversations.route_queue().await?;
        Ok(())
    }

    /// The agent is typing a reply: the customer sees it.
    pub async fn agent_typing(
        &self,
        scope: DeskScope,
        id: ConversationId,
    ) -> Result<(), ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        self.conversations.hub().publish(
            Topic::Customer(conversation.customer_id),
            ConversationEvent::Typing { by_agent: true },
        );
        Ok(())
    }

    /// One move, published to everyone watching; `Conflict` when someone else moved it first.
    async fn transition(
        &self,
        conversation: &Conversation,
        to: ConversationStatus,
        assignee: Option<UserId>,
        team: Option<TeamId>,
    ) -> Result<(), ServiceError> {
        let moved = self
            .store
            .move_conversation(
                conversation.id,
                conversation.status,
                to,
                assignee,
                team,
                now(),
            )
            .await?;
        if !moved {
            return Err(ServiceError::Conflict(
                "someone else changed this conversation; reload it".into(),
            ));
        }
        self.conversations.publish_status(conversation, to).await;
        Ok(())
    }

    /// A private line in the transcript saying who did what.
    async fn note_event(
        &self,
        conversation: &Conversation,
        scope: DeskScope,
        what: &str,
    ) -> Result<(), ServiceError> {
        let moved = self.store.conversation(conversation.id).await?;
        let assignee = match moved.assignee_id {
            Some(agent) => Some(self.store.user(agent).await?.display_name),
            None => None,
        };
        let by = self.store.user(scope.user).await?.display_name;
        let body = match (what, assignee) {
            ("assigned", Some(to)) => format!("{} assigned this to {}", by.as_str(), to.as_str()),
            _ => format!("{} transferred this to a team", by.as_str()),
        };
        self.conversations
            .append(
                &moved,
                vec![NewMessage {
                    author: Author::System,
                    author_user_id: Some(scope.user),
                    body,
                    details: json!({ "kind": what }),
                    private: true,
                }],
            )
            .await?;
        Ok(())
    }

    // ---- agent assist ----

    /// The top knowledge-base answers for the customer's latest question: their last
    /// message, or an earlier one when the last was small talk or a request for a person.
    pub async fn suggestions(
        &self,
        scope: DeskScope,
        id: ConversationId,
    ) -> Result<Vec<SuggestedReply>, ServiceError> {
        self.store.desk_conversation(scope, id).await?;
        let messages = self.store.messages_after(id, None, false).await?;
        let Some((_, understanding)) = self.latest_question(&messages).await? else {
            return Ok(Vec::new());
        };
        let Some(understanding) = understanding else {
            // Still learning the knowledge base: nothing to suggest yet.
            return Ok(Vec::new());
        };
        Ok(understanding
            .answers
            .into_iter()
            .filter(|candidate| candidate.confidence >= MIN_SUGGESTION_CONFIDENCE)
            .take(SUGGESTIONS)
            .map(|candidate| SuggestedReply {
                faq_id: candidate.entry.id,
                question: candidate.entry.content.question,
                answer: candidate.entry.content.answer_markdown,
                confidence: candidate.confidence,
            })
            .collect())
    }

    /// The newest of the last few customer messages in `messages` that asks something (not
    /// a greeting, thanks or "a person please"), with how the bot understands it (`None`
    /// while the bot is still learning: then the newest message counts).
    async fn latest_question<'m>(
        &self,
        messages: &'m [Message],
    ) -> Result<Option<(&'m Message, Option<Understanding>)>, ServiceError> {
        let recent_questions = messages
            .iter()
            .rev()
            .filter(|m| m.author == Author::Customer)
            .take(SUGGESTION_LOOKBACK);
        for message in recent_questions {
            match self.assistant.understand(&message.body).await {
                Ok(understanding) if matches!(understanding.decision, Decision::Intent(_)) => {}
                Ok(understanding) => return Ok(Some((message, Some(understanding)))),
                Err(ServiceError::Unavailable(_)) => return Ok(Some((message, None))),
                Err(error) => return Err(error),
            }
        }
        Ok(None)
    }

    /// A draft FAQ entry from an agent's reply: the customer's question before it as the
    /// question, the reply as the answer. An admin publishes it.
    pub async fn save_as_faq(
        &self,
        scope: DeskScope,
        id: ConversationId,
        reply: MessageId,
    ) -> Result<FaqEntry, ServiceError> {
        let conversation = self.store.desk_conversation(scope, id).await?;
        let messages = self.store.messages_after(id, None, false).await?;
        let position = messages
            .iter()
            .position(|m| m.id == reply && m.author == Author::Agent)
            .ok_or(ServiceError::NotFound)?;
        let (question, _) = self
            .latest_question(&messages[..position])
            .await?
            .ok_or_else(|| {
                ServiceError::Invalid(ValidationError::new(
                    "message",
                    "no customer question comes before this reply",
                ))
            })?;
        self.knowledge
            .create(FaqInput {
                question: question.body.clone(),
                answer: messages[position].body.clone(),
                category: conversation.topic.clone().unwrap_or_default(),
                language: conversation.language.clone(),
                status: "draft".to_string(),
                ..FaqInput::default()
            })
            .await
    }

    // ---- presence ----

    pub async fn presence(&self, user: UserId) -> Result<Presence, ServiceError> {
        Ok(self.store.agent_presence(user, online_since()).await?)
    }

    /// Online / away / offline; coming online may take queued conversations at once.
    pub async fn set_presence(&self, user: UserId, presence: Presence) -> Result<(), ServiceError> {
        self.store.set_agent_presence(user, presence, now()).await?;
        self.conversations.hub().publish(
            Topic::Desk,
            ConversationEvent::Status(ConversationStatus::Waiting),
        );
        if presence == Presence::Online {
            self.conversations.route_queue().await?;
        }
        Ok(())
    }

    /// An open desk checks in, so the agent stays online while it is open.
    pub async fn heartbeat(&self, user: UserId) -> Result<(), ServiceError> {
        Ok(self.store.touch_presence(user, now()).await?)
    }

    // ---- admin: agents, teams, rules, canned responses ----

    pub async fn agents(&self) -> Result<Vec<AgentSummary>, ServiceError> {
        Ok(self.store.inbox_agents(None, online_since()).await?)
    }

    pub async fn set_capacity(&self, user: UserId, raw: &str) -> Result<(), ServiceError> {
        let capacity = parse_capacity(raw).map_err(ServiceError::Invalid)?;
        self.store.set_capacity(user, capacity).await?;
        self.conversations.route_queue().await?;
        Ok(())
    }

    pub async fn inbox_members(&self, inbox: InboxId) -> Result<Vec<UserId>, ServiceError> {
        Ok(self.store.inbox_member_ids(inbox).await?)
    }

    pub async fn set_inbox_members(
        &self,
        inbox: InboxId,
        members: Vec<UserId>,
    ) -> Result<(), ServiceError> {
        self.store.inbox(inbox).await?;
        self.store.set_inbox_members(inbox, members).await?;
        self.conversations.route_queue().await?;
        Ok(())
    }

    pub async fn teams(&self) -> Result<Vec<Team>, ServiceError> {
        Ok(self.store.teams().await?)
    }

    pub async fn create_team(&self, name: &str) -> Result<TeamId, ServiceError> {
        let name = parse_team_name(name).map_err(ServiceError::Invalid)?;
        Ok(self.store.create_team(name, now()).await?)
    }

    pub async fn delete_team(&self, team: TeamId) -> Result<(), ServiceError> {
        Ok(self.store.delete_team(team).await?)
    }

    pub async fn set_team_members(
        &self,
        team: TeamId,
        members: Vec<UserId>,
    ) -> Result<(), ServiceError> {
        self.store.set_team_members(team, members).await?;
        self.conversations.route_queue().await?;
        Ok(())
    }

    pub async fn routing_rules(&self) -> Result<Vec<RoutingRule>, ServiceError> {
        Ok(self.store.routing_rules().await?)
    }

    /// A rule: empty conditions match anything; at least one must be set.
    pub async fn add_routing_rule(
        &self,
        team: TeamId,
        inbox: Option<InboxId>,
        language: &str,
        category: &str,
    ) -> Result<(), ServiceError> {
        let language = match language.trim() {
            "" => None,
            "zh" | "en" => Some(language.trim().to_string()),
            _ => {
                return Err(ServiceError::Invalid(ValidationError::new(
                    "language",
                    "must be zh, en or empty (any language)",
                )));
            }
        };
        let category = Some(category.trim().to_string()).filter(|c| !c.is_empty());
        if inbox.is_none() && language.is_none() && category.is_none() {
            return Err(ServiceError::Invalid(ValidationError::new(
                "rule",
                "set at least one condition: inbox, language or category",
            )));
        }
        if let Some(inbox) = inbox {
            self.store.inbox(inbox).await?;
        }
        Ok(self
            .store
            .add_routing_rule(team, inbox, language, category, now())
            .await?)
    }

    pub async fn delete_routing_rule(&self, rule: RoutingRuleId) -> Result<(), ServiceError> {
        Ok(self.store.delete_routing_rule(rule).await?)
    }

    pub async fn canned_responses(&self) -> Result<Vec<CannedResponse>, ServiceError> {
        Ok(self.store.canned_responses().await?)
    }

    pub async fn save_canned_response(
        &self,
        id: Option<CannedResponseId>,
        shortcut: &str,
        body: &str,
    ) -> Result<(), ServiceError> {
        let (shortcut, body) = parse_canned(shortcut, body).map_err(ServiceError::InvalidFields)?;
        Ok(self
            .store
            .save_canned_response(id, shortcut, body, now())
            .await?)
    }

    pub async fn delete_canned_response(&self, id: CannedResponseId) -> Result<(), ServiceError> {
        Ok(self.store.delete_canned_response(id).await?)
    }
}
