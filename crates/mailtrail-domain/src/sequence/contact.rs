//! The values of a contact that have rules: its time zone (an IANA name,
//! resolved against the tzdb bundled in the binary so that every node
//! agrees) and the names of its custom fields.

use super::template::STANDARD_VARIABLES;

/// Why a contact's value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    /// Not a time zone of the IANA database.
    #[error("unknown time zone {0:?}: use an IANA name such as Europe/Paris")]
    TimeZone(String),
    /// A custom field's name is not a template variable name, or hides a
    /// standard one.
    #[error(
        "field name {0:?}: letters, digits and _ (not starting with a digit), and not one of address, name, first_name, last_name, company"
    )]
    FieldName(String),
}

/// An IANA time zone name known to the bundled tzdb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    /// Checks `name` against the bundled tzdb (`UTC` is one).
    pub fn parse(name: &str) -> Result<Self, ContactError> {
        let name = name.trim();
        match jiff::tz::TimeZone::get(name) {
            Ok(tz) => Ok(Self(tz.iana_name().unwrap_or(name).to_owned())),
            Err(_) => Err(ContactError::TimeZone(name.to_owned())),
        }
    }

    /// The IANA name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The zone's rules.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

/// Checks a custom field's name: templates refer to it as `{{name | ...}}`.
pub fn check_field_name(name: &str) -> Result<(), ContactError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !STANDARD_VARIABLES.contains(&name);
    if ok {
        Ok(())
    } else {
        Err(ContactError::FieldName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_come_from_the_bundled_tzdb() {
        assert_eq!(
            TimeZoneName::parse("Europe/Paris").unwrap().as_str(),
            "Europe/Paris"
        );
        assert_eq!(TimeZoneName::parse("UTC").unwrap().as_str(), "UTC");
        assert_eq!(
            TimeZoneName::parse("Mars/Olympus").unwrap_err(),
            ContactError::TimeZone("Mars/Olympus".into())
        );
    }

    #[test]
    fn field_names_are_variable_names() {
        assert!(check_field_name("plan_2").is_ok());
        assert!(check_field_name("2plan").is_err());
        assert!(check_field_name("first_name").is_err());
        assert!(check_field_name("a-b").is_err());
    }
}
