//! Where delivered mail goes: an SMTP server (lettre over rustls), or `.eml` files in a folder
//! when no SMTP URL is configured.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::io::AsyncWriteExt as _;

/// How long one SMTP conversation may take before the attempt counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(PathBuf),
}

/// A failed delivery. `permanent` failures (the server refused the message for good) are not
/// retried.
#[derive(Debug)]
pub struct DeliveryError {
    pub permanent: bool,
    pub message: String,
}

/// What a delivery produced, for the one-line log summary.
pub enum Delivered {
    Smtp,
    File(PathBuf),
}

impl Transport {
    /// Builds the transport from `LATCHKEY_SMTP_URL`: `smtp://` requires STARTTLS, `smtps://`
    /// wraps the connection in TLS, `?tls=none` talks plain text (for local sinks only).
    ///
    /// # Errors
    /// A message naming what is wrong with the URL (never its credentials).
    pub fn smtp(url: &SecretString) -> Result<Self, String> {
        let url = url::Url::parse(url.expose_secret()).map_err(|_| "is not a URL".to_owned())?;
        let host = url.host_str().ok_or("needs a host")?.to_owned();
        let tls_mode = url
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let parameters =
            || TlsParameters::new(host.clone()).map_err(|e| format!("TLS set-up failed: {e}"));
        let (tls, default_port) = match (url.scheme(), tls_mode.as_deref()) {
            ("smtp", None | Some("required")) => (Tls::Required(parameters()?), 587),
            ("smtp", Some("none")) => (Tls::None, 25),
            ("smtps", None) => (Tls::Wrapper(parameters()?), 465),
            _ => return Err(
                "takes smtp://host:587 (STARTTLS), smtps://host:465 or smtp://host:1025?tls=none"
                    .into(),
            ),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if !url.username().is_empty() {
            let decode = |text: &str| {
                url::form_urlencoded::parse(format!("x={text}").as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default()
            };
            let credentials = Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            );
            builder = builder.credentials(credentials);
        }
        Ok(Self::Smtp(builder.build()))
    }

    /// Mail as files in `dir`, which is created readable by its owner only (`0700`) if missing:
    /// the messages hold reset links.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn directory(dir: PathBuf) -> std::io::Result<Self> {
        crate::private_files::create_folder(&dir)?;
        Ok(Self::Directory(dir))
    }

    pub async fn send(&self, message: Message) -> Result<Delivered, DeliveryError> {
        match self {
            Self::Smtp(transport) => transport
                .send(message)
                .await
                .map(|_| Delivered::Smtp)
                .map_err(|e| DeliveryError {
                    permanent: e.is_permanent(),
                    message: e.to_string(),
                }),
            Self::Directory(dir) => {
                write_eml(dir, &message)
                    .await
                    .map(Delivered::File)
                    .map_err(|e| DeliveryError {
                        permanent: false,
                        message: e.to_string(),
                    })
            }
        }
    }
}

/// Writes `message` as it would go over SMTP to a new `<uuid>.eml` in `dir`, created `0600`
/// whatever the umask, so that no other user reads the links it holds.
async fn write_eml(dir: &Path, message: &Message) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("{}.eml", uuid::Uuid::new_v4()));
    let options = tokio::fs::OpenOptions::from(crate::private_files::new_file_options());
    let mut file = options.open(&path).await?;
    file.write_all(&message.formatted()).await?;
    // A tokio file finishes its last write in the background unless flushed.
    file.flush().await?;
    Ok(path)
}
