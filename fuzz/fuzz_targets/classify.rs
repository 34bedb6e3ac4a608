//! Fuzzes the inbound classifier: any bytes (truncated MIME, 8-bit headers,
//! huge headers, CR-only line ends) must classify without panicking, and a
//! message classified as a bounce must name at least one recipient report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtrail_mail::inbound::{Kind, classify};

fuzz_target!(|data: &[u8]| {
    let c = classify(data);
    if matches!(c.kind, Kind::Bounce | Kind::Delay | Kind::DeliveryReport) {
        assert!(!c.recipients.is_empty(), "a report without recipients");
    }
});
