//! Row readers whose columns decode the same on both backends.

/// Defines, in a backend's `rows` module, the readers of rows whose
/// columns have the same types on database `$db`: organisations, users,
/// sandbox copies, API keys and recipient references.
macro_rules! rows {
    ($db:ty) => {
        pub(super) const REF_SELECT: &str =
            "SELECT r.id, r.message_id, r.org_id, r.address, r.kind, m.created_at \
             FROM recipients r JOIN messages m ON m.id = r.message_id";

        pub(super) fn organisation_row(r: &<$db as sqlx::Database>::Row) -> Result<Organisation, StoreError> {
            Ok(Organisation {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                read_receipt_default: r.try_get("read_receipt_default")?,
                track_opens_default: r.try_get("track_opens_default")?,
                track_clicks_default: r.try_get("track_clicks_default")?,
            })
        }

        pub(super) fn user_row(r: &<$db as sqlx::Database>::Row) -> Result<User, StoreError> {
            Ok(User {
                id: r.try_get("id")?,
                org_id: r.try_get("org_id")?,
                email: columns::address(r.try_get("email")?)?,
                password_hash: r.try_get("password_hash")?,
                is_admin: r.try_get("is_admin")?,
                created_at: from_ms(r.try_get("created_at")?)?,
            })
        }

        /// A `sandbox_copies` row (id, message_id, recipient_id, address,
        /// captured_at, raw).
        pub(super) fn sandbox_copy_row(r: &<$db as sqlx::Database>::Row) -> Result<SandboxCopy, StoreError> {
            let raw: Vec<u8> = r.try_get("raw")?;
            Ok(SandboxCopy {
                id: r.try_get("id")?,
                message_id: r.try_get("message_id")?,
                recipient_id: r.try_get("recipient_id")?,
                address: r.try_get("address")?,
                captured_at: from_ms(r.try_get("captured_at")?)?,
                raw: String::from_utf8_lossy(&raw).into_owned(),
            })
        }

        pub(super) fn key_row(r: &<$db as sqlx::Database>::Row) -> Result<$crate::dashboard::ApiKeyInfo, StoreError> {
            let last: Option<i64> = r.try_get("last_used_at")?;
            let revoked: Option<i64> = r.try_get("revoked_at")?;
            Ok($crate::dashboard::ApiKeyInfo {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                user_email: r.try_get("email")?,
                name: r.try_get("name")?,
                prefix: r.try_get("prefix")?,
                created_at: from_ms(r.try_get("created_at")?)?,
                last_used_at: last.map(from_ms).transpose()?,
                revoked_at: revoked.map(from_ms).transpose()?,
            })
        }

        pub(super) fn ref_row(r: &<$db as sqlx::Database>::Row) -> Result<$crate::inbound::RecipientRef, StoreError> {
            Ok($crate::inbound::RecipientRef {
                id: r.try_get("id")?,
                message_id: r.try_get("message_id")?,
                org_id: r.try_get("org_id")?,
                address: columns::address(r.try_get("address")?)?,
                kind: columns::recipient_kind(r.try_get("kind")?)?,
                sent_at: from_ms(r.try_get("created_at")?)?,
            })
        }
    };
}
pub(crate) use rows;
