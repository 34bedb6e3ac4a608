//! Reading a TNEF stream (MS-OXTNEF 2.1.3): signature, key, then
//! attributes, each `level, id, length, data, checksum`.

use super::mapi::{Cursor, read_props};
use super::{IID_IMESSAGE, LEVEL_ATTACHMENT, LEVEL_MESSAGE, SIGNATURE, attr, checksum};
use crate::error::{OutlookError, Result};
use crate::message::{Attachment, Message, NamedProperty};
use crate::property::{Property, PropertyBag, Value, id, kind, unix_to_filetime};

/// How deep embedded messages (attachments whose data is a TNEF stream of
/// their own) are followed.
const MAX_DEPTH: usize = 16;

/// One attribute as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// LVL_MESSAGE (1) or LVL_ATTACHMENT (2).
    pub level: u8,
    /// Attribute id, type in the high 16 bits.
    pub id: u32,
    /// Offset of the attribute's level byte in the stream.
    pub offset: usize,
    /// The data.
    pub data: &'a [u8],
}

/// The TNEF key (the legacy attachment reference) and the attributes.
///
/// Bytes after the last whole attribute that cannot start another one (an
/// unknown level) are trailing garbage, which Outlook's own reader ignores;
/// an attribute cut short or with a wrong checksum is an error.
pub fn read_attributes(bytes: &[u8]) -> Result<(u16, Vec<Attribute<'_>>)> {
    let mut cur = Cursor::new(bytes, 0);
    let signature = cur.u32()?;
    if signature != SIGNATURE {
        return Err(OutlookError::Tnef {
            offset: 0,
            what: format!("signature {signature:#010x}, expected {SIGNATURE:#010x}"),
        });
    }
    let key = cur.u16()?;
    let mut attributes = Vec::new();
    while cur.remaining() > 0 {
        let offset = cur.offset();
        let level = bytes[offset];
        if level != LEVEL_MESSAGE && level != LEVEL_ATTACHMENT {
            break;
        }
        cur.take(1)?;
        let id = cur.u32()?;
        let len = cur.u32()? as usize;
        let data = cur.take(len).map_err(|_| OutlookError::Tnef {
            offset,
            what: format!("attribute {id:#010x} claims {len} bytes, the stream ends first"),
        })?;
        let stored = cur.u16()?;
        let computed = checksum(data);
        if stored != computed {
            return Err(OutlookError::TnefChecksum {
                attribute: id,
                offset,
                stored,
                computed,
            });
        }
        attributes.push(Attribute {
            level,
            id,
            offset,
            data,
        });
    }
    Ok((key, attributes))
}

/// Reads a TNEF stream into a message.
pub fn read(bytes: &[u8]) -> Result<Message> {
    read_at(bytes, 0, 0)
}

