//! Proactive messages: an admin's rule (trigger, conditions on the profile, message,
//! frequency cap) and the decision whether it fires for one customer now.

use serde::Serialize;

use super::{Language, Timestamp, ValidationError};

const MAX_NAME_CHARS: usize = 100;
const MAX_MESSAGE_CHARS: usize = 1_000;
const MAX_PATTERN_CHARS: usize = 500;
const MAX_EVENT_CHARS: usize = 64;
/// Longest wait on a page the widget will time (one hour).
const MAX_SECONDS_ON_PAGE: u32 = 3_600;
const MAX_CAP_SENDS: u32 = 100;
const MAX_CAP_DAYS: u32 = 365;

/// Entity id of a rule.
pub use super::ids::ProactiveRuleId;

/// What makes a rule look at a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// The shop's page tracked this event (`kefu('track', 'cart_abandoned')`).
    Event { name: String },
    /// The customer stayed this long on a page whose address matches the pattern
    /// (`*` matches anything, e.g. `*/checkout*`).
    Page {
        url_pattern: String,
        seconds_on_page: u32,
    },
}

/// What the profile must show for the rule to fire; empty parts always match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Conditions {
    /// Every one of these derived tags (`returning`, `interest:lighting`, …).
    pub tags: Vec<String>,
    pub language: Option<Language>,
    /// Attributes the shop set, each equal to this value (compared as text).
    pub attributes: Vec<(String, String)>,
}

/// At most `max_sends` messages of this rule to one customer in `per_days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FrequencyCap {
    pub max_sends: u32,
    pub per_days: u32,
}

impl FrequencyCap {
    /// The start of the window the cap counts sends in.
    pub fn window_start(self, now: Timestamp) -> Timestamp {
        Timestamp::from_unix_seconds(now.unix_seconds() - i64::from(self.per_days) * 86_400)
    }
}

/// A rule's content, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProactiveRuleContent {
    pub name: String,
    pub trigger: Trigger,
    pub conditions: Conditions,
    pub message: String,
    /// Up to three recommended items follow the message as cards.
    pub with_recommendations: bool,
    pub cap: FrequencyCap,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProactiveRule {
    pub id: ProactiveRuleId,
    #[serde(flatten)]
    pub content: ProactiveRuleContent,
    pub paused: bool,
    pub sends: i64,
}

/// The admin's form, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ProactiveRuleInput {
    pub name: String,
    /// `event` or `page`.
    pub trigger: String,
    #[serde(default)]
    pub event_name: String,
    #[serde(default)]
    pub url_pattern: String,
    #[serde(default)]
    pub seconds_on_page: String,
    /// Space- or comma-separated tags.
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub language: String,
    /// `key=value` per line.
    #[serde(default)]
    pub attributes: String,
    pub message: String,
    #[serde(default)]
    pub with_recommendations: Option<String>,
    pub max_sends: String,
    pub per_days: String,
}

