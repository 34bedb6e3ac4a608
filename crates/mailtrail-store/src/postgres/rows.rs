//! Reading PostgreSQL rows into the store's records: the columns whose
//! type is PostgreSQL's own; `portable::rows!` defines the readers.

use serde::de::DeserializeOwned;
use sqlx::types::Json;

use super::*;

crate::portable::rows!(sqlx::Postgres);

/// A `jsonb` column. NULL reads as JSON `null`, so that an optional value
/// is `None`.
pub(super) fn json_column<T: DeserializeOwned>(r: &PgRow, col: &str) -> Result<T, StoreError> {
    match r.try_get::<Option<Json<T>>, _>(col)? {
        Some(Json(v)) => Ok(v),
        None => serde_json::from_value(serde_json::Value::Null)
            .map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))),
    }
}

/// A recipient's status reason, from its columns (the SMTP code is an
/// `integer`).
pub(super) fn reason_columns(r: &PgRow) -> Result<Option<StatusReason>, StoreError> {
    let code: Option<i32> = r.try_get("reason_smtp_code")?;
    Ok(columns::reason_from_columns(
        code.map(i64::from),
        r.try_get("reason_enhanced_status")?,
        r.try_get("reason_name")?,
        r.try_get("reason_text")?,
    ))
}
