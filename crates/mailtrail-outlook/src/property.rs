//! MAPI properties (MS-OXCDATA 2.11): typed values keyed by a 32-bit tag
//! whose high half is the property id and low half the property type.
//!
//! The same model is filled by the `.msg` reader and the TNEF reader and read
//! by the `.eml` and TNEF writers, so a property survives every path.

use encoding_rs::Encoding;

/// Property types (MS-OXCDATA 2.11.1).
pub mod kind {
    /// PtypInteger16.
    pub const I16: u16 = 0x0002;
    /// PtypInteger32.
    pub const I32: u16 = 0x0003;
    /// PtypFloating32.
    pub const F32: u16 = 0x0004;
    /// PtypFloating64.
    pub const F64: u16 = 0x0005;
    /// PtypCurrency.
    pub const CURRENCY: u16 = 0x0006;
    /// PtypFloatingTime.
    pub const APP_TIME: u16 = 0x0007;
    /// PtypErrorCode.
    pub const ERROR: u16 = 0x000A;
    /// PtypBoolean.
    pub const BOOL: u16 = 0x000B;
    /// PtypObject (an embedded message or OLE storage).
    pub const OBJECT: u16 = 0x000D;
    /// PtypInteger64.
    pub const I64: u16 = 0x0014;
    /// PtypString8: 8-bit string in the message's code page.
    pub const STRING8: u16 = 0x001E;
    /// PtypString: UTF-16LE string.
    pub const UNICODE: u16 = 0x001F;
    /// PtypTime: FILETIME, 100 ns ticks since 1601-01-01 UTC.
    pub const TIME: u16 = 0x0040;
    /// PtypGuid.
    pub const GUID: u16 = 0x0048;
    /// PtypBinary.
    pub const BINARY: u16 = 0x0102;
    /// Flag for multi-valued types.
    pub const MULTI: u16 = 0x1000;
}

/// Property ids this crate reads (MS-OXPROPS).
pub mod id {
    /// PidTagMessageClass.
    pub const MESSAGE_CLASS: u16 = 0x001A;
    /// PidTagSubject.
    pub const SUBJECT: u16 = 0x0037;
    /// PidTagClientSubmitTime.
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    /// PidTagSentRepresentingName.
    pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
    /// PidTagSentRepresentingAddressType.
    pub const SENT_REPRESENTING_ADDRTYPE: u16 = 0x0064;
    /// PidTagSentRepresentingEmailAddress.
    pub const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
    /// PidTagTransportMessageHeaders.
    pub const TRANSPORT_MESSAGE_HEADERS: u16 = 0x007D;
    /// PidTagRecipientType.
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    /// PidTagSenderName.
    pub const SENDER_NAME: u16 = 0x0C1A;
    /// PidTagSenderAddressType.
    pub const SENDER_ADDRTYPE: u16 = 0x0C1E;
    /// PidTagSenderEmailAddress.
    pub const SENDER_EMAIL: u16 = 0x0C1F;
    /// PidTagMessageDeliveryTime.
    pub const MESSAGE_DELIVERY_TIME: u16 = 0x0E06;
    /// PidTagBody.
    pub const BODY: u16 = 0x1000;
    /// PidTagRtfCompressed.
    pub const RTF_COMPRESSED: u16 = 0x1009;
    /// PidTagHtml (PidTagBodyHtml).
    pub const HTML: u16 = 0x1013;
    /// PidTagInternetMessageId.
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    /// PidTagInternetReferences.
    pub const INTERNET_REFERENCES: u16 = 0x1039;
    /// PidTagInReplyToId.
    pub const IN_REPLY_TO_ID: u16 = 0x1042;
    /// PidTagDisplayName.
    pub const DISPLAY_NAME: u16 = 0x3001;
    /// PidTagAddressType.
    pub const ADDRTYPE: u16 = 0x3002;
    /// PidTagEmailAddress.
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    /// PidTagAttachDataBinary / PidTagAttachDataObject.
    pub const ATTACH_DATA: u16 = 0x3701;
    /// PidTagAttachPathname: the 8.3 path of an attachment by reference.
    pub const ATTACH_PATHNAME: u16 = 0x3708;
    /// PidTagAttachLongPathname: the full path of an attachment by reference.
    pub const ATTACH_LONG_PATHNAME: u16 = 0x370D;
    /// PidTagAttachExtension.
    pub const ATTACH_EXTENSION: u16 = 0x3703;
    /// PidTagAttachFilename (8.3 name).
    pub const ATTACH_FILENAME: u16 = 0x3704;
    /// PidTagAttachMethod.
    pub const ATTACH_METHOD: u16 = 0x3705;
    /// PidTagAttachLongFilename.
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    /// PidTagAttachMimeTag.
    pub const ATTACH_MIME_TAG: u16 = 0x370E;
    /// PidTagAttachContentId.
    pub const ATTACH_CONTENT_ID: u16 = 0x3712;
    /// PidTagAttachContentLocation.
    pub const ATTACH_CONTENT_LOCATION: u16 = 0x3713;
    /// PidTagAttachFlags.
    pub const ATTACH_FLAGS: u16 = 0x3714;
    /// PidTagCreationTime.
    pub const CREATION_TIME: u16 = 0x3007;
    /// PidTagLastModificationTime.
    pub const LAST_MODIFICATION_TIME: u16 = 0x3008;
    /// PidTagSentRepresentingSearchKey ("ADDRTYPE:ADDRESS", upper case).
    pub const SENT_REPRESENTING_SEARCH_KEY: u16 = 0x003B;
    /// PidTagSenderSearchKey.
    pub const SENDER_SEARCH_KEY: u16 = 0x0C1D;
    /// PidTagCreatorSmtpAddress.
    pub const CREATOR_SMTP_ADDRESS: u16 = 0x5D0A;
    /// PidTagLastModifierSmtpAddress.
    pub const LAST_MODIFIER_SMTP_ADDRESS: u16 = 0x5D0B;
    /// PidTagSmtpAddress.
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    /// PidTagInternetCodepage.
    pub const INTERNET_CPID: u16 = 0x3FDE;
    /// PidTagMessageCodepage.
    pub const MESSAGE_CODEPAGE: u16 = 0x3FFD;
    /// PidTagSenderSmtpAddress.
    pub const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
    /// PidTagSentRepresentingSmtpAddress.
    pub const SENT_REPRESENTING_SMTP_ADDRESS: u16 = 0x5D02;
    /// PidTagAttachmentHidden.
    pub const ATTACHMENT_HIDDEN: u16 = 0x7FFE;
}

