//! [`InboundStore`](crate::InboundStore): the same SQL on both backends.

/// Implements [`InboundStore`](crate::InboundStore) for `$store`, inside the
/// backend's module, with its helpers (see [`crate::portable`]).
macro_rules! inbound_store {
    ($store:ident) => {
        mod portable_inbound {
            use super::*;

            #[async_trait::async_trait]
            impl InboundStore for super::$store {
                async fn insert_inbound(
                    &self,
                    msg: &crate::inbound::NewInbound,
                ) -> Result<bool, StoreError> {
                    self.insert_inbound_impl(msg).await
                }

                async fn set_mailbox_cursor(
                    &self,
                    mailbox: &str,
                    cursor: crate::inbound::MailboxCursor,
                ) -> Result<(), StoreError> {
                    self.set_mailbox_cursor_impl(mailbox, cursor).await
                }

                async fn first_send_at(&self) -> Result<Option<OffsetDateTime>, StoreError> {
                    self.first_send_at_impl().await
                }

                async fn pending_inbound(
                    &self,
                    limit: u32,
                ) -> Result<Vec<crate::inbound::InboundMessage>, StoreError> {
                    self.pending_inbound_impl(limit).await
                }

                async fn finish_inbound(
                    &self,
                    id: Uuid,
                    outcome: &crate::inbound::InboundOutcome,
                ) -> Result<(), StoreError> {
                    self.finish_inbound_impl(id, outcome).await?;
                    if !outcome.events.is_empty() {
                        self.signal.bump();
                    }
                    Ok(())
                }

                async fn mailbox_cursor(
                    &self,
                    mailbox: &str,
                ) -> Result<Option<crate::inbound::MailboxCursor>, StoreError> {
                    self.mailbox_cursor_impl(mailbox).await
                }

                async fn recipient_ref(
                    &self,
                    id: Uuid,
                ) -> Result<Option<crate::inbound::RecipientRef>, StoreError> {
                    self.recipient_ref_impl(id).await
                }

                async fn recipients_by_message_id(
                    &self,
                    message_id: &str,
                ) -> Result<Vec<crate::inbound::RecipientRef>, StoreError> {
                    self.recipients_by_message_id_impl(message_id).await
                }

                async fn recent_recipients(
                    &self,
                    address: &EmailAddress,
                    since: OffsetDateTime,
                    until: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<crate::inbound::RecipientRef>, StoreError> {
                    self.recent_recipients_impl(address, since, until, limit)
                        .await
                }

                async fn purge_inbound(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
                    self.delete_processed_inbound_before(before).await
                }
            }
        }
    };
}
pub(crate) use inbound_store;
