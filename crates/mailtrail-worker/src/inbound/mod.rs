//! Returned mail into events (DESIGN.md section 4, flow 3): every inbound
//! message is first kept in the store (by the SMTP listener before it
//! answers 250, or by the IMAP poller), then processed from there, so a
//! crash between the two loses nothing: unprocessed messages are picked up
//! again at the next start.
//!
//! Processing is classify → correlate → events:
//! - correlation tries the VERP token first (`bounces+TOKEN@`, in the
//!   envelope recipient or the message itself; it names exactly one
//!   recipient and needs no lookup to trust), then the Message-ID the
//!   message is about (`X-Original-Message-ID`, the MDN
//!   `Original-Message-ID`, the returned headers, then `In-Reply-To` and
//!   `References`, RFC 5322 section 3.6.4), and last the address among
//!   the sends of the 30 days before the message arrived (its IMAP
//!   INTERNALDATE for mail read from a mailbox), never those after;
//! - effects: bounce → `failed` with the reason, delay → `deferred`,
//!   delivery report → `delivered`, MDN → `read_receipt`, ARF →
//!   `complained`, reply → `replied`, RFC 3834 auto-reply →
//!   `auto_replied`. Hard bounces and complaints put the address on the
//!   organisation's suppression list.
//!
//! Processing is exactly-once: a message's events and suppressions are
//! written in the same transaction that marks it processed
//! (`Store::finish_inbound`), so a crash either leaves it pending, to be
//! processed again from the start, or finished.

mod processor;
mod sink;

pub use processor::Processor;
pub use sink::{ImapSink, StoreSink};

/// How much later than an inbound message's arrival a send may be and
/// still be what it answers: the arrival time of IMAP mail is the IMAP
/// server's clock (INTERNALDATE), which may run behind ours.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(10);
