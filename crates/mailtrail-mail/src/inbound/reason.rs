//! Why a delivery failed: the diagnostic text first (what the remote server
//! actually said), then the RFC 3463 enhanced status code, then the RFC 5321
//! reply code, as Sisimai does with its per-reason phrase lists.
//!
//! This extends `mailtrail_domain::Reason::from_reply` with a much larger
//! phrase table and Sisimai's newer reasons (authfailure, requireptr,
//! notcompliantrfc, badreputation, speeding, failedstarttls); the domain
//! crate keeps its small table for callers that only have one SMTP reply.

use std::sync::LazyLock;

use mailtrail_domain::{EnhancedStatus, Reason};

use super::phrases::PhraseSet;

/// One entry per phrase, in table order (the first listed wins).
fn one_group_each<T>(table: &'static [(&'static str, T)]) -> PhraseSet {
    PhraseSet::new(table.iter().map(|(p, _)| std::slice::from_ref(p)))
}

static WEAK_SET: LazyLock<PhraseSet> = LazyLock::new(|| one_group_each(WEAK));
static DIRECTORY_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::flat(DIRECTORY_UNKNOWN));
static COMMAND_SET: LazyLock<PhraseSet> = LazyLock::new(|| one_group_each(COMMANDS));

/// Builds this module's tables now ([`super::build_tables`]).
pub(super) fn build_tables() {
    for t in [&WEAK_SET, &DIRECTORY_SET, &COMMAND_SET, &DIAGNOSTIC_SET] {
        LazyLock::force(t);
    }
}

/// The tables [`decide`] reads a diagnostic with, in one table so that the
/// diagnostic is scanned once: PRIORITY's phrases, then PHRASES' groups,
/// then DIRECTORY_UNKNOWN as one group, then COMMANDS' phrases.
static DIAGNOSTIC_SET: LazyLock<PhraseSet> = LazyLock::new(|| {
    PhraseSet::new(
        PRIORITY
            .iter()
            .map(|(p, _)| std::slice::from_ref(p))
            .chain(PHRASES.iter().map(|(_, p)| *p))
            .chain([DIRECTORY_UNKNOWN])
            .chain(COMMANDS.iter().map(|(p, _)| std::slice::from_ref(p))),
    )
});

/// What the tables of [`DIAGNOSTIC_SET`] find in one diagnostic: the first
/// PRIORITY phrase and the first PHRASES group (in table order) occurring
/// anywhere, whether a DIRECTORY_UNKNOWN phrase occurs, and the command of
/// the COMMANDS phrase starting earliest (as [`command`]).
struct Found {
    priority: Option<Reason>,
    phrase: Option<Reason>,
    directory: bool,
    command: Option<Command>,
}

impl Found {
    fn of(lower: &str) -> Self {
        let (p, n) = (PRIORITY.len(), PHRASES.len());
        let mut priority: Option<usize> = None;
        let mut phrase: Option<usize> = None;
        let mut directory = false;
        let mut command: Option<(usize, usize)> = None;
        DIAGNOSTIC_SET.each(lower, |start, g| {
            if g < p {
                priority = Some(priority.map_or(g, |b| b.min(g)));
            } else if g < p + n {
                let g = g - p;
                phrase = Some(phrase.map_or(g, |b| b.min(g)));
            } else if g == p + n {
                directory = true;
            } else {
                let key = (start, g - p - n - 1);
                command = Some(command.map_or(key, |b| b.min(key)));
            }
            true
        });
        Self {
            priority: priority.map(|g| PRIORITY[g].1),
            phrase: phrase.map(|g| PHRASES[g].0),
            directory,
            command: command.map(|(_, g)| COMMANDS[g].1),
        }
    }
}

