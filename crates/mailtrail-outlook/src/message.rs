//! An Outlook message as MAPI sees it (MS-OXCMSG): the message's properties,
//! its recipient table, its attachments (each possibly an embedded message)
//! and the names of its named properties. Both `.msg` and TNEF read into it.

use crate::property::PropertyBag;

/// A named property's name (MS-OXCDATA 2.6.1): a property set GUID and
/// either a numeric id (LID) or a string name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedProperty {
    /// Property set GUID, as stored (little-endian fields).
    pub guid: [u8; 16],
    /// The name within the set.
    pub name: PropertyName,
}

/// The name part of a named property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyName {
    /// A numeric long id (LID).
    Id(u32),
    /// A string name.
    Name(String),
}

/// An attachment (MS-OXCMSG 2.2.2).
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// The attachment's properties (file name, MIME tag, data, method).
    pub props: PropertyBag,
    /// The embedded message when PidTagAttachMethod is afEmbeddedMessage (5).
    pub embedded: Option<Box<Message>>,
}

/// A message (MS-OXCMSG 2.2.1).
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// The message's own properties.
    pub props: PropertyBag,
    /// One property bag per recipient row.
    pub recipients: Vec<PropertyBag>,
    /// Attachments in order.
    pub attachments: Vec<Attachment>,
    /// Named property names by property id (0x8000 and up).
    pub named: Vec<(u16, NamedProperty)>,
}

impl Message {
    /// The name of named property `id`, if the file mapped it.
    pub fn named_property(&self, id: u16) -> Option<&NamedProperty> {
        self.named.iter().find(|(i, _)| *i == id).map(|(_, n)| n)
    }
}
