//! The open-file limit: raised from its soft to its hard value at start, and the share of it
//! that client connections may take when the operator sets no bound.

/// The bound on open connections when none is configured and descriptors are plentiful.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Descriptors kept back from client connections, beyond the database pool: the listener,
/// SMTP, logs, files, refusals being written, the runtime's own.
const RESERVED_DESCRIPTORS: u64 = 128;
/// However low the open-file limit, at least this many clients are served at once.
const MIN_MAX_CONNECTIONS: usize = 16;

/// Raises the soft limit on open files to the hard limit, so that a low default (often 1024,
/// sometimes 256) does not cap the clients served. Returns the limit now in force, or `None`
/// where the platform has none or it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(error) => {
                tracing::warn!(%error, "the open-file limit could not be raised");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _hard)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// How many connections fit in `open_files` descriptors next to a pool of
/// `database_connections`, capped at [`DEFAULT_MAX_CONNECTIONS`]. Past the bound clients get a
/// clear 503 rather than the "too many open files" that would stall everyone.
pub fn max_connections_for(open_files: Option<u64>, database_connections: u32) -> usize {
    let Some(open_files) = open_files else {
        return DEFAULT_MAX_CONNECTIONS;
    };
    let room = open_files.saturating_sub(RESERVED_DESCRIPTORS + u64::from(database_connections));
    usize::try_from(room)
        .unwrap_or(usize::MAX)
        .clamp(MIN_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_bound_leaves_room_for_the_database_and_the_rest() {
        assert_eq!(
            max_connections_for(Some(1_048_576), 10),
            DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(max_connections_for(Some(1024), 10), 1024 - 128 - 10);
        assert_eq!(max_connections_for(Some(256), 10), 256 - 128 - 10);
        assert_eq!(max_connections_for(Some(64), 10), MIN_MAX_CONNECTIONS);
        assert_eq!(max_connections_for(None, 10), DEFAULT_MAX_CONNECTIONS);
    }
}