/// One property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// PtypInteger16.
    I16(i16),
    /// PtypInteger32.
    I32(i32),
    /// PtypFloating32.
    F32(f32),
    /// PtypFloating64 (also PtypFloatingTime, kept with its type in the tag).
    F64(f64),
    /// PtypCurrency, PtypInteger64.
    I64(i64),
    /// PtypErrorCode.
    Error(u32),
    /// PtypBoolean.
    Bool(bool),
    /// PtypTime as FILETIME ticks.
    Time(i64),
    /// PtypGuid.
    Guid([u8; 16]),
    /// PtypString: already decoded.
    Unicode(String),
    /// PtypString8: the bytes as stored, decoded on read with the code page.
    String8(Vec<u8>),
    /// PtypBinary, and PtypObject data where it is kept as bytes.
    Binary(Vec<u8>),
    /// Any multi-valued type.
    Multi(Vec<Value>),
}

/// A property: tag (id << 16 | type) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Property tag.
    pub tag: u32,
    /// Its value.
    pub value: Value,
}

impl Property {
    /// The property id (high 16 bits of the tag).
    pub fn id(&self) -> u16 {
        (self.tag >> 16) as u16
    }
    /// The property type (low 16 bits of the tag).
    pub fn kind(&self) -> u16 {
        self.tag as u16
    }
}

/// The properties of one object (message, recipient or attachment) and the
/// code page its 8-bit strings are written in.
#[derive(Debug, Clone)]
pub struct PropertyBag {
    /// Properties in file order.
    pub props: Vec<Property>,
    /// Encoding of PtypString8 values (PidTagMessageCodepage, MS-OXCMSG 2.2.1.4).
    pub encoding: &'static Encoding,
}

impl Default for PropertyBag {
    fn default() -> Self {
        PropertyBag {
            props: Vec::new(),
            encoding: encoding_rs::WINDOWS_1252,
        }
    }
}

impl PropertyBag {
    /// The value of property `id`, whatever its type.
    pub fn get(&self, id: u16) -> Option<&Value> {
        self.props.iter().find(|p| p.id() == id).map(|p| &p.value)
    }