/// Ordered: the first reason with a matching phrase wins, so the specific
/// reasons come before the broad ones ("mailbox full" before "rejected").
/// All phrases are lower case and matched against lower-cased text.
const PHRASES: &[(Reason, &[&str])] = &[
    (
        Reason::MailboxFull,
        &[
            "account is full",
            "account is over quota",
            "account is temporarily over quota",
            "boite du destinataire pleine",
            "disc quota exceeded",
            "disk quota exceeded",
            "exceeded storage allocation",
            "exceeding its mailbox quota",
            "mail file size exceeds the maximum size allowed for mail delivery",
            "mail quota exceeded",
            "mailbox exceeded the local limit",
            "mailbox full",
            "mailbox has exceeded its disk space limit",
            "mailbox is full",
            "mailbox over quota",
            "mailbox size limit exceeded",
            "mailbox_quota_exceeded",
            "maildir over quota",
            "maildir has overdrawn",
            "mailfolder is full",
            "not enough storage space in",
            "over the allowed quota",
            "over quota",
            "quota exceeded",
            "quota violation",
            "recipient reached disk quota",
            "recipient rejected: mailbox would exceed maximum allowed storage",
            "the recipient mailbox has exceeded its disk space limit",
            "the user's space has been used up",
            "the user you are trying to reach is over quota",
            "too much mail data",
            "user has exceeded quota",
            "user has too many messages on the server",
            "user's space has been used up",
            "user is over quota",
            "user is over their quota",
            "mailbox is over quota",
            "exceeds quota",
            "inbox is full",
            "storage quota",
            "mailbox has exceeded",
            "mailbox exceeds allowed size",
        ],
    ),
    (
        Reason::MesgTooBig,
        &[
            "exceeded maximum inbound message size",
            "line limit exceeded",
            "max message size exceeded",
            "message file too big",
            "message length exceeds administrative limit",
            "message size exceeds fixed limit",
            "message size exceeds fixed maximum message size",
            "message size exceeds maximum value",
            "message too big",
            "message too large",
            "size limit",
            "taille limite du message atteinte",
            "message is too large",
            "message exceeds maximum size",
            "exceeds the maximum size",
            "message size exceeds",
        ],
    ),
    (
        Reason::ExceedLimit,
        &[
            "message header size exceeds limit",
            "message too large for this recipient",
            "too many recipients",
            "recipients exceeds",
        ],
    ),
    (
        Reason::Suspend,
        &[
            "account disabled",
            "account has been disabled",
            "account has been suspended",
            "account is disabled",
            "account is inactive",
            "account is suspended",
            "account not activated",
            "address is inactive",
            "boite du destinataire archivee",
            "email account that you tried to reach is disabled",
            "email account that you tried to reach is inactive",
            "invalid/inactive user",
            "is a deactivated mailbox",
            "is unavailable: user is terminated",
            "mailbox currently suspended",
            "mailbox disabled",
            "mailbox is frozen",
            "mailbox unavailable or access denied",
            "recipient rejected: temporarily inactive",
            "recipient suspend the service",
            "this account has been disabled or discontinued",
            "this account has been temporarily suspended",
            "this address no longer accepts mail",
            "this mailbox is disabled",
            "user or domain is disabled",
            "user suspended",
            "vdelivermail: account is locked email bounced",
            "account expired",
            "mailbox is inactive",
            "user account is unavailable",
            "mailbox has been suspended",
        ],
    ),
    (
        Reason::HasMoved,
        &[
            "address has been replaced by",
            "has been moved to",
            "has moved to",
            "user has moved",
        ],
    ),
    (
        Reason::NoRelaying,
        &[
            // Amazon SES refuses to send for an identity (address or
            // domain) that is not verified: "554 Message rejected: Email
            // address is not verified."
            "email address is not verified",
            // Postfix access maps and many filters: "Recipient address
            // rejected: No relaying".
            "no relaying",
            "as a relay",
            "insecure mail relay",
            "is not permitted to relay through this server without authentication",
            "mail server requires authentication when attempting to send to a non-local e-mail address",
            "not a gateway",
            "not allowed to relay through this machine",
            "not an open relay, so get lost",
            "not local host",
            "relay access denied",
            "relay denied",
            "relaying denied",
            "relay not permitted",
            "relaying mail to",
            "relay prohibited",
            "relaying not allowed",
            "that domain isn't in my list of allowed rcpthost",
            "unable to relay",
            "we do not relay",
            "not permitted to relay",
        ],
    ),
    (
        Reason::RequirePtr,
        &[
            "access denied. ip name lookup failed",
            "all mail servers must have a ptr record with a valid reverse dns entry",
            "bad dns ptr resource record",
            "cannot find your hostname",
            "client host rejected: cannot find your hostname",
            "fail to look up your ip address",
            "fix reverse dns for",
            "ip name lookup failed",
            "no ptr record found",
            "please get a custom reverse dns",
            "reverse dns failed",
            "reverse dns lookup for host",
            "reverse dns required",
            "sender ip reverse lookup rejected",
            "unresolvable relay host name",
            "the ip address sending this message does not have a ptr record setup",
            "does not have a ptr record",
            "no ptr record",
            "ptr record",
            "reverse dns",
            "reverse-dns",
            "rdns",
            "not resolve your hostname",
            "your host name doesn't match with your ip address",
            "you don't have a reverse dns",
            "cannot resolve your address",
            "name lookup failed",
        ],
    ),
    (
        Reason::AuthFailure,
        &[
            "-all directive",
            "bad spf records for",
            "dmarc policy",
            "dmarc validation",
            "please inspect your spf settings",
            "sender policy framework (spf) fail",
            "sender policy framework violation",
            "spf (sender policy framework) domain authentication fail",
            "spf check: fail",
            "spf: fail",
            "spf fail",
            "is not designated to send",
            "unauthenticated email from",
            "is not allowed to send mail from",
            "email from this sender is not authenticated",
            "dkim validation failed",
            "did not pass dmarc",
            "rejected due to dmarc",
            "dmarc reject",
            "dmarc check",
            "authentication failed for",
            "failed spf",
            "failed dmarc",
            "spf",
            "dmarc",
        ],
    ),
    (
        Reason::UserUnknown,
        &[
            "#5.1.1 bad address",
            "550 address invalid",
            "5.1.0 address rejected.",
            "address does not exist",
            "address not present in directory",
            "address unknown",
            "archived recipient",
            "bad-recipient",
            "bad recipient",
            "badrcptto",
            "can't accept user",
            "destination addresses were unknown",
            "destination server rejected recipients",
            "email address does not exist",
            "email address could not be found",
            "email account that you tried to reach does not exist",
            "invalid address",
            "invalid mailbox",
            "invalid recipient",
            "is not a known user",
            "is not a valid mailbox",
            "is not an active address at this host",
            "mailbox does not exist",
            "mailbox invalid",
            "mailbox is unavailable",
            "mailbox not found",
            "mailbox not present",
            "mailbox unavailable",
            "no account by that name here",
            "no mail box available for this user",
            "no mailbox by that name is currently available",
            "no mailbox found",
            "no such address here",
            "no such mailbox",
            "no such person at this address",
            "no such recipient",
            "no such user",
            "no valid recipients",
            "non existent user",
            "nonexistent user",
            "non-existent user",
            "not a valid recipient",
            "not a valid user here",
            "not a local address",
            "not our customer",
            "recipient address rejected: access denied",
            "recipient address rejected: invalid user",
            "recipient address rejected: invalid-recipient",
            "recipient address rejected: unknown user",
            "recipient address rejected: user unknown",
            "recipient does not exist",
            "recipient is not local",
            "recipient not exist",
            "recipient not found",
            "recipient not ok",
            "recipient unknown",
            "recipientnotfound",
            "requested action not taken: mailbox unavailable",
            "resolver.adr.recipnotfound",
            "resolver.adr.recipientnotfound",
            "sorry, no mailbox here by that name",
            "sorry, user unknown",
            "that domain or user isn't in my list of allowed rcpthosts",
            "the email account that you tried to reach does not exist",
            "the following recipients was undeliverable",
            "the user's email name is not found",
            "there is no one at this address",
            "this user doesn't have a",
            "unknown address",
            "unknown e-mail address",
            "unknown local part",
            "unknown mailbox",
            "unknown recipient",
            "unknown user",
            "user does not exist",
            "user missing home directory",
            "user not found",
            "user not known",
            "user unknown",
            "utilisateur inconnu",
            "vdeliver: invalid or unknown virtual user",
            "vdelivermail: user does not exist",
            "no existe dicha persona",
            "no existe ese usuario",
            "nessun utente simile in questo indirizzo",
            "does not exist here",
            "no such local user",
            "unrouteable address",
            "not listed in domino directory",
            "user doesn't exist",
            "doesn't have an account",
            "does not have an account",
            "addressee unknown",
            "unknown or illegal alias",
            "account does not exist",
            "no such account",
            "mailbox unknown",
            "user invalid",
            "invalid user",
            "user is unknown",
            "user not exist",
            "not a valid mailbox",
            "couldn't be found",
            "does not exist",
        ],
    ),
    (
        Reason::NotAccept,
        &[
            "does not accept mail",
            "domain does not accept mail",
            "host does not accept mail",
            "mx record of domain is null",
            "name server: .: host not found",
            "smtp protocol returned a permanent error",
            "null mx",
            "no mx record",
        ],
    ),
    (
        Reason::HostUnknown,
        &[
            "domain does not exist",
            "domain is not reachable",
            "domain must exist",
            "domain not found",
            "host or domain name not found",
            "host unknown",
            "host unreachable",
            "mail domain mentioned in email address is unknown",
            "name or service not known",
            "no such domain",
            "recipient address rejected: unknown domain name",
            "recipient domain must exist",
            "the account or domain may not exist",
            "unknown host",
            "unroutable address",
            "unrouteable mail domain",
            "unknown domain",
            "domain name not found",
            "host not found",
            "recipient address rejected: domain not found",
            "illegal host/domain name found",
            "nxdomain",
        ],
    ),
    (
        Reason::BadReputation,
        &[
            "has been temporarily rate limited due to ip reputation",
            "ip/domain reputation problems",
            "likely unsolicited mail",
            "poor reputation",
            "sender reputation",
            "due to low reputation",
            "reputation",
        ],
    ),
    (
        Reason::VirusDetected,
        &[
            "it has a potentially executable attachment",
            "message was rejected due to a virus",
            "message contains a virus",
            "virus detected",
            "virus found",
            "infected with",
            "potentially executable content",
            "virus",
            "malware",
        ],
    ),
    (
        // The recipient's own rules refused the message (Sisimai's
        // `filtered`): not spam scoring, not an unknown address.
        Reason::Filtered,
        &[
            "message filtered",
            "refused due to recipient preferences",
            "due to the recipient's policy",
            "message rejected due to user rules",
            "this message has been rejected by the recipient",
            "is only accepting mail from specific email addresses",
        ],
    ),
    (
        Reason::SpamDetected,
        &[
            "scored as spam",
            // amavisd-new's rejection: "554 5.7.0 Reject, id=... - SPAM".
            " - spam",
            "blacklisted url in message",
            "block for spam",
            "blocked by policy: no spam please",
            "blocked by spamassassin",
            "classified as spam",
            "content filter rejection",
            "cyberoam anti spam engine has identified this email as a bulk email",
            "denied due to spam list",
            "high probability of spam",
            "is classified as spam and is rejected",
            "listed in work.drbl.imedia.ru",
            "mail appears to be unsolicited",
            "mail content denied",
            "may consider spam",
            "message considered as spam or virus",
            "message contains spam",
            "message content rejected",
            "message detected as spam",
            "message is being rejected as it seems to be a spam",
            "message looks like spam",
            "message rejected as spam",
            "message rejected due to suspected spam content",
            "our filters rate at and above",
            "rejected by spam filter",
            "rejected due to spam",
            "rejected for spam",
            "rejected: spamassassin",
            "sorry, message looks like spam",
            "spam check",
            "spam content",
            "spam detected",
            "spam email",
            "spam message",
            "spam not accepted",
            "spam refused",
            "spam rejection",
            "spam score",
            "spambouncer identified spam",
            "spamming not allowed",
            "the message was rejected because it contains prohibited virus or spam content",
            "this message has been flagged as spam",
            "this message scored",
            "this message was classified as spam",
            "this message was rejected by recurrent pattern detection system",
            "transaction failed spam message not queued",
            "we dont accept spam",
            "your message has been temporarily blocked by our filter",
            "your message has been rejected because it appears to be spam",
            "your message has triggered a spam block",
            "your message may contain the spam contents",
            "your message was detected as spam",
            "detected as spam",
            "rejected as spam",
            "looks like spam",
            "appears to be spam",
            "unsolicited",
        ],
    ),
    (
        Reason::Speeding,
        &[
            "please try again slower",
            "receiving mail at a rate that prevents additional messages from being delivered",
            "sending rate",
            "rate limit",
            "too many messages",
            "too much mail",
        ],
    ),
    (
        Reason::TooManyConn,
        &[
            "all available ips are at maximum connection limit",
            "connection rate limit exceeded",
            "exceeds per-domain connection limit for",
            "has exceeded the max emails per hour",
            "throttling failure: daily message quota exceeded",
            "throttling failure: maximum sending rate exceeded",
            "too many connections",
            "too many connections from your host",
            "too many concurrent smtp connections",
            "too many errors from your ip",
            "too many smtp sessions for this host",
            "trop de connexions",
            "we have already made numerous attempts to deliver this message",
            "connection limit",
        ],
    ),
    (
        Reason::Blocked,
        &[
            // Outlook.com's SC-00x refusals of a sending IP on its block
            // list: "Unfortunately, messages from 192.0.2.1 weren't sent."
            "unfortunately, messages from",
            "access denied (in reply to rcpt to command)",
            "access from ip address",
            "all mail from your ip",
            "banned sending ip",
            "blacklisted by",
            "blocked using ",
            "blocked - see http",
            "blocked by",
            "blocked for abuse",
            "can't determine purported responsible address",
            "client host rejected: abus detecte gu_eib_02",
            "client host rejected: abus detecte gu_eib_04",
            "client host rejected: may not be mail exchanger",
            "client host rejected: was not authenticated",
            "confirm this mail server",
            "connection dropped",
            "connection refused by",
            "connection reset by peer",
            "connection was dropped by remote host",
            "connections not accepted from ip addresses on spamhaus xbl",
            "currently sending spam see: ",
            "domain does not exist:",
            "dynamic/zombied/spam ips blocked",
            "error: no valid recipients from",
            "esmtp not accepting connections",
            "extreme bad ip profile",
            "go away",
            "helo command rejected:",
            "host network not allowed",
            "hosts with dynamic ip",
            "invalid ip for sending mail of domain",
            "is in a black list",
            "is not allowed to send from <",
            "mail server at ip address",
            "messages from multiple addresses",
            "no access from mail server",
            "not currently accepting mail from your ip",
            "part of their network is on our block list",
            "please use the smtp server of your isp",
            "rejected - the ip address",
            "rejected because the sending mta or the sender has not passed validation",
            "rejecting open proxy",
            "sender ip address rejected",
            "server access",
            "service permits",
            "smtp error from remote mail server after initial connection:",
            "sorry, that domain isn't in my list of allowed rcpthosts",
            "sorry, your remotehost looks suspiciously like spammer",
            "temporarily deferred due to unexpected volume or user complaints",
            "to submit messages to this e-mail system has been rejected",
            "too many spams from your ip",
            "unresolvable relay host name",
            "veuillez essayer plus tard",
            "we do not accept mail from dynamic ips",
            "you are not allowed to connect",
            "you are sending spam",
            "your access to submit messages to this e-mail system has been rejected",
            "your ip address is listed",
            "your network is temporary blacklisted",
            "your server requires confirmation",
            "blocklist",
            "blacklist",
            "block list",
            "black list",
            "spamhaus",
            "spamcop",
            "dnsbl",
            "rbl",
            "listed at",
            "listed in",
            "client host blocked",
            "client host rejected",
            "ip address blocked",
            "ip blocked",
            "your ip",
            "blocked",
        ],
    ),
    (
        Reason::Rejected,
        &[
            // Gmail refusing the sender: its "Send mail as" address is not
            // (or no longer) allowed for the account (CustomFromDenied).
            "customfromdenied",
            // A mailing list manager refusing a post from a non-member
            // (fml: "You are not a member of this mailing list <list>").
            "not a member of this mailing list",
            "access denied (sender blacklisted)",
            "administrative prohibition",
            "batv failed to verify",
            "batv validation failure",
            "backscatter protection detected an invalid or expired email address",
            "bogus mail from",
            "by non-member to a members-only list",
            "can't determine purported responsible address",
            "connections not accepted from servers without a valid sender domain",
            "denied by secumail valid-address-filter",
            "domain of sender address",
            "email address is on senderfilterconfig list",
            "emetteur invalide",
            "empty envelope senders not allowed",
            "error: no third-party dsns",
            "from: domain is invalid. please provide a valid from:",
            "fully qualified email address required",
            "invalid domain, see <url:",
            "invalid sender",
            "is not a registered gateway user",
            "mail from not owned by user",
            "mail from rejected",
            "mailfrom domain is listed in spamhaus",
            "null sender is not allowed",
            "returned mail not accepted here",
            "rfc 1035 violation",
            "sender address has null mx",
            "sender domain is empty",
            "sender email address rejected",
            "sender is in my block list",
            "sender is spammer",
            "sender not pre-approved",
            "sender rejected",
            "sender domain listed at",
            "sender verify failed",
            "sender address rejected",
            "sender denied",
            "sender not allowed",
            "sender verification failed",
            "we don't accept mail from",
            "your domain has no dns/mx entries",
            "your envelope sender has been denied",
            "unknown sender",
            "mail rejected by destination domain",
        ],
    ),
    (
        Reason::PolicyViolation,
        &[
            "an illegal attachment on your message",
            "because the recipient is not accepting mail with",
            "by the security policy",
            "closed mailing list",
            "denied by policy",
            "email not accepted for policy reasons",
            "email rejected due to security policies",
            "header are not accepted",
            "header error",
            "local policy violation",
            "message bounced due to organizational settings",
            "message given low priority",
            "message not accepted for policy reasons",
            "message rejected due to local policy",
            "messages with multiple addresses",
            "rejected for policy reasons",
            "protocol violation",
            "the email address used to send your message is not subscribed to this group",
            "the message was rejected by organization policy",
            "this message was blocked because its content presents a potential",
            "we do not accept messages containing images or other attachments",
            "you're using a mass mailer",
            "policy violation",
            "policy reasons",
            "security policies",
            "organization policy",
            "organizational settings",
            "policy",
        ],
    ),
    (
        Reason::NotCompliantRfc,
        &[
            "this message is not rfc 5322 compliant",
            "https://support.google.com/mail/?p=rfcmessagenoncompliant",
            "duplicate header",
            "multiple addresses in from: header are not accepted",
            "not rfc 5322 compliant",
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "rfc2822",
        ],
    ),
    (
        Reason::SecurityError,
        &[
            "account not subscribed to ses",
            "authentication credentials invalid",
            "authentication failure",
            "authentication required",
            "authentication turned on in your email client",
            "executable files are not allowed in compressed files",
            "insecure mail relay",
            "recipient address rejected: access denied",
            "sorry, you don't authenticate or the domain isn't in my list of allowed rcpthosts",
            "tls required but not supported",
            "unauthenticated senders not allowed",
            "verification failure",
            "you are not authorized to send mail, authentication is required",
            "authentication is required",
            "smtp authentication",
        ],
    ),
    (
        Reason::FailedStartTls,
        &[
            "starttls is required",
            "must issue a starttls command first",
            "tls is required",
            "encryption required",
        ],
    ),
    (
        Reason::SystemError,
        &[
            // qmail-ldap could not look the recipient up: "Unable to
            // contact LDAP server. (#4.4.3)".
            "unable to contact ldap server",
            // fml's loop detection ("Loop Alert: Duplicated Message-ID").
            "duplicated message-id",
            "aliasing/forwarding loop broken",
            "can't create user output file",
            "could not load drd for domain",
            "internal error reading data",
            "internal server error: operation now in progress",
            "interrupted system call",
            "it encountered an error while being processed",
            "it would create a mail loop",
            "local configuration error",
            "local error in processing",
            "loop was found in the mail exchanger",
            "loops back to myself",
            "mail system configuration error",
            "server configuration error",
            "service currently unavailable",
            "system config error",
            "temporary local problem",
            "timeout waiting for input",
            "transaction failed",
            "mail loop",
            "too many hops",
            "routing loop",
            "internal error",
            "system error",
            "server error",
        ],
    ),
    (
        Reason::SystemFull,
        &[
            // Sendmail's answer when its own queue file system is short
            // of space (MinFreeBlocks): "452 4.4.5 Insufficient disk
            // space; try again later". The server's disk, not a mailbox.
            "insufficient disk space",
            "mail system full",
            "requested mail action aborted: exceeded storage allocation",
            "insufficient system storage",
            "system storage",
        ],
    ),
    (
        Reason::NetworkError,
        &[
            "could not connect and send the mail to",
            "dns records for the destination computer could not be found",
            "hop count exceeded - possible mail loop",
            "host is unreachable",
            "host name lookup failure",
            "host not found, try again",
            "mail forwarding loop for",
            "malformed name server reply",
            "malformed or unexpected name server reply",
            "maximum forwarding loop count exceeded",
            "message looping",
            "message probably in a routing loop",
            "no route to host",
            "too many hops",
            "unable to resolve route ",
            "unrouteable mail domain",
            "network is unreachable",
            "temporary failure in name resolution",
        ],
    ),
    (
        Reason::Expired,
        &[
            // "Your message was not delivered within 0 days and 1 hours"
            // (au EZweb, like sendmail's queue return).
            "was not delivered within",
            // Zoho Mail writes this when its retries have run out.
            "host not reachable",
            "connection timed out",
            "could not find a gateway for",
            "delivery attempts will continue to be",
            "delivery time expired",
            "failed to deliver to domain ",
            "giving up on",
            "has been delayed",
            "it has not been collected after",
            "message expired after sitting in queue for",
            "message expired, connection refulsed",
            "message has been in the queue too long",
            "message timed out",
            "retry time not reached for any host after a long failure period",
            "server did not respond",
            "this message has been in the queue too long",
            "unable to deliver message after multiple retries",
            "was not reachable within the allowed queue period",
            "your message could not be delivered for more than",
            "too long in queue",
            "timed out",
            "retry timeout exceeded",
            "queue too long",
            "expired",
        ],
    ),
    (
        Reason::ContentError,
        &[
            "improper use of 8-bit data in message header",
            "message header size, or recipient list, exceeds policy limit",
            "message mime complexity exceeds the policy maximum",
            "routing loop detected -- too many received: headers",
            "the headers in this message contain improperly-formatted binary content",
            "this message contains invalid mime headers",
            "this message contains improperly-formatted binary content",
            "this message contains text that uses unnecessary base64 encoding",
            "content error",
        ],
    ),
    (
        Reason::MailerError,
        &[
            "x-unix; ",
            "command failed: ",
            "command died with status ",
            "command output:",
            "exit code ",
            "mail delivery failed: returning message to sender",
            "procmail: ",
            "bin/procmail",
            "/usr/bin/",
            "error in mailer",
            "unknown mailer error ",
            "local delivery failed",
        ],
    ),
    (
        Reason::SyntaxError,
        &[
            "syntax error",
            "improper sequence of commands",
            "command parameter not implemented",
            "command unrecognized",
            "unrecognized command",
            "bad sequence of commands",
        ],
    ),
];

