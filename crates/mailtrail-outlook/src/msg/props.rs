//! One `__properties_version1.0` stream and its `__substg1.0_` value
//! streams (MS-OXMSG 2.4.2) into a [`PropertyBag`].

use super::storage::Streams;
use crate::error::{OutlookError, Result};
use crate::property::{Property, PropertyBag, Value, decode16, kind};

/// Reads the properties of the object stored at `dir`, whose property
/// stream starts with a `header`-byte header.
pub(super) fn read_bag(streams: &mut Streams, dir: &str, header: usize) -> Result<PropertyBag> {
    let path = format!("{dir}__properties_version1.0");
    let stream = streams
        .get(&path)
        .ok_or_else(|| OutlookError::MissingStream(path.clone()))?
        .to_vec();
    if stream.len() < header {
        return Err(OutlookError::Stream {
            stream: path,
            offset: stream.len() as u64,
            what: format!("shorter than its {header}-byte header"),
        });
    }
    let body = &stream[header..];
    if !body.len().is_multiple_of(16) {
        return Err(OutlookError::Stream {
            stream: path,
            offset: (header + body.len() / 16 * 16) as u64,
            what: format!(
                "ends inside a 16-byte property entry ({} bytes left)",
                body.len() % 16
            ),
        });
    }
    let mut bag = PropertyBag::default();
    for (n, entry) in body.chunks_exact(16).enumerate() {
        let offset = (header + n * 16) as u64;
        let tag = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let raw: [u8; 8] = [
            entry[8], entry[9], entry[10], entry[11], entry[12], entry[13], entry[14], entry[15],
        ];
        let value = match fixed(tag as u16, raw) {
            Some(v) => Some(v),
            None => variable(streams, dir, tag, raw, &path, offset)?,
        };
        if let Some(value) = value {
            bag.props.push(Property { tag, value });
        }
    }
    Ok(bag)
}

/// A fixed-length value, stored in the entry itself.
fn fixed(kind: u16, raw: [u8; 8]) -> Option<Value> {
    let i32v = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let i64v = i64::from_le_bytes(raw);
    Some(match kind {
        kind::I16 => Value::I16(i16::from_le_bytes([raw[0], raw[1]])),
        kind::I32 => Value::I32(i32v),
        kind::F32 => Value::F32(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
        kind::F64 | kind::APP_TIME => Value::F64(f64::from_le_bytes(raw)),
        kind::CURRENCY | kind::I64 => Value::I64(i64v),
        kind::ERROR => Value::Error(i32v as u32),
        kind::BOOL => Value::Bool(raw[0] != 0),
        kind::TIME => Value::Time(i64v),
        _ => return None,
    })
}

/// Size in bytes of one element of a fixed-length multi-valued type.
fn element_size(kind: u16) -> Option<usize> {
    Some(match kind {
        kind::I16 => 2,
        kind::I32 | kind::F32 | kind::ERROR | kind::BOOL => 4,
        kind::F64 | kind::APP_TIME | kind::CURRENCY | kind::I64 | kind::TIME => 8,
        kind::GUID => 16,
        _ => return None,
    })
}

/// A variable-length or multi-valued value, stored in its own stream(s).
/// A missing value stream leaves the property out, as Outlook does for
/// properties it lists but never wrote.
fn variable(
    streams: &mut Streams,
    dir: &str,
    tag: u32,
    raw: [u8; 8],
    props_path: &str,
    offset: u64,
) -> Result<Option<Value>> {
    let kind = tag as u16;
    let name = value_stream(dir, tag);
    let Some(data) = streams.take(&name) else {
        return Ok(None);
    };
    let declared = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
    let value = match kind {
        kind::UNICODE | kind::STRING8 | kind::BINARY | kind::GUID => {
            // The entry's size may count a terminator the stream lacks
            // (MS-OXMSG 2.4.2.2), never more than that.
            if kind == kind::BINARY && declared != data.len() || declared > data.len() + 2 {
                return Err(OutlookError::Stream {
                    stream: props_path.to_owned(),
                    offset: offset + 8,
                    what: format!(
                        "property {tag:#010x} claims {declared} bytes, its stream {name} has {}",
                        data.len()
                    ),
                });
            }
            if kind == kind::BINARY {
                Value::Binary(data)
            } else {
                scalar(kind, &data)
            }
        }
        kind::OBJECT => return Ok(None),
        k if k & kind::MULTI != 0 => {
            let base = k & !kind::MULTI;
            if let Some(size) = element_size(base) {
                let items = data
                    .chunks_exact(size)
                    .filter_map(|c| {
                        let mut raw = [0u8; 8];
                        if size <= 8 {
                            raw[..size].copy_from_slice(c);
                            fixed(base, raw)
                        } else {
                            Some(scalar(kind::GUID, c))
                        }
                    })
                    .collect();
                Value::Multi(items)
            } else {
                // Lengths stream, one value stream per element (MS-OXMSG 2.4.2.3).
                let width = if base == kind::BINARY { 8 } else { 4 };
                let count = data.len() / width;
                let mut items = Vec::with_capacity(count);
                for i in 0..count {
                    let item = format!("{name}-{i:08X}");
                    let bytes = streams
                        .get(&item)
                        .ok_or(OutlookError::MissingStream(item))?;
                    items.push(scalar(base, bytes));
                }
                Value::Multi(items)
            }
        }
        _ => Value::Binary(data),
    };
    Ok(Some(value))
}

/// One variable-length value of type `kind`.
fn scalar(kind: u16, data: &[u8]) -> Value {
    match kind {
        kind::UNICODE => Value::Unicode(decode16(data)),
        kind::STRING8 => Value::String8(data.to_vec()),
        kind::GUID if data.len() >= 16 => {
            let mut g = [0u8; 16];
            g.copy_from_slice(&data[..16]);
            Value::Guid(g)
        }
        _ => Value::Binary(data.to_vec()),
    }
}

/// `{dir}__substg1.0_{tag:08X}`, the value stream of property `tag`
/// (MS-OXMSG 2.1.3), built without the formatting machinery: it is made
/// once per property of every object.
fn value_stream(dir: &str, tag: u32) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut name = String::with_capacity(dir.len() + 20);
    name.push_str(dir);
    name.push_str("__substg1.0_");
    for shift in (0..8).rev() {
        name.push(char::from(HEX[(tag >> (shift * 4)) as usize & 0xF]));
    }
    name
}

#[cfg(test)]
#[test]
fn value_stream_names_are_upper_case_hex() {
    assert_eq!(value_stream("/", 0x0037_001F), "/__substg1.0_0037001F");
    assert_eq!(
        value_stream("/a/", 0xABCD_0102),
        format!("/a/__substg1.0_{:08X}", 0xABCD_0102u32)
    );
}
