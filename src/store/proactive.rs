//! Proactive-message rules and their sends; the frequency cap is checked and the send
//! recorded in one transaction, so two events at once cannot both pass it.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::domain::proactive::{
    Conditions, FrequencyCap, ProactiveRule, ProactiveRuleContent, ProactiveRuleId, Trigger,
};
use crate::domain::{ConversationId, CustomerId, Language, Timestamp};

const RULE_COLUMNS: &str = "r.id, r.name, r.trigger, r.conditions, r.message,
     r.with_recommendations, r.max_sends, r.per_days, r.paused,
     (SELECT count(*) FROM proactive_sends s WHERE s.rule_id = r.id)";

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredConditions {
    tags: Vec<String>,
    language: Option<String>,
    attributes: Vec<(String, String)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StoredTrigger {
    Event {
        name: String,
    },
    Page {
        url_pattern: String,
        seconds_on_page: u32,
    },
}

fn rule_from_row(row: &Row<'_>) -> rusqlite::Result<ProactiveRule> {
    let trigger: String = row.get(2)?;
    let conditions: String = row.get(3)?;
    let trigger = match serde_json::from_str(&trigger) {
        Ok(StoredTrigger::Event { name }) => Trigger::Event { name },
        Ok(StoredTrigger::Page {
            url_pattern,
            seconds_on_page,
        }) => Trigger::Page {
            url_pattern,
            seconds_on_page,
        },
        Err(error) => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                Box::new(error),
            ));
        }
    };
    let conditions: StoredConditions = serde_json::from_str(&conditions).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(error))
    })?;
    Ok(ProactiveRule {
        id: ProactiveRuleId::new(row.get(0)?),
        content: ProactiveRuleContent {
            name: row.get(1)?,
            trigger,
            conditions: Conditions {
                tags: conditions.tags,
                language: conditions
                    .language
                    .and_then(|language| Language::parse(&language).ok()),
                attributes: conditions.attributes,
            },
            message: row.get(4)?,
            with_recommendations: row.get(5)?,
            cap: FrequencyCap {
                max_sends: row.get(6)?,
                per_days: row.get(7)?,
            },
        },
        paused: row.get(8)?,
        sends: row.get(9)?,
    })
}

fn trigger_json(trigger: &Trigger) -> String {
    let stored = match trigger {
        Trigger::Event { name } => StoredTrigger::Event { name: name.clone() },
        Trigger::Page {
            url_pattern,
            seconds_on_page,
        } => StoredTrigger::Page {
            url_pattern: url_pattern.clone(),
            seconds_on_page: *seconds_on_page,
        },
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

fn conditions_json(conditions: &Conditions) -> String {
    serde_json::to_string(&StoredConditions {
        tags: conditions.tags.clone(),
        language: conditions
            .language
            .as_ref()
            .map(|language| language.as_str().to_string()),
        attributes: conditions.attributes.clone(),
    })
    .unwrap_or_default()
}

impl Store {
    pub async fn proactive_rules(&self) -> Result<Vec<ProactiveRule>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {RULE_COLUMNS} FROM proactive_rules r ORDER BY r.id"
            ))?;
            let rows = statement.query_map([], rule_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn proactive_rule(&self, id: ProactiveRuleId) -> Result<ProactiveRule, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {RULE_COLUMNS} FROM proactive_rules r WHERE r.id = ?1"),
                [id.get()],
                rule_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    /// Creates a rule, or replaces the content of `id`.
    pub async fn save_proactive_rule(
        &self,
        id: Option<ProactiveRuleId>,
        content: ProactiveRuleContent,
        now: Timestamp,
    ) -> Result<ProactiveRuleId, StoreError> {
        self.write(move |conn| {
            let values = params![
                content.name,
                trigger_json(&content.trigger),
                conditions_json(&content.conditions),
                content.message,
                content.with_recommendations,
                content.cap.max_sends,
                content.cap.per_days,
                now.unix_seconds(),
            ];
            match id {
                None => {
                    conn.execute(
                        "INSERT INTO proactive_rules (name, trigger, conditions, message,
                             with_recommendations, max_sends, per_days, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                        values,
                    )?;
                    Ok(ProactiveRuleId::new(conn.last_insert_rowid()))
                }
                Some(id) => {
                    let changed = conn.execute(
                        &format!(
                            "UPDATE proactive_rules SET name = ?1, trigger = ?2, conditions = ?3,
                                 message = ?4, with_recommendations = ?5, max_sends = ?6,
                                 per_days = ?7, updated_at = ?8 WHERE id = {}",
                            id.get()
                        ),
                        values,
                    )?;
                    if changed == 0 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(id)
                }
            }
        })
        .await
    }

    pub async fn set_proactive_rule_paused(
        &self,
        id: ProactiveRuleId,
        paused: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            match conn.execute(
                "UPDATE proactive_rules SET paused = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.get(), paused, now.unix_seconds()],
            )? {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }

    pub async fn delete_proactive_rule(&self, id: ProactiveRuleId) -> Result<(), StoreError> {
        self.write(move |conn| {
            match conn.execute("DELETE FROM proactive_rules WHERE id = ?1", [id.get()])? {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }

    /// How many messages of `rule` the customer got since `since`.
    pub async fn proactive_sends_since(
        &self,
        rule: ProactiveRuleId,
        customer: CustomerId,
        since: Timestamp,
    ) -> Result<u32, StoreError> {
        self.read(move |conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM proactive_sends
                 WHERE customer_id = ?1 AND rule_id = ?2 AND created_at > ?3",
                params![customer.get(), rule.get(), since.unix_seconds()],
                |row| row.get(0),
            )?)
        })
        .await
    }

    /// Records a send unless the cap is already reached (`false` then): the check and the
    /// record are one transaction.
    pub async fn claim_proactive_send(
        &self,
        rule: ProactiveRuleId,
        customer: CustomerId,
        cap: FrequencyCap,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let sent: u32 = transaction.query_row(
                "SELECT count(*) FROM proactive_sends
                 WHERE customer_id = ?1 AND rule_id = ?2 AND created_at > ?3",
                params![
                    customer.get(),
                    rule.get(),
                    cap.window_start(now).unix_seconds()
                ],
                |row| row.get(0),
            )?;
            if sent >= cap.max_sends {
                return Ok(false);
            }
            transaction.execute(
                "INSERT INTO proactive_sends (rule_id, customer_id, created_at) VALUES (?1, ?2, ?3)",
                params![rule.get(), customer.get(), now.unix_seconds()],
            )?;
            transaction.commit()?;
            Ok(true)
        })
        .await
    }

    /// Links the latest send of `rule` to the conversation it went into.
    pub async fn link_proactive_send(
        &self,
        rule: ProactiveRuleId,
        customer: CustomerId,
        conversation: ConversationId,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE proactive_sends SET conversation_id = ?3 WHERE id =
                     (SELECT max(id) FROM proactive_sends WHERE rule_id = ?1 AND customer_id = ?2)",
                params![rule.get(), customer.get(), conversation.get()],
            )?;
            Ok(())
        })
        .await
    }
}