/// Phrases that would otherwise be caught by a broader phrase of an earlier
/// reason ("host not found, try again" is temporary, not an unknown host).
const PRIORITY: &[(&str, Reason)] = &[
    ("host not found, try again", Reason::NetworkError),
    ("name service error for domain", Reason::NetworkError),
    ("spamhaus", Reason::Blocked),
    ("blocked using", Reason::Blocked),
    // Gmail's content policy and Mimecast's network policy: not a block of
    // the sender's address but of what or where from it was sent.
    ("content presents a potential", Reason::PolicyViolation),
    ("host network not allowed", Reason::PolicyViolation),
    // The sender, not the connecting host, is what was refused.
    (
        "can't determine purported responsible address",
        Reason::Rejected,
    ),
    ("address that has been blacklisted", Reason::Rejected),
    // A local delivery program failed (Sisimai's mailererror), even when a
    // status says "system error".
    ("mailer error", Reason::MailerError),
    // Exim's own line for a failed delivery to a program ("pipe to
    // |/usr/bin/x"): whatever the program printed, its delivery failed.
    ("pipe to |", Reason::MailerError),
    // procmail, the local delivery agent, failed (whatever it said).
    ("procmail: ", Reason::MailerError),
    // A queue that gave up after retrying.
    ("could not deliver for the last", Reason::Expired),
    // Gmail's RFC 5322 section 3.6.2 check (one address in From:), not a
    // policy of the site.
    ("multiple addresses in from:", Reason::NotCompliantRfc),
    // Rate limits written with "blocked IP" in them (Tencent QQ's "Ip
    // frequency limited", "Connection frequency limited").
    ("frequency limited", Reason::TooManyConn),
    // Postfix's anvil: too many connections per time unit from one client.
    ("connection rate limit", Reason::TooManyConn),
    // GoDaddy's per-hour limit ("has sent to too many recipients this
    // hour"): a sending rate, not a limit on one message.
    ("recipients this hour", Reason::Speeding),
    // The sending host's name did not check out: a reverse-DNS test.
    ("mismatches client ip", Reason::RequirePtr),
    ("unverifyable sending ip", Reason::RequirePtr),
    // Postfix: the server's greeting was a refusal ("refused to talk to
    // me: 421/554 ..."), before any address was given.
    ("refused to talk to me", Reason::Blocked),
    // Gmail's per-recipient rate limit, its lines interleaved with
    // "550-5.2.1" continuation codes.
    ("receiving mail at a rate that", Reason::Speeding),
    // Google Groups: "rejected due to spam classification", whatever
    // advice on SPF records follows.
    ("spam classification", Reason::SpamDetected),
    // Gmail: "DNS type 'mx' lookup of example.com had no relevant
    // answers": the domain has no mail host (a network error when the
    // status is temporary).
    ("had no relevant answers", Reason::HostUnknown),
    // A loop counted by hops is a routing (network) problem.
    ("hop count exceeded", Reason::NetworkError),
    // Gmail's sender-authentication requirement (SPF or DKIM).
    (
        "does not have authentication information",
        Reason::AuthFailure,
    ),
];

