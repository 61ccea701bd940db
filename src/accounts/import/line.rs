//! One line of an import file: a JSON object read field by field, so that every refusal names
//! the field and never echoes a value (a hash pasted into the wrong column stays unprinted).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::accounts::domain::{DisplayName, Email, RoleCode};
use crate::auth::imported_hash::{self, Format};

/// A line that passed every check that needs no database.
#[derive(Debug)]
pub(super) struct ImportLine {
    pub email: Email,
    /// What goes into `users.password_hash` (see `imported_hash::prepare`).
    pub password_hash: String,
    pub name: Option<DisplayName>,
    pub roles: Vec<RoleCode>,
    pub email_verified: bool,
    pub active: bool,
    pub created_at: Option<DateTime<Utc>>,
    /// An organization name; `None` is the default organization.
    pub organization: Option<DisplayName>,
}

const FIELDS: [&str; 10] = [
    "email",
    "password_hash",
    "salt",
    "format",
    "name",
    "roles",
    "email_verified",
    "active",
    "created_at",
    "organization",
];

/// # Errors
/// The reason, naming the field; never a value from the line.
pub(super) fn parse(text: &str) -> Result<ImportLine, String> {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Err("not a JSON object".into());
    };
    if let Some(unknown) = object.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err(format!(
            "unknown field `{}` (expected {})",
            printable(unknown),
            FIELDS.join(", ")
        ));
    }
    let email = required_string(&object, "email")?;
    let email = Email::parse(email).map_err(|refusal| format!("email: {refusal}"))?;
    let format = optional_string(&object, "format")?
        .map(str::parse::<Format>)
        .transpose()
        .map_err(|refusal| format!("format: {refusal}"))?;
    let hash = required_string(&object, "password_hash")?;
    let salt = optional_string(&object, "salt")?;
    let password_hash = imported_hash::prepare(format, hash, salt)
        .map_err(|refusal| format!("password_hash: {refusal}"))?;
    let name = optional_string(&object, "name")?
        .map(DisplayName::parse)
        .transpose()
        .map_err(|refusal| format!("name: {refusal}"))?;
    let organization = optional_string(&object, "organization")?
        .map(DisplayName::parse)
        .transpose()
        .map_err(|refusal| format!("organization: {refusal}"))?;
    Ok(ImportLine {
        email,
        password_hash,
        name,
        roles: roles(&object)?,
        email_verified: flag(&object, "email_verified")?.unwrap_or(false),
        active: flag(&object, "active")?.unwrap_or(true),
        created_at: created_at(&object)?,
        organization,
    })
}

fn required_string<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    optional_string(object, field)?.ok_or_else(|| format!("{field}: missing"))
}

/// A string, or `None` for a missing field or `null`.
fn optional_string<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("{field}: must be a string")),
    }
}

/// `true`/`false`, or `1`/`0` as SQLite's `json_object` writes booleans.
fn flag(object: &Map<String, Value>, field: &str) -> Result<Option<bool>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
        Some(_) => Err(format!("{field}: must be true, false, 1 or 0")),
    }
}

fn roles(object: &Map<String, Value>) -> Result<Vec<RoleCode>, String> {
    let codes = match object.get("roles") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(codes)) => codes,
        Some(_) => return Err("roles: must be an array of role codes".into()),
    };
    let mut roles = Vec::with_capacity(codes.len());
    for code in codes {
        let Value::String(code) = code else {
            return Err("roles: must be an array of role codes".into());
        };
        let role = RoleCode::parse(code).map_err(|refusal| format!("roles: {refusal}"))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

/// RFC 3339, or a date and time without an offset (SQLite's and PostgreSQL's `timestamp`
/// as their JSON functions write it), taken as UTC.
fn created_at(object: &Map<String, Value>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(text) = optional_string(object, "created_at")? else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|layout| NaiveDateTime::parse_from_str(text, layout).ok())
        .map(|naive| Some(naive.and_utc()))
        .ok_or_else(|| {
            "created_at: not a date and time like 2024-05-01T12:00:00Z or 2024-05-01 12:00:00"
                .to_owned()
        })
}

/// A field name as the report may print it: short, without control characters.
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(40).collect()
}
