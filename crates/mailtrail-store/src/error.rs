//! The store's error type.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not `sqlite:` or `postgres:`.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// A unique constraint was violated (e.g. a user that already exists).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A referenced row does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Stored data could not be read back (a bug or a foreign write).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Maps constraint violations to the store's words: a unique violation is a
/// `Conflict(what)`, a foreign-key violation a `NotFound(parent)`.
pub(crate) fn constraint(e: sqlx::Error, what: &'static str, parent: &'static str) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict(what);
        }
        if d.is_foreign_key_violation() {
            return StoreError::NotFound(parent);
        }
    }
    StoreError::Database(e)
}

/// Whether the error is a unique violation (a concurrent insert won).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl StoreError {
    /// Whether trying the same statement again later may succeed: the
    /// database was unreachable, restarting or shedding load, as opposed to
    /// a row that is missing or a statement that can never work. The
    /// delivery worker retries such writes instead of leaving their jobs to
    /// wait out a lease.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => !matches!(
                e,
                sqlx::Error::PoolClosed
                    | sqlx::Error::RowNotFound
                    | sqlx::Error::ColumnNotFound(_)
                    | sqlx::Error::ColumnDecode { .. }
                    | sqlx::Error::Decode(_)
                    | sqlx::Error::TypeNotFound { .. }
            ),
            _ => false,
        }
    }
}
