//! MAPI property lists inside TNEF attributes (MS-OXTNEF 2.1.3.4
//! msgPropertyList): a count, then per property its tag, its name when it
//! is a named property, and its value(s), each padded to 4 bytes.

use encoding_rs::Encoding;

use crate::error::{OutlookError, Result};
use crate::message::{NamedProperty, PropertyName};
use crate::property::{Property, Value, decode16, kind};

/// A bounds-checked reader whose errors carry the absolute offset.
pub(super) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    /// Reads `data`, which starts at absolute offset `base`.
    pub(super) fn new(data: &'a [u8], base: usize) -> Self {
        Cursor { data, pos: 0, base }
    }
    /// The absolute offset of the next byte.
    pub(super) fn offset(&self) -> usize {
        self.base + self.pos
    }
    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    /// Fails with `what` at the current offset.
    pub(super) fn error(&self, what: String) -> OutlookError {
        OutlookError::Tnef {
            offset: self.offset(),
            what,
        }
    }
    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(format!("needs {n} bytes, {} remain", self.remaining())));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
    /// A little-endian u16.
    pub(super) fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    /// A little-endian u32.
    pub(super) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Skips the padding that aligns a value of `len` bytes to 4.
    fn pad(&mut self, len: usize) -> Result<()> {
        let pad = (4 - len % 4) % 4;
        self.take(pad.min(self.remaining())).map(|_| ())
    }
}

/// Reads a property list. Named properties get ids from `named`, which
/// grows with names not seen before (one id space per message).
pub(super) fn read_props(
    cur: &mut Cursor<'_>,
    named: &mut Vec<(u16, NamedProperty)>,
) -> Result<Vec<Property>> {
    let count = cur.u32()? as usize;
    // Each property takes at least 8 bytes: a count beyond that is a lie.
    if count > cur.remaining() / 8 + 1 {
        return Err(cur.error(format!("property count {count} exceeds the attribute")));
    }
    let mut props = Vec::with_capacity(count);
    for _ in 0..count {
        let mut tag = cur.u32()?;
        if tag >> 16 >= 0x8000 {
            let name = read_name(cur)?;
            let id = match named.iter().find(|(_, n)| *n == name) {
                Some((id, _)) => *id,
                None => {
                    let id = 0x8000u16.saturating_add(named.len() as u16);
                    named.push((id, name));
                    id
                }
            };
            tag = (u32::from(id) << 16) | (tag & 0xFFFF);
        }
        let value = read_value(cur, tag as u16)?;
        props.push(Property { tag, value });
    }
    Ok(props)
}

fn read_name(cur: &mut Cursor<'_>) -> Result<NamedProperty> {
    let mut guid = [0u8; 16];
    guid.copy_from_slice(cur.take(16)?);
    let name = match cur.u32()? {
        0 => PropertyName::Id(cur.u32()?),
        1 => {
            let len = cur.u32()? as usize;
            let text = decode16(cur.take(len)?);
            cur.pad(len)?;
            PropertyName::Name(text)
        }
        other => return Err(cur.error(format!("named property kind {other}, expected 0 or 1"))),
    };
    Ok(NamedProperty { guid, name })
}

fn fixed_size(kind: u16) -> Option<usize> {
    Some(match kind {
        kind::I16 | kind::I32 | kind::F32 | kind::ERROR | kind::BOOL => 4,
        kind::F64 | kind::APP_TIME | kind::CURRENCY | kind::I64 | kind::TIME => 8,
        kind::GUID => 16,
        _ => return None,
    })
}

fn read_value(cur: &mut Cursor<'_>, ty: u16) -> Result<Value> {
    let base = ty & !kind::MULTI;
    if ty & kind::MULTI == 0
        && let Some(size) = fixed_size(ty)
    {
        return Ok(fixed(ty, cur.take(size)?));
    }
    let count = if ty & kind::MULTI != 0
        || matches!(
            ty,
            kind::STRING8 | kind::UNICODE | kind::BINARY | kind::OBJECT
        ) {
        cur.u32()? as usize
    } else {
        return Err(cur.error(format!("unknown property type {ty:#06x}")));
    };
    if count > cur.remaining() / 4 + 1 {
        return Err(cur.error(format!("value count {count} exceeds the attribute")));
    }
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let value = match fixed_size(base) {
            Some(size) => fixed(base, cur.take(size)?),
            None => {
                let len = cur.u32()? as usize;
                let data = cur.take(len)?;
                cur.pad(len)?;
                match base {
                    kind::UNICODE => Value::Unicode(decode16(data)),
                    kind::STRING8 => Value::String8(data.to_vec()),
                    _ => Value::Binary(data.to_vec()),
                }
            }
        };
        values.push(value);
    }
    if ty & kind::MULTI != 0 {
        Ok(Value::Multi(values))
    } else {
        Ok(values
            .into_iter()
            .next()
            .unwrap_or(Value::Binary(Vec::new())))
    }
}

