//! latchkey's integration tests: one binary, one module per feature. Every test starts the real server on a
//! fresh SQLite database in its own temporary directory, with a real SMTP sink to catch the mail.

mod helpers;
mod smtp_sink;

mod cli;
mod delete_me;
mod http;
mod login;
mod logout;
mod logs;
mod mail_delivery;
mod me;
mod refresh_token;
mod reset_password;
mod schema;
mod signup;
mod update_me;
