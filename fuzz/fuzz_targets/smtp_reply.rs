//! Fuzzes the SMTP reply parser the outbound client reads servers with
//! (RFC 5321 section 4.2, RFC 2034 enhanced codes): any bytes give a
//! reply, "incomplete" or "invalid", never a panic; a parsed reply used
//! at least one whole line of the input and has a 2xx-5xx code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtrail_smtp::reply::{ParseError, Reply};

fuzz_target!(|input: &[u8]| {
    match Reply::parse(input) {
        Ok((reply, used)) => {
            assert!(used >= 4 && used <= input.len());
            assert_eq!(input[used - 1], b'\n');
            assert!((200..600).contains(&reply.code));
            if let Some(es) = reply.enhanced {
                assert_eq!(u16::from(es.class), reply.code / 100);
            }
            let _ = reply.lines().count();
        }
        Err(ParseError::Incomplete) | Err(ParseError::Invalid(_)) => {}
    }
});
