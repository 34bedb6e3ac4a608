//! Password hashing with Argon2id (RFC 9106), PHC string format: the one
//! implementation lives in `mailtrail_http::password`, shared by the
//! `user add` command and the dashboard's user management.

pub use mailtrail_http::password::{MIN_PASSWORD_CHARS, add_user, generate, hash};
