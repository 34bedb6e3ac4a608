//! Fuzzes the inbound classifier: any bytes (truncated MIME, 8-bit headers,
//! huge headers, CR-only line ends) must classify without panicking, and a
//! message classified as a bounce must name at least one recipient report.
//! The classifier's MIME walk must also find the same parts, with the same
//! bytes, as mail-parser, whose walk it reproduces with lazy decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtrail_mail::inbound::{Kind, check_mime_walk, classify};

fuzz_target!(|data: &[u8]| {
    let c = classify(data);
    if matches!(c.kind, Kind::Bounce | Kind::Delay | Kind::DeliveryReport) {
        assert!(!c.recipients.is_empty(), "a report without recipients");
    }
    check_mime_walk(data);
});
