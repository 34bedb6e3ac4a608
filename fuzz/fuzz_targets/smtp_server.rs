//! Fuzzes what an SMTP client says to the inbound listener: each line goes
//! through the command parser, and the bytes through the DATA reader. No
//! input may panic; a command line with a bare CR or LF is never accepted;
//! and the DATA reader keeps a message only when the text ended at
//! `<CR><LF>.<CR><LF>` with no bare CR or LF anywhere (RFC 5321 section
//! 2.3.8), which is what keeps SMTP smuggling out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtrail_smtp::inbound::{ParseError, Progress, data, parse};

fn has_bare_line_end(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, c)| match c {
        b'\r' => b.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || b[i - 1] != b'\r',
        _ => false,
    })
}

fuzz_target!(|input: &[u8]| {
    for line in input.split_inclusive(|b| *b == b'\n') {
        match parse(line) {
            Ok(_) => assert!(
                line.ends_with(b"\r\n") && !has_bare_line_end(line),
                "a command with a bare line end was accepted"
            ),
            Err(ParseError::Incomplete) => assert!(!line.ends_with(b"\n")),
            Err(_) => {}
        }
    }

    let (end, used, result) = data::read_all(input, 64 * 1024);
    assert!(used <= input.len());
    let read = &input[..used];
    match (end, result) {
        (Some(Progress::End), Ok(message)) => {
            assert!(read.ends_with(b"\r\n.\r\n") || read == b".\r\n");
            assert!(!has_bare_line_end(read), "bare line end in a kept message");
            assert!(!has_bare_line_end(&message));
            assert!(message.len() <= 64 * 1024);
        }
        (Some(Progress::AmbiguousEnd), result) => assert!(result.is_err()),
        (None, _) => assert_eq!(used, input.len()),
        (Some(Progress::End), Err(_)) | (Some(Progress::More), _) => {}
    }
});
