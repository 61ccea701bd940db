//! The business rules of accounts: signing up and in, sessions and their refresh tokens,
//! password resets, profile changes and deletion. Nothing here knows about HTTP or GraphQL;
//! every state change is one transaction, with the mail it causes written inside it.

pub mod admin;
mod audit_events;
mod auditing;
mod common_passwords;
pub mod domain;
mod email_verification;
mod error;
mod events;
pub mod import;
mod live_events;
mod lockout;
mod mail_requests;
mod my_sessions;
mod password_reset;
mod profile;
mod registration;
mod rotation;
mod session_cache;
mod session_events;
mod sessions;
mod user_views;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait as _, ConnectionTrait, DatabaseConnection, EntityTrait as _, Set};
use uuid::Uuid;

use self::domain::{Email, OrganizationId, PasswordPolicy, SessionId, UserId};
pub use self::error::AccountError;
pub use self::events::{AccountEvent, AccountHook};
pub use self::live_events::{ConnectionSignIn, SeenAccount, SessionEvent, SessionEventKind};
pub use self::mail_requests::MailRequestWorker;
pub use self::my_sessions::SessionView;
pub use self::profile::ProfileChanges;
pub use self::session_events::SessionChangeListener;
use crate::audit::{AuditLog, RequestMeta};
use crate::auth::jwt::{AccessSubject, JwtKeys};
use crate::auth::opaque_token::OpaqueToken;
use crate::auth::password::PasswordHasher;
use crate::auth::secret_box::SecretBox;
use crate::entities::{refresh_token, session};
use crate::mail::Outbox;
use crate::metrics::Metrics;
use crate::throttle::RateLimiter;

/// The signed-in user behind a request: whose account, and which session the access token
/// belongs to (so a password change can keep this session and end the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// An account as the service hands it out: everything but the password hash, which never
/// leaves this module. Built with its roles by `user_views`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub id: UserId,
    pub email: Email,
    pub name: Option<String>,
    pub email_verified: bool,
    /// The address the account moves to once that address confirms it.
    pub pending_email: Option<Email>,
    pub organization_id: OrganizationId,
    pub active: bool,
    /// Role codes, sorted.
    pub roles: Vec<String>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    pub fn has_role(&self, code: &str) -> bool {
        self.roles.iter().any(|role| role == code)
    }
}

/// The result of signing in: tokens for the client and the user they belong to.
pub struct SignedIn {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: UserView,
}

/// The account rules that come from the settings.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub refresh_ttl: Duration,
    pub reset_ttl: Duration,
    pub refresh_reuse_interval: Duration,
    pub password_policy: PasswordPolicy,
    /// The reset link template, `{token}` replaced per message. Never built from a request.
    pub reset_url: String,
    /// The invitation link template, as `reset_url`.
    pub invite_url: String,
    pub invite_ttl: Duration,
    /// False: public `signup` is refused.
    pub signup_open: bool,
    /// A session ends this long after its login, however often it is refreshed.
    pub session_max_age: Duration,
    /// The verification link template, as `reset_url`.
    pub verify_url: String,
    pub verify_ttl: Duration,
    /// True: an unverified account cannot sign in, signup stops telling taken addresses apart,
    /// and an email change waits for the new address to confirm it.
    pub require_verified_email: bool,
}

/// What the service works with: the database and the shared machinery built at start-up.
pub struct AccountDeps {
    pub db: DatabaseConnection,
    pub hasher: PasswordHasher,
    pub jwt: JwtKeys,
    pub outbox: Outbox,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    /// Seals a rotated refresh token's successor for the reuse interval.
    pub successors: SecretBox,
    pub audit: AuditLog,
}

/// The account service. Cheap to clone: everything sits behind one `Arc`.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    hasher: PasswordHasher,
    jwt: JwtKeys,
    outbox: Outbox,
    limiter: RateLimiter,
    metrics: Metrics,
    successors: SecretBox,
    audit: AuditLog,
    sessions: session_cache::SessionCache,
    /// On SQLite, refresh-token rotations are written in batches on a thread of their own.
    rotation_writer: Option<rotation::RotationWriter>,
    organizations: admin::KnownOrganizations,
    hooks: events::AccountHooks,
    settings: AccountSettings,
    /// Reset and verification-mail requests for known and unknown emails alike are handed to a
    /// background worker, so that both answer in the same time.
    mail_requests: tokio::sync::mpsc::Sender<mail_requests::MailRequest>,
    /// Every session change, this instance's and other instances', for live subscribers.
    changes: tokio::sync::broadcast::Sender<session_events::SessionChange>,
}

