//! The writes of refresh-token rotations, several at a time: one write transaction with four
//! statements rotates every token of a batch. On SQLite, whose one writer would otherwise take
//! the rotations one by one (each statement a round trip to the connection's thread, every one
//! of them while holding the write lock), a thread of its own gathers the rotations waiting and
//! writes them together; on PostgreSQL each request writes its own rotation (a batch of one),
//! since writers of different rows do not wait for each other there.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait as _, Query};
use sea_orm::{ColumnTrait as _, DatabaseConnection, DbErr, EntityTrait as _, QueryFilter as _};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::AccountError;
use crate::audit::RequestMeta;
use crate::db;
use crate::entities::{refresh_token, session};

/// Rotations written in one transaction at most. Each batch size gives its statements a text
/// of their own, which the writer's connection keeps prepared.
const MAX_BATCH: usize = 32;
/// Rotations waiting for the writer thread; beyond, callers wait for room.
const QUEUE: usize = 1024;

/// One rotation, decided before any write: use up `token_id` (if still unused and its session
/// still alive), note the use on the session, and store the successor.
pub(super) struct Rotation {
    pub token_id: Uuid,
    pub session_id: Uuid,
    /// The successor, sealed to `token_id`, kept for the reuse interval (none if that is zero).
    pub successor_sealed: Option<Vec<u8>>,
    pub successor_row: refresh_token::ActiveModel,
    pub meta: RequestMeta,
}

/// What became of a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rotated {
    /// The token is used up and its successor stored.
    Done,
    /// Nothing written: another refresh used the token first, or the session was revoked or
    /// reached its lifetime since it was read.
    NotDone,
}

/// How long sessions live and sealed successors are kept.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lifetimes {
    pub session_max_age: chrono::Duration,
    pub reuse_interval: chrono::Duration,
}

/// Writes `batch` in one transaction; the outcomes come in the batch's order. Of rotations of
/// one token, only the first can be done.
///
/// # Errors
/// A database error; then nothing of the batch is written.
pub(super) async fn write_batch(
    db: &DatabaseConnection,
    batch: &[Rotation],
    lifetimes: Lifetimes,
) -> Result<Vec<Rotated>, DbErr> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let born_after = now - lifetimes.session_max_age;
    let forget_before = now - lifetimes.reuse_interval;
    let mut seen = HashSet::new();
    // The first rotation of each token; later ones of the same token in this batch lose to it.
    let firsts: Vec<&Rotation> = batch
        .iter()
        .filter(|rotation| seen.insert(rotation.token_id))
        .collect();

    let txn = db::begin_write(db).await?;
    let used = use_up(&txn, &firsts, now, born_after).await?;
    let done: Vec<&Rotation> = firsts
        .into_iter()
        .filter(|rotation| used.contains(&rotation.token_id))
        .collect();
    if done.is_empty() {
        txn.rollback().await?;
    } else {
        record_uses(&txn, &done, now).await?;
        refresh_token::Entity::update_many()
            .col_expr(
                refresh_token::Column::SuccessorSealed,
                Expr::value(Option::<Vec<u8>>::None),
            )
            .filter(refresh_token::Column::SessionId.is_in(done.iter().map(|r| r.session_id)))
            .filter(refresh_token::Column::SuccessorSealed.is_not_null())
            .filter(refresh_token::Column::UsedAt.lt(forget_before))
            .exec(&txn)
            .await?;
        // Without reading the rows back: on SQLite that would be more statements under the lock.
        refresh_token::Entity::insert_many(done.iter().map(|r| r.successor_row.clone()))
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
    }
    let mut counted = HashSet::new();
    Ok(batch
        .iter()
        .map(|rotation| {
            let first = counted.insert(rotation.token_id);
            if first && used.contains(&rotation.token_id) {
                Rotated::Done
            } else {
                Rotated::NotDone
            }
        })
        .collect())
}

