//! An address as people and mail APIs write it: `Sales <sales@example.com>`
//! or `"Doe, Jane" <jane@example.com>`, an RFC 5322 section 3.4
//! `name-addr` (display name, then the address in angle brackets), as well
//! as a bare `addr-spec`. Postmark, Mailgun and Resend take `from` in this
//! form, so mailtrail does too.
//!
//! Only the split is done here; the address is then checked by
//! [`crate::EmailAddress::parse`]. The display name comes back unquoted
//! (RFC 5322 section 3.2.4: the quotes and backslashes of a quoted-string
//! are not part of its value) and is encoded again, per RFC 2047 when not
//! ASCII, when the header is written. CR and LF are refused anywhere: they
//! would end the header line (header injection).

/// Why a `name-addr` string does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameAddrError {
    /// CR, LF or another control character (other than TAB).
    #[error("must not contain line breaks or control characters")]
    Control,
    /// A `<` without its `>`, or text after the `>`.
    #[error("must be an address or `Name <address>`: unbalanced or trailing text after '>'")]
    Brackets,
    /// A quoted display name without its closing quote.
    #[error("the quoted display name has no closing quote")]
    Quote,
}

/// A display name (if any) and the address as written between the brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name, unquoted and trimmed; `None` when absent or empty.
    pub name: Option<String>,
    /// The address, not yet checked.
    pub address: &'a str,
}

/// Splits `input` into display name and address. Input without `<` is a
/// bare address (returned trimmed, with no name).
pub fn parse_name_addr(input: &str) -> Result<NameAddr<'_>, NameAddrError> {
    if input.chars().any(|c| c.is_control() && c != '\t') {
        return Err(NameAddrError::Control);
    }
    let trimmed = input.trim();
    // The `<` that opens the address is the first one outside a quoted
    // display name.
    let Some(open) = open_bracket(trimmed)? else {
        return Ok(NameAddr {
            name: None,
            address: trimmed,
        });
    };
    let rest = &trimmed[open + 1..];
    let close = rest.find('>').ok_or(NameAddrError::Brackets)?;
    if !rest[close + 1..].trim().is_empty() {
        return Err(NameAddrError::Brackets);
    }
    let address = rest[..close].trim();
    let name = display_name(trimmed[..open].trim())?;
    Ok(NameAddr { name, address })
}

/// Where the address's `<` is, skipping quoted strings.
fn open_bracket(s: &str) -> Result<Option<usize>, NameAddrError> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == '<' && !quoted {
            return Ok(Some(i));
        }
    }
    if quoted {
        return Err(NameAddrError::Quote);
    }
    Ok(None)
}

/// The value of an RFC 5322 `phrase`: quoted strings lose their quotes and
/// backslashes; atoms are kept as written; runs of white space become one
/// space (section 3.2.2 unfolds them so).
fn display_name(phrase: &str) -> Result<Option<String>, NameAddrError> {
    let mut out = String::with_capacity(phrase.len());
    let mut chars = phrase.chars();
    let mut space = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next() {
                    None => return Err(NameAddrError::Quote),
                    Some('"') => break,
                    Some('\\') => out.push(chars.next().ok_or(NameAddrError::Quote)?),
                    Some(q) => out.push(q),
                }
            },
            ' ' | '\t' => {
                space = true;
                continue;
            }
            other => {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                out.push(other);
            }
        }
        space = false;
    }
    let name = out.trim();
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> (Option<String>, &str) {
        let n = parse_name_addr(s).expect(s);
        (n.name, n.address)
    }

    #[test]
    fn bare_and_bracketed_addresses() {
        assert_eq!(split(" a@b.example "), (None, "a@b.example"));
        assert_eq!(split("<a@b.example>"), (None, "a@b.example"));
        assert_eq!(
            split("Sales <sales@example.com>"),
            (Some("Sales".into()), "sales@example.com")
        );
        assert_eq!(
            split("  Sales   Team\t<sales@example.com>  "),
            (Some("Sales Team".into()), "sales@example.com")
        );
    }

    #[test]
    fn quoted_names_lose_their_quotes() {
        assert_eq!(
            split(r#""Doe, Jane <boss>" <jane@example.com>"#),
            (Some("Doe, Jane <boss>".into()), "jane@example.com")
        );
        assert_eq!(
            split(r#""say \"hi\"" <x@example.com>"#),
            (Some(r#"say "hi""#.into()), "x@example.com")
        );
        assert_eq!(
            split("Zoë Müller <z@example.com>"),
            (Some("Zoë Müller".into()), "z@example.com")
        );
    }

    #[test]
    fn injection_and_malformed_forms_are_refused() {
        assert_eq!(
            parse_name_addr("Sales\r\nBcc: x@evil.test <s@example.com>"),
            Err(NameAddrError::Control)
        );
        assert_eq!(
            parse_name_addr("Sales <s@example.com\n>"),
            Err(NameAddrError::Control)
        );
        assert_eq!(
            parse_name_addr("Sales <s@example.com"),
            Err(NameAddrError::Brackets)
        );
        assert_eq!(
            parse_name_addr("Sales <s@example.com> extra"),
            Err(NameAddrError::Brackets)
        );
        assert_eq!(
            parse_name_addr(r#""Sales <s@example.com>"#),
            Err(NameAddrError::Quote)
        );
    }
}
