//! Keyset paging, newest first, for every connection: a cursor names the last item seen by its
//! creation time and id, so items inserted meanwhile never shift a page (as offsets would).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, IntoColumnRef, SimpleExpr};
use uuid::Uuid;

use crate::accounts::domain::FieldError;

/// Page sizes a client may ask for.
pub const MAX_PAGE: i32 = 100;

/// Length of the longest cursor `Cursor::encode` makes: base64 of 53 bytes.
const MAX_CURSOR_CHARS: usize = 71;

/// Where an item sits in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// Opaque to clients: base64url of the creation time (nanoseconds) and the id.
    pub fn encode(&self) -> String {
        let nanos = self.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        URL_SAFE_NO_PAD.encode(format!("{nanos}.{}", self.id.simple()))
    }

    fn decode(text: &str) -> Option<Self> {
        // The longest real cursor (20 characters of nanoseconds, a dot, 32 hex digits) is 71
        // characters of base64; do not decode anything longer.
        if text.len() > MAX_CURSOR_CHARS {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (nanos, id) = raw.split_once('.')?;
        Some(Self {
            created_at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            id: Uuid::try_parse(id).ok()?,
        })
    }

    /// Rows strictly after this cursor in newest-first order: `(created_at, id) < (cursor)`.
    pub(in crate::accounts) fn after(
        &self,
        created_at: impl IntoColumnRef,
        id: impl IntoColumnRef,
    ) -> SimpleExpr {
        Expr::tuple([Expr::col(created_at), Expr::col(id)])
            .lt(Expr::tuple([self.created_at.into(), self.id.into()]))
    }
}

/// `first` and `after` as a connection field takes them, checked.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub first: u64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// # Errors
    /// `first` outside 1..=100, or an `after` that is not a cursor this server made; the error
    /// names the argument (`first` or `after`).
    pub fn parse(first: i32, after: Option<&str>) -> Result<Self, FieldError> {
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(FieldError::new(
                "first",
                format!("Ask for 1 to {MAX_PAGE} items."),
            ));
        }
        let after = after
            .map(|text| {
                Cursor::decode(text).ok_or_else(|| {
                    FieldError::new(
                        "after",
                        "This cursor is malformed: pass an endCursor or cursor from a page.",
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            first: u64::try_from(first).unwrap_or(1),
            after,
        })
    }
}

/// One page of a connection.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// `rows` were read with a limit of `first + 1`: the extra one only says there is more.
    pub(in crate::accounts) fn from_rows(mut rows: Vec<T>, request: PageRequest) -> Self {
        let first = usize::try_from(request.first).unwrap_or(usize::MAX);
        let has_next_page = rows.len() > first;
        rows.truncate(first);
        Self {
            items: rows,
            has_next_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_the_round_trip_to_the_nanosecond() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_nanos(1_764_608_958_123_456_789),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn the_longest_cursors_decode() {
        for nanos in [i64::MIN, i64::MAX] {
            let cursor = Cursor {
                created_at: DateTime::from_timestamp_nanos(nanos),
                id: Uuid::max(),
            };
            let encoded = cursor.encode();
            assert!(encoded.len() <= MAX_CURSOR_CHARS, "{encoded}");
            assert_eq!(Cursor::decode(&encoded), Some(cursor));
        }
    }

    #[test]
    fn malformed_cursors_and_page_sizes_name_their_argument() {
        for bad in [
            "",
            "x",
            "!!!!",
            &URL_SAFE_NO_PAD.encode("12.not-a-uuid"),
            &"A".repeat(5000),
        ] {
            let error = PageRequest::parse(10, Some(bad)).unwrap_err();
            assert_eq!(error.field, "after", "{bad:?}");
        }
        for first in [0, -1, 101, i32::MAX] {
            assert_eq!(PageRequest::parse(first, None).unwrap_err().field, "first");
        }
        assert_eq!(PageRequest::parse(100, None).unwrap().first, 100);
    }
}