/// Marks the still unused tokens of live sessions used, with their sealed successors, and
/// returns their ids: the one conditional update that decides which of concurrent refreshes
/// of a token wins.
async fn use_up<C: sea_orm::ConnectionTrait>(
    txn: &C,
    rotations: &[&Rotation],
    now: DateTime<Utc>,
    born_after: DateTime<Utc>,
) -> Result<HashSet<Uuid>, DbErr> {
    let id = || Expr::col(refresh_token::Column::Id);
    let sealed = rotations
        .iter()
        .fold(CaseStatement::new(), |case, rotation| {
            case.case(
                id().eq(rotation.token_id),
                rotation.successor_sealed.clone(),
            )
        });
    let live_sessions = Query::select()
        .column(session::Column::Id)
        .from(session::Entity)
        .and_where(Expr::col(session::Column::Id).is_in(rotations.iter().map(|r| r.session_id)))
        .and_where(Expr::col(session::Column::RevokedAt).is_null())
        .and_where(Expr::col(session::Column::CreatedAt).gt(born_after))
        .to_owned();
    let update = Query::update()
        .table(refresh_token::Entity)
        .value(refresh_token::Column::UsedAt, now)
        .value(refresh_token::Column::SuccessorSealed, sealed)
        .and_where(id().is_in(rotations.iter().map(|r| r.token_id)))
        .and_where(Expr::col(refresh_token::Column::UsedAt).is_null())
        .and_where(Expr::col(refresh_token::Column::SessionId).in_subquery(live_sessions))
        .returning_col(refresh_token::Column::Id)
        .to_owned();
    txn.query_all(&update)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id"))
        .collect()
}

/// Notes the refresh on each session: when, and from where.
async fn record_uses<C: sea_orm::ConnectionTrait>(
    txn: &C,
    rotations: &[&Rotation],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let id = || Expr::col(session::Column::Id);
    let (mut ip, mut agent) = (CaseStatement::new(), CaseStatement::new());
    for rotation in rotations {
        let this_session = || id().eq(rotation.session_id);
        ip = ip.case(this_session(), rotation.meta.ip.map(|ip| ip.to_string()));
        agent = agent.case(this_session(), rotation.meta.user_agent.clone());
    }
    let update = Query::update()
        .table(session::Entity)
        .value(session::Column::LastUsedAt, now)
        .value(session::Column::IpAddress, ip)
        .value(session::Column::UserAgent, agent)
        .and_where(id().is_in(rotations.iter().map(|r| r.session_id)))
        .to_owned();
    txn.execute(&update).await?;
    Ok(())
}

/// A connection of the writer's own to the SQLite file of `db`: it never waits for the
/// request pool, and it keeps every batch size's statements prepared. An in-memory database
/// cannot be opened twice; there the writer shares `db`.
fn own_connection(db: &DatabaseConnection) -> DatabaseConnection {
    let options = db.get_sqlite_connection_pool().connect_options();
    if !options.get_filename().exists() {
        return db.clone();
    }
    let options = (*options)
        .clone()
        .statement_cache_capacity(4 * MAX_BATCH + 16);
    let pool = sea_orm::sqlx::pool::PoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_lazy_with(options);
    sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
}

/// The SQLite writer thread, fed by every request that rotates a token.
pub(super) struct RotationWriter {
    queue: mpsc::Sender<Queued>,
}

/// A rotation and where its outcome goes (a database error as text: it reaches every
/// rotation of the batch).
type Queued = (Rotation, oneshot::Sender<Result<Rotated, String>>);

/// The writer thread is gone: it could not keep running.
#[derive(Debug, thiserror::Error)]
#[error("the refresh-token writer thread is not running")]
pub(super) struct WriterGone;

impl RotationWriter {
    /// Starts the thread, with a runtime of its own: the steps of its transactions must not
    /// wait for the request runtime's workers.
    ///
    /// # Errors
    /// The thread or its runtime could not be created.
    pub(super) fn start(db: &DatabaseConnection, lifetimes: Lifetimes) -> std::io::Result<Self> {
        let db = own_connection(db);
        let (queue, mut waiting) = mpsc::channel::<Queued>(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("latchkey-rotations".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut batch = Vec::with_capacity(MAX_BATCH);
                    // Whatever waits when a transaction ends makes the next batch.
                    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
                        let (rotations, replies): (Vec<Rotation>, Vec<_>) = batch.drain(..).unzip();
                        match write_batch(&db, &rotations, lifetimes).await {
                            Ok(outcomes) => {
                                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                                    let _ = reply.send(Ok(outcome));
                                }
                            }
                            Err(error) => {
                                let error = error.to_string();
                                for reply in replies {
                                    let _ = reply.send(Err(error.clone()));
                                }
                            }
                        }
                    }
                });
            })?;
        Ok(Self { queue })
    }

    /// Queues `rotation` and waits for the transaction that writes it.
    ///
    /// # Errors
    /// The batch's database error, or `WriterGone`.
    pub(super) async fn write(&self, rotation: Rotation) -> Result<Rotated, AccountError> {
        let (reply, outcome) = oneshot::channel();
        let gone = || AccountError::Internal(Box::new(WriterGone));
        self.queue
            .send((rotation, reply))
            .await
            .map_err(|_| gone())?;
        outcome
            .await
            .map_err(|_| gone())?
            .map_err(|error| AccountError::Internal(error.into()))
    }
}
