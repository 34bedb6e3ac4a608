//! Fuzzes the TNEF reader (MS-OXTNEF): any bytes must give a message or an
//! error (checksum, truncation, lying counts), never a panic; a message that
//! reads must convert to `.eml` and survive a write/read round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtrail_outlook::{EmlOptions, tnef, to_eml};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = tnef::read(data) else {
        return;
    };
    let _ = to_eml(&message, EmlOptions { tnef: true });
    let written = tnef::write(&message).expect("a read message writes as TNEF");
    let again = tnef::read(&written).expect("written TNEF reads back");
    assert_eq!(again.attachments.len(), message.attachments.len());
    assert_eq!(again.recipients.len(), message.recipients.len());
});
