//! latchkey's integration tests: one binary, one module per feature. Every test starts the real server on a
//! fresh database in its own temporary directory (a SQLite file, or a PostgreSQL database, dropped when
//! the test is done, when `LATCHKEY_TEST_POSTGRES_URL` is set, as `.ci/run` does), with a real SMTP sink
//! to catch the mail. `helpers` holds what they share; the account operations they send are those of
//! `docs/operations`.

mod helpers;
mod postgres;
mod smtp_sink;

mod admin_authorization;
mod admin_console;
mod admin_status;
mod admin_users;
mod audit;
mod audit_queries;
mod cleanup;
mod cli;
mod delete_me;
mod email_verification;
mod graphql_document_size;
mod graphql_limits;
mod guessing;
mod hostile_input;
mod http;
mod http_hardening;
mod import;
mod instances;
mod integrations;
mod jwt_forgery;
mod login;
mod logout;
mod logs;
mod mail_at_rest;
mod mail_delivery;
mod mail_templates;
mod me;
mod metrics;
mod my_sessions;
mod persisted_queries;
mod readiness;
mod refresh_token;
mod reset_password;
mod schema;
mod session_events;
mod signing_keys;
mod signup;
mod throttling;
mod update_me;
mod webhooks;
