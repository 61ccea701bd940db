//! The caller's own sessions: `mySessions`, `revokeSession`, `revokeOtherSessions`.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::context::{request_meta, require_caller};
use super::errors::OrGraphql as _;
use crate::accounts::domain::SessionId;
use crate::accounts::{AccountError, Accounts, SessionView};

/// A signed-in session: one login and the refreshes that continued it.
#[derive(SimpleObject)]
pub struct Session {
    pub id: ID,
    /// The session of the access token in use.
    pub current: bool,
    /// When the session was opened (the login).
    pub created_at: DateTime<Utc>,
    /// The last refresh, or the login.
    pub last_used_at: DateTime<Utc>,
    /// The absolute end, however often the session is refreshed.
    pub expires_at: DateTime<Utc>,
    /// The client address at the login or the last refresh.
    pub ip_address: Option<String>,
    /// The user agent at the login or the last refresh, cut to 256 characters.
    pub user_agent: Option<String>,
}

impl From<SessionView> for Session {
    fn from(session: SessionView) -> Self {
        Self {
            id: ID(session.id.to_string()),
            current: session.current,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            ip_address: session.ip_address,
            user_agent: session.user_agent,
        }
    }
}

#[derive(Default)]
pub struct MySessionsQuery;

#[Object]
impl MySessionsQuery {
    /// The caller's live sessions, newest first.
    async fn my_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Session>> {
        let caller = require_caller(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(accounts
            .my_sessions(caller)
            .await
            .or_graphql(ctx)?
            .into_iter()
            .map(Session::from)
            .collect())
    }
}

#[derive(Default)]
pub struct MySessionsMutation;

#[Object]
impl MySessionsMutation {
    /// Ends one of the caller's sessions at once (its access and refresh tokens stop working).
    /// Someone else's session, or one already ended, is `NOT_FOUND`.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let caller = require_caller(ctx)?;
        // An id that is no UUID names no session of anyone's.
        let Ok(id) = Uuid::try_parse(id.as_str()) else {
            return Err(AccountError::NotFound).or_graphql(ctx);
        };
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .revoke_my_session(caller, SessionId::from(id), &meta)
            .await
            .or_graphql(ctx)
            .map(|()| true)
    }

    /// Ends every session of the caller but the current one; answers how many ended.
    async fn revoke_other_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let caller = require_caller(ctx)?;
        let meta = request_meta(ctx)?;
        let accounts = ctx.data_unchecked::<Accounts>();
        accounts
            .revoke_other_sessions(caller, &meta)
            .await
            .or_graphql(ctx)
    }
}
