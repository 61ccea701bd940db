//! `latchkey import`: users from another system, with their existing password hashes, read
//! from JSON Lines as a stream (docs/migrating.md). Nothing is hashed here: the hashes are
//! checked and stored, and replaced by argon2id at each user's first login.

mod line;
mod writer;

use std::collections::HashMap;
use std::io::BufRead;

use sea_orm::DatabaseConnection;
use sha2::{Digest as _, Sha256};

use self::writer::Writer;
use crate::accounts::AccountError;
use crate::audit::AuditLog;

/// How `import_users` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check everything, write nothing.
    pub dry_run: bool,
    /// Import the valid lines even when others are refused. Without it, one refused line
    /// leaves the database as it was.
    pub skip_invalid: bool,
}

/// What an import did (or, in a dry run, would have done).
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: u64,
    /// Line numbers and addresses of accounts that existed already: left as they were.
    pub skipped_existing: Vec<(u64, String)>,
    /// Line numbers and reasons. Reasons never hold a hash or any other value of the line.
    pub refused: Vec<(u64, String)>,
    /// Whether the accounts counted in `imported` were written.
    pub written: bool,
}

/// Users read per batch: one query for existing addresses and one insert per batch.
const BATCH: usize = 500;

/// Imports the users of `input`, one JSON object a line (blank lines are ignored). Batches are
/// written inside one transaction, or, with `skip_invalid`, one transaction per batch; each
/// commit is audited (`users_imported`, per organization, with the count).
///
/// # Errors
/// `Internal` when reading the input or the database fails; nothing of the failed transaction
/// is written.
pub async fn import_users(
    db: &DatabaseConnection,
    audit: &AuditLog,
    input: impl BufRead,
    options: ImportOptions,
) -> Result<ImportReport, AccountError> {
    let mut report = ImportReport::default();
    let mut writer = Writer::start(db, audit, options).await?;
    // Addresses seen so far, as 16 bytes of their digest each, to refuse a second line with one:
    // a million lines cost tens of megabytes, not the file.
    let mut seen: HashMap<[u8; 16], u64> = HashMap::new();
    for (index, bytes) in input.split(b'\n').enumerate() {
        let number = index as u64 + 1;
        let bytes = bytes.map_err(|error| AccountError::Internal(Box::new(error)))?;
        // One line that is not UTF-8 is refused like any other bad line, not the whole file.
        let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned());
        if text.as_deref().is_ok_and(|text| text.trim().is_empty()) {
            continue;
        }
        let parsed = text.and_then(|text| line::parse(&text)).and_then(|parsed| {
            let digest: [u8; 16] = Sha256::digest(parsed.email.as_str())[..16]
                .try_into()
                .unwrap_or_default();
            match seen.insert(digest, number) {
                Some(first) => {
                    seen.insert(digest, first);
                    Err(format!("email: a duplicate of line {first}"))
                }
                None => Ok(parsed),
            }
        });
        let parsed = match parsed {
            Ok(parsed) => writer.check_references(parsed),
            Err(reason) => Err(reason),
        };
        match parsed {
            Ok(parsed) => writer.push(number, parsed, &mut report).await?,
            Err(reason) => report.refused.push((number, reason)),
        }
        if !options.skip_invalid && !report.refused.is_empty() {
            // Nothing will be written: keep reading only to report every refusal.
            writer.abandon();
        }
    }
    writer.finish(&mut report).await?;
    tracing::info!(
        imported = report.imported,
        skipped_existing = report.skipped_existing.len(),
        refused = report.refused.len(),
        dry_run = options.dry_run,
        written = report.written,
        "users_imported"
    );
    Ok(report)
}

/// The report as `latchkey import` prints it: one line per skipped or refused line, then the
/// counts.
pub fn summary(report: &ImportReport, options: ImportOptions) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for (number, email) in &report.skipped_existing {
        let _ = writeln!(
            text,
            "line {number}: skipped: {email} has an account already"
        );
    }
    for (number, reason) in &report.refused {
        let _ = writeln!(text, "line {number}: refused: {reason}");
    }
    let imported = if options.dry_run {
        "would import"
    } else {
        "imported"
    };
    let _ = writeln!(
        text,
        "{imported} {}, skipped as existing {}, refused {}",
        report.imported,
        report.skipped_existing.len(),
        report.refused.len()
    );
    if !report.refused.is_empty() && !options.skip_invalid {
        let _ = writeln!(
            text,
            "nothing was written: correct the refused lines, or import the others with --skip-invalid"
        );
    } else if options.dry_run {
        let _ = writeln!(text, "dry run: nothing was written");
    }
    text
}
