//! The named property mapping (MS-OXMSG 2.2.3): `__nameid_version1.0` holds
//! the GUID stream, the entry stream and the string stream that give each
//! property id from 0x8000 up its (GUID, name or LID).

use super::storage::Streams;
use crate::error::{OutlookError, Result};
use crate::message::{NamedProperty, PropertyName};
use crate::property::decode16;

const DIR: &str = "/__nameid_version1.0/";

/// PS_MAPI {00020328-0000-0000-C000-000000000046}, GUID index 1.
pub(super) const PS_MAPI: [u8; 16] = [
    0x28, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
];
/// PS_PUBLIC_STRINGS {00020329-0000-0000-C000-000000000046}, GUID index 2.
pub(super) const PS_PUBLIC_STRINGS: [u8; 16] = [
    0x29, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
];

/// Reads the mapping; a file without one has no named properties.
pub(super) fn read(streams: &Streams) -> Result<Vec<(u16, NamedProperty)>> {
    let entries_path = format!("{DIR}__substg1.0_00030102");
    let Some(entries) = streams.get(&entries_path) else {
        return Ok(Vec::new());
    };
    let guids = streams
        .get(&format!("{DIR}__substg1.0_00020102"))
        .unwrap_or_default();
    let strings = streams
        .get(&format!("{DIR}__substg1.0_00040102"))
        .unwrap_or_default();
    let mut named = Vec::with_capacity(entries.len() / 8);
    for (n, e) in entries.chunks_exact(8).enumerate() {
        let offset = (n * 8) as u64;
        let name_or_offset = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let index_kind = u16::from_le_bytes([e[4], e[5]]);
        let prop_index = u16::from_le_bytes([e[6], e[7]]);
        let guid_index = usize::from(index_kind >> 1);
        let guid = match guid_index {
            1 => PS_MAPI,
            2 => PS_PUBLIC_STRINGS,
            i => {
                let at = (i.saturating_sub(3)) * 16;
                let Some(g) = guids.get(at..at + 16).filter(|_| i >= 3) else {
                    return Err(OutlookError::Stream {
                        stream: entries_path,
                        offset: offset + 4,
                        what: format!("GUID index {i} outside the GUID stream"),
                    });
                };
                let mut out = [0u8; 16];
                out.copy_from_slice(g);
                out
            }
        };
        let name = if index_kind & 1 == 0 {
            PropertyName::Id(name_or_offset)
        } else {
            let at = name_or_offset as usize;
            let len = strings
                .get(at..at + 4)
                .map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize);
            let Some(text) = len.and_then(|len| strings.get(at + 4..(at + 4).checked_add(len)?))
            else {
                return Err(OutlookError::Stream {
                    stream: entries_path,
                    offset,
                    what: format!("name offset {at} outside the string stream"),
                });
            };
            PropertyName::Name(decode16(text))
        };
        named.push((
            0x8000u16.wrapping_add(prop_index),
            NamedProperty { guid, name },
        ));
    }
    Ok(named)
}
