//! Writing a message as a TNEF stream (MS-OXTNEF 2.1.3): the version, the
//! code page, the message class, every message property (attMsgProps), the
//! recipient table, and per attachment its rendering data and properties.
//! Embedded messages are written as PtypObject values holding IID_IMessage
//! and a TNEF stream of their own (MS-OXTNEF 2.1.3.4.1).

use super::mapi::write_props;
use super::{IID_IMESSAGE, LEVEL_ATTACHMENT, LEVEL_MESSAGE, SIGNATURE, attr, checksum};
use crate::error::Result;
use crate::message::Message;
use crate::property::{Property, Value, id, kind};

/// The legacy attachment key. Outlook picks a random one; a fixed key keeps
/// the output reproducible, and nothing but the legacy attAttachment
/// references (which are not written) depends on it.
const KEY: u16 = 0x0001;

/// Writes `message` as TNEF.
pub fn write(message: &Message) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(&SIGNATURE.to_le_bytes());
    out.extend_from_slice(&KEY.to_le_bytes());
    write_message(&mut out, message);
    Ok(out)
}

fn write_message(out: &mut Vec<u8>, message: &Message) {
    attribute(
        out,
        LEVEL_MESSAGE,
        attr::TNEF_VERSION,
        &0x0001_0000u32.to_le_bytes(),
    );
    // Strings are written as PtypString, so the OEM code page only matters
    // to readers of legacy attributes; 1252 is what Outlook writes in the West.
    let mut cp = Vec::new();
    cp.extend_from_slice(&1252u32.to_le_bytes());
    cp.extend_from_slice(&0u32.to_le_bytes());
    attribute(out, LEVEL_MESSAGE, attr::OEM_CODEPAGE, &cp);
    let class = message
        .props
        .string(id::MESSAGE_CLASS)
        .unwrap_or_else(|| "IPM.Note".into());
    let mut class_bytes = class.into_bytes();
    class_bytes.push(0);
    attribute(out, LEVEL_MESSAGE, attr::MESSAGE_CLASS, &class_bytes);

    let no_object = |_: &Property| None;
    let mut props = Vec::new();
    write_props(
        &mut props,
        &message.props.props,
        message.props.encoding,
        &message.named,
        &no_object,
    );
    attribute(out, LEVEL_MESSAGE, attr::MSG_PROPS, &props);

    if !message.recipients.is_empty() {
        let mut table = Vec::new();
        table.extend_from_slice(&(message.recipients.len() as u32).to_le_bytes());
        for row in &message.recipients {
            write_props(
                &mut table,
                &row.props,
                row.encoding,
                &message.named,
                &no_object,
            );
        }
        attribute(out, LEVEL_MESSAGE, attr::RECIP_TABLE, &table);
    }

    for a in &message.attachments {
        // attAttachRendData (MS-OXTNEF 2.1.3.3.16): type (1 file, 2 OLE),
        // position (-1: not rendered in the body), width, height, flags.
        let mut rend = Vec::with_capacity(14);
        rend.extend_from_slice(&1u16.to_le_bytes());
        rend.extend_from_slice(&u32::MAX.to_le_bytes());
        rend.extend_from_slice(&0u16.to_le_bytes());
        rend.extend_from_slice(&0u16.to_le_bytes());
        rend.extend_from_slice(&0u32.to_le_bytes());
        attribute(out, LEVEL_ATTACHMENT, attr::ATTACH_REND_DATA, &rend);

        let mut list = a.props.props.clone();
        if let Some(inner) = &a.embedded {
            let mut object = IID_IMESSAGE.to_vec();
            object.extend_from_slice(&SIGNATURE.to_le_bytes());
            object.extend_from_slice(&KEY.to_le_bytes());
            write_message(&mut object, inner);
            list.retain(|p| p.id() != id::ATTACH_DATA);
            list.push(Property {
                tag: (u32::from(id::ATTACH_DATA) << 16) | u32::from(kind::OBJECT),
                value: Value::Binary(object),
            });
        }
        let pass_object = |p: &Property| match &p.value {
            Value::Binary(b) => Some(b.clone()),
            _ => None,
        };
        let mut props = Vec::new();
        write_props(
            &mut props,
            &list,
            a.props.encoding,
            &message.named,
            &pass_object,
        );
        attribute(out, LEVEL_ATTACHMENT, attr::ATTACHMENT, &props);
    }
}

fn attribute(out: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
    out.push(level);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&checksum(data).to_le_bytes());
}
