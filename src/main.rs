//! The `latchkey` binary: parse the command line, then serve, migrate, print the schema or
//! generate a secret.

use std::process::ExitCode;

use clap::Parser as _;
use latchkey::app::{Application, StartupError};
use latchkey::config::{
    AdminAction, AdminCreateArgs, Cli, Command, ImportArgs, KeysAction, MigrateAction,
    SecretAction, Settings,
};
use latchkey::{auth, config, db, graphql, telemetry};
use migration::{Migrator, MigratorTrait as _};

/// Exit status for an unusable setting (README, "Settings").
const BAD_SETTING: u8 = 2;

fn main() -> ExitCode {
    // A missing .env is the normal case; a broken one is worth saying.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("latchkey: .env could not be read: {error}");
        return ExitCode::from(BAD_SETTING);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(), // --help, --version
        Err(error) => {
            eprintln!("latchkey: {}", config::describe_error(&error));
            return ExitCode::from(BAD_SETTING);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("latchkey: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        None => runtime.block_on(serve(cli.serve)),
        Some(Command::Serve(settings)) => runtime.block_on(serve(*settings)),
        Some(Command::Migrate(args)) => runtime.block_on(migrate(&args.database_url, args.action)),
        Some(Command::PrintSchema) => {
            print!("{}", graphql::sdl());
            ExitCode::SUCCESS
        }
        Some(Command::Admin(args)) => match args.action {
            AdminAction::Create(create) => runtime.block_on(admin_create(create)),
        },
        Some(Command::Import(args)) => runtime.block_on(import(args)),
        Some(Command::Secret(args)) => match args.action {
            SecretAction::Generate => {
                println!("{}", auth::master_secret::generate());
                ExitCode::SUCCESS
            }
        },
        Some(Command::Keys(args)) => runtime.block_on(keys(args.action)),
    }
}

async fn serve(settings: Settings) -> ExitCode {
    telemetry::init(&settings.log, settings.log_format);
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(StartupError::Config(message)) => {
            eprintln!("latchkey: {message}");
            return ExitCode::from(BAD_SETTING);
        }
        Err(error) => {
            tracing::error!(%error, "start-up failed");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the server failed");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(database_url: &str, action: Option<MigrateAction>) -> ExitCode {
    telemetry::init("info", latchkey::config::LogFormat::Pretty);
    let outcome = async {
        let db = db::connect(database_url, db::PoolSettings::default()).await?;
        match action {
            Some(MigrateAction::Status) => {
                for migration in Migrator::get_migration_with_status(&db).await? {
                    println!("{:<8} {}", migration.status().to_string(), migration.name());
                }
            }
            None => {
                db::migrate(&db).await?;
                println!("database is up to date");
            }
        }
        Ok::<_, sea_orm::DbErr>(())
    }
    .await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey: migration failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn admin_create(args: AdminCreateArgs) -> ExitCode {
    use latchkey::accounts::admin::bootstrap::{self, Bootstrapped};
    use latchkey::accounts::domain::{DisplayName, Email, PasswordPolicy};
    use latchkey::auth::password::PasswordHasher;

    let email = match Email::parse(&args.email) {
        Ok(email) => email,
        Err(refusal) => {
            eprintln!("latchkey: --email: {refusal}");
            return ExitCode::from(BAD_SETTING);
        }
    };
    let name = match args.name.as_deref().map(DisplayName::parse).transpose() {
        Ok(name) => name,
        Err(refusal) => {
            eprintln!("latchkey: --name: {refusal}");
            return ExitCode::from(BAD_SETTING);
        }
    };
    let outcome = async {
        let audit = cli_audit_log(&args.settings)?;
        let db = db::connect(&args.settings.database_url, db::PoolSettings::default()).await?;
        db::migrate(&db).await?;
        let hasher = PasswordHasher::new(PasswordHasher::default_params(), 1)?;
        let policy = PasswordPolicy {
            min_chars: usize::from(args.settings.password_min_length),
        };
        let password_file = args.password_file.clone();
        let read_password = move || match password_file {
            Some(path) => std::fs::read_to_string(path).map(without_line_end),
            None => {
                eprintln!("latchkey: reading the new account's password from standard input");
                std::io::read_to_string(std::io::stdin()).map(without_line_end)
            }
        };
        let outcome =
            bootstrap::ensure_superadmin(&db, &audit, &hasher, policy, email, name, read_password)
                .await?;
        Ok::<_, Box<dyn std::error::Error>>(outcome)
    }
    .await;
    match outcome {
        Ok(Bootstrapped::Created) => println!("created {} as a superadmin", args.email.trim()),
        Ok(Bootstrapped::Promoted) => println!("{} is now an active superadmin", args.email.trim()),
        Ok(Bootstrapped::AlreadySuperadmin) => {
            println!(
                "{} is a superadmin already: nothing changed",
                args.email.trim()
            );
        }
        Err(error) => {
            eprintln!("latchkey: admin create failed: {error}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

async fn import(args: ImportArgs) -> ExitCode {
    use latchkey::accounts::import::{self, ImportOptions};

    telemetry::init("info", latchkey::config::LogFormat::Pretty);
    let options = ImportOptions {
        dry_run: args.dry_run,
        skip_invalid: args.skip_invalid,
    };
    let outcome = async {
        let input: Box<dyn std::io::BufRead> = if args.file.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(std::fs::File::open(&args.file)?))
        };
        let audit = cli_audit_log(&args.settings)?;
        let db = db::connect(&args.settings.database_url, db::PoolSettings::default()).await?;
        db::migrate(&db).await?;
        let report = import::import_users(&db, &audit, input, options).await?;
        Ok::<_, Box<dyn std::error::Error>>(report)
    }
    .await;
    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            eprintln!("latchkey: import failed, nothing more was written: {error}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", import::summary(&report, options));
    if report.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The audit trail as the CLI writes it: no metrics to count in (nothing serves them here).
/// With webhook receivers configured, events are queued for them in the outbox, and a running
/// server with the same receivers and master secret delivers them.
fn cli_audit_log(settings: &Settings) -> Result<latchkey::audit::AuditLog, String> {
    use latchkey::webhooks::{WebhookConfig, WebhookQueue};
    use secrecy::ExposeSecret as _;

    let queue = match WebhookConfig::from_settings(settings)? {
        Some(config) => {
            let secret = auth::master_secret::load(settings)?;
            config.queue_only(secret.expose_secret().as_bytes())
        }
        None => WebhookQueue::disabled(),
    };
    Ok(latchkey::audit::AuditLog::new(queue))
}

/// A password as typed or saved: without the one line end that ends it.
fn without_line_end(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// `latchkey keys list|rotate|revoke KID`: a short summary on stdout, never a private part.
/// Running servers pick the change up within seconds.
async fn keys(action: KeysAction) -> ExitCode {
    use auth::signing_keys::KeyStore;

    let settings = match &action {
        KeysAction::List(keys)
        | KeysAction::Rotate(keys)
        | KeysAction::Revoke { settings: keys, .. } => keys.settings.clone(),
    };

    telemetry::init("warn", latchkey::config::LogFormat::Pretty);
    let outcome = async {
        let secret = auth::master_secret::load(&settings)?;
        let db = db::connect(&settings.database_url, db::PoolSettings::default())
            .await
            .map_err(|e| e.to_string())?;
        db::migrate(&db).await.map_err(|e| e.to_string())?;
        let store = KeyStore::new(
            db,
            secrecy::ExposeSecret::expose_secret(&secret).as_bytes(),
            settings.jwt_algorithm,
        );
        match action {
            KeysAction::List(_) => {}
            KeysAction::Rotate(_) => {
                store.rotate().await.map_err(|e| e.to_string())?;
                println!("rotated: the next key now signs");
            }
            KeysAction::Revoke { kid, .. } => {
                let was = store.revoke(&kid).await.map_err(|e| e.to_string())?;
                match was {
                    auth::signing_keys::KeyState::Current => {
                        println!("rotated, then revoked {kid} (it was the current key)");
                    }
                    _ => println!("revoked {kid} (it was {was})"),
                }
            }
        }
        let keys = store.list().await.map_err(|e| e.to_string())?;
        if keys.is_empty() {
            println!("no signing keys (LATCHKEY_JWT_ALGORITHM=HS256 signs with the master secret)");
        }
        for key in keys {
            println!(
                "{:<24} {:<6} {:<9} created {} changed {}",
                key.kid,
                key.algorithm,
                key.state,
                key.created_at.format("%Y-%m-%d %H:%M:%S"),
                key.updated_at.format("%Y-%m-%d %H:%M:%S"),
            );
        }
        Ok::<_, String>(())
    }
    .await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey: keys: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