/// A directory lookup's own wording for a mailbox that does not exist.
const DIRECTORY_UNKNOWN: &[&str] = &[
    "recipient name is not recognized",
    "recipientnotfound",
    "recipient not found by smtp address lookup",
    "delivery error: dd this user doesn't have",
    // Exchange Online's directory-based edge blocking: 550 5.4.1
    // "Recipient address rejected: Access denied" means the address is not
    // in the tenant's directory (Microsoft's NDR reference for 5.4.1).
    "recipient address rejected: access denied",
    // Gmail's own notice ("** Address not found ** Your message wasn't
    // delivered to bob@example.com because the address couldn't be found").
    "because the address couldn't be found",
    // Trend Micro InterScan: "Unable to deliver message to <bob@...>
    // (and other recipients in the same domain). Please check if address
    // is correct." (older versions stop after the parenthesis; Sisimai
    // reads both as an unknown recipient).
    "please check if address is correct",
    "(and other recipients in the same domain)",
    // Sendmail's local delivery agent: "mail.local: unknown user: bob"
    // is said only when the local account does not exist.
    "mail.local: unknown user",
    // Ipswitch IMail's local delivery: "Invalid final delivery userid:
    // bob@example.com".
    "invalid final delivery userid",
    // Verizon's MMS gateway (MMSC) found no subscriber for the number:
    // "Error: No valid recipients for this MM".
    "no valid recipients for this mm",
];

