//! Conversations and inboxes: the status a chat is in and the moves allowed between them,
//! who wrote a message, an inbox's validated settings and its business hours.

use serde::Serialize;

use super::{ValidationError, time::Timestamp};

/// The longest customer or agent message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 2_000;

/// Where a conversation stands. The bot speaks only in `Bot`; every other status belongs to
/// people, so the bot never talks over an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// The bot is answering.
    Bot,
    /// Handed off, queued for an agent.
    Waiting,
    /// An agent has it.
    Assigned,
    /// Handed off while nobody was available: the customer left a message to be answered.
    Pending,
    /// Done.
    Resolved,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Bot => "bot",
            ConversationStatus::Waiting => "waiting",
            ConversationStatus::Assigned => "assigned",
            ConversationStatus::Pending => "pending",
            ConversationStatus::Resolved => "resolved",
        }
    }

    /// Reads a status the store wrote.
    pub fn from_stored(raw: &str) -> Option<Self> {
        Some(match raw {
            "bot" => ConversationStatus::Bot,
            "waiting" => ConversationStatus::Waiting,
            "assigned" => ConversationStatus::Assigned,
            "pending" => ConversationStatus::Pending,
            "resolved" => ConversationStatus::Resolved,
            _ => return None,
        })
    }

    pub fn bot_may_reply(self) -> bool {
        self == ConversationStatus::Bot
    }

    /// A handoff moves a bot conversation to people; one already with people stays put.
    pub fn can_hand_off(self) -> bool {
        self == ConversationStatus::Bot
    }

    /// Whether a new customer message may go into this conversation (a resolved one is
    /// done: the customer's next message starts a new conversation).
    pub fn is_open(self) -> bool {
        self != ConversationStatus::Resolved
    }
}

/// Why a conversation went to people: stored, shown to agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// "转人工", "talk to a human", or the button.
    Requested,
    /// The bot could not answer several messages in a row.
    Unanswered,
    /// The message read as angry or distressed.
    Upset,
}

impl HandoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::Requested => "requested",
            HandoffReason::Unanswered => "unanswered",
            HandoffReason::Upset => "upset",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    Bot,
    Agent,
    System,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Customer => "customer",
            Author::Bot => "bot",
            Author::Agent => "agent",
            Author::System => "system",
        }
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        Some(match raw {
            "customer" => Author::Customer,
            "bot" => Author::Bot,
            "agent" => Author::Agent,
            "system" => Author::System,
            _ => return None,
        })
    }
}

/// A message text as a person typed it: trimmed, not empty, not too long.
pub fn parse_message_text(raw: &str) -> Result<String, ValidationError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ValidationError::new("message", "is empty; type a message"));
    }
    let length = text.chars().count();
    if length > MESSAGE_MAX_CHARS {
        return Err(ValidationError::new(
            "message",
            format!(
                "is {length} characters long; the limit is {MESSAGE_MAX_CHARS}. Split it into shorter messages"
            ),
        ));
    }
    Ok(text.to_string())
}

/// An origin allowed to embed the widget: scheme, host and port, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebOrigin(String);

