//! What a customer's history says about them: tags derived from their events, questions and
//! purchases, each with the reason it was given, so an agent can trust or discount it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Timestamp;

/// A category counts as an interest from this many signals (events or questions) on.
const INTEREST_SIGNALS: usize = 2;
/// At most this many interests are shown: the strongest first.
const MAX_INTERESTS: usize = 3;
/// A customer first seen within this many days, with one conversation and no purchase.
const NEW_CUSTOMER_DAYS: i64 = 30;
/// Value bands by the total of purchases, in hundredths of the shop's currency.
const HIGH_VALUE_CENTS: i64 = 100_000;
const MEDIUM_VALUE_CENTS: i64 = 20_000;

/// Event names with a meaning in the profile; any other name is kept on the timeline only.
pub const PURCHASE: &str = "purchase";
pub const ADD_TO_CART: &str = "add_to_cart";
pub const CART_ABANDONED: &str = "cart_abandoned";

/// One tracked event as the profile reads it.
#[derive(Debug, Clone)]
pub struct ProfileEvent {
    pub name: String,
    pub properties: serde_json::Value,
    pub at: Timestamp,
}

impl ProfileEvent {
    /// The items an event is about: `item_id`, or each `items[].item_id` / `items[]`.
    pub fn item_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        if let Some(id) = scalar_text(&self.properties["item_id"]) {
            ids.push(id);
        }
        if let Some(items) = self.properties["items"].as_array() {
            for item in items {
                if let Some(id) = scalar_text(&item["item_id"]).or_else(|| scalar_text(item)) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// `value` (or `price`), in cents, when the event carries one.
    pub fn value_cents(&self) -> Option<i64> {
        let value = ["value", "revenue", "price", "amount"]
            .iter()
            .find_map(|key| number(&self.properties[*key]))?;
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        // Event values are approximate by nature (JavaScript numbers).
        #[allow(clippy::cast_possible_truncation)]
        Some((value * 100.0).round() as i64)
    }

    pub fn category(&self) -> Option<String> {
        scalar_text(&self.properties["category"])
    }
}

fn scalar_text(value: &serde_json::Value) -> Option<String> {
    let text = match value {
        serde_json::Value::String(text) => text.trim().to_string(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.chars().count() <= 200).then_some(text)
}

fn number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(number) => number.as_f64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Everything the tags are derived from.
#[derive(Debug, Clone)]
pub struct ProfileFacts {
    pub first_seen: Timestamp,
    pub conversations: usize,
    pub events: Vec<ProfileEvent>,
    /// Knowledge-base categories of the questions the bot answered for them.
    pub asked_categories: Vec<String>,
    /// Catalog categories of the items their events name, by item id.
    pub item_categories: BTreeMap<String, String>,
    /// Catalog prices of those items, for purchases that carry no value.
    pub item_prices: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagKind {
    Interest,
    Lifecycle,
    Value,
    Cart,
}

/// A derived tag and why it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileTag {
    pub kind: TagKind,
    /// What rules match on and lists filter by: `interest:lighting`, `returning`,
    /// `value:high`, `cart_abandoned`.
    pub tag: String,
    pub reason: String,
}

/// The tags of a customer at `now`, strongest interests first.
pub fn derive_tags(facts: &ProfileFacts, now: Timestamp) -> Vec<ProfileTag> {
    let mut tags = interests(facts);
    tags.push(lifecycle(facts, now));
    if let Some(value) = value_band(facts) {
        tags.push(value);
    }
    if let Some(cart) = abandoned_cart(facts) {
        tags.push(cart);
    }
    tags
}

/// The names of the purchased items, in order of purchase.
pub fn purchased_items(events: &[ProfileEvent]) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for event in events.iter().filter(|e| e.name == PURCHASE) {
        for id in event.item_ids() {
            if !items.contains(&id) {
                items.push(id);
            }
        }
    }
    items
}

/// The items a customer bought or put in a cart, in order: what "bought together" starts
/// from.
pub fn basket_items(events: &[ProfileEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.name == PURCHASE || event.name == ADD_TO_CART)
        .flat_map(ProfileEvent::item_ids)
        .collect()
}

/// The interest categories among `tags`, strongest first.
pub fn interest_categories(tags: &[ProfileTag]) -> Vec<String> {
    tags.iter()
        .filter(|tag| tag.kind == TagKind::Interest)
        .filter_map(|tag| tag.tag.strip_prefix("interest:").map(str::to_string))
        .collect()
}

fn interests(facts: &ProfileFacts) -> Vec<ProfileTag> {
    #[derive(Default)]
    struct Signals {
        events: usize,
        questions: usize,
    }
    let mut by_category: BTreeMap<String, Signals> = BTreeMap::new();
    for event in &facts.events {
        let mut categories: Vec<String> = event.category().into_iter().collect();
        for id in event.item_ids() {
            if let Some(category) = facts.item_categories.get(&id)
                && !categories.contains(category)
            {
                categories.push(category.clone());
            }
        }
        for category in categories {
            by_category
                .entry(category.to_lowercase())
                .or_default()
                .events += 1;
        }
    }
    for category in &facts.asked_categories {
        by_category
            .entry(category.to_lowercase())
            .or_default()
            .questions += 1;
    }
    let mut ranked: Vec<(String, Signals)> = by_category
        .into_iter()
        .filter(|(_, s)| s.events + s.questions >= INTEREST_SIGNALS)
        .collect();
    ranked.sort_by(|a, b| {
        (b.1.events + b.1.questions)
            .cmp(&(a.1.events + a.1.questions))
            .then_with(|| a.0.cmp(&b.0))
    });
    ranked
        .into_iter()
        .take(MAX_INTERESTS)
        .map(|(category, signals)| {
            let mut parts = Vec::new();
            if signals.events > 0 {
                parts.push(plural(signals.events, "event", "events"));
            }
            if signals.questions > 0 {
                parts.push(plural(signals.questions, "question", "questions"));
            }
            ProfileTag {
                kind: TagKind::Interest,
                tag: format!("interest:{category}"),
                reason: format!("{} about {category}", parts.join(" and ")),
            }
        })
        .collect()
}

fn lifecycle(facts: &ProfileFacts, now: Timestamp) -> ProfileTag {
    let purchases = facts.events.iter().filter(|e| e.name == PURCHASE).count();
    let age_days = (now.unix_seconds() - facts.first_seen.unix_seconds()) / 86_400;
    if purchases == 0 && facts.conversations <= 1 && age_days < NEW_CUSTOMER_DAYS {
        ProfileTag {
            kind: TagKind::Lifecycle,
            tag: "new".into(),
            reason: format!(
                "first seen {} ago, {} and no purchase yet",
                days(age_days),
                plural(facts.conversations, "conversation", "conversations")
            ),
        }
    } else {
        let mut parts = vec![plural(facts.conversations, "conversation", "conversations")];
        if purchases > 0 {
            parts.push(plural(purchases, "purchase", "purchases"));
        }
        ProfileTag {
            kind: TagKind::Lifecycle,
            tag: "returning".into(),
            reason: format!("{}; first seen {} ago", parts.join(", "), days(age_days)),
        }
    }
}

fn value_band(facts: &ProfileFacts) -> Option<ProfileTag> {
    let mut total = 0i64;
    let mut purchases = 0usize;
    for event in facts.events.iter().filter(|e| e.name == PURCHASE) {
        purchases += 1;
        let value = event.value_cents().unwrap_or_else(|| {
            event
                .item_ids()
                .iter()
                .filter_map(|id| facts.item_prices.get(id))
                .sum()
        });
        total = total.saturating_add(value);
    }
    if purchases == 0 {
        return None;
    }
    let band = if total >= HIGH_VALUE_CENTS {
        "high"
    } else if total >= MEDIUM_VALUE_CENTS {
        "medium"
    } else {
        "low"
    };
    Some(ProfileTag {
        kind: TagKind::Value,
        tag: format!("value:{band}"),
        reason: format!(
            "{} worth {}.{:02} in total",
            plural(purchases, "purchase", "purchases"),
            total / 100,
            total % 100
        ),
    })
}

/// A cart left after the last purchase (or with none).
fn abandoned_cart(facts: &ProfileFacts) -> Option<ProfileTag> {
    let last_purchase = facts
        .events
        .iter()
        .filter(|e| e.name == PURCHASE)
        .map(|e| e.at)
        .max();
    let abandoned = facts
        .events
        .iter()
        .filter(|e| e.name == CART_ABANDONED && last_purchase.is_none_or(|p| e.at > p))
        .max_by_key(|e| e.at)?;
    let items = abandoned.item_ids();
    Some(ProfileTag {
        kind: TagKind::Cart,
        tag: CART_ABANDONED.into(),
        reason: if items.is_empty() {
            "left a cart without buying".into()
        } else {
            format!("left {} in the cart without buying", items.join(", "))
        },
    })
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn days(count: i64) -> String {
    match count {
        0 => "less than a day".into(),
        1 => "1 day".into(),
        _ => format!("{count} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DAY: i64 = 86_400;

    fn event(name: &str, properties: serde_json::Value, day: i64) -> ProfileEvent {
        ProfileEvent {
            name: name.into(),
            properties,
            at: Timestamp::from_unix_seconds(day * DAY),
        }
    }

    fn facts(events: Vec<ProfileEvent>) -> ProfileFacts {
        ProfileFacts {
            first_seen: Timestamp::from_unix_seconds(0),
            conversations: 1,
            events,
            asked_categories: Vec::new(),
            item_categories: BTreeMap::from([("L1".into(), "Lighting".into())]),
            item_prices: BTreeMap::from([("L1".into(), 59_900)]),
        }
    }

    fn tag_names(tags: &[ProfileTag]) -> Vec<&str> {
        tags.iter().map(|t| t.tag.as_str()).collect()
    }

    #[test]
    fn a_first_visit_is_new_and_buying_makes_a_returning_valued_customer() {
        let now = Timestamp::from_unix_seconds(3 * DAY);
        assert_eq!(tag_names(&derive_tags(&facts(vec![]), now)), ["new"]);

        let bought = facts(vec![
            event("page_view", json!({"item_id": "L1"}), 1),
            event(PURCHASE, json!({"items": [{"item_id": "L1"}, "L1"]}), 2),
            event(PURCHASE, json!({"item_id": "X", "value": 450.5}), 2),
        ]);
        let tags = derive_tags(&bought, now);
        assert_eq!(
            tag_names(&tags),
            ["interest:lighting", "returning", "value:high"]
        );
        assert_eq!(tags[0].reason, "2 events about lighting");
        // 599.00 + 599.00 (two lines of L1 at the catalog price) + 450.50
        assert_eq!(tags[2].reason, "2 purchases worth 1648.50 in total");
    }

    #[test]
    fn questions_count_toward_interests_and_a_later_purchase_clears_the_cart() {
        let mut asked = facts(vec![event(CART_ABANDONED, json!({"item_id": "L1"}), 1)]);
        asked.asked_categories = vec!["Returns".into(), "returns".into(), "payment".into()];
        let tags = derive_tags(&asked, Timestamp::from_unix_seconds(2 * DAY));
        assert_eq!(
            tag_names(&tags),
            ["interest:returns", "new", "cart_abandoned"]
        );
        assert_eq!(tags[0].reason, "2 questions about returns");
        assert_eq!(tags[2].reason, "left L1 in the cart without buying");

        asked
            .events
            .push(event(PURCHASE, json!({"item_id": "L1"}), 2));
        let tags = derive_tags(&asked, Timestamp::from_unix_seconds(40 * DAY));
        assert!(!tag_names(&tags).contains(&"cart_abandoned"), "{tags:?}");
        assert!(tag_names(&tags).contains(&"value:medium"), "{tags:?}");
    }

    #[test]
    fn purchased_items_are_listed_once_in_order() {
        let events = vec![
            event(
                PURCHASE,
                json!({"items": [{"item_id": "B"}, {"item_id": 7}]}),
                1,
            ),
            event(ADD_TO_CART, json!({"item_id": "C"}), 1),
            event(PURCHASE, json!({"item_id": "B"}), 2),
        ];
        assert_eq!(purchased_items(&events), ["B", "7"]);
    }
}
