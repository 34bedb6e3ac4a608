//! Replies: RFC 5322 section 3.6.4's `In-Reply-To` and `References` name the
//! Message-IDs a message answers; mailtrail generates every Message-ID it
//! sends, so any of them joins a reply to the message, whoever wrote it.

/// The message identifiers of an `In-Reply-To` or `References` value, in
/// order, without angle brackets and without duplicates (bounded).
pub(crate) fn message_ids(value: &str, out: &mut Vec<String>) {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let id = after[..close].trim();
        if !id.is_empty() && !id.contains(char::is_whitespace) && !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
            if out.len() >= 100 {
                return;
            }
        }
        rest = &after[close + 1..];
    }
    if !value.contains('<') {
        for tok in value.split_whitespace() {
            if tok.contains('@') && !out.iter().any(|o| o == tok) && out.len() < 100 {
                out.push(tok.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let mut v = Vec::new();
        message_ids(
            "<a@x.example> (comment) <b@x.example>\r\n <a@x.example>",
            &mut v,
        );
        assert_eq!(v, vec!["a@x.example", "b@x.example"]);
        let mut v = Vec::new();
        message_ids("c@x.example", &mut v);
        assert_eq!(v, vec!["c@x.example"]);
    }
}
