//! A receiver's URL as `LATCHKEY_WEBHOOK_URLS` lists it, checked once at start. Shown (in logs,
//! `Debug`, the outbox's `recipient`) only by its origin: a path or query may hold a token.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

/// Longer than any receiver needs; it is stored sealed with every delivery.
const MAX_LENGTH: usize = 2048;

/// An `http` or `https` URL with a host, without credentials or a fragment.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceiverUrl(Url);

impl fmt::Debug for ReceiverUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiverUrl({}/...)", self.origin())
    }
}

impl ReceiverUrl {
    /// # Errors
    /// What is wrong with the URL, without echoing it (it may hold a token).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an entry is empty".into());
        }
        if text.len() > MAX_LENGTH {
            return Err(format!("a URL is longer than {MAX_LENGTH} characters"));
        }
        let url = Url::parse(text).map_err(|error| format!("an entry is not a URL ({error})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("a URL is not http:// or https://".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("a URL has no host".into());
        }
        // The signature authenticates latchkey to the receiver; a user name or password in the
        // URL would be one more secret sent along and kept in the outbox.
        if !url.username().is_empty() || url.password().is_some() {
            return Err("a URL holds a user name or password; receivers authenticate webhooks by their signature".into());
        }
        if url.fragment().is_some() {
            return Err("a URL has a #fragment, which is never sent".into());
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `scheme://host[:port]`: what may be shown of the receiver.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// The address when the host is written as one (`http://10.0.0.5/`), which is connected
    /// to without any name lookup.
    pub fn literal_address(&self) -> Option<IpAddr> {
        match self.0.host()? {
            Host::Ipv4(address) => Some(IpAddr::V4(address)),
            Host::Ipv6(address) => Some(IpAddr::V6(address)),
            Host::Domain(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_urls_with_a_host_are_taken() {
        let url = ReceiverUrl::parse(" https://hooks.example.com/in/abc123?key=s3cret ").unwrap();
        assert_eq!(url.origin(), "https://hooks.example.com");
        assert_eq!(
            url.as_str(),
            "https://hooks.example.com/in/abc123?key=s3cret"
        );
        assert_eq!(url.literal_address(), None);
        let literal = ReceiverUrl::parse("http://[::1]:9000/").unwrap();
        assert_eq!(literal.literal_address(), Some("::1".parse().unwrap()));
    }

    #[test]
    fn other_urls_are_refused_without_echoing_them() {
        for text in [
            "",
            "hooks.example.com/in",
            "ftp://hooks.example.com/in",
            "file:///etc/passwd",
            "https://user:s3cret@hooks.example.com/in",
            "https://s3cret@hooks.example.com/in",
            "https://hooks.example.com/in#s3cret",
        ] {
            let error = ReceiverUrl::parse(text).unwrap_err();
            assert!(
                !error.contains("s3cret") && !error.contains("example"),
                "{error}"
            );
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_LENGTH));
        assert!(ReceiverUrl::parse(&long).is_err());
    }

    #[test]
    fn debug_output_shows_the_origin_only() {
        let url = ReceiverUrl::parse("https://hooks.example.com/in/abc123?key=s3cret").unwrap();
        let shown = format!("{url:?}");
        assert!(shown.contains("https://hooks.example.com"), "{shown}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("abc123"),
            "{shown}"
        );
    }
}
