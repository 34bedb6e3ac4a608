//! `/api/v1/contacts`: the people a user's sequences write to, added one
//! by one or imported from CSV (RFC 4180). An import stores the good rows
//! and reports every bad one by its row and column, so that a file with
//! one typo is not refused whole.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use mailtrail_domain::EmailAddress;
use mailtrail_domain::sequence::{TimeZoneName, check_field_name};
use mailtrail_store::sequence::{Contact, NewContact};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ErrorEnvelope;
use crate::extract::{JsonBody, parse_limit, query_pairs};
use crate::{ApiError, AppState};

/// The routes of this module, each described in the OpenAPI document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(import))
}

/// The longest name or company.
const MAX_TEXT_CHARS: usize = 200;
/// The most custom fields on a contact.
const MAX_FIELDS: usize = 50;
/// The longest value of a custom field.
const MAX_FIELD_CHARS: usize = 1000;
/// The most rows one import takes.
const MAX_IMPORT_ROWS: usize = 100_000;

/// The body of `POST /api/v1/contacts`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactRequest {
    /// The address.
    pub address: String,
    /// The display name; templates see it as `name`, `first_name` (its first
    /// word) and `last_name` (the rest).
    #[serde(default)]
    pub name: Option<String>,
    /// The company.
    #[serde(default)]
    pub company: Option<String>,
    /// An IANA time zone name (`Europe/Paris`); the send window is read in
    /// it.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Custom fields, each a template variable of the same name.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// A contact as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContactView {
    id: Uuid,
    address: String,
    name: String,
    company: String,
    time_zone: Option<String>,
    fields: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id,
            address: c.address,
            name: c.name,
            company: c.company,
            time_zone: c.time_zone,
            fields: c.fields,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A page of contacts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContactList {
    data: Vec<ContactView>,
    /// Pass as `before` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<Uuid>,
}

/// A refused row of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct RowError {
    /// The row in the file, the header being row 1.
    pub row: u64,
    /// The column's header (`address`, `time_zone`, a field's name), or
    /// none when the row as a whole is bad.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The answer of an import.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportReport {
    /// Rows stored (new contacts and updated ones).
    imported: u64,
    /// Rows refused, each with its row and column.
    errors: Vec<RowError>,
}

/// A contact's value refused, naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The field (`address`, `time_zone`, `fields.plan`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn text(value: Option<String>, field: &str) -> Result<String, FieldError> {
    let value = value.unwrap_or_default().trim().to_owned();
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldError {
            field: field.to_owned(),
            message: format!("{field}: at most {MAX_TEXT_CHARS} characters"),
        });
    }
    Ok(value)
}

/// Checks a contact's values: the one check behind the API, the CSV import
/// and the dashboard.
pub(crate) fn check_contact(
    org_id: Uuid,
    req: ContactRequest,
    at: OffsetDateTime,
) -> Result<NewContact, FieldError> {
    let address = EmailAddress::parse(req.address.trim()).map_err(|e| FieldError {
        field: "address".into(),
        message: format!("address: {e}"),
    })?;
    let time_zone = match req.time_zone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(tz) => Some(
            TimeZoneName::parse(tz)
                .map_err(|e| FieldError {
                    field: "time_zone".into(),
                    message: e.to_string(),
                })?
                .as_str()
                .to_owned(),
        ),
    };
    if req.fields.len() > MAX_FIELDS {
        return Err(FieldError {
            field: "fields".into(),
            message: format!("at most {MAX_FIELDS} custom fields"),
        });
    }
    for (k, v) in &req.fields {
        let field = format!("fields.{k}");
        check_field_name(k).map_err(|e| FieldError {
            field: field.clone(),
            message: e.to_string(),
        })?;
        if v.chars().count() > MAX_FIELD_CHARS {
            return Err(FieldError {
                message: format!("{field}: at most {MAX_FIELD_CHARS} characters"),
                field,
            });
        }
    }
    Ok(NewContact {
        id: Uuid::now_v7(),
        org_id,
        address: address.normalized(),
        name: text(req.name, "name")?,
        company: text(req.company, "company")?,
        time_zone,
        fields: req.fields,
        at,
    })
}

