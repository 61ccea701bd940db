//! Settings: every knob the README lists under "Settings", read from flags, the environment and `.env`,
//! validated once at start-up so that nothing later has to second-guess a value.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use secrecy::{ExposeSecret as _, SecretString};

use crate::auth::master_secret;
use crate::auth::signing_keys::SigningAlgorithm;
use crate::webhooks::{ReceiverUrl, SigningSecrets};

/// The `latchkey` command line.
#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A self-hosted authentication server that speaks GraphQL"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// `latchkey` without a subcommand is `latchkey serve`.
    #[command(flatten)]
    pub serve: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve (the default).
    Serve(Box<Settings>),
    /// Apply pending migrations and exit.
    Migrate(MigrateArgs),
    /// Print the GraphQL SDL and exit.
    PrintSchema,
    /// Master secret tools.
    Secret(SecretArgs),
    /// Administration from the command line.
    Admin(AdminArgs),
    /// Access-token signing keys: list, rotate, revoke.
    Keys(Box<KeysArgs>),
    /// Import users with their existing password hashes from JSON Lines (docs/migrating.md).
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSON Lines file, or `-` for standard input.
    pub file: PathBuf,

    /// Check every line and report, writing nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Import the valid lines even if others are refused (without it, one refused line
    /// leaves the database untouched).
    #[arg(long)]
    pub skip_invalid: bool,

    /// The same settings as `serve`: the database, and the webhook receivers and master secret
    /// with which the import's events are queued for them.
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub action: AdminAction,
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Make EMAIL a superadmin, creating the account in the `default` organization if needed
    /// (its password read from standard input or --password-file, never from the command line).
    /// Running it again changes nothing.
    Create(AdminCreateArgs),
}

#[derive(Debug, Args)]
pub struct AdminCreateArgs {
    #[arg(long)]
    pub email: String,

    /// Display name of a new account.
    #[arg(long)]
    pub name: Option<String>,

    /// A file holding the new account's password (one trailing newline is ignored). Without
    /// it, the password is read from standard input.
    #[arg(long)]
    pub password_file: Option<PathBuf>,

    /// The same settings as `serve`: the database, the password policy, and the webhook
    /// receivers and master secret with which the event is queued for them.
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Each takes the same settings as `serve` (the database, the master secret, the algorithm).
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Every key with its algorithm and state (never a private part).
    List(KeySettings),
    /// next starts signing, current becomes previous, previous retires, a new next is made.
    Rotate(KeySettings),
    /// Withdraw a key at once (rotating first if it is the current one).
    Revoke {
        /// The key id (`kid`), as `latchkey keys list` shows it.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        #[command(flatten)]
        settings: KeySettings,
    },
}

#[derive(Debug, Args)]
pub struct KeySettings {
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    pub action: SecretAction,
}

