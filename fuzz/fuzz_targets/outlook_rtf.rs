//! Fuzzes compressed RTF (MS-OXRTFCP) and HTML/text de-encapsulation
//! (MS-OXRTFEX): any bytes must decompress or fail, and any RTF, raw or
//! decompressed, must de-encapsulate or be declined, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtrail_outlook::rtf::{decompress, deencapsulate};

fuzz_target!(|data: &[u8]| {
    let _ = deencapsulate(data);
    if let Ok(rtf) = decompress(data) {
        let _ = deencapsulate(&rtf);
    }
});