/// Reads a CSV file of contacts: a header row with an `address` (or
/// `email`) column, and optionally `name`, `company`, `time_zone`; every
/// other column is a custom field of that name (an empty cell leaves the
/// field out). The good rows, and a report of each bad one.
pub(crate) fn read_csv(
    org_id: Uuid,
    bytes: &[u8],
    at: OffsetDateTime,
) -> Result<(Vec<NewContact>, Vec<RowError>), ApiError> {
    let bad_file = |m: String| ApiError::invalid("invalid_csv", "body", m);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad_file(format!("the header row cannot be read: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let address_col = headers
        .iter()
        .position(|h| h == "address" || h == "email")
        .ok_or_else(|| bad_file("the header row has no `address` (or `email`) column".into()))?;
    for (i, h) in headers.iter().enumerate() {
        let standard = ["name", "company", "time_zone"].contains(&h.as_str()) || i == address_col;
        if !standard && let Err(e) = check_field_name(h) {
            return Err(bad_file(format!("column {} of the header: {e}", i + 1)));
        }
    }
    let mut good = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let row = i as u64 + 2;
        if i >= MAX_IMPORT_ROWS {
            return Err(bad_file(format!(
                "more than {MAX_IMPORT_ROWS} rows: split the file"
            )));
        }
        let record = match record {
            Ok(r) => {
                // The file's own line, blank lines counted: the reader
                // skips them, and the position it gives a record that
                // follows blank lines is where the blank lines begin.
                let row = r.position().map_or(row, |p| {
                    let blank = bytes.get(p.byte() as usize..).map_or(0, |rest| {
                        rest.iter()
                            .take_while(|b| matches!(b, b'\r' | b'\n'))
                            .filter(|b| **b == b'\n')
                            .count()
                    });
                    p.line() + blank as u64
                });
                (row, r)
            }
            Err(e) => {
                errors.push(RowError {
                    row,
                    column: None,
                    message: format!("the row cannot be read: {e}"),
                });
                continue;
            }
        };
        let (row, record) = record;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut req = ContactRequest::default();
        for (h, value) in headers.iter().zip(record.iter()) {
            match h.as_str() {
                _ if h == &headers[address_col] => req.address = value.to_owned(),
                "name" => req.name = Some(value.to_owned()),
                "company" => req.company = Some(value.to_owned()),
                "time_zone" => req.time_zone = Some(value.to_owned()),
                field if !value.is_empty() => {
                    req.fields.insert(field.to_owned(), value.to_owned());
                }
                _ => {}
            }
        }
        match check_contact(org_id, req, at) {
            Ok(c) => {
                if seen.insert(c.address.clone()) {
                    good.push(c);
                } else {
                    errors.push(RowError {
                        row,
                        column: Some(headers[address_col].clone()),
                        message: format!("{} is on an earlier row of the file", c.address),
                    });
                }
            }
            Err(e) => errors.push(RowError {
                row,
                column: Some(
                    match e.field.strip_prefix("fields.") {
                        Some(f) => f,
                        None if e.field == "address" => headers[address_col].as_str(),
                        None => e.field.as_str(),
                    }
                    .to_owned(),
                ),
                message: e.message,
            }),
        }
    }
    Ok((good, errors))
}

/// Imports a CSV file: the use case behind the API and the dashboard.
pub(crate) async fn import_contacts(
    state: &AppState,
    org_id: Uuid,
    bytes: Bytes,
) -> Result<(u64, Vec<RowError>), ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::invalid(
            "invalid_csv",
            "body",
            "the body is empty: send the CSV file",
        ));
    }
    let at = OffsetDateTime::now_utc();
    let (good, errors) = tokio::task::spawn_blocking(move || read_csv(org_id, &bytes, at))
        .await
        .map_err(|_| ApiError::invalid("invalid_csv", "body", "the file could not be read"))??;
    let mut imported = 0;
    for chunk in good.chunks(1000) {
        imported += state.store.upsert_contacts(chunk).await?;
    }
    tracing::info!(
        contacts.imported = imported,
        contacts.refused = errors.len(),
        "contacts imported"
    );
    Ok((imported, errors))
}

/// Adds one contact: the use case behind the API and the dashboard.
pub(crate) async fn create_contact(
    state: &AppState,
    org_id: Uuid,
    req: ContactRequest,
) -> Result<Contact, ApiError> {
    let new = check_contact(org_id, req, OffsetDateTime::now_utc())
        .map_err(|e| ApiError::invalid("invalid_contact", e.field, e.message))?;
    state.store.create_contact(&new).await?;
    state
        .store
        .contact(org_id, new.id)
        .await?
        .ok_or(ApiError::NotFound("contact"))
}

