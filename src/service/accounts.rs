//! Accounts: first-run setup, login and logout, sessions, and managing agents.

use super::secrets::{SessionToken, constant_time_eq, random_hex_token};
use super::{ServiceError, now, passwords};
use crate::domain::rate_limit::{RateLimit, RateLimiter};
use crate::domain::{
    DisplayName, Email, NewPassword, Role, Session, User, UserId, UserStatus, ValidationError,
};
use crate::store::{NewSessionRecord, NewUserRecord, Store};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a login lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(14 * 24 * 60 * 60);

const LOGINS_PER_IP: RateLimit = RateLimit {
    capacity: 10,
    refill_every: Duration::from_secs(6),
};
const LOGINS_PER_ACCOUNT: RateLimit = RateLimit {
    capacity: 5,
    refill_every: Duration::from_secs(30),
};

pub struct AccountService {
    store: Store,
    setup_token: Mutex<Option<String>>,
    logins_by_ip: Mutex<RateLimiter<IpAddr>>,
    logins_by_account: Mutex<RateLimiter<String>>,
}

/// The first-run form: the token from the log plus the first admin's details.
#[derive(Debug)]
pub struct SetupRequest {
    pub token: String,
    pub email: String,
    pub display_name: String,
    pub password: String,
}

#[derive(Debug)]
pub struct LoginAttempt {
    pub email: String,
    pub password: String,
    pub client_ip: IpAddr,
    pub user_agent: Option<String>,
}

#[derive(Debug)]
pub struct LoginOutcome {
    pub user: User,
    pub token: SessionToken,
}

/// An admin's request to add an account.
#[derive(Debug)]
pub struct NewUserRequest {
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub password: String,
}

