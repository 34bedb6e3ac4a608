//! Reader tests on compound files built here, so each defect is exact.

use std::io::{Cursor, Write};

use super::read_msg;
use crate::error::OutlookError;
use crate::property::{Value, id};

/// A minimal `.msg`: subject (Unicode), a PtypString8 body in code page
/// 1251, one recipient, one attachment with a large body.
fn build(props_extra: &[u8], attachment_len: usize) -> Vec<u8> {
    let mut cf = cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
        .expect("create");
    let entry = |tag: u32, size: u32| {
        let mut e = Vec::new();
        e.extend_from_slice(&tag.to_le_bytes());
        e.extend_from_slice(&6u32.to_le_bytes());
        e.extend_from_slice(&size.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e
    };
    let subject: Vec<u8> = "Привет".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut props = vec![0u8; 32];
    props[16..20].copy_from_slice(&1u32.to_le_bytes());
    props[20..24].copy_from_slice(&1u32.to_le_bytes());
    props.extend(entry(0x0037_001F, subject.len() as u32 + 2));
    props.extend(entry(0x1000_001E, 4));
    let mut cp = entry(0x3FFD_0003, 0);
    cp[8..12].copy_from_slice(&1251u32.to_le_bytes());
    props.extend(cp);
    props.extend_from_slice(props_extra);
    let put = |cf: &mut cfb::CompoundFile<_>, path: &str, data: &[u8]| {
        cf.create_stream(path)
            .and_then(|mut s| s.write_all(data))
            .expect("stream");
    };
    put(&mut cf, "/__properties_version1.0", &props);
    put(&mut cf, "/__substg1.0_0037001F", &subject);
    put(&mut cf, "/__substg1.0_1000001E", b"\xcf\xf0\xe8\0");
    cf.create_storage("/__recip_version1.0_#00000000")
        .expect("storage");
    let mut rprops = vec![0u8; 8];
    rprops.extend(entry(0x3001_001F, 4));
    put(
        &mut cf,
        "/__recip_version1.0_#00000000/__properties_version1.0",
        &rprops,
    );
    put(
        &mut cf,
        "/__recip_version1.0_#00000000/__substg1.0_3001001F",
        b"A\0n\0",
    );
    cf.create_storage("/__attach_version1.0_#00000000")
        .expect("storage");
    let mut aprops = vec![0u8; 8];
    aprops.extend(entry(0x3701_0102, attachment_len as u32));
    put(
        &mut cf,
        "/__attach_version1.0_#00000000/__properties_version1.0",
        &aprops,
    );
    let data: Vec<u8> = (0..attachment_len).map(|i| i as u8).collect();
    put(
        &mut cf,
        "/__attach_version1.0_#00000000/__substg1.0_37010102",
        &data,
    );
    cf.flush().expect("flush");
    cf.into_inner().into_inner()
}

/// The error for bytes that must not read (without printing a large message).
fn rejected(bytes: &[u8]) -> OutlookError {
    match read_msg(bytes) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

#[test]
fn reads_properties_recipients_attachments_and_code_page() {
    let m = read_msg(&build(&[], 9000)).expect("read");
    assert_eq!(m.props.string(id::SUBJECT).as_deref(), Some("Привет"));
    assert_eq!(m.props.string(id::BODY).as_deref(), Some("При"));
    assert_eq!(
        m.recipients[0].string(id::DISPLAY_NAME).as_deref(),
        Some("An")
    );
    assert_eq!(
        m.attachments[0]
            .props
            .binary(id::ATTACH_DATA)
            .map(<[u8]>::len),
        Some(9000)
    );
    assert!(matches!(
        m.props.get(id::MESSAGE_CODEPAGE),
        Some(Value::I32(1251))
    ));
}

#[test]
fn truncated_file_is_an_error_not_a_panic() {
    let bytes = build(&[], 9000);
    for cut in [0, 100, 511, 512, 1000, bytes.len() / 2 + 7] {
        assert!(
            read_msg(&bytes[..cut]).is_err(),
            "cut at {cut} was accepted"
        );
    }
    // Cut on a sector boundary: whatever is still there may be read, but
    // nothing may panic.
    for cut in (512..bytes.len()).step_by(512) {
        let _ = read_msg(&bytes[..cut]);
    }
}

#[test]
fn file_without_the_padding_of_its_last_sector_is_read() {
    let bytes = build(&[], 9000);
    let whole = read_msg(&bytes).expect("whole file");
    // Outlook and other writers leave out the zeros after the last byte
    // in use; everything a stream references is still there.
    let end = bytes.iter().rposition(|&b| b != 0).expect("data") + 1;
    assert!(
        !end.is_multiple_of(512),
        "the sample should end inside a sector"
    );
    let cut = read_msg(&bytes[..end]).expect("file without padding");
    assert_eq!(
        cut.attachments[0].props.binary(id::ATTACH_DATA),
        whole.attachments[0].props.binary(id::ATTACH_DATA)
    );
    assert_eq!(
        cut.props.string(id::SUBJECT),
        whole.props.string(id::SUBJECT)
    );
}

#[test]
fn cut_inside_a_stream_names_the_stream() {
    let bytes = build(&[], 9000);
    // The attachment's last sector starts with 0..=255, 0..=39 like every
    // sector of it; the last such run is its end.
    let tail: Vec<u8> = (8704..9000).map(|i: usize| i as u8).collect();
    let at = bytes
        .windows(tail.len())
        .rposition(|w| w == tail.as_slice())
        .expect("attachment data");
    let err = rejected(&bytes[..at + 100]);
    assert!(
        err.to_string().contains("__substg1.0_37010102") && err.to_string().contains("truncated"),
        "{err}"
    );
}

#[test]
fn property_stream_ending_inside_an_entry_names_stream_and_offset() {
    let err = rejected(&build(&[1, 2, 3], 10));
    match err {
        OutlookError::Stream { stream, offset, .. } => {
            assert_eq!(stream, "/__properties_version1.0");
            assert_eq!(offset, 32 + 3 * 16);
        }
        other => panic!("wrong error {other}"),
    }
}

#[test]
fn binary_size_disagreeing_with_its_stream_is_an_error() {
    let bytes = build(&[], 10);
    // Rewrite the declared size of the attachment data (10 → 11) in place.
    let mut lied = bytes.clone();
    let needle = [0x02, 0x01, 0x01, 0x37, 6, 0, 0, 0, 10, 0, 0, 0];
    let at = lied
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("entry");
    lied[at + 8] = 11;
    let err = rejected(&lied);
    assert!(
        err.to_string().contains("__attach_version1.0_#00000000"),
        "{err}"
    );
}

#[test]
fn fat_chain_cycle_is_an_error() {
    let mut bytes = build(&[], 9000);
    // Point every FAT "next sector" entry at its own sector (MS-CFB 2.3).
    let first_fat = u32::from_le_bytes([bytes[0x4C], bytes[0x4D], bytes[0x4E], bytes[0x4F]]);
    let start = (first_fat as usize + 1) * 512;
    for n in 0..128 {
        let at = start + n * 4;
        let next = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        if next < 0xFFFF_FFFA {
            bytes[at..at + 4].copy_from_slice(&(n as u32).to_le_bytes());
        }
    }
    let err = rejected(&bytes);
    assert!(
        matches!(
            err,
            OutlookError::CompoundFile(_) | OutlookError::Stream { .. }
        ),
        "{err}"
    );
}

/// A `.msg` with one attachment storage holding `attach_props` entries and
/// the extra streams and storages of `extra` (paths under the attachment).
fn with_attachment(
    attach_props: &[(u32, u32)],
    strings: &[(&str, &[u8])],
    storages: &[(&str, [u8; 16])],
) -> Vec<u8> {
    let mut cf = cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
        .expect("create");
    let entry = |tag: u32, value: u32| {
        let mut e = Vec::new();
        e.extend_from_slice(&tag.to_le_bytes());
        e.extend_from_slice(&6u32.to_le_bytes());
        e.extend_from_slice(&value.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e
    };
    let mut props = vec![0u8; 32];
    props[20..24].copy_from_slice(&1u32.to_le_bytes());
    props.extend(entry(0x0037_001F, 4));
    let put = |cf: &mut cfb::CompoundFile<_>, path: &str, data: &[u8]| {
        cf.create_stream(path)
            .and_then(|mut s| s.write_all(data))
            .expect("stream");
    };
    put(&mut cf, "/__properties_version1.0", &props);
    put(&mut cf, "/__substg1.0_0037001F", b"O\0K\0");
    let dir = "/__attach_version1.0_#00000000";
    cf.create_storage(dir).expect("storage");
    let mut aprops = vec![0u8; 8];
    for &(tag, value) in attach_props {
        aprops.extend(entry(tag, value));
    }
    put(&mut cf, &format!("{dir}/__properties_version1.0"), &aprops);
    for (path, clsid) in storages {
        let path = format!("{dir}/{path}");
        cf.create_storage_all(&path).expect("storage");
        cf.set_storage_clsid(&path, uuid::Uuid::from_bytes_le(*clsid))
            .expect("clsid");
    }
    for (path, data) in strings {
        put(&mut cf, &format!("{dir}/{path}"), data);
    }
    cf.flush().expect("flush");
    cf.into_inner().into_inner()
}

/// The CLSID of Paintbrush's OLE object, as stored (little-endian fields).
const PBRUSH: [u8; 16] = [
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
];

#[test]
fn ole_object_attachment_becomes_a_compound_file_of_its_own() {
    let contents: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    let bytes = with_attachment(
        &[(0x3705_0003, 6), (0x3001_001F, 8)],
        &[
            (
                "__substg1.0_3001001F",
                "Pict"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>()
                    .as_slice(),
            ),
            ("__substg1.0_3701000D/\u{1}Ole", &[1, 0, 0, 2, 0, 0, 0, 0]),
            ("__substg1.0_3701000D/CONTENTS", &contents),
            ("__substg1.0_3701000D/inner/deep", b"deep stream"),
        ],
        &[
            ("__substg1.0_3701000D", PBRUSH),
            ("__substg1.0_3701000D/inner", [7; 16]),
        ],
    );
    let m = read_msg(&bytes).expect("read");
    let data = m.attachments[0]
        .props
        .binary(id::ATTACH_DATA)
        .expect("the OLE object has data")
        .to_vec();
    let mut object = cfb::CompoundFile::open(Cursor::new(data)).expect("a compound file");
    assert_eq!(object.root_entry().clsid().to_bytes_le(), PBRUSH);
    let mut read = |path: &str| {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut object.open_stream(path).expect(path), &mut out)
            .expect("read");
        out
    };
    assert_eq!(read("/\u{1}Ole"), [1, 0, 0, 2, 0, 0, 0, 0]);
    assert_eq!(read("/CONTENTS"), contents);
    assert_eq!(read("/inner/deep"), b"deep stream");
    assert_eq!(
        object.entry("/inner").expect("inner").clsid().to_bytes_le(),
        [7; 16]
    );

    // The .eml carries it under the attachment's name.
    let eml = crate::to_eml(&m, crate::EmlOptions::default()).expect("eml");
    let parsed = mail_parser::MessageParser::default()
        .parse(&eml)
        .expect("parse");
    let part = parsed.attachment(0).expect("attachment");
    use mail_parser::MimeHeaders;
    assert_eq!(part.attachment_name(), Some("Pict"));
    assert!(cfb::CompoundFile::open(Cursor::new(part.contents().to_vec())).is_ok());
}

#[test]
fn attachment_without_content_is_named_in_a_text_part() {
    // By reference (method 2) with its path, and OLE (6) with no storage.
    for (method, expected) in [
        (2, "is a link to C:\\share\\plan.docx"),
        (6, "its OLE object storage could not be read"),
        (0, "Outlook stored no data for it (attach method 0)"),
    ] {
        let path: Vec<u8> = "C:\\share\\plan.docx"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let name: Vec<u8> = "plan.docx"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let bytes = with_attachment(
            &[
                (0x3705_0003, method),
                (0x370D_001F, path.len() as u32),
                (0x3707_001F, name.len() as u32),
            ],
            &[
                ("__substg1.0_370D001F", &path),
                ("__substg1.0_3707001F", &name),
            ],
            &[],
        );
        let m = read_msg(&bytes).expect("read");
        let eml = crate::to_eml(&m, crate::EmlOptions::default()).expect("eml");
        let text = String::from_utf8_lossy(&eml);
        assert!(
            text.contains("The attachment \"plan.docx\" is not in this message")
                && text.contains(expected),
            "method {method}: {text}"
        );
    }
}

#[test]
fn version_4_files_with_4096_byte_sectors_read_like_version_3() {
    // The same message written by the `cfb` crate as version 4 (MS-CFB 2.2).
    let v3 = build(&[], 9000);
    let mut src = cfb::CompoundFile::open(Cursor::new(v3.clone())).expect("open");
    let mut cf = cfb::CompoundFile::create_with_version(cfb::Version::V4, Cursor::new(Vec::new()))
        .expect("create");
    let entries: Vec<(String, bool)> = src
        .walk()
        .filter(|e| !e.is_root())
        .map(|e| (e.path().to_string_lossy().into_owned(), e.is_storage()))
        .collect();
    for (path, storage) in entries {
        if storage {
            cf.create_storage(&path).expect("storage");
        } else {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut src.open_stream(&path).expect("src"), &mut data)
                .expect("read");
            cf.create_stream(&path)
                .and_then(|mut s| s.write_all(&data))
                .expect("stream");
        }
    }
    cf.flush().expect("flush");
    let v4 = cf.into_inner().into_inner();
    assert_eq!(v4[0x1E], 12, "a version 4 file");
    let (a, b) = (read_msg(&v3).expect("v3"), read_msg(&v4).expect("v4"));
    assert_eq!(a.props.string(id::SUBJECT), b.props.string(id::SUBJECT));
    assert_eq!(
        a.attachments[0].props.binary(id::ATTACH_DATA),
        b.attachments[0].props.binary(id::ATTACH_DATA)
    );
    assert_eq!(
        a.recipients[0].string(id::DISPLAY_NAME),
        b.recipients[0].string(id::DISPLAY_NAME)
    );
}
