//! The `users` list an administration screen pages through, at one table size: the first page
//! as a superadmin (every organization) and as an admin (their own), a page deep in the table,
//! a filter by email substring, and `totalCount`.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::report::Row;
use crate::scenarios::{measure_one, plan};
use crate::server::Server;
use crate::workloads::{AsCaller, sign_in};
use crate::{Config, Result, operations, seed};

/// Connections for the filter and the count, which read every row: enough to keep both cores
/// busy, few enough that their latency is the query's time rather than a queue's.
pub const SCAN_CONNECTIONS: usize = 4;
/// The page size of an administration screen (the API's default).
const PAGE: u32 = 20;
/// Matches exactly one seeded user, one of the oldest: looking one person up by a fragment of
/// their address, the filter's usual use, and its worst case (nothing stops a scan early).
pub const ONE_MATCH: &str = "user7@";

/// The signed-in administrators and where the deep page starts, for one table size.
pub struct Callers {
    superadmin: String,
    admin: String,
    deep_cursor: String,
}

impl Callers {
    /// Logs both administrators in, and names the seeded user half-way down the table.
    pub async fn sign_in(addr: SocketAddr, database_url: &str, users: u64) -> Result<Self> {
        Ok(Self {
            superadmin: sign_in(addr, seed::SUPERADMIN_EMAIL).await?,
            admin: sign_in(addr, seed::ADMIN_EMAIL).await?,
            deep_cursor: seed::cursor_after(database_url, users / 2).await?,
        })
    }
}

/// The rows of one table size, labelled `label` users; the first one is the superadmin's first
/// page, the second the admin's.
pub async fn measure(
    server: &Server,
    config: &Config,
    callers: &Callers,
    label: &str,
) -> Result<Vec<Row>> {
    let scenarios = [
        (
            format!("users, first page (superadmin), {label} users"),
            &callers.superadmin,
            operations::users(PAGE, None, None),
            config.connections,
        ),
        (
            format!("users, first page (admin of the organization), {label} users"),
            &callers.admin,
            operations::users(PAGE, None, None),
            config.connections,
        ),
        (
            format!("users, page after the middle (superadmin), {label} users"),
            &callers.superadmin,
            operations::users(PAGE, Some(&callers.deep_cursor), None),
            config.connections,
        ),
        (
            format!("users, email contains \"{ONE_MATCH}\" (1 match), {label} users"),
            &callers.superadmin,
            operations::users(PAGE, None, Some(ONE_MATCH)),
            SCAN_CONNECTIONS,
        ),
        (
            format!("users, totalCount alone (superadmin), {label} users"),
            &callers.superadmin,
            operations::user_count(),
            SCAN_CONNECTIONS,
        ),
    ];
    let mut rows = Vec::with_capacity(scenarios.len());
    for (name, token, body, connections) in scenarios {
        let workload = Arc::new(AsCaller::new(token, body)?);
        rows.push(measure_one(server, &name, workload, plan(config, connections), None).await?);
    }
    Ok(rows)
}
