//! The agents' side of a conversation: what an agent may do to it in which status, how a
//! handoff picks a team and an agent, presence, and canned responses.

use serde::Serialize;

use super::conversation::{ConversationStatus, MESSAGE_MAX_CHARS};
use super::{CannedResponseId, InboxId, RoutingRuleId, TeamId, Timestamp, UserId, ValidationError};

/// Who is looking at the desk: agents see the inboxes they are members of, admins every
/// inbox. Every desk query is scoped by it.
#[derive(Debug, Clone, Copy)]
pub struct DeskScope {
    pub user: UserId,
    pub is_admin: bool,
}

/// What an agent does to a conversation from the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskAction {
    /// A public reply; an unassigned conversation becomes the replier's.
    Reply,
    /// Give it to an agent (possibly oneself).
    Assign,
    /// Back into the queue of a team.
    TransferToTeam,
    Resolve,
    Reopen,
    /// The bot answers again.
    HandBackToBot,
}

impl DeskAction {
    /// The status after the action, or why it can't be done from `from`.
    pub fn apply(self, from: ConversationStatus) -> Result<ConversationStatus, ValidationError> {
        use ConversationStatus::*;
        let refused = |what: &str| {
            Err(ValidationError::new(
                "status",
                format!("a {} conversation can't be {what}", from.as_str()),
            ))
        };
        match (self, from) {
            (DeskAction::Reply | DeskAction::Assign, Resolved) => {
                refused("answered; reopen it first")
            }
            (DeskAction::Reply | DeskAction::Assign, _) => Ok(Assigned),
            (DeskAction::TransferToTeam, Resolved) => refused("transferred; reopen it first"),
            (DeskAction::TransferToTeam, _) => Ok(Waiting),
            (DeskAction::Resolve, Resolved) => refused("resolved again"),
            (DeskAction::Resolve, _) => Ok(Resolved),
            (DeskAction::Reopen, Resolved) => Ok(Assigned),
            (DeskAction::Reopen, _) => refused("reopened: it is still open"),
            (DeskAction::HandBackToBot, Bot) => refused("handed back: the bot has it"),
            (DeskAction::HandBackToBot, Resolved) => refused("handed back; reopen it first"),
            (DeskAction::HandBackToBot, _) => Ok(Bot),
        }
    }
}

/// An agent's availability, set on the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Takes new conversations.
    Online,
    /// Keeps their conversations, takes no new ones.
    Away,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }

    pub fn parse(raw: &str) -> Result<Presence, ValidationError> {
        match raw {
            "online" => Ok(Presence::Online),
            "away" => Ok(Presence::Away),
            "offline" => Ok(Presence::Offline),
            _ => Err(ValidationError::new(
                "presence",
                "must be online, away or offline",
            )),
        }
    }
}

/// The desk's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskView {
    /// Handed off, nobody has it yet.
    Waiting,
    /// Assigned to the agent looking.
    Mine,
    /// Everything with people: waiting, assigned and left messages.
    Open,
    Resolved,
}

impl DeskView {
    pub const ALL: [DeskView; 4] = [
        DeskView::Waiting,
        DeskView::Mine,
        DeskView::Open,
        DeskView::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeskView::Waiting => "waiting",
            DeskView::Mine => "mine",
            DeskView::Open => "open",
            DeskView::Resolved => "resolved",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            DeskView::Waiting => "Waiting",
            DeskView::Mine => "Mine",
            DeskView::Open => "All open",
            DeskView::Resolved => "Resolved",
        }
    }

    /// Unknown names fall back to the agent's own conversations, the desk's front page
    /// (routing puts new chats there; the waiting count shows beside it).
    pub fn parse(raw: &str) -> DeskView {
        DeskView::ALL
            .into_iter()
            .find(|view| view.as_str() == raw)
            .unwrap_or(DeskView::Mine)
    }
}

/// One rule of the admin's routing table: every condition that is set must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutingRule {
    pub id: RoutingRuleId,
    pub position: i64,
    pub team_id: TeamId,
    pub team_name: String,
    pub inbox_id: Option<InboxId>,
    pub language: Option<String>,
    pub category: Option<String>,
}

/// What routing knows about a conversation being handed off.
#[derive(Debug, Clone, Copy)]
pub struct RoutingFacts<'a> {
    pub inbox: InboxId,
    pub language: &'a str,
    pub topic: Option<&'a str>,
}

impl RoutingRule {
    pub fn matches(&self, facts: &RoutingFacts<'_>) -> bool {
        self.inbox_id.is_none_or(|inbox| inbox == facts.inbox)
            && self
                .language
                .as_deref()
                .is_none_or(|language| language.eq_ignore_ascii_case(facts.language))
            && self.category.as_deref().is_none_or(|category| {
                facts
                    .topic
                    .is_some_and(|topic| topic.eq_ignore_ascii_case(category))
            })
    }
}

/// The team of the first matching rule (rules in position order); `None` routes to every
/// agent of the inbox.
pub fn pick_team(rules: &[RoutingRule], facts: &RoutingFacts<'_>) -> Option<TeamId> {
    rules
        .iter()
        .find(|rule| rule.matches(facts))
        .map(|rule| rule.team_id)
}

/// An agent who could take a conversation, with their current load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLoad {
    pub user_id: UserId,
    pub open: i64,
    pub capacity: i64,
    pub last_assigned_at: Option<Timestamp>,
}

/// The agent with room who has the fewest open conversations; ties go to whoever has waited
/// longest since their last assignment (never assigned counts as longest).
pub fn pick_agent(candidates: &[AgentLoad]) -> Option<UserId> {
    candidates
        .iter()
        .filter(|agent| agent.open < agent.capacity)
        .min_by_key(|agent| {
            (
                agent.open,
                agent.last_assigned_at.map(Timestamp::unix_seconds),
                agent.user_id,
            )
        })
        .map(|agent| agent.user_id)
}

