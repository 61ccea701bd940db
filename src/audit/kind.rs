//! The types of audit event. Their names are part of the API (`AuditEvent.type`, webhook
//! payloads, filters), so a name never changes once released.

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditType {
    Signup,
    Login,
    LoginFailed,
    Logout,
    SessionRevoked,
    RefreshReuseDetected,
    AccountLocked,
    PasswordResetRequested,
    PasswordReset,
    PasswordChanged,
    EmailChanged,
    EmailVerified,
    AccountDeleted,
    UserCreated,
    UserUpdated,
    UserDeleted,
    RolesChanged,
    UserDeactivated,
    UserActivated,
    SessionsRevoked,
    UsersImported,
}

impl AuditType {
    pub const ALL: [Self; 21] = [
        Self::Signup,
        Self::Login,
        Self::LoginFailed,
        Self::Logout,
        Self::SessionRevoked,
        Self::RefreshReuseDetected,
        Self::AccountLocked,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::EmailChanged,
        Self::EmailVerified,
        Self::AccountDeleted,
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeleted,
        Self::RolesChanged,
        Self::UserDeactivated,
        Self::UserActivated,
        Self::SessionsRevoked,
        Self::UsersImported,
    ];

    /// What `mySecurityEvents` shows an account of its own history: its sign-ins and their
    /// failures, its sessions, lockouts, password, email, profile and standing. The
    /// administrative bookkeeping (creation by an administrator, deletion, imports) is not.
    pub const SHOWN_TO_OWNER: [Self; 17] = [
        Self::Signup,
        Self::Login,
        Self::LoginFailed,
        Self::Logout,
        Self::SessionRevoked,
        Self::RefreshReuseDetected,
        Self::AccountLocked,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::EmailChanged,
        Self::EmailVerified,
        Self::UserUpdated,
        Self::RolesChanged,
        Self::UserDeactivated,
        Self::UserActivated,
        Self::SessionsRevoked,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::AccountLocked => "account_locked",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
            Self::EmailVerified => "email_verified",
            Self::AccountDeleted => "account_deleted",
            Self::UserCreated => "user_created",
            Self::UserUpdated => "user_updated",
            Self::UserDeleted => "user_deleted",
            Self::RolesChanged => "roles_changed",
            Self::UserDeactivated => "user_deactivated",
            Self::UserActivated => "user_activated",
            Self::SessionsRevoked => "sessions_revoked",
            Self::UsersImported => "users_imported",
        }
    }

    /// The type named `name`, or `None` for a name that is not one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::AuditType;

    #[test]
    fn every_type_parses_back_from_its_name() {
        for kind in AuditType::ALL {
            assert_eq!(AuditType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AuditType::parse("Login"), None);
    }
}