#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Print a fresh random secret for LATCHKEY_SECRET (64 random bytes in base64url).
    Generate,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub action: Option<MigrateAction>,

    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://latchkey.db?mode=rwc"
    )]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// List applied and pending migrations.
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything `serve` needs. Flags win over environment variables, which win over defaults.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// A SQLite file (`sqlite://path?mode=rwc`) or `postgres://user:pass@host:port/db`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://latchkey.db?mode=rwc"
    )]
    pub database_url: String,

    /// Most database connections this instance opens.
    #[arg(long, env = "LATCHKEY_DATABASE_MAX_CONNECTIONS", default_value = "10", value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub database_max_connections: u32,

    /// How long to wait for a database connection before the request fails.
    #[arg(long, env = "LATCHKEY_DATABASE_TIMEOUT", default_value = "5s", value_parser = parse_positive_duration)]
    pub database_timeout: Duration,

    /// Address to bind; port 0 picks a free one.
    #[arg(long, env = "LATCHKEY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Most client connections open at once; past it a new connection gets 503. Unset: 10,000,
    /// or fewer when the open-file limit leaves room for less.
    #[arg(long, env = "LATCHKEY_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: Option<u32>,

    /// How long a client may take to send a request's headers, from their first byte.
    #[arg(long, env = "LATCHKEY_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub header_timeout: Duration,

    /// How long a connection may sit idle between requests before it is closed.
    #[arg(long, env = "LATCHKEY_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_positive_duration)]
    pub idle_timeout: Duration,

    /// The master secret: the HS256 key of access tokens and the root of the keys that seal
    /// data at rest. At least 32 random bytes; `latchkey secret generate` prints one. Generated
    /// and kept beside a SQLite database when unset.
    // Checked by `Settings::master_secret`, not while parsing.
    #[arg(long, env = "LATCHKEY_SECRET", hide_env_values = true)]
    pub secret: Option<SecretString>,

    /// The old name of `--secret`, still accepted.
    #[arg(long, env = "LATCHKEY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// `iss` of access tokens, checked on every request.
    #[arg(long, env = "LATCHKEY_ISSUER", default_value = "latchkey")]
    pub issuer: String,

    /// `aud` of access tokens, checked on every request.
    #[arg(long, env = "LATCHKEY_AUDIENCE", default_value = "latchkey")]
    pub audience: String,

    #[arg(long, env = "LATCHKEY_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_positive_duration)]
    pub access_token_ttl: Duration,

    #[arg(long, env = "LATCHKEY_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = parse_positive_duration)]
    pub refresh_token_ttl: Duration,

    /// How often the clean-up job removes ended sessions, used tokens, old mail and login
    /// counters (one instance at a time on PostgreSQL).
    #[arg(long, env = "LATCHKEY_CLEANUP_INTERVAL", default_value = "1h", value_parser = parse_positive_duration)]
    pub cleanup_interval: Duration,

    /// How long audit events are kept; the clean-up job removes older ones.
    #[arg(long, env = "LATCHKEY_AUDIT_RETENTION", default_value = "90d", value_parser = parse_positive_duration)]
    pub audit_retention: Duration,

    /// A session ends this long after its login, however often it is refreshed.
    #[arg(long, env = "LATCHKEY_SESSION_MAX_AGE", default_value = "90d", value_parser = parse_positive_duration)]
    pub session_max_age: Duration,

    #[arg(long, env = "LATCHKEY_RESET_TOKEN_TTL", default_value = "1h", value_parser = parse_positive_duration)]
    pub reset_token_ttl: Duration,

    /// Grace for concurrent refreshes with one token; `0s` is strict.
    #[arg(long, env = "LATCHKEY_REFRESH_REUSE_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub refresh_reuse_interval: Duration,

    /// Link in the reset email; `{token}` is replaced by the token.
    #[arg(
        long,
        env = "LATCHKEY_RESET_URL",
        default_value = "http://localhost:3000/reset-password?token={token}",
        value_parser = parse_reset_url
    )]
    pub reset_url: String,

    /// Set-password link in invitations (accounts an administrator created without a
    /// password); `{token}` is replaced by the token. Unset: the reset link.
    #[arg(long, env = "LATCHKEY_INVITE_URL", value_parser = parse_reset_url)]
    pub invite_url: Option<String>,

    #[arg(long, env = "LATCHKEY_INVITE_TOKEN_TTL", default_value = "7d", value_parser = parse_positive_duration)]
    pub invite_token_ttl: Duration,

    /// Link in verification mails; `{token}` is replaced by the token.
    #[arg(
        long,
        env = "LATCHKEY_VERIFY_URL",
        default_value = "http://localhost:3000/verify-email?token={token}",
        value_parser = parse_reset_url
    )]
    pub verify_url: String,

    #[arg(long, env = "LATCHKEY_VERIFY_TOKEN_TTL", default_value = "24h", value_parser = parse_positive_duration)]
    pub verify_token_ttl: Duration,

    /// Only verified addresses sign in; signup answers `EMAIL_NOT_VERIFIED` for new and taken
    /// addresses alike; an email change waits for the new address to confirm it.
    #[arg(long, env = "LATCHKEY_REQUIRE_VERIFIED_EMAIL", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub require_verified_email: bool,

    /// `closed`: `signup` is refused; accounts come from administrators, invitations or import.
    #[arg(long, env = "LATCHKEY_SIGNUP", default_value = "open", value_enum)]
    pub signup: SignupMode,

    /// `smtp://user:pass@host:587` (STARTTLS), `smtps://host:465` (TLS) or `smtp://host:1025?tls=none`.
    #[arg(long, env = "LATCHKEY_SMTP_URL", value_parser = parse_smtp_url, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// Without an SMTP URL, each message is written here as an `.eml` file.
    #[arg(long, env = "LATCHKEY_MAIL_DIR", default_value = "./mail")]
    pub mail_dir: PathBuf,

    /// Sender of every message.
    #[arg(long, env = "LATCHKEY_MAIL_FROM", default_value = "latchkey <no-reply@localhost>", value_parser = parse_mailbox)]
    pub mail_from: lettre::message::Mailbox,

    /// Comma-separated origins allowed to call the API from a browser.
    #[arg(long, env = "LATCHKEY_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// CIDRs whose `X-Forwarded-For` is believed for the client address.
    #[arg(long, env = "LATCHKEY_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_cidr)]
    pub trusted_proxies: Vec<IpNet>,

    /// The shortest password accepted, in characters (8 to 128; NIST's rev. 4 asks 15 for
    /// single-factor use).
    #[arg(long, env = "LATCHKEY_PASSWORD_MIN_LENGTH", default_value = "8", value_parser = clap::value_parser!(u8).range(8..=128))]
    pub password_min_length: u8,

    /// Serve Prometheus metrics on `GET /metrics`.
    #[arg(long, env = "LATCHKEY_METRICS", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub metrics: bool,

    /// Serve the GraphiQL playground on `GET /graphql`.
    #[arg(long, env = "LATCHKEY_GRAPHIQL", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub graphiql: bool,

    /// Serve the admin console on `GET /admin`.
    #[arg(long, env = "LATCHKEY_ADMIN_CONSOLE", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub admin_console: bool,

    /// A folder of mail templates that replace the built-in ones file by file
    /// (`password_reset/body.html`, ...), checked at start-up (docs/operations.md, "Mail templates").
    #[arg(long, env = "LATCHKEY_TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,

    /// Answer introspection queries.
    #[arg(long, env = "LATCHKEY_INTROSPECTION", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub introspection: bool,

    /// Tracing filter, for example `info` or `latchkey=debug`.
    #[arg(long, env = "LATCHKEY_LOG", default_value = "info")]
    pub log: String,

    #[arg(
        long,
        env = "LATCHKEY_LOG_FORMAT",
        default_value = "pretty",
        value_enum
    )]
    pub log_format: LogFormat,

    // Tokens that other services verify (docs/deployment.md, "Signing keys").
    /// How access tokens are signed: `ES256`, `EdDSA` and `RS256` with keys latchkey generates
    /// and publishes at `/.well-known/jwks.json`; `HS256` with the master secret.
    #[arg(
        long,
        env = "LATCHKEY_JWT_ALGORITHM",
        default_value = "ES256",
        value_enum,
        ignore_case = true
    )]
    pub jwt_algorithm: SigningAlgorithm,

    /// The externally visible base URL (`https://auth.example.com`); `jwks_uri` is built from it.
    /// Unset: `http://` and the listen address.
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Rotate the signing keys this often (`30d`); unset: only `latchkey keys rotate` does.
    #[arg(long, env = "LATCHKEY_KEY_ROTATION_INTERVAL", value_parser = parse_positive_duration)]
    pub key_rotation_interval: Option<Duration>,

    /// Add Hasura's claims namespace (`https://hasura.io/jwt/claims`) to access tokens.
    #[arg(long, env = "LATCHKEY_HASURA_CLAIMS", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub hasura_claims: bool,

    // Webhooks (docs/operations.md, "Webhooks").
    /// Comma-separated http(s) URLs that receive every audit event, signed.
    #[arg(long, env = "LATCHKEY_WEBHOOK_URLS", value_delimiter = ',', value_parser = ReceiverUrl::parse, hide_env_values = true)]
    pub webhook_urls: Vec<ReceiverUrl>,

    /// Signing secrets (`whsec_` and base64, 24 to 64 bytes), space-separated while rotating:
    /// each signs every webhook.
    #[arg(long, env = "LATCHKEY_WEBHOOK_SECRET", value_parser = SigningSecrets::parse, hide_env_values = true)]
    pub webhook_secret: Option<SigningSecrets>,

    /// Send webhooks to loopback, private and link-local addresses too.
    #[arg(long, env = "LATCHKEY_WEBHOOK_ALLOW_PRIVATE", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// How long a receiver has to answer a webhook (at most 60s).
    #[arg(long, env = "LATCHKEY_WEBHOOK_TIMEOUT", default_value = "15s", value_parser = crate::webhooks::parse_timeout)]
    pub webhook_timeout: Duration,
}