impl Accounts {
    /// The service and the worker that carries out its mail requests (password resets,
    /// verification links); run the worker (`MailRequestWorker::run`) for as long as the service
    /// is in use.
    pub fn new(deps: AccountDeps, settings: AccountSettings) -> (Self, MailRequestWorker) {
        let (mail_requests, pending) = tokio::sync::mpsc::channel(mail_requests::QUEUE_CAPACITY);
        let accounts = Self {
            inner: Arc::new(Inner {
                rotation_writer: start_rotation_writer(&deps.db, &settings),
                db: deps.db,
                hasher: deps.hasher,
                jwt: deps.jwt,
                outbox: deps.outbox,
                limiter: deps.limiter,
                metrics: deps.metrics,
                successors: deps.successors,
                audit: deps.audit,
                sessions: session_cache::SessionCache::default(),
                organizations: admin::KnownOrganizations::default(),
                hooks: events::AccountHooks::default(),
                settings,
                mail_requests,
                changes: tokio::sync::broadcast::Sender::new(session_events::CHANGES_CAPACITY),
            }),
        };
        let worker = MailRequestWorker::new(accounts.clone(), pending);
        (accounts, worker)
    }

    /// The rules for a new password, for an edge that checks one itself (signup).
    pub fn password_policy(&self) -> PasswordPolicy {
        self.inner.settings.password_policy
    }

    fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The keys access tokens are signed and verified with (for the JWKS and discovery).
    pub fn token_keys(&self) -> &JwtKeys {
        &self.inner.jwt
    }

    /// Opens a session with its first refresh token inside `txn`, and signs an access token
    /// for it. The session keeps where it was opened from (shown in the user's list of
    /// sessions). The caller commits.
    async fn start_session<C: ConnectionTrait>(
        &self,
        txn: &C,
        user: UserView,
        meta: &RequestMeta,
    ) -> Result<SignedIn, AccountError> {
        let now = Utc::now();
        let session_id = SessionId::random();
        session::ActiveModel {
            id: Set(session_id.into()),
            user_id: Set(user.id.into()),
            created_at: Set(now),
            revoked_at: Set(None),
            last_used_at: Set(None),
            ip_address: Set(meta.ip.map(|ip| ip.to_string())),
            user_agent: Set(meta.user_agent.clone()),
        }
        .insert(txn)
        .await?;
        self.continue_session(txn, user, session_id, OpaqueToken::generate())
            .await
    }

    /// Adds `refresh` to an existing session and signs a new access token for it.
    async fn continue_session<C: ConnectionTrait>(
        &self,
        txn: &C,
        user: UserView,
        session_id: SessionId,
        refresh: OpaqueToken,
    ) -> Result<SignedIn, AccountError> {
        refresh_token::Entity::insert(self.refresh_token_row(session_id, refresh.digest))
            .exec_without_returning(txn)
            .await?;
        let access = self.access_token(&user, session_id)?;
        Ok(SignedIn {
            access_token: access.token,
            refresh_token: refresh.token,
            expires_in: access.expires_in,
            user,
        })
    }

    /// The row of a new refresh token of the session, known by its `digest`. Insert it with
    /// `exec_without_returning`: reading it back would be one more statement under SQLite's
    /// write lock.
    fn refresh_token_row(
        &self,
        session_id: SessionId,
        digest: String,
    ) -> refresh_token::ActiveModel {
        let now = Utc::now();
        refresh_token::ActiveModel {
            id: Set(Uuid::new_v4()),
            session_id: Set(session_id.into()),
            token_hash: Set(digest),
            created_at: Set(now),
            expires_at: Set(crate::time::after(now, self.inner.settings.refresh_ttl)),
            used_at: Set(None),
            successor_sealed: Set(None),
        }
    }

    /// Signs an access token for `user`'s session, with the organization and roles it has now.
    fn access_token(
        &self,
        user: &UserView,
        session_id: SessionId,
    ) -> Result<crate::auth::jwt::IssuedAccessToken, AccountError> {
        Ok(self.inner.jwt.issue(&AccessSubject {
            user_id: user.id.into(),
            session_id: session_id.into(),
            organization_id: user.organization_id.into(),
            roles: &user.roles,
        })?)
    }
}

/// The rotation writer thread on SQLite; `None` on PostgreSQL, whose writers of different rows
/// do not wait for each other. Should the thread not start, rotations are written inline.
fn start_rotation_writer(
    db: &DatabaseConnection,
    settings: &AccountSettings,
) -> Option<rotation::RotationWriter> {
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return None;
    }
    rotation::RotationWriter::start(db, rotation_lifetimes(settings))
        .inspect_err(|error| {
            tracing::warn!(%error, "no refresh-token writer thread; rotations are written inline");
        })
        .ok()
}

fn rotation_lifetimes(settings: &AccountSettings) -> rotation::Lifetimes {
    rotation::Lifetimes {
        session_max_age: crate::time::to_chrono(settings.session_max_age),
        reuse_interval: crate::time::to_chrono(settings.refresh_reuse_interval),
    }
}
