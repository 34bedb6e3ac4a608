//! [`SequenceStore`](crate::SequenceStore): the same SQL on both backends
//! (custom fields and windows are JSON kept as text on both).

/// Implements [`SequenceStore`](crate::SequenceStore) for `$store`, a
/// backend on database `$db` with `pool` and `write()`.
macro_rules! sequence_store {
    ($store:ident, $db:ty) => {
        mod portable_sequences {
            use mailtrail_domain::sequence::{SendWindow, Wait};
            use sqlx::Row;
            use uuid::Uuid;
            use $crate::StoreError;
            use $crate::columns::{from_ms, json, to_json, to_ms};
            use $crate::prelude::*;
            use $crate::sequence::*;

            type DbRow = <$db as ::sqlx::Database>::Row;

            const CONTACT: &str = "SELECT id, org_id, address, name, company, time_zone, fields, \
                 created_at, updated_at FROM contacts";
            const SEQUENCE: &str = "SELECT id, org_id, user_id, name, from_address, from_name, \
                 send_window, time_zone, daily_limit, paused, created_at, updated_at FROM sequences";
            const STEP: &str = "SELECT id, sequence_id, position, subject, html, text, wait_unit, \
                 wait_count, new_thread FROM sequence_steps";

            fn contact_row(r: &DbRow) -> Result<Contact, StoreError> {
                let fields: String = r.try_get("fields")?;
                Ok(Contact {
                    id: r.try_get("id")?,
                    org_id: r.try_get("org_id")?,
                    address: r.try_get("address")?,
                    name: r.try_get("name")?,
                    company: r.try_get("company")?,
                    time_zone: r.try_get("time_zone")?,
                    fields: json(&fields, "contact fields")?,
                    created_at: from_ms(r.try_get("created_at")?)?,
                    updated_at: from_ms(r.try_get("updated_at")?)?,
                })
            }

            fn sequence_row(r: &DbRow) -> Result<Sequence, StoreError> {
                let window: Option<String> = r.try_get("send_window")?;
                let limit: i32 = r.try_get("daily_limit")?;
                Ok(Sequence {
                    id: r.try_get("id")?,
                    org_id: r.try_get("org_id")?,
                    user_id: r.try_get("user_id")?,
                    name: r.try_get("name")?,
                    from_address: r.try_get("from_address")?,
                    from_name: r.try_get("from_name")?,
                    window: window
                        .map(|w| json::<SendWindow>(&w, "send window"))
                        .transpose()?,
                    time_zone: r.try_get("time_zone")?,
                    daily_limit: u32::try_from(limit).unwrap_or(0),
                    paused: r.try_get("paused")?,
                    steps: Vec::new(),
                    created_at: from_ms(r.try_get("created_at")?)?,
                    updated_at: from_ms(r.try_get("updated_at")?)?,
                })
            }

            fn step_row(r: &DbRow) -> Result<(Uuid, Step), StoreError> {
                let unit: String = r.try_get("wait_unit")?;
                let count: i32 = r.try_get("wait_count")?;
                let position: i32 = r.try_get("position")?;
                let wait = u32::try_from(count)
                    .ok()
                    .and_then(|n| Wait::from_parts(&unit, n))
                    .ok_or_else(|| StoreError::Corrupt(format!("step wait {unit} {count}")))?;
                Ok((
                    r.try_get("sequence_id")?,
                    Step {
                        id: r.try_get("id")?,
                        position: u32::try_from(position).unwrap_or(0),
                        subject: r.try_get("subject")?,
                        html: r.try_get("html")?,
                        text: r.try_get("text")?,
                        wait,
                        new_thread: r.try_get("new_thread")?,
                    },
                ))
            }

            fn stored(n: u32) -> i32 {
                i32::try_from(n).unwrap_or(i32::MAX)
            }

            impl super::$store {
                /// Reads the steps of the sequences and puts them in place.
                async fn attach_steps(&self, seqs: &mut [Sequence]) -> Result<(), StoreError> {
                    for s in seqs.iter_mut() {
                        let rows = sqlx::query(&format!(
                            "{STEP} WHERE sequence_id = $1 ORDER BY position"
                        ))
                        .bind(s.id)
                        .fetch_all(&self.pool)
                        .await?;
                        s.steps = rows
                            .iter()
                            .map(|r| step_row(r).map(|(_, step)| step))
                            .collect::<Result<_, _>>()?;
                    }
                    Ok(())
                }
            }

            #[async_trait::async_trait]
            impl SequenceStore for super::$store {
                async fn create_contact(&self, c: &NewContact) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO contacts (id, org_id, address, name, company, time_zone, \
                         fields, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                    )
                    .bind(c.id)
                    .bind(c.org_id)
                    .bind(&c.address)
                    .bind(&c.name)
                    .bind(&c.company)
                    .bind(&c.time_zone)
                    .bind(to_json(&c.fields)?)
                    .bind(to_ms(c.at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::error::constraint(e, "contact", "organisation"))?;
                    Ok(())
                }

                async fn upsert_contacts(&self, contacts: &[NewContact]) -> Result<u64, StoreError> {
                    let mut tx = self.write().await?;
                    let mut written = 0;
                    for c in contacts {
                        let done = sqlx::query(
                            "INSERT INTO contacts (id, org_id, address, name, company, time_zone, \
                             fields, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                             ON CONFLICT (org_id, address) DO UPDATE SET name = excluded.name, \
                             company = excluded.company, time_zone = excluded.time_zone, \
                             fields = excluded.fields, updated_at = excluded.updated_at",
                        )
                        .bind(c.id)
                        .bind(c.org_id)
                        .bind(&c.address)
                        .bind(&c.name)
                        .bind(&c.company)
                        .bind(&c.time_zone)
                        .bind(to_json(&c.fields)?)
                        .bind(to_ms(c.at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| $crate::error::constraint(e, "contact", "organisation"))?;
                        written += done.rows_affected();
                    }
                    tx.commit().await?;
                    Ok(written)
                }

                async fn contact(&self, org_id: Uuid, id: Uuid) -> Result<Option<Contact>, StoreError> {
                    let row = sqlx::query(&format!("{CONTACT} WHERE org_id = $1 AND id = $2"))
                        .bind(org_id)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(contact_row).transpose()
                }

                async fn contact_by_address(
                    &self,
                    org_id: Uuid,
                    address: &str,
                ) -> Result<Option<Contact>, StoreError> {
                    let row = sqlx::query(&format!("{CONTACT} WHERE org_id = $1 AND address = $2"))
                        .bind(org_id)
                        .bind(address)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(contact_row).transpose()
                }

                async fn contacts(
                    &self,
                    org_id: Uuid,
                    before: Option<Uuid>,
                    limit: u32,
                ) -> Result<Vec<Contact>, StoreError> {
                    let rows = match before {
                        Some(b) => sqlx::query(&format!(
                            "{CONTACT} WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
                        ))
                        .bind(org_id)
                        .bind(b)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?,
                        None => sqlx::query(&format!(
                            "{CONTACT} WHERE org_id = $1 ORDER BY id DESC LIMIT $2"
                        ))
                        .bind(org_id)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?,
                    };
                    rows.iter().map(contact_row).collect()
                }

                async fn create_sequence(&self, s: &Sequence) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    sqlx::query(
                        "INSERT INTO sequences (id, org_id, user_id, name, from_address, from_name, \
                         send_window, time_zone, daily_limit, paused, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(s.id)
                    .bind(s.org_id)
                    .bind(s.user_id)
                    .bind(&s.name)
                    .bind(&s.from_address)
                    .bind(&s.from_name)
                    .bind(s.window.as_ref().map(to_json).transpose()?)
                    .bind(&s.time_zone)
                    .bind(stored(s.daily_limit))
                    .bind(s.paused)
                    .bind(to_ms(s.created_at))
                    .bind(to_ms(s.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| $crate::error::constraint(e, "sequence", "user"))?;
                    for step in &s.steps {
                        let (unit, count) = step.wait.parts();
                        sqlx::query(
                            "INSERT INTO sequence_steps (id, sequence_id, position, subject, html, \
                             text, wait_unit, wait_count, new_thread) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(step.id)
                        .bind(s.id)
                        .bind(stored(step.position))
                        .bind(&step.subject)
                        .bind(&step.html)
                        .bind(&step.text)
                        .bind(unit)
                        .bind(stored(count))
                        .bind(step.new_thread)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| $crate::error::constraint(e, "step", "sequence"))?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn sequence(&self, org_id: Uuid, id: Uuid) -> Result<Option<Sequence>, StoreError> {
                    let row = sqlx::query(&format!("{SEQUENCE} WHERE org_id = $1 AND id = $2"))
                        .bind(org_id)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    let Some(row) = row else { return Ok(None) };
                    let mut seqs = [sequence_row(&row)?];
                    self.attach_steps(&mut seqs).await?;
                    let [s] = seqs;
                    Ok(Some(s))
                }

                async fn sequences(&self, org_id: Uuid) -> Result<Vec<Sequence>, StoreError> {
                    let rows = sqlx::query(&format!("{SEQUENCE} WHERE org_id = $1 ORDER BY id DESC"))
                        .bind(org_id)
                        .fetch_all(&self.pool)
                        .await?;
                    let mut seqs: Vec<Sequence> =
                        rows.iter().map(sequence_row).collect::<Result<_, _>>()?;
                    self.attach_steps(&mut seqs).await?;
                    Ok(seqs)
                }
            }
        }
    };
}

pub(crate) use sequence_store;
