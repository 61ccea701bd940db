//! Automatic persisted queries, as Apollo Client and urql speak them: a request may carry
//! `extensions.persistedQuery = {version: 1, sha256Hash}` instead of its document, which the
//! server looks up in a bounded store, or asks for once (`PERSISTED_QUERY_NOT_FOUND`).

use async_graphql::{ErrorExtensionValues, Request, ServerError, Value};
use sha2::{Digest as _, Sha256};

use super::bounded_cache::BoundedCache;
use super::request_errors::BAD_REQUEST;

/// The code (and, as Apollo's clients also look for it, the message) of a hash the server
/// does not hold: the client then sends the document with its hash.
pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";
/// The key in a request's `extensions`.
pub const EXTENSION: &str = "persistedQuery";

/// Documents kept, and their text added up (hashes included).
pub const MAX_QUERIES: usize = 512;
pub const MAX_BYTES: usize = 1024 * 1024;
/// A longer document is still served when sent, but never kept: its client keeps sending it.
pub const MAX_QUERY_LEN: usize = 16 * 1024;

/// A document sent with its hash, to keep once it has run.
#[derive(Debug)]
pub struct Registration {
    hash: String,
    query: String,
}

/// Hashes to the documents they were computed from. A document is kept only after it was sent
/// with a hash that matches it and ran, so no client can put another document under a hash.
pub struct PersistedQueries {
    queries: BoundedCache<String>,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        Self {
            queries: BoundedCache::new(MAX_QUERIES, MAX_BYTES),
        }
    }
}

impl PersistedQueries {
    /// Reads `request`'s `persistedQuery` extension, if any. Without a document, fills it in
    /// from the store; with one, checks it against the hash and returns what to keep once it
    /// has run (`keep`).
    ///
    /// # Errors
    /// `PERSISTED_QUERY_NOT_FOUND` for a hash the store does not hold; `BAD_REQUEST` for an
    /// extension that is not version 1 with a SHA-256 in hex, or a hash that is not the
    /// document's.
    pub fn resolve(&self, request: &mut Request) -> Result<Option<Registration>, ServerError> {
        let Some(extension) = request.extensions.get(EXTENSION) else {
            return Ok(None);
        };
        let hash = requested_hash(extension)?;
        if request.query.is_empty() {
            let query = self.queries.get(&hash).ok_or_else(not_found)?;
            request.query = String::clone(&query);
            return Ok(None);
        }
        if hex_sha256(&request.query) != hash {
            return Err(bad_request(
                "The persistedQuery sha256Hash is not the SHA-256 of the query sent with it.",
            ));
        }
        if request.query.len() > MAX_QUERY_LEN || self.queries.contains(&hash) {
            return Ok(None);
        }
        Ok(Some(Registration {
            hash,
            query: request.query.clone(),
        }))
    }

    /// Keeps a document that was sent with its hash and ran.
    pub fn keep(&self, registration: Registration) {
        let Registration { hash, query } = registration;
        let weight = query.len();
        self.queries.insert(&hash, query, weight);
    }
}

/// Whether a request names its document by a persisted-query hash (and so may omit it).
pub fn is_persisted(request: &Request) -> bool {
    request.extensions.contains_key(EXTENSION)
}

/// The hash of a version 1 `persistedQuery` extension, in lower case.
fn requested_hash(extension: &Value) -> Result<String, ServerError> {
    let Value::Object(fields) = extension else {
        return Err(bad_request("extensions.persistedQuery must be an object."));
    };
    let version = fields.get("version");
    if !matches!(version, Some(Value::Number(n)) if n.as_u64() == Some(1)) {
        return Err(bad_request(
            "Only version 1 of persisted queries is supported (extensions.persistedQuery.version).",
        ));
    }
    match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(hash.to_ascii_lowercase())
        }
        _ => Err(bad_request(
            "extensions.persistedQuery.sha256Hash must be a SHA-256 in hexadecimal.",
        )),
    }
}

fn hex_sha256(text: &str) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn not_found() -> ServerError {
    with_code(ServerError::new(NOT_FOUND_MESSAGE, None), NOT_FOUND)
}

fn bad_request(message: &str) -> ServerError {
    with_code(ServerError::new(message, None), BAD_REQUEST)
}

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "{ me { id } }";

    fn persisted(query: &str, extension: serde_json::Value) -> Request {
        let mut request = Request::new(query);
        request
            .extensions
            .insert(EXTENSION.into(), Value::from_json(extension).unwrap());
        request
    }

    fn code_of(error: &ServerError) -> String {
        match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(Value::String(code)) => code.clone(),
            other => panic!("no code: {other:?}"),
        }
    }

    #[test]
    fn the_hash_is_sha256_in_lower_case_hex() {
        assert_eq!(
            hex_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_document_is_found_under_its_hash_only_once_kept() {
        let store = PersistedQueries::default();
        let hash = hex_sha256(ME);
        let extension = serde_json::json!({ "version": 1, "sha256Hash": hash.to_uppercase() });

        let error = store
            .resolve(&mut persisted("", extension.clone()))
            .unwrap_err();
        assert_eq!(code_of(&error), NOT_FOUND);
        assert_eq!(error.message, NOT_FOUND_MESSAGE);

        let registration = store
            .resolve(&mut persisted(ME, extension.clone()))
            .unwrap();
        store.keep(registration.expect("a new document is kept"));

        let mut by_hash = persisted("", extension);
        assert!(store.resolve(&mut by_hash).unwrap().is_none());
        assert_eq!(by_hash.query, ME);
    }

    #[test]
    fn a_wrong_hash_or_version_is_refused() {
        let store = PersistedQueries::default();
        let other = hex_sha256("{ __typename }");
        for extension in [
            serde_json::json!({ "version": 1, "sha256Hash": other }),
            serde_json::json!({ "version": 2, "sha256Hash": hex_sha256(ME) }),
            serde_json::json!({ "version": 1, "sha256Hash": "abc" }),
            serde_json::json!({ "version": 1 }),
            serde_json::json!("yes"),
        ] {
            let error = store.resolve(&mut persisted(ME, extension)).unwrap_err();
            assert_eq!(code_of(&error), BAD_REQUEST);
        }
    }
}
