//! Credentials: password hashing on its own threads, access-token JWTs and their signing keys,
//! and the opaque refresh/reset tokens that are stored only as digests.

pub mod hashing_pool;
pub mod imported_hash;
pub mod jwt;
pub mod master_secret;
pub mod opaque_token;
pub mod password;
pub mod secret_box;
pub mod signing_keys;
pub mod verified_tokens;
