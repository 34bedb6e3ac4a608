//! [`SendingDomainStore`](crate::SendingDomainStore): the same SQL on
//! both backends.

/// Implements [`SendingDomainStore`](crate::SendingDomainStore) for
/// `$store`, a backend on database `$db` with a `pool` field.
macro_rules! sending_domain_store {
    ($store:ident, $db:ty) => {
        mod portable_sending_domains {
            use $crate::StoreError;
            use $crate::columns::{from_ms, to_ms};
            use $crate::prelude::*;
            use $crate::sending_domain::*;
            use sqlx::Row;
            use uuid::Uuid;

            const SELECT: &str = "SELECT id, org_id, domain, selector, algorithm, private_key, \
                 dns_record, created_at FROM sending_domains";

            fn domain_row(r: &<$db as ::sqlx::Database>::Row) -> Result<SendingDomain, StoreError> {
                Ok(SendingDomain {
                    id: r.try_get("id")?,
                    org_id: r.try_get("org_id")?,
                    domain: r.try_get("domain")?,
                    selector: r.try_get("selector")?,
                    algorithm: r.try_get("algorithm")?,
                    private_key: PrivateKeyPem::new(r.try_get("private_key")?),
                    dns_record: r.try_get("dns_record")?,
                    created_at: from_ms(r.try_get("created_at")?)?,
                })
            }

            #[async_trait::async_trait]
            impl SendingDomainStore for super::$store {
                async fn add_sending_domain(&self, d: &NewSendingDomain) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO sending_domains \
                         (id, org_id, domain, selector, algorithm, private_key, dns_record, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(d.id)
                    .bind(d.org_id)
                    .bind(&d.domain)
                    .bind(&d.selector)
                    .bind(&d.algorithm)
                    .bind(d.private_key.expose())
                    .bind(&d.dns_record)
                    .bind(to_ms(d.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| crate::error::constraint(e, "sending domain", "organisation"))?;
                    Ok(())
                }

                async fn sending_domains(&self, org_id: Uuid) -> Result<Vec<SendingDomain>, StoreError> {
                    let rows = sqlx::query(&format!("{SELECT} WHERE org_id = $1 ORDER BY domain, id"))
                        .bind(org_id)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(domain_row).collect()
                }

                async fn all_sending_domains(&self) -> Result<Vec<SendingDomain>, StoreError> {
                    let rows = sqlx::query(&format!("{SELECT} ORDER BY id"))
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(domain_row).collect()
                }

                async fn delete_sending_domain(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM sending_domains WHERE org_id = $1 AND id = $2")
                        .bind(org_id)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }
            }
        }
    };
}
pub(crate) use sending_domain_store;