/// Whether anyone may create an account with `signup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignupMode {
    Open,
    Closed,
}

impl Settings {
    /// Settings as the command line and environment give them, for embedding and tests:
    /// `Settings::from_args(["--listen", "127.0.0.1:0"])`.
    ///
    /// # Errors
    /// A clap error naming the bad setting.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            settings: Settings,
        }
        let argv = std::iter::once(std::ffi::OsString::from("latchkey"))
            .chain(args.into_iter().map(Into::into));
        Wrapper::try_parse_from(argv).map(|w| w.settings)
    }

    /// The master secret, under its name or its old one, once it is known to be strong.
    /// Checked here rather than while parsing, so that a weak secret in the environment does
    /// not stop `latchkey secret generate`, the way to replace it.
    ///
    /// # Errors
    /// One line naming the setting, never its value: the secret is weak, or the two names hold
    /// different values.
    pub fn master_secret(&self) -> Result<Option<&SecretString>, String> {
        let named = [
            (&self.secret, "LATCHKEY_SECRET (--secret)"),
            (&self.jwt_secret, "LATCHKEY_JWT_SECRET (--jwt-secret)"),
        ];
        for (secret, name) in named {
            if let Some(secret) = secret
                && let Some(weakness) = master_secret::weakness(secret.expose_secret())
            {
                return Err(format!(
                    "invalid {name}: too weak ({weakness}); {how}",
                    how = master_secret::HOW_TO_GENERATE
                ));
            }
        }
        match (&self.secret, &self.jwt_secret) {
            (Some(secret), Some(old)) if secret.expose_secret() != old.expose_secret() => Err(
                "LATCHKEY_SECRET (--secret) and its old name LATCHKEY_JWT_SECRET (--jwt-secret) \
                 hold different values; set only LATCHKEY_SECRET"
                    .into(),
            ),
            (Some(secret), _) | (None, Some(secret)) => Ok(Some(secret)),
            (None, None) => Ok(None),
        }
    }

    /// `LATCHKEY_PUBLIC_URL`, or `http://` and the listen address, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
    }
}

