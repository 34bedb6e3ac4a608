//! The one error type of the crate: every failure says what is wrong and
//! where (stream name or byte offset), because a user converting a folder
//! of files needs to know which file is broken and how.

/// Why an Outlook file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OutlookError {
    /// The bytes are not a Compound File (MS-CFB) or its structure is broken
    /// (truncated header, a sector chain that loops or leaves the file).
    #[error("compound file: {0}")]
    CompoundFile(String),
    /// A stream inside the compound file is malformed.
    #[error("stream {stream} at offset {offset}: {what}")]
    Stream {
        /// Full path of the stream inside the compound file.
        stream: String,
        /// Byte offset inside that stream.
        offset: u64,
        /// What is wrong there.
        what: String,
    },
    /// A stream the format requires is absent.
    #[error("stream {0} is missing")]
    MissingStream(String),
    /// A TNEF stream (MS-OXTNEF) is malformed.
    #[error("TNEF at offset {offset}: {what}")]
    Tnef {
        /// Byte offset in the TNEF stream.
        offset: usize,
        /// What is wrong there.
        what: String,
    },
    /// A TNEF attribute's checksum (MS-OXTNEF 2.1.3.1: the sum of its data
    /// bytes modulo 65536) does not match its data.
    #[error(
        "TNEF checksum mismatch for attribute {attribute:#010x} at offset {offset}: stored {stored:#06x}, computed {computed:#06x}"
    )]
    TnefChecksum {
        /// The attribute identifier.
        attribute: u32,
        /// Byte offset of the attribute in the TNEF stream.
        offset: usize,
        /// The checksum in the file.
        stored: u16,
        /// The checksum of the data as read.
        computed: u16,
    },
    /// A compressed RTF body (MS-OXRTFCP) could not be decompressed.
    #[error("compressed RTF: {0}")]
    Rtf(String),
    /// Embedded messages are nested deeper than the converter follows.
    #[error("embedded messages nested deeper than {0} levels")]
    TooDeep(usize),
    /// Serialising the converted message failed.
    #[error("writing the message: {0}")]
    Write(String),
}

/// Result with [`OutlookError`].
pub type Result<T> = std::result::Result<T, OutlookError>;
