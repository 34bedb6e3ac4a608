//! mailtrail-smtp
