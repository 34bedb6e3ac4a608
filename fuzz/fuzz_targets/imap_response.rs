//! Fuzzes the IMAP response reader (RFC 3501 section 4.3 literals) and the
//! FETCH line reader the poller uses: whatever a server sends gives lines,
//! an error or the end, never a panic, and the reader never keeps more
//! than it was sent.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use mailtrail_imap::client::{Waiting, read_response_line};

fuzz_target!(|input: &[u8]| {
    let mut rest = input;
    // A byte slice is always ready, so each read completes in one poll.
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        let before = rest.len();
        let line = {
            let mut read = pin!(read_response_line(&mut rest));
            match read.as_mut().poll(&mut cx) {
                Poll::Ready(r) => r,
                Poll::Pending => panic!("a byte slice never makes the reader wait"),
            }
        };
        let Ok(line) = line else { break };
        assert!(rest.len() < before, "a line consumed nothing");
        let literal_bytes: usize = line.literals.iter().map(Vec::len).sum();
        assert!(literal_bytes <= input.len());
        if let Some(w) = Waiting::of_fetch_line(&line.text) {
            assert!(line.text.contains(" FETCH ("));
            let _ = w.arrived;
        }
    }
});
