//! Windows code page numbers (PidTagMessageCodepage, PidTagInternetCodepage,
//! attOemCodepage, RTF `\ansicpg`) to WHATWG encodings.
//!
//! A data table: encoding_rs knows encodings by label, Outlook writes numbers.

use encoding_rs::Encoding;

/// The encoding for a Windows code page, if encoding_rs has one.
pub fn encoding(code_page: u32) -> Option<&'static Encoding> {
    use encoding_rs::*;
    Some(match code_page {
        437 | 850 | 20127 | 28591 | 1252 => WINDOWS_1252,
        866 => IBM866,
        874 => WINDOWS_874,
        932 => SHIFT_JIS,
        936 => GBK,
        949 => EUC_KR,
        950 => BIG5,
        1200 => UTF_16LE,
        1201 => UTF_16BE,
        1250 => WINDOWS_1250,
        1251 => WINDOWS_1251,
        1253 => WINDOWS_1253,
        1254 => WINDOWS_1254,
        1255 => WINDOWS_1255,
        1256 => WINDOWS_1256,
        1257 => WINDOWS_1257,
        1258 => WINDOWS_1258,
        10000 => MACINTOSH,
        10007 => X_MAC_CYRILLIC,
        20866 => KOI8_R,
        21866 => KOI8_U,
        28592 => ISO_8859_2,
        28593 => ISO_8859_3,
        28594 => ISO_8859_4,
        28595 => ISO_8859_5,
        28596 => ISO_8859_6,
        28597 => ISO_8859_7,
        28598 => ISO_8859_8,
        28600 => ISO_8859_10,
        28603 => ISO_8859_13,
        28604 => ISO_8859_14,
        28605 => ISO_8859_15,
        38598 => ISO_8859_8_I,
        50220..=50222 => ISO_2022_JP,
        51932 => EUC_JP,
        51936 => GBK,
        51949 => EUC_KR,
        52936 | 54936 => GB18030,
        65001 => UTF_8,
        _ => return None,
    })
}
