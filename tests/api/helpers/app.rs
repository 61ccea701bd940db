//! Starting and stopping the real server for a test (`spawn_app*`, `AppOptions`, `TestApp`), and
//! the one log subscriber that captures what every server of the binary logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use latchkey::app::Application;
use latchkey::config::Settings;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::database::DataDir;
use super::{JWT_SECRET, RESET_URL, VERIFY_URL};
use crate::smtp_sink::SmtpSink;

/// Everything the server logged, from every test in this binary (one global subscriber, installed once).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(Arc::default)
}

#[derive(Clone)]
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install_tracing() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let buffer = log_buffer().clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(move || BufferWriter(buffer.clone()))
            .try_init();
    });
}

/// How to start a server. `AppOptions::default()` is a fresh database, a fresh SMTP sink and the default
/// reuse interval.
pub struct AppOptions {
    pub refresh_reuse_interval: &'static str,
    /// Reuse the directory (and so the database) of an earlier server, to restart on the same data.
    pub data_dir: Option<Arc<DataDir>>,
    /// Deliver to this sink instead of a fresh one.
    pub smtp: Option<SmtpSink>,
    /// More command-line flags, passed through to `Settings::from_args` after the ones the helper
    /// sets (do not repeat those), e.g. `["--trusted-proxies", "127.0.0.1/32"]`.
    pub extra_args: Vec<String>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            refresh_reuse_interval: "10s",
            data_dir: None,
            smtp: None,
            extra_args: Vec::new(),
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub smtp: SmtpSink,
    pub data_dir: Arc<DataDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), std::io::Error>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// A server started with these extra command-line flags (see `AppOptions::extra_args`).
pub async fn spawn_app_with_args(args: &[&str]) -> TestApp {
    spawn_app_with(AppOptions {
        extra_args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        ..AppOptions::default()
    })
    .await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    install_tracing();
    let data_dir = match options.data_dir {
        Some(dir) => dir,
        None => Arc::new(DataDir::new().await),
    };
    let smtp = match options.smtp {
        Some(sink) => sink,
        None => SmtpSink::start().await,
    };
    let smtp_url = format!("smtp://127.0.0.1:{}?tls=none", smtp.port());
    let mail_dir = data_dir.path().join("mail");
    let mut args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        data_dir.database_url(),
        "--jwt-secret",
        JWT_SECRET,
        "--smtp-url",
        &smtp_url,
        "--reset-url",
        RESET_URL,
        "--verify-url",
        VERIFY_URL,
        "--mail-dir",
        mail_dir.to_str().unwrap(),
        "--refresh-reuse-interval",
        options.refresh_reuse_interval,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    args.extend(options.extra_args);
    let settings = Settings::from_args(args).expect("test settings parse");

    let app = Application::build(settings)
        .await
        .expect("the application starts");
    let addr = app.local_addr();
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = shutdown_rx.await;
    }));

    TestApp {
        address: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        smtp,
        data_dir,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl TestApp {
    /// Graceful shutdown: waits until the server has finished its requests and stopped its mail worker.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("the server stops within 30 s of a graceful shutdown")
                .expect("the server task did not panic")
                .expect("the server stopped without an error");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}