impl WebOrigin {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let raw = raw.trim().trim_end_matches('/');
        let invalid = || {
            ValidationError::new(
                "allowed_origins",
                format!(
                    "{raw:?} is not an origin; write it like https://shop.example or http://localhost:8080"
                ),
            )
        };
        let (scheme, rest) = raw.split_once("://").ok_or_else(invalid)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid());
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| invalid())?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
        if !host_ok {
            return Err(invalid());
        }
        let host = host.to_ascii_lowercase();
        Ok(WebOrigin(match port {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Weekly opening hours in the shop's local time, e.g. `mon-fri 09:00-18:00`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BusinessHours {
    /// (weekday 0 = Monday, opens at minute, closes at minute) in local time.
    spans: Vec<(u8, u16, u16)>,
    utc_offset_minutes: i32,
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_DAY: i64 = 24 * 60;

impl BusinessHours {
    /// Parses one rule per line (`mon-fri 09:00-18:00`, `sat 10:00-14:00`); no lines means
    /// always open.
    pub fn parse(text: &str, utc_offset_minutes: i32) -> Result<Self, ValidationError> {
        if !(-12 * 60..=14 * 60).contains(&utc_offset_minutes) {
            return Err(ValidationError::new(
                "utc_offset_minutes",
                "must be between -720 and 840 (UTC-12:00 to UTC+14:00)",
            ));
        }
        let mut spans = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let invalid = || {
                ValidationError::new(
                    "business_hours",
                    format!(
                        "line {}: {line:?} is not like \"mon-fri 09:00-18:00\" or \"sat 10:00-14:00\"",
                        number + 1
                    ),
                )
            };
            let (days, hours) = line.split_once(char::is_whitespace).ok_or_else(invalid)?;
            let day_index = |name: &str| {
                WEEKDAYS
                    .iter()
                    .position(|d| d.eq_ignore_ascii_case(name.trim()))
            };
            let (first, last) = match days.split_once('-') {
                Some((a, b)) => (day_index(a), day_index(b)),
                None => (day_index(days), day_index(days)),
            };
            let (Some(first), Some(last)) = (first, last) else {
                return Err(invalid());
            };
            let (open, close) = hours.trim().split_once('-').ok_or_else(invalid)?;
            let (Some(open), Some(close)) = (clock_minutes(open), clock_minutes(close)) else {
                return Err(invalid());
            };
            if open >= close {
                return Err(invalid());
            }
            let mut day = first;
            loop {
                spans.push((u8::try_from(day).unwrap_or(0), open, close));
                if day == last {
                    break;
                }
                day = (day + 1) % 7;
            }
        }
        Ok(BusinessHours {
            spans,
            utc_offset_minutes,
        })
    }

    pub fn always_open(&self) -> bool {
        self.spans.is_empty()
    }

    /// The offset of the shop's local time from UTC.
    pub fn utc_offset_minutes(&self) -> i32 {
        self.utc_offset_minutes
    }

    /// The open spans (opening minute, closing minute) of a weekday (0 = Monday), earliest
    /// first. Always-open hours have none: ask `always_open`.
    pub fn spans_on(&self, weekday: u8) -> Vec<(u16, u16)> {
        let mut spans: Vec<(u16, u16)> = self
            .spans
            .iter()
            .filter(|&&(day, _, _)| day == weekday)
            .map(|&(_, open, close)| (open, close))
            .collect();
        spans.sort_unstable();
        spans
    }

    /// Whether `at` falls in opening hours.
    pub fn is_open(&self, at: Timestamp) -> bool {
        if self.always_open() {
            return true;
        }
        let (weekday, minute) = self.local(at);
        self.spans
            .iter()
            .any(|&(day, open, close)| day == weekday && (open..close).contains(&minute))
    }

    /// The next time the shop opens after `at` (`at` itself when open now).
    pub fn next_opening(&self, at: Timestamp) -> Timestamp {
        if self.is_open(at) {
            return at;
        }
        let (weekday, minute) = self.local(at);
        let mut best: Option<i64> = None;
        for &(day, open, _) in &self.spans {
            let mut days_ahead = (i64::from(day) - i64::from(weekday)).rem_euclid(7);
            if days_ahead == 0 && i64::from(open) <= i64::from(minute) {
                days_ahead = 7;
            }
            let wait = days_ahead * MINUTES_PER_DAY + i64::from(open) - i64::from(minute);
            best = Some(best.map_or(wait, |b: i64| b.min(wait)));
        }
        let wait_minutes = best.unwrap_or(0);
        Timestamp::from_unix_seconds(
            at.unix_seconds() - at.unix_seconds().rem_euclid(60) + wait_minutes * 60,
        )
    }

    /// Weekday (0 = Monday) and minute of the day in the shop's time.
    fn local(&self, at: Timestamp) -> (u8, u16) {
        let local_minutes = at.unix_seconds().div_euclid(60) + i64::from(self.utc_offset_minutes);
        let days = local_minutes.div_euclid(MINUTES_PER_DAY);
        // 1970-01-01 was a Thursday (weekday 3).
        let weekday = u8::try_from((days + 3).rem_euclid(7)).unwrap_or(0);
        let minute = u16::try_from(local_minutes.rem_euclid(MINUTES_PER_DAY)).unwrap_or(0);
        (weekday, minute)
    }

    /// "Mon 09:00" style local time of `at`, for telling a customer when to expect an answer.
    pub fn describe_local(&self, at: Timestamp) -> String {
        let (weekday, minute) = self.local(at);
        format!(
            "{} {:02}:{:02}",
            capitalise(WEEKDAYS[usize::from(weekday)]),
            minute / 60,
            minute % 60
        )
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn clock_minutes(raw: &str) -> Option<u16> {
    let (hours, minutes) = raw.trim().split_once(':')?;
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    // 24:00 closes at midnight.
    if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
        return None;
    }
    Some(hours * 60 + minutes)
}

/// The widget's language setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetLanguage {
    /// Follow each customer's messages (and the browser's language before the first one).
    Auto,
    Zh,
    En,
}

impl WidgetLanguage {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.trim() {
            "" | "auto" => Ok(WidgetLanguage::Auto),
            "zh" => Ok(WidgetLanguage::Zh),
            "en" => Ok(WidgetLanguage::En),
            other => Err(ValidationError::new(
                "language",
                format!("{other:?} is not one of auto, zh, en"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WidgetLanguage::Auto => "auto",
            WidgetLanguage::Zh => "zh",
            WidgetLanguage::En => "en",
        }
    }
}

/// What an admin sends to create or change an inbox, before validation.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct InboxInput {
    pub name: String,
    pub allowed_origins: String,
    pub greeting: String,
    pub color: String,
    pub position: String,
    pub language: String,
    pub offline_message: String,
    #[serde(default)]
    pub business_hours: String,
    #[serde(default)]
    pub utc_offset_minutes: i32,
    #[serde(default)]
    pub require_identity: Option<String>,
    #[serde(default = "default_unanswered")]
    pub unanswered_before_handoff: i64,
}

fn default_unanswered() -> i64 {
    2
}

/// An inbox's settings, every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxSettings {
    pub name: String,
    pub allowed_origins: Vec<WebOrigin>,
    pub greeting: String,
    pub color: String,
    pub position: String,
    pub language: WidgetLanguage,
    pub offline_message: String,
    pub business_hours_text: String,
    pub utc_offset_minutes: i32,
    pub require_identity: bool,
    pub unanswered_before_handoff: i64,
}

const MAX_ORIGINS: usize = 20;

impl InboxSettings {
    /// Checks every field and reports all problems at once.
    pub fn parse(input: InboxInput) -> Result<InboxSettings, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 80 {
            errors.push(ValidationError::new(
                "name",
                "must be 1 to 80 characters, e.g. \"Website\"",
            ));
        }
        let mut allowed_origins = Vec::new();
        for line in input
            .allowed_origins
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            match WebOrigin::parse(line) {
                Ok(origin) if !allowed_origins.contains(&origin) => allowed_origins.push(origin),
                Ok(_) => {}
                Err(error) => errors.push(error),
            }
        }
        if allowed_origins.len() > MAX_ORIGINS {
            errors.push(ValidationError::new(
                "allowed_origins",
                format!("at most {MAX_ORIGINS} origins"),
            ));
        }
        let mut text = |field: &'static str, value: &str, limit: usize| {
            let value = value.trim().to_string();
            if value.chars().count() > limit {
                errors.push(ValidationError::new(
                    field,
                    format!("is longer than {limit} characters"),
                ));
            }
            value
        };
        let greeting = text("greeting", &input.greeting, 500);
        let offline_message = text("offline_message", &input.offline_message, 500);
        let color = input.color.trim().to_string();
        let color_ok = color.len() == 7
            && color.starts_with('#')
            && color[1..].chars().all(|c| c.is_ascii_hexdigit());
        if !color_ok {
            errors.push(ValidationError::new(
                "color",
                format!("{color:?} is not a colour like #2563eb"),
            ));
        }
        let position = input.position.trim().to_string();
        if position != "right" && position != "left" {
            errors.push(ValidationError::new("position", "must be right or left"));
        }
        let language = WidgetLanguage::parse(&input.language).unwrap_or_else(|error| {
            errors.push(error);
            WidgetLanguage::Auto
        });
        if let Err(error) = BusinessHours::parse(&input.business_hours, input.utc_offset_minutes) {
            errors.push(error);
        }
        if !(1..=10).contains(&input.unanswered_before_handoff) {
            errors.push(ValidationError::new(
                "unanswered_before_handoff",
                "must be between 1 and 10",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(InboxSettings {
            name,
            allowed_origins,
            greeting,
            color: color.to_ascii_lowercase(),
            position,
            language,
            offline_message,
            business_hours_text: input.business_hours.trim().to_string(),
            utc_offset_minutes: input.utc_offset_minutes,
            require_identity: input.require_identity.is_some_and(|v| !v.is_empty()),
            unanswered_before_handoff: input.unanswered_before_handoff,
        })
    }
}

/// A stored inbox.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub id: super::InboxId,
    pub public_token: String,
    pub identity_secret: String,
    pub settings: InboxSettings,
    pub created_at: Timestamp,
}

impl Inbox {
    pub fn business_hours(&self) -> BusinessHours {
        BusinessHours::parse(
            &self.settings.business_hours_text,
            self.settings.utc_offset_minutes,
        )
        .unwrap_or_default()
    }

    /// The `frame-ancestors` sources for the widget page: the allowed origins, or none.
    pub fn frame_ancestors(&self) -> String {
        if self.settings.allowed_origins.is_empty() {
            return "'none'".to_string();
        }
        self.settings
            .allowed_origins
            .iter()
            .map(WebOrigin::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A stored conversation.
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    pub id: super::ConversationId,
    pub inbox_id: super::InboxId,
    pub customer_id: super::CustomerId,
    pub status: ConversationStatus,
    pub assignee_id: Option<super::UserId>,
    pub language: String,
    pub unanswered: i64,
    pub handoff_reason: Option<String>,
    pub handed_off_at: Option<Timestamp>,
    pub contact: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The team routing chose (or an agent transferred it to).
    pub team_id: Option<super::TeamId>,
    /// The knowledge-base category of what the customer last asked.
    pub topic: Option<String>,
}

/// A stored message. `details` is the JSON the bot recorded about its reply.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: super::MessageId,
    pub conversation_id: super::ConversationId,
    pub author: Author,
    pub author_user_id: Option<super::UserId>,
    pub body: String,
    pub details: serde_json::Value,
    pub private: bool,
    pub feedback: Option<String>,
    pub created_at: Timestamp,
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub author: Author,
    pub author_user_id: Option<super::UserId>,
    pub body: String,
    pub details: serde_json::Value,
    pub private: bool,
}

/// A customer as the widget knows them.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: super::CustomerId,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub attributes: serde_json::Value,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23 was a Monday; 00:00 UTC.
    const MONDAY_MIDNIGHT_UTC: i64 = 1_795_392_000;

    fn at(days: i64, hour: i64, minute: i64) -> Timestamp {
        Timestamp::from_unix_seconds(MONDAY_MIDNIGHT_UTC + ((days * 24 + hour) * 60 + minute) * 60)
    }

    #[test]
    fn only_the_bot_status_lets_the_bot_reply_or_hand_off() {
        for status in [
            ConversationStatus::Waiting,
            ConversationStatus::Assigned,
            ConversationStatus::Pending,
            ConversationStatus::Resolved,
        ] {
            assert!(!status.bot_may_reply());
            assert!(!status.can_hand_off());
            assert_eq!(
                ConversationStatus::from_stored(status.as_str()),
                Some(status)
            );
        }
        assert!(ConversationStatus::Bot.bot_may_reply());
    }

    #[test]
    fn business_hours_follow_the_weekday_and_offset() {
        let hours =
            BusinessHours::parse("mon-fri 09:00-18:00\nsat 10:00-14:00", 8 * 60).expect("valid");
        // Monday 01:00 UTC is 09:00 in UTC+8.
        assert!(hours.is_open(at(0, 1, 0)));
        assert!(!hours.is_open(at(0, 0, 59)));
        // Saturday 05:00 UTC = 13:00 local; Sunday closed all day.
        assert!(hours.is_open(at(5, 5, 0)));
        assert!(!hours.is_open(at(6, 5, 0)));
        // Saturday 07:00 UTC = 15:00 local, closed: opens Monday 09:00 local = Monday 01:00 UTC.
        assert_eq!(hours.next_opening(at(5, 7, 0)), at(7, 1, 0));
        assert_eq!(hours.describe_local(at(7, 1, 0)), "Mon 09:00");
        assert!(
            BusinessHours::parse("", 0)
                .expect("empty")
                .is_open(at(6, 3, 0))
        );
    }

    #[test]
    fn bad_business_hours_name_the_line() {
        let error = BusinessHours::parse("mon-fri 09:00-18:00\nfunday 9-5", 0).expect_err("bad");
        assert!(error.message.contains("line 2"), "{error}");
        assert!(BusinessHours::parse("mon 18:00-09:00", 0).is_err());
        assert!(BusinessHours::parse("", 24 * 60).is_err());
    }

    #[test]
    fn origins_are_normalised_and_checked() {
        assert_eq!(
            WebOrigin::parse("HTTPS://Shop.Example/")
                .expect("ok")
                .as_str(),
            "https://shop.example"
        );
        assert_eq!(
            WebOrigin::parse("http://127.0.0.1:8080")
                .expect("ok")
                .as_str(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "shop.example",
            "ftp://x",
            "https://a b",
            "https://x:port",
            "https://",
        ] {
            assert!(WebOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn message_text_limits_are_explained() {
        assert!(parse_message_text("   ").is_err());
        let long = "好".repeat(MESSAGE_MAX_CHARS + 1);
        let error = parse_message_text(&long).expect_err("too long");
        assert!(error.message.contains("limit is 2000"), "{error}");
        assert_eq!(parse_message_text(" hi ").expect("ok"), "hi");
    }

    #[test]
    fn inbox_settings_report_every_problem() {
        let errors = InboxSettings::parse(InboxInput {
            name: String::new(),
            allowed_origins: "nope".into(),
            color: "blue".into(),
            position: "top".into(),
            language: "fr".into(),
            unanswered_before_handoff: 0,
            ..InboxInput::default()
        })
        .expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        for field in [
            "name",
            "allowed_origins",
            "color",
            "position",
            "language",
            "unanswered_before_handoff",
        ] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
    }
}
