//! Mail requests that answer before they are carried out: `forgotPassword` and
//! `resendVerificationEmail` answer the same, in the same time, whether or not an account has the
//! address, because the look-up and the write happen afterwards, on this worker.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::domain::Email;
use super::{AccountError, Accounts};
use crate::audit::RequestMeta;
use crate::db;

/// Pending requests beyond this make the asking operation wait: backpressure, not memory.
pub(super) const QUEUE_CAPACITY: usize = 1024;

/// Requests committed together at most; large enough to amortise a commit, small enough to keep
/// one transaction short.
const BATCH: usize = 256;

/// What a client asked to be mailed, by address.
#[derive(Debug, Clone)]
pub(super) enum MailRequest {
    /// A reset link, if an active account has the address; the request is recorded as it came.
    PasswordReset(Email, RequestMeta),
    /// A new verification link, if an account has the address unverified or is moving to it.
    Verification(Email),
}

impl Accounts {
    /// Hands `request` to the worker; returns once it is queued, not carried out.
    pub(super) async fn queue_mail_request(
        &self,
        request: MailRequest,
    ) -> Result<(), AccountError> {
        self.inner
            .mail_requests
            .send(request)
            .await
            .map_err(|_| AccountError::Internal("the mail request worker has stopped".into()))
    }

    /// Carries out a batch of requests in one transaction: under a flood the worker commits many
    /// requests at once instead of paying one commit each.
    async fn carry_out_mail_requests(&self, requests: &[MailRequest]) -> Result<(), AccountError> {
        let txn = db::begin_write(self.db()).await?;
        let mut mailed = false;
        let mut events = Vec::new();
        for request in requests {
            match request {
                MailRequest::PasswordReset(email, meta) => {
                    if let Some(event) = self.issue_reset_token_to(&txn, email, meta).await? {
                        events.push(event);
                        mailed = true;
                    }
                }
                MailRequest::Verification(email) => {
                    mailed |= self.resend_verification_to(&txn, email).await?;
                }
            }
        }
        txn.commit().await?;
        self.audited(events);
        if mailed {
            self.inner.outbox.wake();
        }
        Ok(())
    }
}

/// Carries out mail requests in the background, in the order they came.
pub struct MailRequestWorker {
    accounts: Accounts,
    pending: mpsc::Receiver<MailRequest>,
}

impl MailRequestWorker {
    pub(super) fn new(accounts: Accounts, pending: mpsc::Receiver<MailRequest>) -> Self {
        Self { accounts, pending }
    }

    /// Runs until `stop` is cancelled, then finishes the requests already accepted.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = self.pending.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return;
                    }
                    self.carry_out(&mut batch).await;
                }
                () = stop.cancelled() => break,
            }
        }
        self.pending.close();
        while self.pending.recv_many(&mut batch, BATCH).await > 0 {
            self.carry_out(&mut batch).await;
        }
    }

    /// Commits the batch at once; should that fail, each request on its own, so that one bad
    /// request cannot take the others down with it.
    async fn carry_out(&self, batch: &mut Vec<MailRequest>) {
        if self.accounts.carry_out_mail_requests(batch).await.is_err() {
            for request in batch.iter() {
                if let Err(error) = self
                    .accounts
                    .carry_out_mail_requests(std::slice::from_ref(request))
                    .await
                {
                    tracing::error!(%error, source = ?std::error::Error::source(&error), "could not carry out a mail request");
                }
            }
        }
        batch.clear();
    }
}
