//! The desk's rows: conversation lists scoped to the agent's inboxes, routing (teams,
//! rules, the queue drained into agents with room), presence, capacity, canned responses.

use rusqlite::{Connection, OptionalExtension, params};

use super::conversations::{CONVERSATION_COLUMNS, conversation_by_id, conversation_from_row};
use super::{Store, StoreError};
use crate::domain::desk::{AgentLoad, CannedResponse, RoutingRule, pick_agent};
use crate::domain::{
    CannedResponseId, Conversation, ConversationId, ConversationStatus, CustomerId, DeskScope,
    DeskView, InboxId, Presence, RoutingRuleId, TeamId, Timestamp, UserId,
};

/// The SQL condition "conversation `c` is in the scope bound to ?1 (user) and ?2 (admin)".
const IN_SCOPE: &str =
    "(?2 OR c.inbox_id IN (SELECT inbox_id FROM inbox_members WHERE user_id = ?1))";

/// A line of a desk list.
#[derive(Debug, Clone)]
pub struct DeskRow {
    pub conversation: Conversation,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub inbox_name: String,
    pub assignee_name: Option<String>,
    pub team_name: Option<String>,
    pub last_message: Option<String>,
}

/// An agent as the assign menu and the team pages show them.
#[derive(Debug, Clone)]
pub struct AgentSummary {
    pub id: UserId,
    pub name: String,
    pub presence: Presence,
    pub open: i64,
    pub capacity: i64,
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
}

fn view_condition(view: DeskView) -> &'static str {
    match view {
        DeskView::Waiting => "c.status = 'waiting'",
        DeskView::Mine => "c.status = 'assigned' AND c.assignee_id = ?1",
        // A left message that became a ticket is worked on the ticket, not here.
        DeskView::Open => {
            "(c.status IN ('waiting', 'assigned') OR (c.status = 'pending' AND NOT EXISTS
                (SELECT 1 FROM ticket_conversations tc WHERE tc.conversation_id = c.id)))"
        }
        DeskView::Resolved => "c.status = 'resolved'",
    }
}

fn view_order(view: DeskView) -> &'static str {
    match view {
        // First come, first served.
        DeskView::Waiting => "c.handed_off_at, c.id",
        _ => "c.updated_at DESC, c.id DESC",
    }
}

