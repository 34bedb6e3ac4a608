//! Fuzzes the `.msg` reader (MS-CFB + MS-OXMSG): any bytes must give a
//! message or an error, never a panic; a message that reads must convert
//! to `.eml` (with and without TNEF) and its TNEF must read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtrail_outlook::{EmlOptions, read_msg, tnef, to_eml};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = read_msg(data) else {
        return;
    };
    let _ = to_eml(&message, EmlOptions { tnef: false });
    let _ = to_eml(&message, EmlOptions { tnef: true });
    let written = tnef::write(&message).expect("a read message writes as TNEF");
    tnef::read(&written).expect("written TNEF reads back");
});