/// Wording that names a reason only loosely ("Recipient address rejected:
/// Media error"): used only when neither the phrases nor the status decide.
const WEAK: &[(&str, Reason)] = &[
    ("recipient address rejected", Reason::UserUnknown),
    ("address rejected", Reason::UserUnknown),
    ("recipient rejected", Reason::UserUnknown),
];

/// A bare "Recipient address rejected" names the address as the problem;
/// followed by an explanation ("Recipient address rejected: On hold")
/// the explanation is the reason, and when it names none of the known
/// reasons, no guess is made.
fn weak(lower: &str) -> Option<Reason> {
    let g = WEAK_SET.first_group(lower)?;
    let (phrase, reason) = WEAK[g];
    let at = lower.find(phrase)?;
    let rest = lower[at + phrase.len()..].trim_start();
    let explained = rest
        .strip_prefix(':')
        .is_some_and(|r| r.trim_start().starts_with(|c: char| c.is_alphabetic()));
    (!explained).then_some(reason)
}

/// RFC 3463 section 3 subject and detail codes, with the later registrations
/// (RFC 7372 for 5.7.23-5.7.25 and RFC 7505 for 5.1.10, RFC 8689 for TLS).
/// Codes whose detail is 0 say too little and give `None`.
pub(crate) fn from_status(es: &EnhancedStatus) -> Option<Reason> {
    let r = match (es.subject, es.detail) {
        (1, 1) | (1, 3) => Reason::UserUnknown,
        (1, 2) => Reason::HostUnknown,
        (1, 4) => Reason::Filtered,
        (1, 6) => Reason::HasMoved,
        (1, 7) | (1, 8) => Reason::Rejected,
        (1, 9) => Reason::SystemError,
        (1, 10) => Reason::NotAccept,
        (2, 0) | (2, 1) => Reason::Filtered,
        (2, 2) => Reason::MailboxFull,
        (2, 3) => Reason::ExceedLimit,
        (2, 4) => Reason::Filtered,
        (3, 1) => Reason::SystemFull,
        (3, 2) => Reason::NotAccept,
        (3, 3) | (3, 5) => Reason::SystemError,
        (3, 4) => Reason::MesgTooBig,
        (4, 1) | (4, 2) | (4, 4) | (4, 6) => Reason::NetworkError,
        (4, 3) => Reason::SystemError,
        (4, 5) => Reason::SystemFull,
        (4, 7) => Reason::Expired,
        (5, 3) => Reason::TooManyConn,
        (5, 4) | (5, 5) => Reason::SystemError,
        (5, 1) | (5, 2) => Reason::SyntaxError,
        (6, _) => Reason::ContentError,
        (7, 1) if es.class == 4 => Reason::Blocked,
        (7, 1) => Reason::Rejected,
        (7, 2) => Reason::Blocked,
        (7, 13) => Reason::Suspend,
        (7, 16) => Reason::MesgTooBig,
        (7, 17) | (7, 18) => Reason::HasMoved,
        (7, 10) | (7, 11) => Reason::FailedStartTls,
        (7, 23) | (7, 24) | (7, 26) => Reason::AuthFailure,
        (7, 25) => Reason::RequirePtr,
        (7, 27) => Reason::NotAccept,
        (7, 28) => Reason::SpamDetected,
        (3, 0) => Reason::SystemError,
        // "Other address status" (RFC 3463 section 3.2), permanent: the
        // address was refused, as Sisimai reads it.
        (1, 0) if es.class == 5 => Reason::UserUnknown,
        (7, 0) | (1, 0) | (4, 0) | (5, 0) | (0, _) => return None,
        (7, _) => Reason::SecurityError,
        _ => return None,
    };
    Some(r)
}

