//! mailtrail-http
