//! The events-list cursor: the original's format (standard base64 of
//! `{"timestamp": <epoch ms>, "id": "<uuid>"}`, §13) plus an additive `micros` field, because we
//! keep microseconds and a millisecond cursor would skip rows at page boundaries. Cursors without
//! `micros` (issued by the original) still work at millisecond precision.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A position in the list ordered by (created_at DESC, id DESC): the last row returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last row.
    pub created_at: DateTime<Utc>,
    /// `id` of the last row.
    pub id: Uuid,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    timestamp: i64,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    micros: Option<i64>,
}

/// Why a cursor was refused (always a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid cursor: {0}")]
pub struct CursorError(&'static str);

impl Cursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        let wire = Wire {
            timestamp: self.created_at.timestamp_millis(),
            id: self.id.to_string(),
            micros: Some(self.created_at.timestamp_micros()),
        };
        STANDARD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }

    /// Reads a cursor.
    ///
    /// # Errors
    /// [`CursorError`] for anything that is not a cursor we could have issued.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        if text.len() > 512 {
            return Err(CursorError("too long"));
        }
        let bytes = STANDARD.decode(text.trim()).map_err(|_| CursorError("not base64"))?;
        let wire: Wire =
            serde_json::from_slice(&bytes).map_err(|_| CursorError("not a cursor object"))?;
        let id = Uuid::parse_str(&wire.id).map_err(|_| CursorError("id is not a UUID"))?;
        let created_at = match wire.micros {
            Some(us) if us.div_euclid(1000) == wire.timestamp => {
                DateTime::from_timestamp_micros(us)
            }
            Some(_) => return Err(CursorError("timestamp and micros disagree")),
            None => DateTime::from_timestamp_millis(wire.timestamp),
        }
        .ok_or(CursorError("timestamp out of range"))?;
        Ok(Self { created_at, id })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_originals_cursor_is_understood() {
        let c = Cursor::decode("eyJ0aW1lc3RhbXAiOjE3Njc2MTQ3MDAwMDAsImlkIjoiOWJkZGI2MDctN2Y3Yy00MDAxLWIwYmQtNzk5YjNjNGM1NzkzIn0=")
            .expect("valid");
        assert_eq!(c.created_at.timestamp_millis(), 1_767_614_700_000);
        assert_eq!(c.id.to_string(), "9bddb607-7f7c-4001-b0bd-799b3c4c5793");
    }

    #[test]
    fn tampered_cursors_are_refused() {
        let b64 = |s: &str| STANDARD.encode(s);
        for bad in [
            "!!!".to_owned(),
            b64("not json"),
            b64(r#"{"id":"9bddb607-7f7c-4001-b0bd-799b3c4c5793"}"#),
            b64(r#"{"timestamp":1,"id":"abc"}"#),
            b64(r#"{"timestamp":"1","id":"9bddb607-7f7c-4001-b0bd-799b3c4c5793"}"#),
            b64(r#"{"timestamp":1,"id":"9bddb607-7f7c-4001-b0bd-799b3c4c5793","micros":5000}"#),
            b64(r#"{"timestamp":9223372036854775807,"id":"9bddb607-7f7c-4001-b0bd-799b3c4c5793"}"#),
            b64(r#"[1,2]"#),
            "A".repeat(600),
        ] {
            assert!(Cursor::decode(&bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn cursors_round_trip(us in 0i64..4_102_444_800_000_000, id in any::<u128>()) {
            let c = Cursor { created_at: DateTime::from_timestamp_micros(us).unwrap_or_default(), id: Uuid::from_u128(id) };
            prop_assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        }
    }
}