/// A fixed-size value from exactly its bytes (4 for the 16/32-bit types).
fn fixed(ty: u16, b: &[u8]) -> Value {
    let u32v = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let i64v = |b: &[u8]| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    match ty {
        kind::I16 => Value::I16(i16::from_le_bytes([b[0], b[1]])),
        kind::I32 => Value::I32(u32v(b) as i32),
        kind::F32 => Value::F32(f32::from_bits(u32v(b))),
        kind::ERROR => Value::Error(u32v(b)),
        kind::BOOL => Value::Bool(u32v(b) != 0),
        kind::F64 | kind::APP_TIME => Value::F64(f64::from_bits(i64v(b) as u64)),
        kind::CURRENCY | kind::I64 => Value::I64(i64v(b)),
        kind::TIME => Value::Time(i64v(b)),
        _ => {
            let mut g = [0u8; 16];
            g.copy_from_slice(&b[..16]);
            Value::Guid(g)
        }
    }
}

/// Writes a property list; properties whose name is unknown (a named id
/// the source never mapped) are left out, since TNEF must carry the name.
pub(super) fn write_props(
    out: &mut Vec<u8>,
    props: &[Property],
    encoding: &'static Encoding,
    named: &[(u16, NamedProperty)],
    object: &dyn Fn(&Property) -> Option<Vec<u8>>,
) {
    let count_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count = 0u32;
    for p in props {
        let name = if p.id() >= 0x8000 {
            match named.iter().find(|(i, _)| *i == p.id()) {
                Some((_, n)) => Some(n),
                None => continue,
            }
        } else {
            None
        };
        let ty = p.kind();
        // 8-bit strings are written as Unicode: the text is decoded once,
        // with the code page it was written in, and nothing is lost.
        let ty = match ty {
            kind::STRING8 => kind::UNICODE,
            t if t == kind::STRING8 | kind::MULTI => kind::UNICODE | kind::MULTI,
            t => t,
        };
        let value = if ty == kind::OBJECT {
            match object(p) {
                Some(v) => Value::Binary(v),
                None => continue,
            }
        } else {
            p.value.clone()
        };
        let mut body = Vec::new();
        if !write_value(&mut body, ty, &value, encoding) {
            continue;
        }
        out.extend_from_slice(&((u32::from(p.id()) << 16) | u32::from(ty)).to_le_bytes());
        if let Some(n) = name {
            out.extend_from_slice(&n.guid);
            match &n.name {
                PropertyName::Id(lid) => {
                    out.extend_from_slice(&0u32.to_le_bytes());
                    out.extend_from_slice(&lid.to_le_bytes());
                }
                PropertyName::Name(s) => {
                    let utf16: Vec<u8> = s
                        .encode_utf16()
                        .chain([0])
                        .flat_map(u16::to_le_bytes)
                        .collect();
                    out.extend_from_slice(&1u32.to_le_bytes());
                    out.extend_from_slice(&(utf16.len() as u32).to_le_bytes());
                    out.extend_from_slice(&utf16);
                    pad(out, utf16.len());
                }
            }
        }
        out.extend_from_slice(&body);
        count += 1;
    }
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
}

fn pad(out: &mut Vec<u8>, len: usize) {
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

/// Writes one value of type `ty`; false when the value does not fit the type.
fn write_value(out: &mut Vec<u8>, ty: u16, value: &Value, encoding: &'static Encoding) -> bool {
    if ty & kind::MULTI != 0 {
        let Value::Multi(items) = value else {
            return false;
        };
        out.extend_from_slice(&(items.len() as u32).to_le_bytes());
        let base = ty & !kind::MULTI;
        return items.iter().all(|v| write_one(out, base, v, encoding));
    }
    if matches!(
        ty,
        kind::STRING8 | kind::UNICODE | kind::BINARY | kind::OBJECT
    ) {
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    write_one(out, ty, value, encoding)
}

fn write_one(out: &mut Vec<u8>, ty: u16, value: &Value, encoding: &'static Encoding) -> bool {
    let var = |out: &mut Vec<u8>, data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        pad(out, data.len());
    };
    match (ty, value) {
        (kind::I16, Value::I16(v)) => out.extend_from_slice(&i32::from(*v).to_le_bytes()),
        (kind::I32, Value::I32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (kind::F32, Value::F32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (kind::ERROR, Value::Error(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (kind::BOOL, Value::Bool(v)) => out.extend_from_slice(&u32::from(*v).to_le_bytes()),
        (kind::F64 | kind::APP_TIME, Value::F64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (kind::CURRENCY | kind::I64, Value::I64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (kind::TIME, Value::Time(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (kind::GUID, Value::Guid(g)) => out.extend_from_slice(g),
        (kind::UNICODE, Value::Unicode(s)) => {
            let d: Vec<u8> = s
                .encode_utf16()
                .chain([0])
                .flat_map(u16::to_le_bytes)
                .collect();
            var(out, &d);
        }
        (kind::UNICODE, Value::String8(b)) => {
            let s = crate::property::decode8(b, encoding);
            let d: Vec<u8> = s
                .encode_utf16()
                .chain([0])
                .flat_map(u16::to_le_bytes)
                .collect();
            var(out, &d);
        }
        (kind::BINARY | kind::OBJECT, Value::Binary(b)) => var(out, b),
        _ => return false,
    }
    true
}
