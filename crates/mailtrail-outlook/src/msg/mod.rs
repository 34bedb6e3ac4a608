//! `.msg` reading (MS-OXMSG): the MAPI property streams stored in a
//! compound file, turned into a [`Message`].
//!
//! Layout (MS-OXMSG 2.1–2.4): each object (message, recipient, attachment)
//! is a storage with a `__properties_version1.0` stream of 16-byte entries;
//! variable-length values live in `__substg1.0_IIIITTTT` streams beside it;
//! recipients are `__recip_version1.0_#N` storages, attachments
//! `__attach_version1.0_#N`, an embedded message is the attachment's
//! `__substg1.0_3701000D` storage, and named property names are in the root
//! `__nameid_version1.0` storage.

mod named;
mod props;
mod storage;

use crate::error::{OutlookError, Result};
use crate::message::{Attachment, Message};
use crate::property::{Property, PropertyBag, Value, id, kind};
use storage::Streams;

/// How deep embedded messages are followed; deeper is an error, because a
/// crafted file could nest storages until the stack runs out.
pub const MAX_DEPTH: usize = 16;

/// Property stream header sizes (MS-OXMSG 2.4.1).
const TOP_HEADER: usize = 32;
const EMBEDDED_HEADER: usize = 24;
const CHILD_HEADER: usize = 8;

/// Reads a `.msg` file.
pub fn read_msg(bytes: &[u8]) -> Result<Message> {
    let mut streams = Streams::read(bytes)?;
    let named = named::read(&streams)?;
    let mut message = read_object(&mut streams, "/", TOP_HEADER, 0)?;
    share_names(&mut message, &named);
    message.named = named;
    Ok(message)
}

/// Embedded messages use the root's name mapping (MS-OXMSG 2.2.3); each
/// gets a copy so it can be written on its own.
fn share_names(message: &mut Message, named: &[(u16, crate::message::NamedProperty)]) {
    for a in &mut message.attachments {
        if let Some(inner) = &mut a.embedded {
            inner.named = named.to_vec();
            share_names(inner, named);
        }
    }
}

/// Reads the message whose storage is `dir` (ending in '/').
fn read_object(streams: &mut Streams, dir: &str, header: usize, depth: usize) -> Result<Message> {
    if depth > MAX_DEPTH {
        return Err(OutlookError::TooDeep(MAX_DEPTH));
    }
    let props_path = format!("{dir}__properties_version1.0");
    let mut bag = props::read_bag(streams, dir, header)?;
    bag.adopt_code_page();
    // read_bag checked that the stream holds its header.
    let counts = streams
        .get(&props_path)
        .filter(|_| header >= EMBEDDED_HEADER)
        .and_then(|stream| {
            let at = |o: usize| {
                stream
                    .get(o..o + 4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            };
            Some((at(16)?, at(20)?))
        });

    let mut recipients = Vec::new();
    for name in streams.child_storages(dir, "__recip_version1.0_#") {
        let mut r = props::read_bag(streams, &format!("{dir}{name}/"), CHILD_HEADER)?;
        r.encoding = bag.encoding;
        recipients.push(r);
    }
    let mut attachments = Vec::new();
    for name in streams.child_storages(dir, "__attach_version1.0_#") {
        let adir = format!("{dir}{name}/");
        let mut props = props::read_bag(streams, &adir, CHILD_HEADER)?;
        props.encoding = bag.encoding;
        let inner = format!("{adir}__substg1.0_3701000D/");
        let embedded = if streams
            .get(&format!("{inner}__properties_version1.0"))
            .is_some()
        {
            let mut m = read_object(streams, &inner, EMBEDDED_HEADER, depth + 1)?;
            if m.props.int(id::MESSAGE_CODEPAGE).is_none() {
                m.props.encoding = bag.encoding;
            }
            Some(Box::new(m))
        } else {
            None
        };
        if embedded.is_none() {
            ole_object(streams, &mut props, &inner);
        }
        attachments.push(Attachment { props, embedded });
    }
    // The header counts rows; storages missing for rows it counts mean the
    // file was cut or its header lies (MS-OXMSG 2.4.1.1).
    if let Some((recips, attachs)) = counts {
        if (recipients.len() as u64) < u64::from(recips) && recipients.is_empty() && recips > 0 {
            return Err(OutlookError::Stream {
                stream: props_path,
                offset: 16,
                what: format!("header counts {recips} recipients, the file has none"),
            });
        }
        if attachments.is_empty() && attachs > 0 {
            return Err(OutlookError::Stream {
                stream: props_path,
                offset: 20,
                what: format!("header counts {attachs} attachments, the file has none"),
            });
        }
    }
    Ok(Message {
        props: bag,
        recipients,
        attachments,
        named: Vec::new(),
    })
}

/// PidTagAttachMethod afOle (MS-OXCMSG 2.2.2.9).
const OLE_OBJECT: i64 = 6;

/// An OLE object attachment (afOle) keeps its object in the storage
/// `__substg1.0_3701000D` (PidTagAttachDataObject, MS-OXMSG 2.2.2.1): that
/// storage, written out as a compound file of its own, becomes the
/// attachment's data, so the object's application can open it. A storage
/// that cannot be written leaves the attachment without data; the `.eml`
/// then says so in a text part instead of dropping it silently.
fn ole_object(streams: &mut Streams, props: &mut PropertyBag, inner: &str) {
    if props.int(id::ATTACH_METHOD) != Some(OLE_OBJECT) || props.binary(id::ATTACH_DATA).is_some() {
        return;
    }
    let dir = inner.trim_end_matches('/');
    if !streams.has_storage(dir) {
        return;
    }
    if let Some(Ok(data)) = streams.take_storage(dir) {
        props.props.push(Property {
            tag: (u32::from(id::ATTACH_DATA) << 16) | u32::from(kind::BINARY),
            value: Value::Binary(data),
        });
    }
}

#[cfg(test)]
mod tests;
