//! PostgreSQL SQL for sending domains and their DKIM keys.

use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::PgStore;
use crate::StoreError;
use crate::columns::{from_ms, to_ms};
use crate::sending_domain::*;

const SELECT: &str = "SELECT id, org_id, domain, selector, algorithm, private_key, dns_record, created_at \
     FROM sending_domains";

fn domain_row(r: &PgRow) -> Result<SendingDomain, StoreError> {
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

impl PgStore {
    pub(super) async fn add_sending_domain_impl(
        &self,
        d: &NewSendingDomain,
    ) -> Result<(), StoreError> {
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

    pub(super) async fn sending_domains_impl(
        &self,
        org_id: Uuid,
    ) -> Result<Vec<SendingDomain>, StoreError> {
        let rows = sqlx::query(&format!("{SELECT} WHERE org_id = $1 ORDER BY domain, id"))
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(domain_row).collect()
    }

    pub(super) async fn all_sending_domains_impl(&self) -> Result<Vec<SendingDomain>, StoreError> {
        let rows = sqlx::query(&format!("{SELECT} ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(domain_row).collect()
    }

    pub(super) async fn delete_sending_domain_impl(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sending_domains WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
