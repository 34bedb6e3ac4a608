//! A step's subject, HTML and text with `{{variables}}` from the contact,
//! checked when the sequence is saved so that a typo never reaches a
//! prospect as a literal `{{frist_name}}` or an empty greeting.
//!
//! Syntax: `{{first_name}}`, or with a fallback used when the contact has
//! no value, `{{first_name | there}}`. The contact's `address` always has
//! a value; `name`, `first_name`, `last_name` and `company` may be empty,
//! so they need a fallback; any other name is one of the contact's custom
//! fields, which some contacts lack, so it needs a fallback too, and
//! without one it is reported as unknown (the usual cause is a typo).

use std::collections::BTreeMap;

/// The variables every contact has (custom fields come beside them).
pub const STANDARD_VARIABLES: [&str; 5] = ["address", "name", "first_name", "last_name", "company"];

/// The longest variable name.
const MAX_NAME: usize = 64;

/// Why a template is refused; each names the variable or the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without its `}}`.
    #[error("`{{{{` at byte {at} is not closed by `}}}}`")]
    Unclosed {
        /// Byte offset of the opening braces.
        at: usize,
    },
    /// `{{}}` or a name with characters other than letters, digits and `_`.
    #[error("`{{{{{name}}}}}` is not a variable name (letters, digits and _)")]
    BadName {
        /// What was written.
        name: String,
    },
    /// A name that is neither a standard variable nor a custom field with
    /// a fallback.
    #[error(
        "unknown variable `{name}`: not one of address, name, first_name, last_name, company; \
         a custom field needs a fallback, as in {{{{{name} | ...}}}}"
    )]
    UnknownVariable {
        /// The variable.
        name: String,
    },
    /// A standard variable that a contact may lack, without a fallback.
    #[error(
        "variable `{name}` may be empty for some contacts: give it a fallback, as in {{{{{name} | ...}}}}"
    )]
    MissingFallback {
        /// The variable.
        name: String,
    },
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Variable {
        name: String,
        fallback: Option<String>,
    },
}

/// A checked template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses and checks `source`.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or(TemplateError::Unclosed { at: offset + open })?;
            let inner = &after[..close];
            let (name, fallback) = match inner.split_once('|') {
                Some((n, f)) => (n.trim(), Some(f.trim().to_owned())),
                None => (inner.trim(), None),
            };
            check_name(name)?;
            let standard = STANDARD_VARIABLES.contains(&name);
            if fallback.is_none() && name != "address" {
                return Err(if standard {
                    TemplateError::MissingFallback {
                        name: name.to_owned(),
                    }
                } else {
                    TemplateError::UnknownVariable {
                        name: name.to_owned(),
                    }
                });
            }
            pieces.push(Piece::Variable {
                name: name.to_owned(),
                fallback,
            });
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self {
            source: source.to_owned(),
            pieces,
        })
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables it uses, in order of appearance.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Variable { name, .. } => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Fills the variables from `vars`; an empty or missing value takes
    /// the fallback. Values are HTML-escaped when `html` (the template's
    /// own markup is not: it is the sender's).
    pub fn render(&self, vars: &Variables, html: bool) -> String {
        let mut out = String::with_capacity(self.source.len());
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Variable { name, fallback } => {
                    let value = vars
                        .get(name)
                        .filter(|v| !v.trim().is_empty())
                        .or(fallback.as_deref())
                        .unwrap_or("");
                    if html {
                        escape_html(value, &mut out);
                    } else {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }
}

fn check_name(name: &str) -> Result<(), TemplateError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(TemplateError::BadName {
            name: name.to_owned(),
        })
    }
}

fn escape_html(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// What a template sees of a contact: the standard variables and every
/// custom field (a custom field never hides a standard variable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables(BTreeMap<String, String>);

impl Variables {
    /// The variables of a contact: `first_name` is the name's first word,
    /// `last_name` the rest.
    pub fn of_contact(
        address: &str,
        name: &str,
        company: &str,
        fields: &BTreeMap<String, String>,
    ) -> Self {
        let mut map = fields.clone();
        let name = name.trim();
        let (first, last) = match name.split_once(char::is_whitespace) {
            Some((f, l)) => (f, l.trim()),
            None => (name, ""),
        };
        for (k, v) in [
            ("address", address),
            ("name", name),
            ("first_name", first),
            ("last_name", last),
            ("company", company.trim()),
        ] {
            map.insert(k.to_owned(), v.to_owned());
        }
        Self(map)
    }

    /// One variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann() -> Variables {
        let mut fields = BTreeMap::new();
        fields.insert("plan".to_owned(), "Pro".to_owned());
        Variables::of_contact("ann@example.com", "Ann Marie Lee", "Acme <Ltd>", &fields)
    }

    #[test]
    fn renders_standard_variables_fields_and_fallbacks() {
        let t = Template::parse(
            "Hi {{first_name | there}} {{ last_name|}}, {{address}} at {{company|your team}} on {{plan | Free}}, {{seats | some}} seats",
        )
        .unwrap();
        assert_eq!(
            t.render(&ann(), false),
            "Hi Ann Marie Lee, ann@example.com at Acme <Ltd> on Pro, some seats"
        );
        assert_eq!(
            t.render(&ann(), true),
            "Hi Ann Marie Lee, ann@example.com at Acme &lt;Ltd&gt; on Pro, some seats"
        );
        let nobody = Variables::of_contact("x@example.com", "", " ", &BTreeMap::new());
        assert_eq!(
            t.render(&nobody, false),
            "Hi there , x@example.com at your team on Free, some seats"
        );
    }

    #[test]
    fn names_the_variable_at_fault() {
        assert_eq!(
            Template::parse("Hi {{frist_name}}").unwrap_err(),
            TemplateError::UnknownVariable {
                name: "frist_name".into()
            }
        );
        assert_eq!(
            Template::parse("Hi {{first_name}}").unwrap_err(),
            TemplateError::MissingFallback {
                name: "first_name".into()
            }
        );
        assert_eq!(
            Template::parse("Hi {{first name|x}}").unwrap_err(),
            TemplateError::BadName {
                name: "first name".into()
            }
        );
        assert_eq!(
            Template::parse("ok {{address}} {{oops").unwrap_err(),
            TemplateError::Unclosed { at: 15 }
        );
        let msg = Template::parse("{{frist_name}}").unwrap_err().to_string();
        assert!(msg.contains("`frist_name`"), "{msg}");
    }

    #[test]
    fn plain_text_is_kept_as_is() {
        let t = Template::parse("no variables } { here").unwrap();
        assert_eq!(t.render(&ann(), true), "no variables } { here");
        assert_eq!(t.variables().count(), 0);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,200}") {
            if let Ok(t) = Template::parse(&s) {
                let _ = t.render(&ann(), true);
            }
        }
    }
}