/// Online agents who could take a conversation of `inbox` (and `team`), with their load.
fn candidates(
    conn: &Connection,
    inbox: InboxId,
    team: Option<TeamId>,
    online_since: Timestamp,
) -> Result<Vec<AgentLoad>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT u.id, u.capacity, p.last_assigned_at,
                (SELECT count(*) FROM conversations o WHERE o.assignee_id = u.id AND o.status = 'assigned')
         FROM users u JOIN agent_presence p ON p.user_id = u.id
         WHERE u.status = 'active' AND p.status = 'online' AND p.updated_at >= ?1
           AND (u.role = 'admin' OR EXISTS
                (SELECT 1 FROM inbox_members m WHERE m.inbox_id = ?2 AND m.user_id = u.id))
           AND (?3 IS NULL OR EXISTS
                (SELECT 1 FROM team_members t WHERE t.team_id = ?3 AND t.user_id = u.id))",
    )?;
    let rows = statement.query_map(
        params![
            online_since.unix_seconds(),
            inbox.get(),
            team.map(TeamId::get)
        ],
        |row| {
            Ok(AgentLoad {
                user_id: UserId::new(row.get(0)?),
                capacity: row.get(1)?,
                last_assigned_at: row
                    .get::<_, Option<i64>>(2)?
                    .map(Timestamp::from_unix_seconds),
                open: row.get(3)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn assign_in(
    conn: &Connection,
    conversation: ConversationId,
    agent: UserId,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET status = 'assigned', assignee_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![conversation.get(), agent.get(), now.unix_seconds()],
    )?;
    conn.execute(
        "UPDATE agent_presence SET last_assigned_at = ?2 WHERE user_id = ?1",
        params![agent.get(), now.unix_seconds()],
    )?;
    Ok(())
}

/// How many waiting conversations one drain looks at; the rest wait for the next change.
const DRAIN_BATCH: i64 = 500;

impl Store {
    /// Desk list for `view`, newest activity first (the waiting list: longest waiting first).
    pub async fn desk_list(
        &self,
        scope: DeskScope,
        view: DeskView,
        limit: i64,
    ) -> Result<Vec<DeskRow>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT c.id, cu.name, cu.email, i.name, a.display_name, t.name,
                        (SELECT body FROM messages m WHERE m.conversation_id = c.id AND m.private = 0
                         ORDER BY m.id DESC LIMIT 1)
                 FROM conversations c
                 JOIN customers cu ON cu.id = c.customer_id
                 JOIN inboxes i ON i.id = c.inbox_id
                 LEFT JOIN users a ON a.id = c.assignee_id
                 LEFT JOIN teams t ON t.id = c.team_id
                 WHERE {IN_SCOPE} AND {}
                 ORDER BY {} LIMIT ?3",
                view_condition(view),
                view_order(view)
            );
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(
                params![scope.user.get(), scope.is_admin, limit],
                |row| {
                    Ok((
                        ConversationId::new(row.get(0)?),
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                    ))
                },
            )?;
            let mut list = Vec::new();
            for row in rows {
                let (id, customer_name, customer_email, inbox_name, assignee_name, team_name, last) =
                    row?;
                list.push(DeskRow {
                    conversation: conversation_by_id(conn, id)?,
                    customer_name,
                    customer_email,
                    inbox_name,
                    assignee_name,
                    team_name,
                    last_message: last,
                });
            }
            Ok(list)
        })
        .await
    }

    /// How many conversations each view holds, in `DeskView::ALL` order.
    pub async fn desk_counts(&self, scope: DeskScope) -> Result<[i64; 4], StoreError> {
        self.read(move |conn| {
            let mut counts = [0; 4];
            for (slot, view) in counts.iter_mut().zip(DeskView::ALL) {
                *slot = conn.query_row(
                    &format!(
                        "SELECT count(*) FROM conversations c WHERE {IN_SCOPE} AND {}",
                        view_condition(view)
                    ),
                    params![scope.user.get(), scope.is_admin],
                    |row| row.get(0),
                )?;
            }
            Ok(counts)
        })
        .await
    }

    /// A conversation the viewer may see, else `NotFound`.
    pub async fn desk_conversation(
        &self,
        scope: DeskScope,
        id: ConversationId,
    ) -> Result<Conversation, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {} FROM conversations c WHERE c.id = ?3 AND {IN_SCOPE}",
                    CONVERSATION_COLUMNS
                        .split(',')
                        .map(|column| format!("c.{}", column.trim()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                params![scope.user.get(), scope.is_admin, id.get()],
                conversation_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    /// The customer's other conversations, newest first.
    pub async fn customer_conversations(
        &self,
        customer: CustomerId,
        limit: i64,
    ) -> Result<Vec<Conversation>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE customer_id = ?1
                 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = statement.query_map([customer.get(), limit], conversation_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Moves a conversation from `from` to `to` (optimistically: `false` when someone else
    /// moved it first). `assignee` replaces the assignee; `team` replaces the team when set.
    pub async fn move_conversation(
        &self,
        id: ConversationId,
        from: ConversationStatus,
        to: ConversationStatus,
        assignee: Option<UserId>,
        team: Option<TeamId>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE conversations
                 SET status = ?3, assignee_id = ?4, team_id = coalesce(?5, team_id),
                     unanswered = CASE WHEN ?3 = 'bot' THEN 0 ELSE unanswered END,
                     handed_off_at = CASE WHEN ?3 = 'waiting' THEN ?6 ELSE handed_off_at END,
                     updated_at = ?6
                 WHERE id = ?1 AND status = ?2",
                params![
                    id.get(),
                    from.as_str(),
                    to.as_str(),
                    assignee.map(UserId::get),
                    team.map(TeamId::get),
                    now.unix_seconds()
                ],
            )?;
            if changed == 1
                && let Some(agent) = assignee
            {
                conn.execute(
                    "UPDATE agent_presence SET last_assigned_at = ?2 WHERE user_id = ?1",
                    params![agent.get(), now.unix_seconds()],
                )?;
            }
            Ok(changed == 1)
        })
        .await
    }

    pub async fn set_conversation_topic(
        &self,
        id: ConversationId,
        topic: String,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE conversations SET topic = ?2 WHERE id = ?1",
                params![id.get(), topic],
            )?;
            Ok(())
        })
        .await
    }

    /// Gives waiting conversations, first come first served, to the least-loaded online
    /// agent with room (of the conversation's team when it has one). One transaction, so
    /// two drains never give an agent more than their capacity. Returns who got what.
    pub async fn drain_queue(
        &self,
        online_since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Conversation, UserId)>, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let waiting: Vec<(i64, i64, Option<i64>)> = {
                let mut statement = transaction.prepare_cached(
                    "SELECT id, inbox_id, team_id FROM conversations WHERE status = 'waiting'
                     ORDER BY handed_off_at, id LIMIT ?1",
                )?;
                let rows = statement.query_map([DRAIN_BATCH], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let mut given = Vec::new();
            for (id, inbox, team) in waiting {
                let agents = candidates(
                    &transaction,
                    InboxId::new(inbox),
                    team.map(TeamId::new),
                    online_since,
                )?;
                if let Some(agent) = pick_agent(&agents) {
                    let id = ConversationId::new(id);
                    assign_in(&transaction, id, agent, now)?;
                    given.push((conversation_by_id(&transaction, id)?, agent));
                }
            }
            transaction.commit()?;
            Ok(given)
        })
        .await
    }

    /// Agents who could take a conversation of `inbox` right now.
    pub async fn agents_available(
        &self,
        inbox: InboxId,
        online_since: Timestamp,
    ) -> Result<usize, StoreError> {
        self.read(move |conn| Ok(candidates(conn, inbox, None, online_since)?.len()))
            .await
    }

    /// Agents who may work `inbox` (members and admins), with presence and load.
    pub async fn inbox_agents(
        &self,
        inbox: Option<InboxId>,
        online_since: Timestamp,
    ) -> Result<Vec<AgentSummary>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT u.id, u.display_name,
                        CASE WHEN p.updated_at >= ?2 THEN coalesce(p.status, 'offline') ELSE 'offline' END,
                        (SELECT count(*) FROM conversations o WHERE o.assignee_id = u.id AND o.status = 'assigned'),
                        u.capacity
                 FROM users u LEFT JOIN agent_presence p ON p.user_id = u.id
                 WHERE u.status = 'active' AND (?1 IS NULL OR u.role = 'admin' OR EXISTS
                       (SELECT 1 FROM inbox_members m WHERE m.inbox_id = ?1 AND m.user_id = u.id))
                 ORDER BY u.display_name COLLATE NOCASE",
            )?;
            let rows = statement.query_map(
                params![inbox.map(InboxId::get), online_since.unix_seconds()],
                |row| {
                    let presence: String = row.get(2)?;
                    Ok(AgentSummary {
                        id: UserId::new(row.get(0)?),
                        name: row.get(1)?,
                        presence: Presence::parse(&presence).unwrap_or(Presence::Offline),
                        open: row.get(3)?,
                        capacity: row.get(4)?,
                    })
                },
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn set_agent_presence(
        &self,
        user: UserId,
        presence: Presence,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO agent_presence (user_id, status, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
                params![user.get(), presence.as_str(), now.unix_seconds()],
            )?;
            Ok(())
        })
        .await
    }

    /// The desk is open: keeps the agent's presence from timing out.
    pub async fn touch_presence(&self, user: UserId, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE agent_presence SET updated_at = ?2 WHERE user_id = ?1 AND status != 'offline'",
                params![user.get(), now.unix_seconds()],
            )?;
            Ok(())
        })
        .await
    }

    /// The agent's presence, offline when it timed out.
    pub async fn agent_presence(
        &self,
        user: UserId,
        online_since: Timestamp,
    ) -> Result<Presence, StoreError> {
        self.read(move |conn| {
            let row: Option<(String, i64)> = conn
                .query_row(
                    "SELECT status, updated_at FROM agent_presence WHERE user_id = ?1",
                    [user.get()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            Ok(match row {
                Some((status, at)) if at >= online_since.unix_seconds() => {
                    Presence::parse(&status).unwrap_or(Presence::Offline)
                }
                _ => Presence::Offline,
            })
        })
        .await
    }

    pub async fn set_capacity(&self, user: UserId, capacity: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE users SET capacity = ?2 WHERE id = ?1",
                params![user.get(), capacity],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    // ---- inbox membership ----

    pub async fn inbox_member_ids(&self, inbox: InboxId) -> Result<Vec<UserId>, StoreError> {
        self.read(move |conn| {
            let mut statement =
                conn.prepare_cached("SELECT user_id FROM inbox_members WHERE inbox_id = ?1")?;
            let rows = statement.query_map([inbox.get()], |row| Ok(UserId::new(row.get(0)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Replaces the members of an inbox in one transaction.
    pub async fn set_inbox_members(
        &self,
        inbox: InboxId,
        members: Vec<UserId>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            transaction.execute(
                "DELETE FROM inbox_members WHERE inbox_id = ?1",
                [inbox.get()],
            )?;
            for user in members {
                transaction.execute(
                    "INSERT OR IGNORE INTO inbox_members (inbox_id, user_id)
                     SELECT ?1, id FROM users WHERE id = ?2",
                    [inbox.get(), user.get()],
                )?;
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    // ---- teams and routing rules ----

    pub async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        self.read(move |conn| {
            let mut statement =
                conn.prepare_cached("SELECT id, name FROM teams ORDER BY name COLLATE NOCASE")?;
            let teams: Vec<(i64, String)> = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut members = conn.prepare_cached(
                "SELECT user_id FROM team_members WHERE team_id = ?1 ORDER BY user_id",
            )?;
            let mut list = Vec::with_capacity(teams.len());
            for (id, name) in teams {
                let ids = members
                    .query_map([id], |row| Ok(UserId::new(row.get(0)?)))?
                    .collect::<Result<_, _>>()?;
                list.push(Team {
                    id: TeamId::new(id),
                    name,
                    members: ids,
                });
            }
            Ok(list)
        })
        .await
    }

    /// A new team; `Conflict` when the name is taken.
    pub async fn create_team(&self, name: String, now: Timestamp) -> Result<TeamId, StoreError> {
        self.write(move |conn| {
            let taken = conn
                .query_row("SELECT 1 FROM teams WHERE name = ?1", [&name], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Err(StoreError::Conflict("a team with this name already exists"));
            }
            conn.execute(
                "INSERT INTO teams (name, created_at) VALUES (?1, ?2)",
                params![name, now.unix_seconds()],
            )?;
            Ok(TeamId::new(conn.last_insert_rowid()))
        })
        .await
    }

    pub async fn delete_team(&self, team: TeamId) -> Result<(), StoreError> {
        self.write(move |conn| {
            if conn.execute("DELETE FROM teams WHERE id = ?1", [team.get()])? == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    /// Replaces a team's members in one transaction.
    pub async fn set_team_members(
        &self,
        team: TeamId,
        members: Vec<UserId>,
    ) -> Result<(), StoreError> {
        let team = team.get();
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let exists = transaction
                .query_row("SELECT 1 FROM teams WHERE id = ?1", [team], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound);
            }
            transaction.execute("DELETE FROM team_members WHERE team_id = ?1", [team])?;
            for user in members {
                transaction.execute(
                    "INSERT OR IGNORE INTO team_members (team_id, user_id)
                     SELECT ?1, id FROM users WHERE id = ?2",
                    [team, user.get()],
                )?;
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn routing_rules(&self) -> Result<Vec<RoutingRule>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT r.id, r.position, r.team_id, t.name, r.inbox_id, r.language, r.category
                 FROM routing_rules r JOIN teams t ON t.id = r.team_id ORDER BY r.position, r.id",
            )?;
            let rows = statement.query_map([], |row| {
                Ok(RoutingRule {
                    id: RoutingRuleId::new(row.get(0)?),
                    position: row.get(1)?,
                    team_id: TeamId::new(row.get(2)?),
                    team_name: row.get(3)?,
                    inbox_id: row.get::<_, Option<i64>>(4)?.map(InboxId::new),
                    language: row.get(5)?,
                    category: row.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Appends a rule after the existing ones.
    pub async fn add_routing_rule(
        &self,
        team: TeamId,
        inbox: Option<InboxId>,
        language: Option<String>,
        category: Option<String>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let team = team.get();
        self.write(move |conn| {
            let exists = conn
                .query_row("SELECT 1 FROM teams WHERE id = ?1", [team], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound);
            }
            conn.execute(
                "INSERT INTO routing_rules (position, team_id, inbox_id, language, category, created_at)
                 VALUES ((SELECT coalesce(max(position), 0) + 1 FROM routing_rules), ?1, ?2, ?3, ?4, ?5)",
                params![team, inbox.map(InboxId::get), language, category, now.unix_seconds()],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn delete_routing_rule(&self, rule: RoutingRuleId) -> Result<(), StoreError> {
        self.write(move |conn| {
            if conn.execute("DELETE FROM routing_rules WHERE id = ?1", [rule.get()])? == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    // ---- canned responses ----

    pub async fn canned_responses(&self) -> Result<Vec<CannedResponse>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, shortcut, body FROM canned_responses ORDER BY shortcut",
            )?;
            let rows = statement.query_map([], |row| {
                Ok(CannedResponse {
                    id: CannedResponseId::new(row.get(0)?),
                    shortcut: row.get(1)?,
                    body: row.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Creates or (with `id`) updates a canned response; `Conflict` on a taken shortcut.
    pub async fn save_canned_response(
        &self,
        id: Option<CannedResponseId>,
        shortcut: String,
        body: String,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let id = id.map(CannedResponseId::get);
        self.write(move |conn| {
            let taken = conn
                .query_row(
                    "SELECT 1 FROM canned_responses WHERE shortcut = ?1 AND id IS NOT ?2",
                    params![shortcut, id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if taken {
                return Err(StoreError::Conflict("this shortcut is already used"));
            }
            let changed = match id {
                Some(id) => conn.execute(
                    "UPDATE canned_responses SET shortcut = ?2, body = ?3, updated_at = ?4 WHERE id = ?1",
                    params![id, shortcut, body, now.unix_seconds()],
                )?,
                None => conn.execute(
                    "INSERT INTO canned_responses (shortcut, body, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?3)",
                    params![shortcut, body, now.unix_seconds()],
                )?,
            };
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    pub async fn delete_canned_response(&self, id: CannedResponseId) -> Result<(), StoreError> {
        self.write(move |conn| {
            if conn.execute("DELETE FROM canned_responses WHERE id = ?1", [id.get()])? == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }
}

impl Store {
    /// A page of the conversations the viewer may see, newest activity first (the API).
    pub async fn list_conversations(
        &self,
        scope: DeskScope,
        status: Option<ConversationStatus>,
        customer: Option<CustomerId>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Conversation>, i64), StoreError> {
        self.read(move |conn| {
            let conditions = format!(
                "{IN_SCOPE} AND (?3 IS NULL OR c.status = ?3) AND (?4 IS NULL OR c.customer_id = ?4)"
            );
            let status = status.map(ConversationStatus::as_str);
            let customer = customer.map(CustomerId::get);
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM conversations c WHERE {conditions}"),
                params![scope.user.get(), scope.is_admin, status, customer],
                |row| row.get(0),
            )?;
            let columns = CONVERSATION_COLUMNS
                .split(',')
                .map(|column| format!("c.{}", column.trim()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {columns} FROM conversations c WHERE {conditions}
                 ORDER BY c.updated_at DESC, c.id DESC LIMIT ?5 OFFSET ?6"
            ))?;
            let rows = statement.query_map(
                params![
                    scope.user.get(),
                    scope.is_admin,
                    status,
                    customer,
                    per_page,
                    (page - 1) * per_page
                ],
                conversation_from_row,
            )?;
            Ok((rows.collect::<Result<_, _>>()?, total))
        })
        .await
    }

    /// A page of customers, newest first; with `email`, only that address (case ignored).
    pub async fn list_customers(
        &self,
        email: Option<String>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<CustomerId>, i64), StoreError> {
        self.read(move |conn| {
            let total: i64 = conn.query_row(
                "SELECT count(*) FROM customers WHERE ?1 IS NULL OR email = ?1 COLLATE NOCASE",
                params![email],
                |row| row.get(0),
            )?;
            let mut statement = conn.prepare_cached(
                "SELECT id FROM customers WHERE ?1 IS NULL OR email = ?1 COLLATE NOCASE
                 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
            )?;
            let rows = statement
                .query_map(params![email, per_page, (page - 1) * per_page], |row| {
                    Ok(CustomerId::new(row.get(0)?))
                })?;
            Ok((rows.collect::<Result<_, _>>()?, total))
        })
        .await
    }
}