/// `POST /api/v1/contacts`: 201 with the contact.
#[utoipa::path(
    post,
    path = "/api/v1/contacts",
    operation_id = "create_contact",
    tag = "sequences",
    security(("api_key" = [])),
    request_body = ContactRequest,
    responses(
        (status = 201, description = "The contact", body = ContactView),
        (status = 400, description = "A bad `address`, `time_zone` or field; `field` names it", body = ErrorEnvelope),
        (status = 409, description = "The organisation already has a contact with this address", body = ErrorEnvelope),
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<ContactRequest>,
) -> Result<(StatusCode, Json<ContactView>), ApiError> {
    let c = create_contact(&state, caller.org_id, req).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// `GET /api/v1/contacts`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/contacts",
    operation_id = "list_contacts",
    tag = "sequences",
    security(("api_key" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("before" = Option<Uuid>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of contacts", body = ContactList),
        (status = 400, description = "A bad query parameter", body = ErrorEnvelope),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<ContactList>, ApiError> {
    let mut limit = None;
    let mut before = None;
    for (k, v) in query_pairs(query.as_deref())? {
        match k.as_str() {
            "limit" => limit = Some(v),
            "before" => {
                before = Some(Uuid::parse_str(&v).map_err(|_| {
                    ApiError::invalid("invalid_query", "before", "before: not a cursor")
                })?)
            }
            other => {
                return Err(ApiError::invalid(
                    "invalid_query",
                    other.to_owned(),
                    format!("unknown query parameter {other}"),
                ));
            }
        }
    }
    let limit = parse_limit(limit.as_deref(), 50, 200)?;
    let data = state.store.contacts(caller.org_id, before, limit).await?;
    let next_cursor = (data.len() == limit as usize)
        .then(|| data.last().map(|c| c.id))
        .flatten();
    Ok(Json(ContactList {
        data: data.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// `GET /api/v1/contacts/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}",
    operation_id = "show_contact",
    tag = "sequences",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "The contact", body = ContactView),
        (status = 404, description = "No such contact", body = ErrorEnvelope),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("contact"))?;
    let c = state
        .store
        .contact(caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("contact"))?;
    Ok(Json(c.into()))
}

/// `POST /api/v1/contacts/import`: a CSV file in the body.
#[utoipa::path(
    post,
    path = "/api/v1/contacts/import",
    operation_id = "import_contacts",
    tag = "sequences",
    security(("api_key" = [])),
    request_body(content = String, content_type = "text/csv", description = "A header row with `address` (or `email`) and optionally `name`, `company`, `time_zone`; every other column is a custom field"),
    responses(
        (status = 200, description = "The good rows were stored (an existing address is updated); each bad row is reported with its row and column", body = ImportReport),
        (status = 400, description = "The file as a whole cannot be read: no header, no address column, a bad column name", body = ErrorEnvelope),
    )
)]
async fn import(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let (imported, errors) = import_contacts(&state, caller.org_id, body).await?;
    Ok(Json(ImportReport { imported, errors }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_imported_or_reported_by_row_and_column() {
        let csv = "\u{feff}Email,Name,Company,time_zone,plan\n\
                   ann@example.com,Ann Lee,Acme,Europe/Paris,Pro\n\
                   not-an-address,Bob,Acme,,\n\
                   cy@example.com,Cy,,Mars/Base,\n\
                   \"dee@example.com\",\"Dee, Jr\",,,Free\n\
                   ANN@example.com,Twin,,,\n";
        let (good, errors) =
            read_csv(Uuid::nil(), csv.as_bytes(), OffsetDateTime::UNIX_EPOCH).unwrap();
        let addrs: Vec<&str> = good.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(addrs, vec!["ann@example.com", "dee@example.com"]);
        assert_eq!(good[0].fields.get("plan").map(String::as_str), Some("Pro"));
        assert_eq!(good[0].time_zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(good[1].name, "Dee, Jr");
        let at: Vec<(u64, Option<&str>)> = errors
            .iter()
            .map(|e| (e.row, e.column.as_deref()))
            .collect();
        assert_eq!(
            at,
            vec![
                (3, Some("email")),
                (4, Some("time_zone")),
                (6, Some("email"))
            ]
        );
        assert!(errors[1].message.contains("Mars/Base"), "{:?}", errors[1]);
    }

    /// Rows are the file's lines, as an editor numbers them: blank lines
    /// (skipped) still count.
    #[test]
    fn rows_after_blank_lines_keep_their_line_numbers() {
        for csv in [
            "address,name\n\nbad-1,A\n\n\nok@example.com,B\nbad-2,C\n",
            "address,name\r\n\r\nbad-1,A\r\n\r\n\r\nok@example.com,B\r\nbad-2,C\r\n",
        ] {
            let (good, errors) =
                read_csv(Uuid::nil(), csv.as_bytes(), OffsetDateTime::UNIX_EPOCH).unwrap();
            assert_eq!(good.len(), 1);
            let rows: Vec<u64> = errors.iter().map(|e| e.row).collect();
            assert_eq!(rows, vec![3, 7], "{csv:?}");
        }
    }

    #[test]
    fn a_file_without_an_address_column_is_refused_whole() {
        let err = read_csv(
            Uuid::nil(),
            b"name,company\nAnn,Acme\n",
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("body"));
        let err = read_csv(
            Uuid::nil(),
            b"address,first_name\nann@example.com,Ann\n",
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_err();
        assert!(err.to_string().contains("column 2"), "{err}");
    }
}