impl ProactiveRuleContent {
    pub fn parse(input: &ProactiveRuleInput) -> Result<ProactiveRuleContent, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            problems.push(ValidationError::new(
                "name",
                format!("give the rule a name of 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        let trigger = match input.trigger.trim() {
            "event" => {
                let event = input.event_name.trim();
                if !is_event_name(event) {
                    problems.push(ValidationError::new(
                        "event_name",
                        format!(
                            "{event:?} is not an event name; use letters, digits, _ . - (e.g. cart_abandoned), at most {MAX_EVENT_CHARS}"
                        ),
                    ));
                }
                Trigger::Event {
                    name: event.to_string(),
                }
            }
            "page" => {
                let pattern = input.url_pattern.trim();
                if pattern.is_empty()
                    || pattern.chars().count() > MAX_PATTERN_CHARS
                    || pattern.chars().any(char::is_whitespace)
                {
                    problems.push(ValidationError::new(
                        "url_pattern",
                        format!(
                            "give a page address pattern without spaces, at most {MAX_PATTERN_CHARS} characters, e.g. */checkout*"
                        ),
                    ));
                }
                let seconds = input.seconds_on_page.trim().parse::<u32>().ok();
                if seconds.is_none_or(|s| s > MAX_SECONDS_ON_PAGE) {
                    problems.push(ValidationError::new(
                        "seconds_on_page",
                        format!("a whole number of seconds from 0 to {MAX_SECONDS_ON_PAGE}"),
                    ));
                }
                Trigger::Page {
                    url_pattern: pattern.to_string(),
                    seconds_on_page: seconds.unwrap_or(0),
                }
            }
            other => {
                problems.push(ValidationError::new(
                    "trigger",
                    format!("{other:?}: choose event or page"),
                ));
                Trigger::Event {
                    name: String::new(),
                }
            }
        };
        let tags: Vec<String> = input
            .tags
            .split([' ', ','])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
            .collect();
        let language = if input.language.trim().is_empty() {
            None
        } else {
            match Language::parse(&input.language) {
                Ok(language) => Some(language),
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            }
        };
        let mut attributes = Vec::new();
        for (index, line) in input.attributes.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match line.split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    attributes.push((key.trim().to_string(), value.trim().to_string()));
                }
                _ => problems.push(ValidationError::new(
                    "attributes",
                    format!("line {}: write key=value, e.g. plan=pro", index + 1),
                )),
            }
        }
        let message = input.message.trim().to_string();
        if message.is_empty() || message.chars().count() > MAX_MESSAGE_CHARS {
            problems.push(ValidationError::new(
                "message",
                format!("write the message, at most {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        let max_sends = input.max_sends.trim().parse::<u32>().ok();
        if max_sends.is_none_or(|n| n == 0 || n > MAX_CAP_SENDS) {
            problems.push(ValidationError::new(
                "max_sends",
                format!("from 1 to {MAX_CAP_SENDS} messages"),
            ));
        }
        let per_days = input.per_days.trim().parse::<u32>().ok();
        if per_days.is_none_or(|n| n == 0 || n > MAX_CAP_DAYS) {
            problems.push(ValidationError::new(
                "per_days",
                format!("from 1 to {MAX_CAP_DAYS} days"),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ProactiveRuleContent {
            name,
            trigger,
            conditions: Conditions {
                tags,
                language,
                attributes,
            },
            message,
            with_recommendations: input.with_recommendations.is_some(),
            cap: FrequencyCap {
                max_sends: max_sends.unwrap_or(1),
                per_days: per_days.unwrap_or(1),
            },
        })
    }

    /// The form again, for editing.
    pub fn to_input(&self) -> ProactiveRuleInput {
        let (trigger, event_name, url_pattern, seconds) = match &self.trigger {
            Trigger::Event { name } => ("event", name.clone(), String::new(), String::new()),
            Trigger::Page {
                url_pattern,
                seconds_on_page,
            } => (
                "page",
                String::new(),
                url_pattern.clone(),
                seconds_on_page.to_string(),
            ),
        };
        ProactiveRuleInput {
            name: self.name.clone(),
            trigger: trigger.into(),
            event_name,
            url_pattern,
            seconds_on_page: seconds,
            tags: self.conditions.tags.join(" "),
            language: self
                .conditions
                .language
                .as_ref()
                .map(|l| l.as_str().to_string())
                .unwrap_or_default(),
            attributes: self
                .conditions
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            message: self.message.clone(),
            with_recommendations: self.with_recommendations.then(|| "on".into()),
            max_sends: self.cap.max_sends.to_string(),
            per_days: self.cap.per_days.to_string(),
        }
    }
}

pub fn is_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_EVENT_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// What happened on the shop's page, as the rules see it.
#[derive(Debug, Clone)]
pub enum Occurrence<'a> {
    Event(&'a str),
    /// The widget timed the customer on `url` for `seconds`.
    PageTime {
        url: &'a str,
        seconds: u32,
    },
}

/// The customer as the conditions see them.
#[derive(Debug, Clone)]
pub struct Audience<'a> {
    pub tags: &'a [String],
    pub language: Option<&'a Language>,
    pub attributes: &'a serde_json::Value,
}

impl ProactiveRule {
    /// Whether this rule sends its message now, given how many it already sent this
    /// customer within the cap's window.
    pub fn fires(
        &self,
        occurrence: &Occurrence<'_>,
        audience: &Audience<'_>,
        sends_in_window: u32,
    ) -> bool {
        if self.paused || sends_in_window >= self.content.cap.max_sends {
            return false;
        }
        let triggered = match (&self.content.trigger, occurrence) {
            (Trigger::Event { name }, Occurrence::Event(event)) => name == event,
            (
                Trigger::Page {
                    url_pattern,
                    seconds_on_page,
                },
                Occurrence::PageTime { url, seconds },
            ) => seconds >= seconds_on_page && wildcard_match(url_pattern, url),
            _ => false,
        };
        triggered && self.content.conditions.met_by(audience)
    }
}

impl Conditions {
    pub fn met_by(&self, audience: &Audience<'_>) -> bool {
        let tags_met = self.tags.iter().all(|wanted| {
            audience
                .tags
                .iter()
                .any(|tag| tag.eq_ignore_ascii_case(wanted))
        });
        let language_met = self
            .language
            .as_ref()
            .is_none_or(|wanted| audience.language == Some(wanted));
        let attributes_met =
            self.attributes
                .iter()
                .all(|(key, wanted)| match &audience.attributes[key.as_str()] {
                    serde_json::Value::String(value) => value == wanted,
                    serde_json::Value::Bool(value) => {
                        wanted == if *value { "true" } else { "false" }
                    }
                    serde_json::Value::Number(value) => {
                        wanted.parse::<f64>().ok() == value.as_f64()
                    }
                    _ => false,
                });
        tags_met && language_met && attributes_met
    }
}

/// `*` matches any run of characters (also none); everything else matches itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, inner)) = middle.split_last() else {
        return rest.is_empty();
    };
    for part in inner {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> ProactiveRuleInput {
        ProactiveRuleInput {
            name: "Cart rescue".into(),
            trigger: "event".into(),
            event_name: "cart_abandoned".into(),
            tags: "returning".into(),
            message: "Need a hand with your cart?".into(),
            max_sends: "1".into(),
            per_days: "7".into(),
            ..ProactiveRuleInput::default()
        }
    }

    fn rule(content: ProactiveRuleContent) -> ProactiveRule {
        ProactiveRule {
            id: ProactiveRuleId::new(1),
            content,
            paused: false,
            sends: 0,
        }
    }

    #[test]
    fn wildcards_match_like_a_shell() {
        for (pattern, text, expected) in [
            ("*/checkout*", "https://shop.example/checkout?step=2", true),
            ("*/checkout*", "https://shop.example/cart", false),
            ("https://shop.example/", "https://shop.example/", true),
            ("https://shop.example/", "https://shop.example/x", false),
            ("*", "", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("*ab", "ab", true),
            ("a*a", "a", false),
        ] {
            assert_eq!(wildcard_match(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn a_rule_fires_on_its_trigger_for_its_audience_within_its_cap() {
        let rule = rule(ProactiveRuleContent::parse(&input()).expect("valid"));
        let returning = vec!["returning".to_string()];
        let audience = Audience {
            tags: &returning,
            language: None,
            attributes: &json!({}),
        };
        assert!(rule.fires(&Occurrence::Event("cart_abandoned"), &audience, 0));
        assert!(!rule.fires(&Occurrence::Event("cart_abandoned"), &audience, 1));
        assert!(!rule.fires(&Occurrence::Event("purchase"), &audience, 0));
        let newcomer = vec!["new".to_string()];
        let stranger = Audience {
            tags: &newcomer,
            ..audience.clone()
        };
        assert!(!rule.fires(&Occurrence::Event("cart_abandoned"), &stranger, 0));
        let paused = ProactiveRule {
            paused: true,
            ..rule.clone()
        };
        assert!(!paused.fires(&Occurrence::Event("cart_abandoned"), &audience, 0));
    }

    #[test]
    fn page_rules_wait_for_their_time_and_check_attributes() {
        let mut form = input();
        form.trigger = "page".into();
        form.url_pattern = "*/pricing".into();
        form.seconds_on_page = "30".into();
        form.tags = String::new();
        form.attributes = "plan = pro\n".into();
        let rule = rule(ProactiveRuleContent::parse(&form).expect("valid"));
        let pro = json!({"plan": "pro"});
        let audience = Audience {
            tags: &[],
            language: None,
            attributes: &pro,
        };
        let at = |seconds| Occurrence::PageTime {
            url: "https://shop.example/pricing",
            seconds,
        };
        assert!(!rule.fires(&at(10), &audience, 0));
        assert!(rule.fires(&at(30), &audience, 0));
        let free = json!({"plan": "free"});
        assert!(!rule.fires(
            &at(30),
            &Audience {
                attributes: &free,
                ..audience
            },
            0
        ));
        assert_eq!(
            ProactiveRuleContent::parse(&rule.content.to_input()).expect("round trip"),
            rule.content
        );
    }

    #[test]
    fn every_form_problem_is_reported() {
        let problems = ProactiveRuleContent::parse(&ProactiveRuleInput {
            trigger: "page".into(),
            max_sends: "0".into(),
            per_days: "x".into(),
            attributes: "nokey".into(),
            ..ProactiveRuleInput::default()
        })
        .expect_err("refused");
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "name",
                "url_pattern",
                "seconds_on_page",
                "attributes",
                "message",
                "max_sends",
                "per_days"
            ]
        );
    }
}
