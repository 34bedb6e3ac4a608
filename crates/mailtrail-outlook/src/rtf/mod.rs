//! RTF bodies: compressed RTF (MS-OXRTFCP) and the HTML or plain text that
//! Outlook encapsulates in it (MS-OXRTFEX).

mod deencapsulate;

pub use deencapsulate::{Encapsulated, deencapsulate};

use crate::error::{OutlookError, Result};

/// "LZFu": the stream is compressed (MS-OXRTFCP 2.1.3.1.1).
const COMPRESSED: u32 = 0x7546_5A4C;
/// "MELA": the stream is stored uncompressed.
const UNCOMPRESSED: u32 = 0x414C_454D;

/// Decompresses PidTagRtfCompressed into the RTF bytes (MS-OXRTFCP 2.1.3.1).
///
/// The header is checked first: a header shorter than 16 bytes, a
/// compressed size beyond the stream, or a raw size out of proportion to
/// the input (one 2-byte reference yields at most 17 bytes, MS-OXRTFCP
/// 2.1.3.1.4) is an error before anything is allocated. The CRC of the
/// compressed bytes must match (2.1.3.2). The output ends at the end
/// reference, at the end of the input, or at the first NUL byte (RTF has
/// none; what follows one is padding).
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
            let stored = word(12).unwrap_or_default();
            let computed = crc(&data[16..]);
            if stored != computed {
                return Err(OutlookError::Rtf(format!(
                    "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )));
            }
            let mut out = lzfu(&data[16..], raw_size)?;
            if let Some(nul) = out.iter().position(|&b| b == 0) {
                out.truncate(nul);
            }
            Ok(out)
        }
        other => Err(OutlookError::Rtf(format!(
            "unknown compression type {other:#010x} at offset 8"
        ))),
    }
}

/// The dictionary's initial contents (MS-OXRTFCP 2.1.2.1): the start of
/// most RTF documents, so even the first bytes compress.
const PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// The LZ77 variant of MS-OXRTFCP 2.1.3.1.4: a control byte gives, low bit
/// first, whether each of the next eight items is a literal byte or a
/// 2-byte big-endian reference (12-bit dictionary offset, 4-bit length
/// minus 2) into a 4096-byte circular dictionary that every output byte is
/// also written to. A reference to the current write position ends the
/// stream.
///
/// The dictionary is not kept apart: the output, after the initial
/// dictionary contents, is its history, so dictionary position `p` is the
/// latest output index congruent to `p` modulo 4096, and a reference is
/// one slice copy unless it overlaps the bytes it produces or reaches the
/// never-written (zero) part of the initial dictionary.
fn lzfu(input: &[u8], raw_size: usize) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(PREBUF.len() + raw_size.min(input.len().saturating_mul(17)));
    buf.extend_from_slice(PREBUF);
    let mut i = 0;
    'stream: while let Some(&control) = input.get(i) {
        i += 1;
        for bit in 0..8 {
            if control & (1 << bit) == 0 {
                let Some(&b) = input.get(i) else {
                    break 'stream;
                };
                i += 1;
                buf.push(b);
            } else {
                let Some(pair) = input.get(i..i + 2) else {
                    return Err(OutlookError::Rtf(format!(
                        "a dictionary reference is cut by the end of the data at offset {}",
                        16 + i
                    )));
                };
                i += 2;
                let word = u16::from_be_bytes([pair[0], pair[1]]);
                let from = usize::from(word >> 4);
                let len = usize::from(word & 0xF) + 2;
                let write = buf.len();
                if from == write & 0xFFF {
                    break 'stream;
                }
                match history(write, from) {
                    Some(at) if at + len <= write => buf.extend_from_within(at..at + len),
                    _ => {
                        for k in 0..len {
                            let b = history(buf.len(), (from + k) & 0xFFF).map_or(0, |at| buf[at]);
                            buf.push(b);
                        }
                    }
                }
            }
        }
    }
    buf.drain(..PREBUF.len());
    Ok(buf)
}

/// The output index holding dictionary position `pos` when `write` bytes
/// (the initial contents included) have been written: the latest index
/// below `write` congruent to `pos` modulo 4096; `None` for a position of
/// the initial dictionary never written, which holds zero.
fn history(write: usize, pos: usize) -> Option<usize> {
    let at = (write & !0xFFF) | pos;
    if at < write {
        Some(at)
    } else {
        at.checked_sub(4096)
    }
}

/// The CRC-32 of MS-OXRTFCP 2.1.3.2: the reflected polynomial 0xEDB88320,
/// starting from 0, with no final inversion.
fn crc(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    data.iter().fold(0u32, |crc, &b| {
        TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8)
    })
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

    proptest::proptest! {
        /// The same bytes as the `compressed-rtf` crate (a second, separate
        /// implementation of MS-OXRTFCP) for any RTF it compresses, and for
        /// the same bytes with one changed under a recomputed CRC (then both
        /// must refuse, or give the same bytes).
        #[test]
        fn agrees_with_the_compressed_rtf_crate(
            text in "[{}\\\\a-z0-9 \r\n]{0,3000}",
            flip in proptest::prelude::any::<(usize, u8)>(),
        ) {
            let packed = compressed_rtf::compress_rtf(&text).expect("compress");
            proptest::prop_assert_eq!(decompress(&packed).expect("ours"), text.as_bytes());
            let mut changed = packed.clone();
            let at = 16 + flip.0 % (changed.len() - 16).max(1);
            if at < changed.len() {
                changed[at] ^= flip.1 | 1;
                // A valid CRC, so the change reaches the decompressor.
                let sum = crc(&changed[16..]);
                changed[12..16].copy_from_slice(&sum.to_le_bytes());
                let theirs = compressed_rtf::decompress_rtf(&changed)
                    .ok()
                    .map(|t| t.chars().map(|c| c as u32 as u8).collect::<Vec<u8>>());
                proptest::prop_assert_eq!(decompress(&changed).ok(), theirs);
            }
        }
    }

    #[test]
    fn long_bodies_wrap_the_dictionary() {
        // 12 000 bytes: the 4096-byte dictionary wraps around three times,
        // with repeats near and far so references cross the wrap.
        let mut x = 7u32;
        let mut text = String::from(r"{\rtf1\ansi ");
        while text.len() < 12_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let word = [
                "\\par ",
                "mail",
                "trail ",
                "aaaaaaaaaaaaaaaaaaaaaaa",
                "{\\b x}",
                "0123",
            ][(x >> 16) as usize % 6];
            text.push_str(word);
        }
        let packed = compressed_rtf::compress_rtf(&text).expect("compress");
        assert_eq!(decompress(&packed).expect("decompress"), text.as_bytes());
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