/// One line for a command-line or environment error, naming the flag and its variable and
/// never echoing the value (it may be a secret).
pub fn describe_error(error: &clap::Error) -> String {
    use clap::CommandFactory as _;
    use clap::error::{ContextKind, ContextValue};

    let is_bad_value = matches!(
        error.kind(),
        clap::error::ErrorKind::ValueValidation | clap::error::ErrorKind::InvalidValue
    );
    let (true, Some(ContextValue::String(arg))) =
        (is_bad_value, error.get(ContextKind::InvalidArg))
    else {
        let rendered = error.render().to_string();
        let first = rendered.lines().next().unwrap_or("invalid arguments");
        return first.trim_start_matches("error: ").to_owned();
    };
    let flag = arg.split_whitespace().next().unwrap_or(arg);
    let env = Cli::command()
        .get_arguments()
        .find(|candidate| {
            candidate
                .get_long()
                .is_some_and(|long| flag == format!("--{long}"))
        })
        .and_then(|candidate| {
            candidate
                .get_env()
                .map(|env| env.to_string_lossy().into_owned())
        });
    let reason = match (
        std::error::Error::source(error),
        error.get(ContextKind::ValidValue),
    ) {
        (Some(source), _) => source.to_string(),
        (None, Some(ContextValue::Strings(valid))) => {
            format!("expected one of {}", valid.join(", "))
        }
        (None, _) => error.kind().to_string(),
    };
    match env {
        Some(env) => format!("invalid {env} ({flag}): {reason}"),
        None => format!("invalid {flag}: {reason}"),
    }
}

/// Durations as `30s`, `15m`, `1h`, `30d` (and `0s`; combinations such as `1h 30m` too).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|error| {
        format!(
            "`{}` is not a duration like 30s, 15m, 1h or 30d ({error})",
            text.trim()
        )
    })?;
    if duration > LONGEST_DURATION {
        return Err(format!("`{}` is longer than 100 years", text.trim()));
    }
    Ok(duration)
}

