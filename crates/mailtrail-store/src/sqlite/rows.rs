//! Reading SQLite rows into the store's records: the columns whose type
//! is SQLite's own; `portable::rows!` defines the readers.

use serde::de::DeserializeOwned;

use super::*;

crate::portable::rows!(sqlx::Sqlite);

/// A JSON column, stored as text. NULL reads as JSON `null`, so that an
/// optional value is `None`.
pub(super) fn json_column<T: DeserializeOwned>(r: &SqliteRow, col: &str) -> Result<T, StoreError> {
    let text: Option<&str> = r.try_get(col)?;
    columns::json(text.unwrap_or("null"), col)
}

/// A recipient's status reason, from its columns.
pub(super) fn reason_columns(r: &SqliteRow) -> Result<Option<StatusReason>, StoreError> {
    Ok(columns::reason_from_columns(
        r.try_get("reason_smtp_code")?,
        r.try_get("reason_enhanced_status")?,
        r.try_get("reason_name")?,
        r.try_get("reason_text")?,
    ))
}