/// Where a report comes from, for the last-resort rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// The recipient's action was `failed` or unknown.
    Failed,
    /// The recipient's action was `delayed` (a warning).
    Delayed,
    /// The diagnostic came from a local delivery program (`X-Unix;`).
    Mailer,
    /// The notice states the result of the reporting server's own
    /// delivery to its mailboxes (Ipswitch IMail's "Unknown user:
    /// bob@example.com"), not a remote server's reply to a command.
    Local,
}

/// The SMTP command a rejection answered (RFC 5321 section 4.1), when the
/// notice says so: it separates an unknown user (refused at `RCPT`) from a
/// message refused by a recipient's filter after `DATA`, which Sisimai calls
/// `filtered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Before the envelope: connection, `EHLO` / `HELO`.
    Connect,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
    /// `DATA` or the end of the data.
    Data,
}

/// Finds which SMTP command the diagnostic answered.
pub(crate) fn command(lower: &str) -> Option<Command> {
    COMMAND_SET.earliest_group(lower).map(|g| COMMANDS[g].1)
}

/// Wording that names the SMTP command a reply answered (the earliest in
/// the text wins).
const COMMANDS: &[(&str, Command)] = &[
    ("in reply to rcpt to command", Command::Rcpt),
    ("after rcpt to", Command::Rcpt),
    ("rcpt to response", Command::Rcpt),
    (">>> rcpt to", Command::Rcpt),
    ("in reply to end of data command", Command::Data),
    ("in reply to data command", Command::Data),
    ("after end of data", Command::Data),
    ("after data", Command::Data),
    (">>> data", Command::Data),
    ("data command", Command::Data),
    ("in reply to mail from command", Command::Mail),
    ("after mail from", Command::Mail),
    (">>> mail from", Command::Mail),
    ("in reply to ehlo command", Command::Connect),
    ("in reply to helo command", Command::Connect),
    ("after initial connection", Command::Connect),
    ("in reply to rcpt", Command::Rcpt),
    ("after rcpt command", Command::Rcpt),
    ("our rcpt to", Command::Rcpt),
    ("does not like recipient", Command::Rcpt),
    ("rcpt to:<", Command::Rcpt),
    ("smtp:rcpt", Command::Rcpt),
];

/// The rest of a notice (lower-case), as [`decide_with`] reads it for each
/// recipient: what it says is searched once per message, not once per
/// recipient.
pub(crate) struct Around<'a> {
    text: &'a str,
    directory: std::cell::OnceCell<bool>,
    command: std::cell::OnceCell<Option<Command>>,
}

impl<'a> Around<'a> {
    /// `text` must be lower-case.
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            directory: std::cell::OnceCell::new(),
            command: std::cell::OnceCell::new(),
        }
    }

    /// Whether the notice uses a directory lookup's wording.
    fn directory(&self) -> bool {
        *self.directory.get_or_init(|| DIRECTORY_SET.any(self.text))
    }

    /// The SMTP command the notice says was answered.
    fn command(&self) -> Option<Command> {
        *self.command.get_or_init(|| command(self.text))
    }
}

