//! mailtrail-mail
