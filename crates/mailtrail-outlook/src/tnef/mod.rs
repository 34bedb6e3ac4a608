//! TNEF (MS-OXTNEF): the `winmail.dat` stream in which Outlook sends MAPI
//! properties, the RTF body and attachments through MIME mail.
//!
//! Reading gives the same [`Message`](crate::Message) as a `.msg`; writing
//! turns a message back into a TNEF stream so `--tnef` conversions keep
//! every MAPI property.

mod mapi;
mod read;
mod write;

pub use read::{Attribute, read, read_attributes};
pub use write::write;

/// TNEF signature (MS-OXTNEF 2.1.3.1), little-endian on the wire.
pub const SIGNATURE: u32 = 0x223E_9F78;

/// Attribute level (MS-OXTNEF 2.1.3.3): message.
pub const LEVEL_MESSAGE: u8 = 0x01;
/// Attribute level: attachment.
pub const LEVEL_ATTACHMENT: u8 = 0x02;

/// Attribute identifiers (MS-OXTNEF 2.1.3.3.1), type in the high 16 bits.
pub mod attr {
    /// attFrom (triple).
    pub const FROM: u32 = 0x0000_8000;
    /// attSubject.
    pub const SUBJECT: u32 = 0x0001_8004;
    /// attDateSent.
    pub const DATE_SENT: u32 = 0x0003_8005;
    /// attDateRecd.
    pub const DATE_RECD: u32 = 0x0003_8006;
    /// attMessageClass.
    pub const MESSAGE_CLASS: u32 = 0x0007_8008;
    /// attMessageID.
    pub const MESSAGE_ID: u32 = 0x0001_8009;
    /// attBody.
    pub const BODY: u32 = 0x0002_800C;
    /// attAttachData.
    pub const ATTACH_DATA: u32 = 0x0006_800F;
    /// attAttachTitle.
    pub const ATTACH_TITLE: u32 = 0x0001_8010;
    /// attAttachRendData: starts an attachment.
    pub const ATTACH_REND_DATA: u32 = 0x0006_9002;
    /// attMsgProps: message MAPI properties.
    pub const MSG_PROPS: u32 = 0x0006_9003;
    /// attRecipTable.
    pub const RECIP_TABLE: u32 = 0x0006_9004;
    /// attAttachment: attachment MAPI properties.
    pub const ATTACHMENT: u32 = 0x0006_9005;
    /// attTnefVersion.
    pub const TNEF_VERSION: u32 = 0x0008_9006;
    /// attOemCodepage.
    pub const OEM_CODEPAGE: u32 = 0x0006_9007;
}

/// IID_IMessage {00020307-0000-0000-C000-000000000046}: a PtypObject value
/// with this interface is an embedded message in TNEF (MS-OXTNEF 2.1.3.4.1).
pub const IID_IMESSAGE: [u8; 16] = [
    0x07, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
];

/// The checksum of an attribute's data: its bytes summed modulo 65536.
pub fn checksum(data: &[u8]) -> u16 {
    data.iter()
        .fold(0u16, |sum, &b| sum.wrapping_add(u16::from(b)))
}

#[cfg(test)]
mod tests;