/// The longest duration a setting takes: 100 years (of humantime's 365.25 days). Instants are
/// computed from these settings on every request (`now - session lifetime`), and far enough out
/// they leave the calendar's range.
const LONGEST_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err("must be longer than 0s".into());
    }
    Ok(duration)
}

fn parse_reset_url(text: &str) -> Result<String, String> {
    if !text.contains("{token}") {
        return Err("must contain `{token}`".into());
    }
    let probe = text.replace("{token}", "token");
    let url = url::Url::parse(&probe).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    Ok(text.to_owned())
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
        return Err("must be an http or https URL without a query".into());
    }
    Ok(text.to_owned())
}

fn parse_smtp_url(text: &str) -> Result<SecretString, String> {
    // Never echo the value: it may hold a password.
    let url = url::Url::parse(text).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err("must start with smtp:// or smtps://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("needs a host".into());
    }
    Ok(SecretString::from(text.to_owned()))
}

fn parse_mailbox(text: &str) -> Result<lettre::message::Mailbox, String> {
    text.parse()
        .map_err(|_| "must be an address like `Name <no-reply@example.com>`".to_owned())
}

fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    let url = url::Url::parse(text)
        .map_err(|_| format!("`{text}` is not an origin like https://app.example.com"))?;
    if url.path() != "/" || url.query().is_some() || !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{text}` is not an origin like https://app.example.com"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is not a CIDR like 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_documented_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("fifteen minutes").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_duration("100y"), Ok(LONGEST_DURATION));
        assert!(parse_duration("101y").is_err());
    }

    #[test]
    fn defaults_need_no_configuration() {
        let settings = Settings::from_args(Vec::<String>::new()).expect("defaults parse");
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.access_token_ttl, Duration::from_secs(900));
        assert!(settings.graphiql);
        assert_eq!(settings.jwt_algorithm, SigningAlgorithm::Es256);
        assert_eq!(settings.public_url(), "http://127.0.0.1:8080");
        assert!(!settings.hasura_claims && settings.key_rotation_interval.is_none());
        assert_eq!(settings.audit_retention, Duration::from_secs(90 * 86_400));
    }

    #[test]
    fn algorithms_take_their_jose_names() {
        for (name, algorithm) in [
            ("ES256", SigningAlgorithm::Es256),
            ("EdDSA", SigningAlgorithm::EdDsa),
            ("rs256", SigningAlgorithm::Rs256),
            ("HS256", SigningAlgorithm::Hs256),
        ] {
            let settings = Settings::from_args(["--jwt-algorithm", name]).unwrap();
            assert_eq!(settings.jwt_algorithm, algorithm);
        }
        assert!(Settings::from_args(["--jwt-algorithm", "none"]).is_err());
        let settings = Settings::from_args(["--public-url", "https://auth.example.com/"]).unwrap();
        assert_eq!(settings.public_url(), "https://auth.example.com");
    }

    #[test]
    fn a_short_secret_is_refused_by_name_without_echoing_it() {
        let settings = Settings::from_args(["--jwt-secret", "too-short"]).unwrap();
        assert_eq!(
            settings.master_secret().unwrap_err(),
            "invalid LATCHKEY_JWT_SECRET (--jwt-secret): too weak (fewer than 32 bytes of key \
             material once decoded); generate one with `latchkey secret generate`"
        );
    }

    #[test]
    fn the_secret_under_both_names_must_agree() {
        let strong = "a-test-secret-that-is-at-least-32-bytes-long";
        let same = Settings::from_args(["--secret", strong, "--jwt-secret", strong]).unwrap();
        assert!(same.master_secret().unwrap().is_some());
        let other = "another-test-secret-that-is-at-least-32-bytes";
        let different = Settings::from_args(["--secret", strong, "--jwt-secret", other]).unwrap();
        let error = different.master_secret().unwrap_err();
        assert!(!error.contains(strong) && !error.contains(other), "{error}");
    }

    #[test]
    fn origins_are_normalised_and_cidrs_parsed() {
        let settings = Settings::from_args([
            "--cors-origins",
            "https://app.example.com/,http://localhost:3000",
            "--trusted-proxies",
            "10.0.0.0/8,::1",
        ])
        .unwrap();
        assert_eq!(
            settings.cors_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(settings.trusted_proxies.len(), 2);
    }
}