fn read_at(bytes: &[u8], base: usize, depth: usize) -> Result<Message> {
    if depth > MAX_DEPTH {
        return Err(OutlookError::TooDeep(MAX_DEPTH));
    }
    let (_, attributes) = read_attributes(bytes).map_err(|e| shift(e, base))?;
    let mut message = Message::default();
    let mut named: Vec<(u16, NamedProperty)> = Vec::new();
    let mut legacy = Vec::new();
    for a in &attributes {
        let at = base + a.offset + 9;
        match (a.level, a.id) {
            (_, attr::OEM_CODEPAGE) => {
                if let Some(b) = a.data.get(..4) {
                    let cp = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    if let Some(enc) = crate::codepage::encoding(cp) {
                        message.props.encoding = enc;
                    }
                }
            }
            (LEVEL_MESSAGE, attr::MSG_PROPS) => {
                let mut cur = Cursor::new(a.data, at);
                let props = read_props(&mut cur, &mut named)?;
                merge(&mut message.props, props);
            }
            (LEVEL_MESSAGE, attr::RECIP_TABLE) => {
                let mut cur = Cursor::new(a.data, at);
                let rows = cur.u32()? as usize;
                if rows > a.data.len() / 4 {
                    return Err(cur.error(format!("{rows} recipient rows exceed the attribute")));
                }
                for _ in 0..rows {
                    let props = read_props(&mut cur, &mut named)?;
                    message.recipients.push(PropertyBag {
                        props,
                        ..PropertyBag::default()
                    });
                }
            }
            (LEVEL_MESSAGE, attr::SUBJECT) => legacy.push(string8(id::SUBJECT, a.data)),
            (LEVEL_MESSAGE, attr::BODY) => legacy.push(string8(id::BODY, a.data)),
            (LEVEL_MESSAGE, attr::MESSAGE_CLASS) => legacy.push(string8(id::MESSAGE_CLASS, a.data)),
            (LEVEL_MESSAGE, attr::DATE_SENT) => legacy.extend(date(id::CLIENT_SUBMIT_TIME, a.data)),
            (LEVEL_MESSAGE, attr::DATE_RECD) => {
                legacy.extend(date(id::MESSAGE_DELIVERY_TIME, a.data))
            }
            (LEVEL_ATTACHMENT, attr::ATTACH_REND_DATA) => {
                message.attachments.push(Attachment::default())
            }
            (LEVEL_ATTACHMENT, attribute) => {
                let Some(current) = message.attachments.last_mut() else {
                    return Err(OutlookError::Tnef {
                        offset: base + a.offset,
                        what: format!(
                            "attachment attribute {attribute:#010x} before attAttachRendData"
                        ),
                    });
                };
                match attribute {
                    attr::ATTACH_TITLE => {
                        set_default(&mut current.props, string8(id::ATTACH_FILENAME, a.data))
                    }
                    attr::ATTACH_DATA => set_default(
                        &mut current.props,
                        Property {
                            tag: (u32::from(id::ATTACH_DATA) << 16) | u32::from(kind::BINARY),
                            value: Value::Binary(a.data.to_vec()),
                        },
                    ),
                    attr::ATTACHMENT => {
                        let mut cur = Cursor::new(a.data, at);
                        let props = read_props(&mut cur, &mut named)?;
                        merge(&mut current.props, props);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    // Legacy attributes fill in what the MAPI properties did not give
    // (MS-OXTNEF 2.1.3.3: attMsgProps takes precedence).
    for p in legacy {
        set_default(&mut message.props, p);
    }
    message.props.adopt_code_page();
    let encoding = message.props.encoding;
    for r in &mut message.recipients {
        r.encoding = encoding;
    }
    for a in &mut message.attachments {
        a.props.encoding = encoding;
        embed(a, base, depth)?;
    }
    message.named = named;
    Ok(message)
}

/// An attachment whose PidTagAttachDataObject holds IID_IMessage and a
/// TNEF stream is an embedded message.
fn embed(a: &mut Attachment, base: usize, depth: usize) -> Result<()> {
    let Some(pos) = a
        .props
        .props
        .iter()
        .position(|p| p.id() == id::ATTACH_DATA && p.kind() == kind::OBJECT)
    else {
        return Ok(());
    };
    let Value::Binary(data) = &a.props.props[pos].value else {
        return Ok(());
    };
    if data.len() > 16 && data[..16] == IID_IMESSAGE {
        let inner = read_at(&data[16..], base, depth + 1)?;
        a.embedded = Some(Box::new(inner));
        a.props.props.remove(pos);
    } else {
        // Another OLE object: keep its bytes as the attachment data.
        let bytes = data.get(16..).unwrap_or_default().to_vec();
        a.props.props[pos] = Property {
            tag: (u32::from(id::ATTACH_DATA) << 16) | u32::from(kind::BINARY),
            value: Value::Binary(bytes),
        };
    }
    Ok(())
}

fn shift(e: OutlookError, base: usize) -> OutlookError {
    match e {
        OutlookError::Tnef { offset, what } => OutlookError::Tnef {
            offset: offset + base,
            what,
        },
        OutlookError::TnefChecksum {
            attribute,
            offset,
            stored,
            computed,
        } => OutlookError::TnefChecksum {
            attribute,
            offset: offset + base,
            stored,
            computed,
        },
        other => other,
    }
}

/// Adds or replaces properties by id.
fn merge(bag: &mut PropertyBag, props: Vec<Property>) {
    for p in props {
        bag.props.retain(|q| q.id() != p.id());
        bag.props.push(p);
    }
}

fn set_default(bag: &mut PropertyBag, p: Property) {
    if bag.get(p.id()).is_none() {
        bag.props.push(p);
    }
}

fn string8(id: u16, data: &[u8]) -> Property {
    Property {
        tag: (u32::from(id) << 16) | u32::from(kind::STRING8),
        value: Value::String8(data.to_vec()),
    }
}

/// An attDate (MS-OXTNEF 2.1.3.3.2 DTR): year, month, day, hour, minute,
/// second, weekday as u16, in UTC.
fn date(id: u16, data: &[u8]) -> Option<Property> {
    let f = |i: usize| {
        data.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let month = time::Month::try_from(u8::try_from(f(1)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::from(f(0)?), month, u8::try_from(f(2)?).ok()?).ok()?;
    let t = time::Time::from_hms(
        u8::try_from(f(3)?).ok()?,
        u8::try_from(f(4)?).ok()?,
        u8::try_from(f(5)?).ok()?,
    )
    .ok()?;
    let unix = date.with_time(t).assume_utc().unix_timestamp();
    Some(Property {
        tag: (u32::from(id) << 16) | u32::from(kind::TIME),
        value: Value::Time(unix_to_filetime(unix)),
    })
}