pub const MAX_CAPACITY: i64 = 100;

pub fn parse_capacity(raw: &str) -> Result<i64, ValidationError> {
    match raw.trim().parse::<i64>() {
        Ok(capacity) if (1..=MAX_CAPACITY).contains(&capacity) => Ok(capacity),
        _ => Err(ValidationError::new(
            "capacity",
            format!("must be a whole number from 1 to {MAX_CAPACITY}"),
        )),
    }
}

/// A saved answer an agent inserts with "/" + its shortcut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CannedResponse {
    pub id: CannedResponseId,
    pub shortcut: String,
    pub body: String,
}

const SHORTCUT_MAX_CHARS: usize = 40;

/// A checked shortcut and body for a canned response.
pub fn parse_canned(shortcut: &str, body: &str) -> Result<(String, String), Vec<ValidationError>> {
    let mut errors = Vec::new();
    let shortcut = shortcut.trim().trim_start_matches('/').to_lowercase();
    if shortcut.is_empty() {
        errors.push(ValidationError::new("shortcut", "is missing"));
    } else if shortcut.chars().count() > SHORTCUT_MAX_CHARS
        || !shortcut
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        errors.push(ValidationError::new(
            "shortcut",
            format!("use up to {SHORTCUT_MAX_CHARS} letters, digits, - or _ (no spaces)"),
        ));
    }
    let body = body.trim().to_string();
    if body.is_empty() {
        errors.push(ValidationError::new("body", "is missing"));
    } else if body.chars().count() > MESSAGE_MAX_CHARS {
        errors.push(ValidationError::new(
            "body",
            format!("is longer than {MESSAGE_MAX_CHARS} characters"),
        ));
    }
    if errors.is_empty() {
        Ok((shortcut, body))
    } else {
        Err(errors)
    }
}

/// A team name: trimmed, 1–60 characters.
pub fn parse_team_name(raw: &str) -> Result<String, ValidationError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(ValidationError::new("name", "must be 1 to 60 characters"));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: i64, open: i64, capacity: i64, last: Option<i64>) -> AgentLoad {
        AgentLoad {
            user_id: UserId::new(id),
            open,
            capacity,
            last_assigned_at: last.map(Timestamp::from_unix_seconds),
        }
    }

    #[test]
    fn the_least_loaded_agent_with_room_gets_it_and_ties_go_to_the_longest_idle() {
        let agents = [
            agent(1, 2, 5, Some(10)),
            agent(2, 1, 5, Some(50)),
            agent(3, 1, 5, Some(20)),
            agent(4, 0, 0, None),
        ];
        assert_eq!(pick_agent(&agents), Some(UserId::new(3)));
        let never_assigned = [agent(1, 1, 5, Some(20)), agent(2, 1, 5, None)];
        assert_eq!(pick_agent(&never_assigned), Some(UserId::new(2)));
        assert_eq!(pick_agent(&[agent(1, 3, 3, None)]), None, "full");
    }

    #[test]
    fn the_first_matching_rule_names_the_team() {
        let rule = |id, team, language: Option<&str>, category: Option<&str>| RoutingRule {
            id: RoutingRuleId::new(id),
            position: id,
            team_id: TeamId::new(team),
            team_name: String::new(),
            inbox_id: None,
            language: language.map(str::to_string),
            category: category.map(str::to_string),
        };
        let rules = [
            rule(1, 10, Some("zh"), Some("Returns")),
            rule(2, 20, Some("zh"), None),
            rule(3, 30, None, Some("shipping")),
        ];
        let facts = |language, topic| RoutingFacts {
            inbox: InboxId::new(1),
            language,
            topic,
        };
        assert_eq!(
            pick_team(&rules, &facts("zh", Some("returns"))),
            Some(TeamId::new(10))
        );
        assert_eq!(pick_team(&rules, &facts("zh", None)), Some(TeamId::new(20)));
        assert_eq!(
            pick_team(&rules, &facts("en", Some("Shipping"))),
            Some(TeamId::new(30))
        );
        assert_eq!(pick_team(&rules, &facts("en", None)), None);
    }

    #[test]
    fn actions_follow_the_status() {
        use ConversationStatus::*;
        assert_eq!(DeskAction::Reply.apply(Waiting), Ok(Assigned));
        assert_eq!(DeskAction::Reply.apply(Pending), Ok(Assigned));
        assert!(DeskAction::Reply.apply(Resolved).is_err());
        assert_eq!(DeskAction::Resolve.apply(Assigned), Ok(Resolved));
        assert!(DeskAction::Resolve.apply(Resolved).is_err());
        assert_eq!(DeskAction::Reopen.apply(Resolved), Ok(Assigned));
        assert!(DeskAction::Reopen.apply(Assigned).is_err());
        assert_eq!(DeskAction::HandBackToBot.apply(Assigned), Ok(Bot));
        assert!(DeskAction::HandBackToBot.apply(Bot).is_err());
        assert_eq!(DeskAction::TransferToTeam.apply(Assigned), Ok(Waiting));
    }

    #[test]
    fn canned_shortcuts_are_one_word() {
        assert_eq!(
            parse_canned("/Refund ", " Sure! "),
            Ok(("refund".to_string(), "Sure!".to_string()))
        );
        let errors = parse_canned("two words", "").expect_err("two problems");
        assert_eq!(errors.len(), 2);
        assert_eq!(
            parse_capacity("0").expect_err("too small").field,
            "capacity"
        );
        assert_eq!(parse_capacity(" 7 "), Ok(7));
    }
}