/// Decides the reason: the text first (what the server said is the most
/// specific evidence), then the enhanced status, then context and the
/// reply code. `around` (the rest of the notice) must be lower-case.
pub(crate) fn decide(
    diagnostic: &str,
    around: &str,
    status: Option<&str>,
    reply_code: Option<&str>,
    ctx: Context,
) -> Reason {
    decide_with(diagnostic, &Around::new(around), status, reply_code, ctx)
}

/// [`decide`] with the rest of the notice read once for all recipients.
pub(crate) fn decide_with(
    diagnostic: &str,
    around: &Around<'_>,
    status: Option<&str>,
    reply_code: Option<&str>,
    ctx: Context,
) -> Reason {
    let lower = join_continuations(diagnostic.to_lowercase());
    let es = status.and_then(EnhancedStatus::parse);
    if let Some(es) = es
        && es.class == 2
    {
        return Reason::Delivered;
    }
    let by_status = es.as_ref().and_then(from_status);
    // A precise status about the mailbox beats generic wording such as
    // "rejected" or "policy".
    let found = Found::of(&lower);
    let priority = found.priority;
    // A named block list (Spamhaus, "blocked using") refuses the sending
    // host, whatever address status the server attached to the refusal.
    if matches!(priority, Some(Reason::Blocked)) {
        return Reason::Blocked;
    }
    let mut by_text = priority.or(found.phrase);
    // IMail gave up retrying: "Delivery failed 20 attempts".
    if by_text.is_none() && retries_ran_out(&lower) {
        by_text = Some(Reason::Expired);
    }
    // "553 mx.example.com does not exist": what does not exist is a
    // domain, not a mailbox.
    if by_text == Some(Reason::UserUnknown) && names_missing_domain(&lower) {
        by_text = Some(Reason::HostUnknown);
    }
    // 5.4.4 "unable to route" (RFC 3463 section 3.5) said permanently
    // about a domain whose mail exchanger cannot be found: the domain
    // accepts no mail (Sisimai's notaccept), not a passing network error.
    if es
        .as_ref()
        .is_some_and(|e| e.class == 5 && e.subject == 4 && e.detail == 4)
        && by_text.is_none()
    {
        by_text = Some(Reason::NotAccept);
    }
    // A temporary DNS failure is a network problem, not a missing domain.
    if by_text == Some(Reason::HostUnknown) && es.as_ref().is_some_and(|e| e.class == 4) {
        by_text = Some(Reason::NetworkError);
    }
    // "User unknown" said after DATA, or without saying when, with a
    // status that does not name the mailbox: the recipient's filter
    // refused the message (Sisimai's `filtered`).
    // Wording only a directory lookup produces (Exchange's "recipient name
    // is not recognized", Microsoft's RecipientNotFound, Yahoo's "dd"
    // notice): the mailbox does not exist whatever the command.
    // Which SMTP command was answered: looked up once, when needed.
    let cmd: std::cell::OnceCell<Option<Command>> = std::cell::OnceCell::new();
    // The rest of the notice counts when the diagnostic names no other
    // reason.
    let directory_says_unknown = found.directory
        || (matches!(by_text, None | Some(Reason::UserUnknown)) && around.directory());
    if directory_says_unknown {
        by_text = Some(Reason::UserUnknown);
    }
    if by_text == Some(Reason::UserUnknown)
        && by_status != Some(Reason::UserUnknown)
        && !directory_says_unknown
    {
        let cmd = *cmd.get_or_init(|| found.command.or_else(|| around.command()));
        match (cmd, by_status) {
            (Some(Command::Rcpt), _) => {}
            (_, Some(Reason::Filtered)) => by_text = Some(Reason::Filtered),
            (_, Some(Reason::Suspend)) => by_text = Some(Reason::Suspend),
            // RFC 3463 X.1.6: the mailbox has moved.
            (_, Some(Reason::HasMoved)) => by_text = Some(Reason::HasMoved),
            (Some(Command::Connect | Command::Mail), _) => by_text = None,
            // The server looked its own mailbox up and found none.
            (None, _) if ctx == Context::Local && reply_code.is_none() => {}
            (Some(Command::Data) | None, _) => by_text = Some(Reason::Filtered),
        }
    }
    // The refusal answered MAIL FROM, or says the sender was refused: it is
    // about the sender, not the recipient's address, whatever an address
    // status (RFC 3463 X.1.x: 5.1.0, 5.1.7 bad sender's mailbox) or words
    // such as "no such domain" say about some address.
    let mut by_status = by_status;
    let about_the_address = |r: Option<Reason>| {
        matches!(
            r,
            Some(Reason::UserUnknown | Reason::HostUnknown | Reason::Filtered)
        )
    };
    let about_sender = (about_the_address(by_text) || about_the_address(by_status))
        && (lower.contains("sender rejected")
            || lower.contains("sender address rejected")
            || *cmd.get_or_init(|| found.command.or_else(|| around.command()))
                == Some(Command::Mail));
    if about_sender {
        if matches!(
            by_text,
            Some(Reason::UserUnknown | Reason::HostUnknown | Reason::Filtered)
        ) {
            by_text = Some(Reason::Rejected);
        }
        if matches!(
            by_status,
            Some(Reason::UserUnknown | Reason::HostUnknown | Reason::Filtered)
        ) {
            by_status = Some(Reason::Rejected);
        }
    }
    // RFC 5321 section 4.2.2: 551 "User not local; please try
    // <forward-path>": the mailbox has moved, when no status says otherwise.
    if reply_code == Some("551") && es.is_none() {
        by_text = Some(Reason::HasMoved);
    }
    if by_text.is_none() && by_status.is_none() {
        by_text = weak(&lower);
    }
    // A local delivery program failed (RFC 3464 Diagnostic-Type X-Unix):
    // what it printed names no reason, and the status is the MTA's guess
    // at its exit code.
    if ctx == Context::Mailer && by_text.is_none() {
        return Reason::MailerError;
    }
    match (by_text, by_status) {
        (Some(t), Some(s)) => return prefer(t, s),
        (Some(t), None) => return t,
        (None, Some(s)) => return s,
        (None, None) => {}
    }
    if ctx == Context::Delayed {
        return Reason::Expired;
    }
    if ctx == Context::Mailer {
        return Reason::MailerError;
    }
    if let Some(es) = es {
        match (es.subject, es.class) {
            (7, _) => return Reason::SecurityError,
            (6, _) => return Reason::ContentError,
            (4, 4) => return Reason::Expired,
            _ => {}
        }
    }
    match reply_code {
        Some("500" | "501" | "502" | "503" | "504") => Reason::SyntaxError,
        Some("421") => Reason::TooManyConn,
        Some("452") => Reason::SystemFull,
        Some("552") => Reason::MailboxFull,
        Some("553") => Reason::Rejected,
        _ if lower.trim().is_empty() => Reason::Undefined,
        _ => Reason::OnHold,
    }
}

