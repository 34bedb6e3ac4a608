//! RTF bodies: compressed RTF (MS-OXRTFCP) and the HTML or plain text that
//! Outlook encapsulates in it (MS-OXRTFEX).

mod deencapsulate;

pub use deencapsulate::{Encapsulated, deencapsulate};

use crate::error::{OutlookError, Result};

/// "LZFu": the stream is compressed (MS-OXRTFCP 2.1.3.1.1).
const COMPRESSED: u32 = 0x7546_5A4C;
/// "MELA": the stream is stored uncompressed.
const UNCOMPRESSED: u32 = 0x414C_454D;

/// Decompresses PidTagRtfCompressed into the RTF bytes.
///
/// The header is checked here before the `compressed-rtf` crate sees it: a
/// header shorter than 16 bytes, a raw size out of proportion to the input
/// (one 2-byte reference yields at most 17 bytes, MS-OXRTFCP 2.1.3.1.4) or an
/// uncompressed body shorter than its raw size would otherwise panic or
/// allocate without bound.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>> {
    let word = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(comp_size), Some(raw_size), Some(kind)) = (word(0), word(4), word(8)) else {
        return Err(OutlookError::Rtf(format!(
            "{} bytes, shorter than the 16-byte header",
            data.len()
        )));
    };
    if data.len() < 16 {
        return Err(OutlookError::Rtf("header cut at 12 bytes".into()));
    }
    let end = (comp_size as usize).saturating_add(4);
    if end > data.len() || end < 16 {
        return Err(OutlookError::Rtf(format!(
            "header gives a compressed size of {comp_size}, the stream holds {}",
            data.len().saturating_sub(4)
        )));
    }
    let data = &data[..end];
    let raw_size = raw_size as usize;
    match kind {
        // Writers disagree on whether RawSize counts the 12 header bytes
        // after CompSize; the data that is there is the RTF.
        UNCOMPRESSED => Ok(data[16..data.len().min(16 + raw_size)].to_vec()),
        COMPRESSED => {
            if raw_size > data.len().saturating_mul(17) {
                return Err(OutlookError::Rtf(format!(
                    "raw size {raw_size} impossible for {} compressed bytes",
                    data.len()
                )));
            }
            let text = compressed_rtf::decompress_rtf(data)
                .map_err(|e| OutlookError::Rtf(e.to_string()))?;
            // The crate widens each byte to a char; narrow it back.
            Ok(text.chars().map(|c| c as u32 as u8).collect())
        }
        other => Err(OutlookError::Rtf(format!(
            "unknown compression type {other:#010x} at offset 8"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_rtf_round_trips() {
        let rtf = r"{\rtf1\ansi\ansicpg1252\fromhtml1 {\*\htmltag64 <p>}hi{\*\htmltag72 </p>}}";
        let packed = compressed_rtf::compress_rtf(rtf).expect("compress");
        assert_eq!(decompress(&packed).expect("decompress"), rtf.as_bytes());
    }

    #[test]
    fn short_or_lying_headers_are_errors() {
        assert!(decompress(&[1, 2, 3]).is_err());
        let mut packed = compressed_rtf::compress_rtf(r"{\rtf1 x}").expect("compress");
        packed[0] = packed[0].wrapping_add(9);
        assert!(decompress(&packed).is_err());
        let mut big = compressed_rtf::compress_rtf(r"{\rtf1 x}").expect("compress");
        big[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decompress(&big).is_err());
    }
}
