//! Row readers whose columns decode the same on both backends.

/// Defines, in a backend's `rows` module, the readers of rows on database
/// `$db`. Where the column types differ (JSON as text or as `jsonb`, the
/// SMTP code's integer width), they call the backend's `json_column` and
/// `reason_columns`.
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

        pub(super) fn message_row(r: &<$db as sqlx::Database>::Row) -> Result<Message, StoreError> {
            Ok(Message {
                id: r.try_get("id")?,
                message_id: columns::message_id(r.try_get("message_id")?)?,
                from_address: columns::address(r.try_get("from_address")?)?,
                from_name: r.try_get("from_name")?,
                subject: r.try_get("subject")?,
                read_receipt: r.try_get("read_receipt")?,
                metadata: json_column(r, "metadata")?,
                tag: r.try_get("tag")?,
                created_at: from_ms(r.try_get("created_at")?)?,
                recipients: Vec::new(),
            })
        }

        /// A recipient and the id of its message.
        pub(super) fn recipient_row(r: &<$db as sqlx::Database>::Row) -> Result<(Uuid, Recipient), StoreError> {
            let recipient = Recipient {
                id: r.try_get("id")?,
                address: columns::address(r.try_get("address")?)?,
                kind: columns::recipient_kind(r.try_get("kind")?)?,
                status: columns::status(r.try_get("status")?)?,
                status_reason: reason_columns(r)?,
                updated_at: from_ms(r.try_get("updated_at")?)?,
                opens: columns::count(r.try_get("opens")?),
                machine_opens: columns::count(r.try_get("machine_opens")?),
                clicks: columns::count(r.try_get("clicks")?),
                first_open_at: r
                    .try_get::<Option<i64>, _>("first_open_at")?
                    .map(from_ms)
                    .transpose()?,
                first_open_implied: r.try_get("first_open_implied")?,
                implied_opens: columns::count(r.try_get("implied_opens")?),
                links: Vec::new(),
                events: Vec::new(),
            };
            Ok((r.try_get("message_id")?, recipient))
        }

        /// An event and the id of its recipient.
        pub(super) fn event_row(r: &<$db as sqlx::Database>::Row) -> Result<(Uuid, Event), StoreError> {
            let event = Event {
                id: r.try_get("id")?,
                kind: columns::event_kind(r.try_get("kind")?)?,
                at: from_ms(r.try_get("at")?)?,
                opener: columns::opener(r.try_get("opener")?)?,
                reason: json_column(r, "reason")?,
                data: json_column(r, "data")?,
            };
            Ok((r.try_get("recipient_id")?, event))
        }

        pub(super) fn state_row(r: &<$db as sqlx::Database>::Row) -> Result<(Uuid, Folding), StoreError> {
            let state = RecipientState {
                status: columns::status(r.try_get("status")?)?,
                reason: reason_columns(r)?,
                updated_at: from_ms(r.try_get("updated_at")?)?,
                opens: columns::count(r.try_get("opens")?),
                machine_opens: columns::count(r.try_get("machine_opens")?),
                clicks: columns::count(r.try_get("clicks")?),
                first_open_at: r
                    .try_get::<Option<i64>, _>("first_open_at")?
                    .map(from_ms)
                    .transpose()?,
                first_open_implied: r.try_get("first_open_implied")?,
                implied_opens: columns::count(r.try_get("implied_opens")?),
            };
            let folding = Folding {
                message_id: r.try_get("message_id")?,
                org_id: r.try_get("org_id")?,
                state,
            };
            Ok((r.try_get("id")?, folding))
        }
    };
}
pub(crate) use rows;