/// A multi-line SMTP reply (RFC 5321 section 4.2.1) repeats its code on
/// every line ("550-5.7.1 Messages with multiple 550-5.7.1 addresses in
/// From: ..."); once joined into one line those repeats split the
/// server's sentences. They are removed after the first.
fn join_continuations(lower: String) -> String {
    let b = lower.as_bytes();
    // The first "ddd-" of the text: a multi-line reply's code (each `-`,
    // found with memchr, is looked back from).
    let Some(i) = memchr::memchr_iter(b'-', b)
        .filter(|&j| j >= 3)
        .map(|j| j - 3)
        .find(|&i| {
            matches!(b[i], b'4' | b'5')
                && b[i..i + 3].iter().all(u8::is_ascii_digit)
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        })
    else {
        return lower;
    };
    let code = &lower[i..i + 3];
    let after = &lower[i + 4..];
    let status: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut prefixes = Vec::new();
    if super::text::is_status(&status) {
        prefixes.push(format!("{code}-{status} "));
        prefixes.push(format!("{code} {status} "));
    }
    prefixes.push(format!("{code}-"));
    let head = &lower[..i + 4];
    let mut rest = after.to_owned();
    for p in &prefixes {
        rest = rest.replace(&format!(" {p}"), " ");
    }
    format!("{head}{rest}")
}

/// IMail's "Delivery failed 20 attempts": it gave up after retrying.
fn retries_ran_out(lower: &str) -> bool {
    lower.match_indices("delivery failed ").any(|(i, p)| {
        let rest = &lower[i + p.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(" attempts")
    })
}

/// Whether the word before "does not exist" is a domain name (dotted,
/// no `@`, an alphabetic top-level label), as in Exim's "553 example.com
/// does not exist".
fn names_missing_domain(lower: &str) -> bool {
    let Some(i) = lower.find(" does not exist") else {
        return false;
    };
    let word = lower[..i]
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or_default()
        .trim_matches(['<', '>', '"', '\'']);
    let tld = word.rsplit('.').next().unwrap_or_default();
    word.contains('.')
        && !word.contains('@')
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// When the text and the status disagree, keep the text unless it is one of
/// the broad words that many servers use loosely and the status is precise.
fn prefer(text: Reason, status: Reason) -> Reason {
    use Reason::*;
    match (text, status) {
        (t, s) if t == s => t,
        (Rejected | Blocked | PolicyViolation | SecurityError | SystemError | Expired, s)
            if matches!(
                s,
                UserUnknown | MailboxFull | HostUnknown | HasMoved | Suspend | MesgTooBig
            ) =>
        {
            s
        }
        (UserUnknown, Suspend) => Suspend,
        // RFC 3463 X.2.3: the message exceeds the mailbox's own
        // administrative limit, not the system's size limit.
        (MesgTooBig, ExceedLimit) => ExceedLimit,
        (UserUnknown, MailboxFull) => MailboxFull,
        (t, _) => t,
    }
}

/// Hard or soft, by Sisimai's rule (`Sisimai::SMTP::Error::soft_or_hard`):
/// the address itself is wrong (userunknown, hostunknown, hasmoved), or the
/// domain accepts no mail at all (notaccept) and the error is permanent.
pub(crate) fn is_hard(reason: Reason, status: Option<&str>, reply_code: Option<&str>) -> bool {
    match reason {
        Reason::UserUnknown | Reason::HostUnknown | Reason::HasMoved => true,
        Reason::NotAccept => {
            let class = status
                .and_then(|s| s.chars().next())
                .or_else(|| reply_code.and_then(|c| c.chars().next()));
            class != Some('4')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_then_status_then_code() {
        let d = |t: &str, s, c| decide(t, "", s, c, Context::Failed);
        assert_eq!(
            d(
                "550 5.1.1 <a@b.example>: User unknown",
                Some("5.1.1"),
                Some("550")
            ),
            Reason::UserUnknown
        );
        assert_eq!(
            d("552 Mailbox full", None, Some("552")),
            Reason::MailboxFull
        );
        assert_eq!(d("rejected", Some("5.1.1"), None), Reason::UserUnknown);
        assert_eq!(d("something odd", Some("5.2.2"), None), Reason::MailboxFull);
        assert_eq!(d("something odd", None, Some("421")), Reason::TooManyConn);
        assert_eq!(d("something odd", None, None), Reason::OnHold);
        assert_eq!(d("", None, None), Reason::Undefined);
        assert_eq!(
            decide("", "", Some("4.0.0"), None, Context::Delayed),
            Reason::Expired
        );
        assert_eq!(d("delivered", Some("2.0.0"), None), Reason::Delivered);
        assert_eq!(
            d(
                "client host blocked using zen.spamhaus.org",
                Some("5.7.1"),
                None
            ),
            Reason::Blocked
        );
    }

    /// The one scan of `Found::of` finds what a scan per table finds.
    #[test]
    fn one_scan_same_as_one_per_table() {
        let priority = one_group_each(PRIORITY);
        let phrases = PhraseSet::new(PHRASES.iter().map(|(_, p)| *p));
        for t in [
            "550 5.1.1 <a@b.example>: recipient address rejected: user unknown in virtual mailbox table",
            "552 mailbox full; quota exceeded after rcpt to:<a@b.example>",
            "client host blocked using zen.spamhaus.org in reply to data command",
            "recipient not found by smtp address lookup",
            "in reply to end of data command: 554 spam detected",
            "",
            "nothing to see",
        ] {
            let f = Found::of(t);
            assert_eq!(
                f.priority,
                priority.first_group(t).map(|g| PRIORITY[g].1),
                "{t}"
            );
            assert_eq!(
                f.phrase,
                phrases.first_group(t).map(|g| PHRASES[g].0),
                "{t}"
            );
            assert_eq!(f.directory, DIRECTORY_SET.any(t), "{t}");
            assert_eq!(f.command, command(t), "{t}");
        }
    }

    #[test]
    fn hardness() {
        assert!(is_hard(Reason::UserUnknown, None, None));
        assert!(is_hard(Reason::NotAccept, Some("5.1.10"), None));
        assert!(!is_hard(Reason::NotAccept, None, Some("421")));
        assert!(!is_hard(Reason::MailboxFull, Some("5.2.2"), None));
    }
}
