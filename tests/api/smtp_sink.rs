//! A small, real SMTP server for the tests: it accepts every message, keeps it in memory, and can be taken
//! down (`stop`) and brought back on the same port (`resume`) to simulate an outage of the mail server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailparse::{MailHeaderMap, ParsedMail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// One message as it went over the wire.
#[derive(Debug, Clone)]
pub struct RawMessage {
    pub envelope_to: Vec<String>,
    pub data: Vec<u8>,
}

/// A delivered message, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub envelope_to: Vec<String>,
    pub subject: String,
    pub to: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    fn parse(raw: &RawMessage) -> Mail {
        let parsed =
            mailparse::parse_mail(&raw.data).expect("the server sent a message mailparse can read");
        let mut mail = Mail {
            envelope_to: raw.envelope_to.clone(),
            subject: parsed
                .headers
                .get_first_value("Subject")
                .unwrap_or_default(),
            to: parsed.headers.get_first_value("To").unwrap_or_default(),
            text: String::new(),
            html: String::new(),
        };
        collect_bodies(&parsed, &mut mail);
        mail
    }

    /// Whether this message is addressed to `address` (envelope or `To:` header), case-insensitively.
    pub fn is_for(&self, address: &str) -> bool {
        let address = address.to_lowercase();
        self.envelope_to
            .iter()
            .any(|to| to.to_lowercase() == address)
            || self.to.to_lowercase().contains(&address)
    }
}

fn collect_bodies(part: &ParsedMail<'_>, mail: &mut Mail) {
    if part.subparts.is_empty() {
        let body = part.get_body().expect("a decodable body");
        match part.ctype.mimetype.as_str() {
            "text/plain" => mail.text.push_str(&body),
            "text/html" => mail.html.push_str(&body),
            _ => {}
        }
    } else {
        for sub in &part.subparts {
            collect_bodies(sub, mail);
        }
    }
}

struct Running {
    acceptor: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// Cheap to clone: clones share the same mailbox and the same listener.
#[derive(Clone)]
pub struct SmtpSink {
    addr: SocketAddr,
    messages: Arc<Mutex<Vec<RawMessage>>>,
    running: Arc<tokio::sync::Mutex<Option<Running>>>,
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts accepting mail.
    pub async fn start() -> SmtpSink {
        let listener = bind("127.0.0.1:0".parse().unwrap());
        let addr = listener.local_addr().unwrap();
        let sink = SmtpSink {
            addr,
            messages: Arc::default(),
            running: Arc::default(),
        };
        *sink.running.lock().await = Some(sink.serve(listener));
        sink
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message received so far, raw.
    pub fn raw_messages(&self) -> Vec<RawMessage> {
        self.messages.lock().unwrap().clone()
    }

    /// Every message received so far, decoded.
    pub fn messages(&self) -> Vec<Mail> {
        self.raw_messages().iter().map(Mail::parse).collect()
    }

    /// Messages to `to` with exactly this subject.
    pub fn mail_to(&self, to: &str, subject: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|mail| mail.is_for(to) && mail.subject == subject)
            .collect()
    }

    /// Waits (polling) until a message to `to` with this subject has arrived, and returns the first one.
    pub async fn wait_for_mail(&self, to: &str, subject: &str, timeout: Duration) -> Mail {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(mail) = self.mail_to(to, subject).into_iter().next() {
                return mail;
            }
            if tokio::time::Instant::now() >= deadline {
                let seen: Vec<_> = self
                    .messages()
                    .into_iter()
                    .map(|m| (m.envelope_to, m.subject))
                    .collect();
                panic!(
                    "no mail to {to} with subject {subject:?} within {timeout:?}; received: {seen:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An outage: closes the listener and every open connection, so the server sees "connection refused".
    pub async fn stop(&self) {
        let Some(running) = self.running.lock().await.take() else {
            return;
        };
        running.acceptor.abort();
        let _ = running.acceptor.await;
        let connections = std::mem::take(&mut *running.connections.lock().unwrap());
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }

    /// Ends the outage: listens again on the same port.
    pub async fn resume(&self) {
        let mut running = self.running.lock().await;
        if running.is_none() {
            *running = Some(self.serve(bind(self.addr)));
        }
    }

    fn serve(&self, listener: TcpListener) -> Running {
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let messages = self.messages.clone();
        let tracked = connections.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let connection = tokio::spawn(converse(stream, messages.clone()));
                let mut tracked = tracked.lock().unwrap();
                tracked.retain(|c| !c.is_finished());
                tracked.push(connection);
            }
        });
        Running {
            acceptor,
            connections,
        }
    }
}

fn bind(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    // The same port must be reusable right after an outage, even with connections in TIME_WAIT.
    socket.set_reuseaddr(true).unwrap();
    socket
        .bind(addr)
        .unwrap_or_else(|e| panic!("SMTP sink cannot bind {addr}: {e}"));
    socket.listen(64).unwrap()
}

/// One SMTP session: just enough of RFC 5321 for lettre. No STARTTLS, no AUTH, no pipelining.
async fn converse(stream: TcpStream, messages: Arc<Mutex<Vec<RawMessage>>>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut recipients: Vec<String> = Vec::new();
    let mut line = Vec::new();

    macro_rules! reply {
        ($text:expr) => {
            if write.write_all($text.as_bytes()).await.is_err() {
                return;
            }
        };
    }

    reply!("220 sink.test ESMTP latchkey test sink\r\n");
    loop {
        line.clear();
        match read.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply!("250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"),
            "HELO" => reply!("250 sink.test\r\n"),
            "MAIL" => {
                recipients.clear();
                reply!("250 OK\r\n");
            }
            "RCPT" => {
                recipients.push(angle_address(&command));
                reply!("250 OK\r\n");
            }
            "DATA" => {
                reply!("354 end data with <CR><LF>.<CR><LF>\r\n");
                let mut data = Vec::new();
                loop {
                    line.clear();
                    match read.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    let unstuffed = if line.starts_with(b".") {
                        &line[1..]
                    } else {
                        &line[..]
                    };
                    data.extend_from_slice(unstuffed);
                }
                messages.lock().unwrap().push(RawMessage {
                    envelope_to: std::mem::take(&mut recipients),
                    data,
                });
                reply!("250 OK queued\r\n");
            }
            "RSET" => {
                recipients.clear();
                reply!("250 OK\r\n");
            }
            "NOOP" => reply!("250 OK\r\n"),
            "QUIT" => {
                reply!("221 bye\r\n");
                return;
            }
            _ => reply!("502 command not implemented\r\n"),
        }
    }
}

/// `RCPT TO:<a@b.c> SIZE=1` → `a@b.c`.
fn angle_address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}

/// The token out of a reset mail: the link must start with the configured reset URL.
pub fn reset_token(mail: &Mail, reset_url_prefix: &str) -> String {
    let start = mail.text.find(reset_url_prefix).unwrap_or_else(|| {
        panic!(
            "no link starting with {reset_url_prefix} in the mail text:\n{}",
            mail.text
        )
    });
    let token: String = mail.text[start + reset_url_prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(
        token.len(),
        43,
        "a reset token is 256 bits in base64url without padding, got {token:?}"
    );
    token
}
