//! The mail a user would receive, as the test waits for it: the reset link of `forgotPassword`,
//! the set-password link of an invitation, the link of a verification mail, and the n-th
//! message of a kind.

use std::time::Duration;

use super::app::TestApp;
use super::{
    MAIL_TIMEOUT, RESET_LINK_PREFIX, SUBJECT_INVITATION, SUBJECT_RESET, VERIFY_LINK_PREFIX,
};
use crate::smtp_sink::{Mail, reset_token};

impl TestApp {
    /// Asks for a reset and returns the token from the mail that arrives.
    pub async fn reset_token_for(&self, email: &str) -> String {
        let before = self.smtp.mail_to(email, SUBJECT_RESET).len();
        assert_eq!(
            self.forgot_password(email).await["data"]["forgotPassword"],
            true
        );
        let mail = self.wait_for_nth_mail(email, SUBJECT_RESET, before).await;
        reset_token(&mail, RESET_LINK_PREFIX)
    }

    /// Waits for the first invitation mail to `email` and returns the token of its link (the
    /// test server builds invitation links from its reset URL).
    pub async fn invitation_token_for(&self, email: &str) -> String {
        let mail = self.wait_for_nth_mail(email, SUBJECT_INVITATION, 0).await;
        reset_token(&mail, RESET_LINK_PREFIX)
    }

    /// Waits for message number `seen + 1` to `to` with `subject` and returns the token of the
    /// verification link in it.
    pub async fn verification_token_in(&self, to: &str, subject: &str, seen: usize) -> String {
        let mail = self.wait_for_nth_mail(to, subject, seen).await;
        reset_token(&mail, VERIFY_LINK_PREFIX)
    }

    /// Waits until the outbox holds no undelivered message: the verification mail of a signup,
    /// for one, so that a test about other mail starts from a quiet outbox.
    pub async fn wait_until_mail_is_out(&self) {
        self.wait_for_count("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL", 0)
            .await;
    }

    /// Waits until there are more than `seen` messages to `to` with `subject`, and returns the newest.
    pub async fn wait_for_nth_mail(&self, to: &str, subject: &str, seen: usize) -> Mail {
        let deadline = tokio::time::Instant::now() + MAIL_TIMEOUT;
        loop {
            let mails = self.smtp.mail_to(to, subject);
            if mails.len() > seen {
                return mails.into_iter().last().unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mail number {} to {to} with subject {subject:?} did not arrive",
                seen + 1
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