    /// A string property, decoded; empty strings count as absent.
    pub fn string(&self, id: u16) -> Option<String> {
        let text = match self.get(id)? {
            Value::Unicode(s) => s.clone(),
            Value::String8(bytes) => decode8(bytes, self.encoding),
            Value::Binary(bytes) => decode8(bytes, self.encoding),
            _ => return None,
        };
        let text = text.trim_end_matches('\0').to_owned();
        (!text.trim().is_empty()).then_some(text)
    }

    /// A binary property.
    pub fn binary(&self, id: u16) -> Option<&[u8]> {
        match self.get(id)? {
            Value::Binary(b) | Value::String8(b) => Some(b),
            _ => None,
        }
    }

    /// An integer property.
    pub fn int(&self, id: u16) -> Option<i64> {
        match self.get(id)? {
            Value::I16(v) => Some(i64::from(*v)),
            Value::I32(v) => Some(i64::from(*v)),
            Value::I64(v) => Some(*v),
            Value::Bool(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    /// A time property as seconds since the Unix epoch.
    pub fn unix_time(&self, id: u16) -> Option<i64> {
        match self.get(id)? {
            Value::Time(ticks) => filetime_to_unix(*ticks),
            _ => None,
        }
    }

    /// Sets the encoding from PidTagMessageCodepage, else PidTagInternetCodepage.
    pub fn adopt_code_page(&mut self) {
        let cp = self
            .int(id::MESSAGE_CODEPAGE)
            .or_else(|| self.int(id::INTERNET_CPID));
        if let Some(enc) = cp.and_then(|cp| crate::codepage::encoding(cp as u32)) {
            self.encoding = enc;
        }
    }
}

/// Decodes 8-bit text in `encoding`, dropping the NUL terminator.
pub fn decode8(bytes: &[u8], encoding: &'static Encoding) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let (text, _, _) = encoding.decode(&bytes[..end]);
    text.into_owned()
}

/// Decodes UTF-16LE text, dropping the NUL terminator and any odd last byte.
/// An unpaired surrogate becomes U+FFFD. Decoded by encoding_rs, whose
/// UTF-16 decoder works on whole words at a time: bodies are long.
pub fn decode16(bytes: &[u8]) -> String {
    let even = &bytes[..bytes.len() & !1];
    let end = even
        .chunks_exact(2)
        .position(|c| c == [0, 0])
        .map_or(even.len(), |n| n * 2);
    let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(&even[..end]);
    text.into_owned()
}

/// FILETIME ticks between 1601-01-01 and 1970-01-01.
const EPOCH_DIFF_TICKS: i64 = 116_444_736_000_000_000;

/// FILETIME (100 ns since 1601, MS-DTYP 2.3.3) to Unix seconds; `None` for
/// the "never" values 0 and the far future Outlook writes for unset dates.
pub fn filetime_to_unix(ticks: i64) -> Option<i64> {
    if ticks <= 0 || ticks >= 0x0CB6_9FD3_9ABD_8000 {
        return None;
    }
    Some((ticks - EPOCH_DIFF_TICKS).div_euclid(10_000_000))
}

/// Unix seconds to FILETIME ticks.
pub fn unix_to_filetime(secs: i64) -> i64 {
    secs.saturating_mul(10_000_000)
        .saturating_add(EPOCH_DIFF_TICKS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_round_trips_through_unix_time() {
        // 2015-03-10 10:00:00 UTC.
        let unix = 1_425_981_600;
        assert_eq!(filetime_to_unix(unix_to_filetime(unix)), Some(unix));
        assert_eq!(filetime_to_unix(0), None);
    }

    proptest::proptest! {
        /// The same text as the standard library's lossy UTF-16 decoding,
        /// for any bytes (unpaired surrogates, odd lengths, terminators).
        #[test]
        fn decode16_matches_the_standard_library(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    proptest::strategy::Just(0xD8u8),
                    proptest::strategy::Just(0xDCu8),
                    proptest::strategy::Just(0u8),
                ],
                0..64,
            )
        ) {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            proptest::prop_assert_eq!(decode16(&bytes), String::from_utf16_lossy(&units));
        }
    }

    #[test]
    fn strings_stop_at_the_terminator() {
        assert_eq!(decode16(&[b'h', 0, b'i', 0, 0, 0, b'x', 0]), "hi");
        assert_eq!(decode8(b"caf\xe9\0junk", encoding_rs::WINDOWS_1252), "café");
    }
}