impl AccountService {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            setup_token: Mutex::new(None),
            logins_by_ip: Mutex::new(RateLimiter::new(LOGINS_PER_IP)),
            logins_by_account: Mutex::new(RateLimiter::new(LOGINS_PER_ACCOUNT)),
        }
    }

    /// When no account exists yet, makes a one-time setup token (to print in the log).
    pub async fn prepare_first_run(&self) -> Result<Option<String>, ServiceError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let token = random_hex_token()[..32].to_string();
        *lock(&self.setup_token) = Some(token.clone());
        Ok(Some(token))
    }

    pub async fn needs_setup(&self) -> Result<bool, ServiceError> {
        Ok(self.store.count_users().await? == 0)
    }

    /// Creates the first admin and signs them in. The token works once.
    pub async fn complete_setup(
        &self,
        request: SetupRequest,
        user_agent: Option<String>,
        client_ip: IpAddr,
    ) -> Result<LoginOutcome, ServiceError> {
        self.check_setup_token(&request.token)?;
        let record = NewUserRecord {
            email: Email::parse(&request.email)?,
            display_name: DisplayName::parse(&request.display_name)?,
            role: Role::Admin,
            password_hash: passwords::hash(NewPassword::parse(&request.password)?).await?,
        };
        // Re-check: another request may have used the token while we were hashing.
        self.check_setup_token(&request.token)?;
        let user =
            self.store
                .create_first_admin(record, now())
                .await
                .map_err(|error| match error {
                    crate::store::StoreError::Conflict(_) => ServiceError::BadSetupToken,
                    other => other.into(),
                })?;
        *lock(&self.setup_token) = None;
        tracing::info!(user_id = %user.id, "first admin account created; setup token used up");
        let token = self.start_session(&user, user_agent, client_ip).await?;
        Ok(LoginOutcome { user, token })
    }

    fn check_setup_token(&self, offered: &str) -> Result<(), ServiceError> {
        let expected = lock(&self.setup_token);
        match expected.as_deref() {
            Some(expected) if constant_time_eq(expected, offered.trim()) => Ok(()),
            _ => Err(ServiceError::BadSetupToken),
        }
    }

    pub async fn login(&self, attempt: LoginAttempt) -> Result<LoginOutcome, ServiceError> {
        let started = Instant::now();
        lock(&self.logins_by_ip)
            .check(&attempt.client_ip, started)
            .map_err(|retry_after| ServiceError::RateLimited { retry_after })?;
        let account_key = attempt.email.trim().to_lowercase();
        lock(&self.logins_by_account)
            .check(&account_key, started)
            .map_err(|retry_after| ServiceError::RateLimited { retry_after })?;

        let credentials = match Email::parse(&attempt.email) {
            Ok(email) => self.store.login_credentials(email).await?,
            Err(_) => None,
        };
        let (user, stored_hash) = match credentials {
            Some((user, hash)) if user.is_active() => (Some(user), Some(hash)),
            _ => (None, None),
        };
        let password_matches = passwords::verify(attempt.password, stored_hash).await?;
        let Some(user) = user.filter(|_| password_matches) else {
            tracing::info!(ip = %attempt.client_ip, "failed login");
            return Err(ServiceError::BadCredentials);
        };
        let token = self
            .start_session(&user, attempt.user_agent, attempt.client_ip)
            .await?;
        tracing::info!(user_id = %user.id, "login");
        Ok(LoginOutcome { user, token })
    }

    /// A fresh random session id on every login, so a planted cookie is useless.
    async fn start_session(
        &self,
        user: &User,
        user_agent: Option<String>,
        client_ip: IpAddr,
    ) -> Result<SessionToken, ServiceError> {
        let token = SessionToken::generate();
        let started = now();
        self.store
            .create_session(
                NewSessionRecord {
                    user_id: user.id,
                    token_hash: token.storage_hash(),
                    expires_at: started.plus(SESSION_LIFETIME),
                    user_agent: user_agent.map(|agent| agent.chars().take(300).collect()),
                    ip: Some(client_ip.to_string()),
                },
                started,
            )
            .await?;
        Ok(token)
    }

    /// The live session for a cookie value, if any.
    pub async fn session(&self, token: &SessionToken) -> Result<Option<Session>, ServiceError> {
        Ok(self
            .store
            .session_by_token_hash(token.storage_hash(), now())
            .await?)
    }

    pub async fn logout(&self, token: &SessionToken) -> Result<(), ServiceError> {
        Ok(self.store.delete_session(token.storage_hash()).await?)
    }

    pub async fn list_users(&self) -> Result<Vec<User>, ServiceError> {
        Ok(self.store.list_users().await?)
    }

    pub async fn create_user(&self, request: NewUserRequest) -> Result<User, ServiceError> {
        let record = NewUserRecord {
            email: Email::parse(&request.email)?,
            display_name: DisplayName::parse(&request.display_name)?,
            role: Role::parse(&request.role)?,
            password_hash: passwords::hash(NewPassword::parse(&request.password)?).await?,
        };
        let user = self.store.create_user(record, now()).await?;
        tracing::info!(user_id = %user.id, role = user.role.as_str(), "account created");
        Ok(user)
    }

    /// Sets a password chosen by an operator or admin; every session of the account ends.
    pub async fn reset_password(&self, email: &str, password: &str) -> Result<User, ServiceError> {
        let user = self.store.user_by_email(Email::parse(email)?).await?;
        let hash = passwords::hash(NewPassword::parse(password)?).await?;
        self.store.set_password(user.id, hash, now()).await?;
        tracing::info!(user_id = %user.id, "password reset; sessions ended");
        Ok(user)
    }

    /// A signed-in user changes their own password; all their sessions end, this one too.
    pub async fn change_own_password(
        &self,
        user: &User,
        current: String,
        new: &str,
    ) -> Result<(), ServiceError> {
        let new = NewPassword::parse(new)?;
        let stored = self
            .store
            .login_credentials(user.email.clone())
            .await?
            .map(|(_, hash)| hash);
        if !passwords::verify(current, stored).await? {
            return Err(
                ValidationError::new("current_password", "is not your current password").into(),
            );
        }
        let hash = passwords::hash(new).await?;
        self.store.set_password(user.id, hash, now()).await?;
        Ok(())
    }

    /// Deactivates or reactivates `target`. Nobody can lock themselves out, and the last
    /// active admin stays.
    pub async fn set_status(
        &self,
        actor: &User,
        target: UserId,
        status: UserStatus,
    ) -> Result<User, ServiceError> {
        if status == UserStatus::Deactivated {
            if actor.id == target {
                return Err(ServiceError::Forbidden(
                    "You cannot deactivate your own account.".into(),
                ));
            }
            let target_user = self.store.user(target).await?;
            if target_user.is_admin()
                && target_user.is_active()
                && self.store.count_active_admins().await? <= 1
            {
                return Err(ServiceError::Forbidden(
                    "The last active admin cannot be deactivated.".into(),
                ));
            }
        }
        let user = self.store.set_user_status(target, status, now()).await?;
        tracing::info!(user_id = %user.id, status = status.as_str(), actor = %actor.id, "account status changed");
        Ok(user)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
