//! Users and their sessions.

use super::{Store, StoreError, conflict_on_unique};
use crate::domain::{
    DisplayName, Email, PasswordHash, Role, Session, SessionId, Timestamp, User, UserId, UserStatus,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

/// What the store needs to create an account; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUserRecord {
    pub email: Email,
    pub display_name: DisplayName,
    pub role: Role,
    pub password_hash: PasswordHash,
}

/// A session row to insert. The token itself never reaches the store, only its hash.
#[derive(Debug, Clone)]
pub struct NewSessionRecord {
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

const USER_COLUMNS: &str = "id, email, display_name, role, status, created_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(3)?;
    let status: String = row.get(4)?;
    Ok(User {
        id: UserId::new(row.get(0)?),
        email: Email::from_trusted(row.get(1)?),
        display_name: DisplayName::from_trusted(row.get(2)?),
        // The CHECK constraints make any other value impossible.
        role: if role == "admin" {
            Role::Admin
        } else {
            Role::Agent
        },
        status: UserStatus::parse(&status).unwrap_or(UserStatus::Deactivated),
        created_at: Timestamp::from_unix_seconds(row.get(5)?),
    })
}

fn insert_user(
    conn: &Connection,
    record: &NewUserRecord,
    now: Timestamp,
) -> Result<User, StoreError> {
    let sql = format!(
        "INSERT INTO users (email, display_name, role, password_hash, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING {USER_COLUMNS}"
    );
    conn.query_row(
        &sql,
        (
            record.email.as_str(),
            record.display_name.as_str(),
            record.role.as_str(),
            record.password_hash.as_phc(),
            now.unix_seconds(),
        ),
        user_from_row,
    )
    .map_err(|e| conflict_on_unique(e, "an account with this e-mail"))
}

impl Store {
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT count(*) FROM users", [], |row| row.get(0))?))
            .await
    }

    pub async fn create_user(
        &self,
        record: NewUserRecord,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        self.write(move |conn| insert_user(conn, &record, now))
            .await
    }

    /// Creates the very first account; refuses once any account exists, so two racing
    /// setup requests cannot both succeed.
    pub async fn create_first_admin(
        &self,
        record: NewUserRecord,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing: i64 =
                transaction.query_row("SELECT count(*) FROM users", [], |row| row.get(0))?;
            if existing > 0 {
                return Err(StoreError::Conflict("an account"));
            }
            let user = insert_user(&transaction, &record, now)?;
            transaction.commit()?;
            Ok(user)
        })
        .await
    }

    pub async fn user(&self, id: UserId) -> Result<User, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [id.get()],
                user_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    pub async fn user_by_email(&self, email: Email) -> Result<User, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"),
                [email.as_str()],
                user_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    /// The account and its password hash, for checking a login.
    pub async fn login_credentials(
        &self,
        email: Email,
    ) -> Result<Option<(User, PasswordHash)>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?1"),
                    [email.as_str()],
                    |row| Ok((user_from_row(row)?, PasswordHash::from_phc(row.get(6)?))),
                )
                .optional()?)
        })
        .await
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY status, display_name COLLATE NOCASE, id"
            ))?;
            let users = statement.query_map([], user_from_row)?;
            Ok(users.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Sets a new password and ends every session of the account, in one transaction.
    pub async fn set_password(
        &self,
        id: UserId,
        hash: PasswordHash,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let changed = transaction.execute(
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
                (id.get(), hash.as_phc(), now.unix_seconds()),
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            transaction.execute("DELETE FROM sessions WHERE user_id = ?1", [id.get()])?;
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    /// Activates or deactivates an account; deactivating ends all its sessions.
    pub async fn set_user_status(
        &self,
        id: UserId,
        status: UserStatus,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let user = transaction
                .query_row(
                    &format!(
                        "UPDATE users SET status = ?2, updated_at = ?3 WHERE id = ?1
                         RETURNING {USER_COLUMNS}"
                    ),
                    (id.get(), status.as_str(), now.unix_seconds()),
                    user_from_row,
                )
                .optional()?
                .ok_or(StoreError::NotFound)?;
            if status == UserStatus::Deactivated {
                transaction.execute("DELETE FROM sessions WHERE user_id = ?1", [id.get()])?;
            }
            transaction.commit()?;
            Ok(user)
        })
        .await
    }

    pub async fn count_active_admins(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM users WHERE role = 'admin' AND status = 'active'",
                [],
                |row| row.get(0),
            )?)
        })
        .await
    }

    pub async fn create_session(
        &self,
        record: NewSessionRecord,
        now: Timestamp,
    ) -> Result<SessionId, StoreError> {
        self.write(move |conn| {
            // Expired rows are swept here rather than by a timer: logins are rare enough.
            conn.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1",
                [now.unix_seconds()],
            )?;
            let id = conn.query_row(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, user_agent, ip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                (
                    &record.token_hash,
                    record.user_id.get(),
                    now.unix_seconds(),
                    record.expires_at.unix_seconds(),
                    &record.user_agent,
                    &record.ip,
                ),
                |row| row.get(0),
            )?;
            Ok(SessionId::new(id))
        })
        .await
    }

    /// The live session with this token hash, if it has not expired and its user is active.
    pub async fn session_by_token_hash(
        &self,
        token_hash: Vec<u8>,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT u.id, u.email, u.display_name, u.role, u.status, u.created_at,
                            s.id, s.expires_at
                     FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.status = 'active'",
                    (&token_hash, now.unix_seconds()),
                    |row| {
                        Ok(Session {
                            user: user_from_row(row)?,
                            id: SessionId::new(row.get(6)?),
                            expires_at: Timestamp::from_unix_seconds(row.get(7)?),
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: Vec<u8>) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [&token_hash])?;
            Ok(())
        })
        .await
    }
}
