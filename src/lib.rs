//! latchkey: a self-hosted authentication server that speaks GraphQL.
//!
//! Layers, top to bottom: `http` (axum) → `graphql` (schema and thin resolvers) → `accounts`
//! (the business rules, one transaction per change) → `entities` (sea-orm) → the database.
//! `auth` holds the credential primitives and `mail` the outbox and its delivery worker.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cleanup;
pub mod config;
pub mod db;
pub mod embed;
pub mod entities;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod private_files;
pub mod telemetry;
pub mod throttle;
pub mod time;
pub mod webhooks;

/// Re-exported so integration tests and embedders can reach the database the server uses.
pub use sea_orm;
