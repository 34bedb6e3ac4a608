//! Compound File Binary format (MS-CFB) read straight from a byte slice,
//! and written (through the `cfb` crate) for OLE objects carried out of a
//! `.msg`.
//!
//! A file is a 512- or 4096-byte header followed by sectors of that size
//! (MS-CFB 2.2). The FAT chains sectors (2.3), the header and the DIFAT
//! sectors list the FAT's own sectors (2.5), the directory is a chain of
//! 128-byte entries forming one red-black tree per storage (2.6), and
//! streams shorter than the cut-off (4096 bytes) live in 64-byte sectors of
//! the mini stream, chained by the mini FAT (2.4).
//!
//! Every chain is checked: a sector used twice (a loop, or two chains
//! sharing a sector), a chain that leaves the FAT or ends early is an error
//! naming what was being read. A file whose last sector is cut short is
//! read when every byte a stream or the directory uses is inside the file:
//! Outlook and other writers produce such files by leaving out the padding
//! of the last sector. Bytes that are referenced but missing are an error
//! naming the stream and the offset where the file ends.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};

use crate::error::{OutlookError, Result};

/// The first eight bytes of every compound file (MS-CFB 2.2).
const SIGNATURE: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// Sector numbers above this are markers, not sectors (MS-CFB 2.1).
const MAXREGSECT: u32 = 0xFFFF_FFFA;
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const FREESECT: u32 = 0xFFFF_FFFF;
/// "No sibling / child" in a directory entry.
const NOSTREAM: u32 = 0xFFFF_FFFF;
/// Streams shorter than this are in the mini stream (MS-CFB 2.2).
const MINI_CUTOFF: u64 = 4096;
const MINI_SECTOR: usize = 64;
const DIR_ENTRY: usize = 128;

/// Streams by path and storages (with their CLSID) by path.
pub(super) type Tree = (BTreeMap<String, Vec<u8>>, BTreeMap<String, [u8; 16]>);

fn broken(what: String) -> OutlookError {
    OutlookError::CompoundFile(what)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(FREESECT, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The file's bytes seen as sectors; the last one may be cut short.
struct Sectors<'a> {
    bytes: &'a [u8],
    size: usize,
}

impl<'a> Sectors<'a> {
    /// Sector `n`, as much of it as the file holds (possibly empty).
    fn get(&self, n: u32) -> &'a [u8] {
        let start = (n as usize + 1).saturating_mul(self.size);
        let end = start.saturating_add(self.size).min(self.bytes.len());
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// How many sectors the file holds, counting a cut-short last one.
    fn count(&self) -> usize {
        (self.bytes.len() - self.size).div_ceil(self.size)
    }
}

/// Follows a chain from `start` through `fat`, marking each sector in
/// `used`, until `ENDOFCHAIN` or `limit` sectors. A sector met twice, a
/// marker or number outside the table, or a chain ending before `need`
/// sectors is an error naming `what`.
fn chain(
    fat: &[u32],
    used: &mut [bool],
    start: u32,
    need: usize,
    what: &dyn Fn() -> String,
) -> Result<Vec<u32>> {
    let mut out = Vec::with_capacity(need);
    let mut next = start;
    while out.len() < need {
        if next == ENDOFCHAIN {
            return Err(broken(format!(
                "the sector chain of {} ends after {} of its {need} sectors",
                what(),
                out.len()
            )));
        }
        let Some(slot) = used.get_mut(next as usize).filter(|_| next <= MAXREGSECT) else {
            return Err(broken(format!(
                "the sector chain of {} points to sector {next:#x}, outside the file's {} sectors",
                what(),
                fat.len()
            )));
        };
        if *slot {
            return Err(broken(format!(
                "the sector chain of {} reaches sector {next} a second time (a loop or a shared sector)",
                what()
            )));
        }
        *slot = true;
        out.push(next);
        next = fat[next as usize];
    }
    Ok(out)
}

/// Reads every stream and storage of the compound file in `bytes`.
pub(super) fn read(bytes: &[u8]) -> Result<Tree> {
    if bytes.len() < 512 {
        return Err(broken(format!(
            "truncated: {} bytes, the header alone is 512",
            bytes.len()
        )));
    }
    if bytes[..8] != SIGNATURE {
        return Err(broken("no compound file signature at offset 0".into()));
    }
    let major = u16::from_le_bytes([bytes[0x1A], bytes[0x1B]]);
    let size = match (bytes[0x1E], bytes[0x1F]) {
        (9, 0) => 512,
        (12, 0) => 4096,
        (shift, _) => {
            return Err(broken(format!(
                "sector shift {shift} at offset 30, expected 9 or 12"
            )));
        }
    };
    if u16::from_le_bytes([bytes[0x20], bytes[0x21]]) != 6 {
        return Err(broken(
            "mini sector shift at offset 32 is not 6 (64-byte mini sectors)".into(),
        ));
    }
    if bytes.len() < size {
        return Err(broken(format!(
            "truncated: {} bytes, the {size}-byte header does not fit",
            bytes.len()
        )));
    }
    let sectors = Sectors { bytes, size };
    let per_sector = size / 4;
    let count = sectors.count();

    // The FAT's sectors: 109 in the header, the rest in DIFAT sectors,
    // each ending with the number of the next (MS-CFB 2.5).
    let fat_sectors = u32_at(bytes, 0x2C) as usize;
    if fat_sectors > count {
        return Err(broken(format!(
            "the header counts {fat_sectors} FAT sectors, the file holds {count} sectors"
        )));
    }
    let mut fat_list: Vec<u32> = (0..109)
        .map(|i| u32_at(bytes, 0x4C + 4 * i))
        .take(fat_sectors)
        .collect();
    let mut difat = u32_at(bytes, 0x44);
    let mut difat_seen = 0usize;
    while fat_list.len() < fat_sectors && difat <= MAXREGSECT {
        difat_seen += 1;
        if difat_seen > count {
            return Err(broken("the DIFAT chain loops".into()));
        }
        let sector = sectors.get(difat);
        if sector.len() < size {
            return Err(broken(format!(
                "truncated: DIFAT sector {difat} is not inside the {}-byte file",
                bytes.len()
            )));
        }
        for i in 0..per_sector - 1 {
            if fat_list.len() < fat_sectors {
                fat_list.push(u32_at(sector, 4 * i));
            }
        }
        difat = u32_at(sector, size - 4);
    }
    if fat_list.len() < fat_sectors {
        return Err(broken(format!(
            "the DIFAT lists {} of the {fat_sectors} FAT sectors",
            fat_list.len()
        )));
    }
    // Entries of a FAT sector the file does not hold (a cut-short last
    // sector) read as free: a chain that needs them breaks, with an error.
    let mut fat = Vec::with_capacity(fat_sectors * per_sector);
    for &n in &fat_list {
        if n > MAXREGSECT || n as usize >= count {
            return Err(broken(format!(
                "FAT sector {n:#x} is outside the file's {count} sectors"
            )));
        }
        let sector = sectors.get(n);
        fat.extend((0..per_sector).map(|i| u32_at(sector, 4 * i)));
    }
    fat.truncate(count.max(1));
    let mut used = vec![false; fat.len()];

    // Directory (MS-CFB 2.6): its chain holds 128-byte entries.
    let first_dir = u32_at(bytes, 0x30);
    let dir_chain = chain_to_end(&fat, &mut used, first_dir, &|| "the directory".into())?;
    let mut directory = Vec::with_capacity(dir_chain.len() * size);
    for &n in &dir_chain {
        directory.extend_from_slice(sectors.get(n));
    }
    let entry = |i: u32| -> Result<&[u8]> {
        directory
            .get(i as usize * DIR_ENTRY..(i as usize + 1) * DIR_ENTRY)
            .ok_or_else(|| {
                broken(format!(
                    "truncated: directory entry {i} is not inside the {}-byte file",
                    bytes.len()
                ))
            })
    };
    let root = entry(0)?;
    if root[66] != 5 {
        return Err(broken("directory entry 0 is not the root storage".into()));
    }
    let stream_len = |e: &[u8]| -> u64 {
        let len = u64::from_le_bytes([
            e[120], e[121], e[122], e[123], e[124], e[125], e[126], e[127],
        ]);
        // Version 3 files may leave garbage in the high half (MS-CFB 2.6.3).
        if major == 3 { len & 0xFFFF_FFFF } else { len }
    };

    // The mini stream is the root's stream; the mini FAT chains it.
    let mini_len = stream_len(root);
    let mini_fat_sectors = u32_at(bytes, 0x40) as usize;
    let mut mini_fat = Vec::new();
    if mini_fat_sectors > 0 {
        let start = u32_at(bytes, 0x3C);
        for n in chain(&fat, &mut used, start, mini_fat_sectors, &|| {
            "the mini FAT".into()
        })? {
            let sector = sectors.get(n);
            mini_fat.extend((0..per_sector).map(|i| u32_at(sector, 4 * i)));
        }
    }
    let mut mini = Vec::new();
    if mini_len > 0 {
        if mini_len > bytes.len() as u64 {
            return Err(broken(format!(
                "the mini stream claims {mini_len} bytes, more than the {}-byte file holds",
                bytes.len()
            )));
        }
        let need = (mini_len as usize).div_ceil(size);
        mini.reserve(need * size);
        for n in chain(&fat, &mut used, u32_at(root, 116), need, &|| {
            "the mini stream".into()
        })? {
            mini.extend_from_slice(sectors.get(n));
        }
    }
    let mut mini_used = vec![false; mini_fat.len()];

    // Walk the tree: each storage's children are a binary tree of
    // siblings under its child entry (MS-CFB 2.6.4).
    let mut streams = BTreeMap::new();
    let mut storages = BTreeMap::new();
    let mut seen = vec![false; directory.len() / DIR_ENTRY];
    seen[0] = true;
    let mut stack: Vec<(u32, String)> = Vec::new();
    push_child(&mut stack, u32_at(root, 76), "");
    let mut total: u64 = 0;
    while let Some((i, parent)) = stack.pop() {
        let e = entry(i)?;
        match seen.get_mut(i as usize) {
            Some(s) if !*s => *s = true,
            _ => {
                return Err(broken(format!(
                    "directory entry {i} is reached twice (the directory tree loops)"
                )));
            }
        }
        push_child(&mut stack, u32_at(e, 68), &parent);
        push_child(&mut stack, u32_at(e, 72), &parent);
        let name_len = (u16::from_le_bytes([e[64], e[65]]) as usize).min(64);
        let units = e[..name_len.saturating_sub(2)]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        let mut path = String::with_capacity(parent.len() + 1 + name_len / 2);
        path.push_str(&parent);
        path.push('/');
        path.extend(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)));
        match e[66] {
            1 => {
                let mut clsid = [0u8; 16];
                clsid.copy_from_slice(&e[80..96]);
                push_child(&mut stack, u32_at(e, 76), &path);
                storages.insert(path, clsid);
            }
            2 => {
                let len = stream_len(e);
                // Every byte of a stream is stored in the file once, so a
                // stream claiming more than the file holds is lying.
                total = total.saturating_add(len);
                if len > bytes.len() as u64 || total > bytes.len() as u64 {
                    return Err(OutlookError::Stream {
                        stream: path,
                        offset: 0,
                        what: format!(
                            "directory entry claims {len} bytes, more than the {}-byte file holds",
                            bytes.len()
                        ),
                    });
                }
                let start = u32_at(e, 116);
                let data = if len < MINI_CUTOFF {
                    read_mini(&mini, &mini_fat, &mut mini_used, start, len as usize, &path)?
                } else {
                    read_big(&sectors, &fat, &mut used, start, len as usize, &path)?
                };
                streams.insert(path, data);
            }
            _ => {}
        }
    }
    Ok((streams, storages))
}

fn push_child(stack: &mut Vec<(u32, String)>, i: u32, parent: &str) {
    if i != NOSTREAM {
        stack.push((i, parent.to_owned()));
    }
}

/// A chain of unknown length (the directory's), up to `ENDOFCHAIN`.
fn chain_to_end(
    fat: &[u32],
    used: &mut [bool],
    start: u32,
    what: &dyn Fn() -> String,
) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let mut next = start;
    while next != ENDOFCHAIN {
        out.extend(chain(fat, used, next, 1, what)?);
        next = fat[next as usize];
    }
    if out.is_empty() {
        return Err(broken(format!("{} has no sectors", what())));
    }
    Ok(out)
}

/// A stream stored in regular sectors.
fn read_big(
    sectors: &Sectors<'_>,
    fat: &[u32],
    used: &mut [bool],
    start: u32,
    len: usize,
    path: &str,
) -> Result<Vec<u8>> {
    let need = len.div_ceil(sectors.size);
    let mut data = Vec::with_capacity(len);
    for n in chain(fat, used, start, need, &|| format!("stream {path}"))? {
        let want = (len - data.len()).min(sectors.size);
        let have = sectors.get(n);
        if have.len() < want {
            return Err(cut(path, data.len() + have.len(), sectors.bytes.len()));
        }
        data.extend_from_slice(&have[..want]);
    }
    Ok(data)
}

/// A stream stored in the mini stream.
fn read_mini(
    mini: &[u8],
    mini_fat: &[u32],
    used: &mut [bool],
    start: u32,
    len: usize,
    path: &str,
) -> Result<Vec<u8>> {
    let need = len.div_ceil(MINI_SECTOR);
    let mut data = Vec::with_capacity(len);
    for n in chain(mini_fat, used, start, need, &|| format!("stream {path}"))? {
        let want = (len - data.len()).min(MINI_SECTOR);
        let at = n as usize * MINI_SECTOR;
        let Some(have) = mini.get(at..at + want) else {
            let got = mini.len().saturating_sub(at).min(want);
            return Err(cut(path, data.len() + got, mini.len()));
        };
        data.extend_from_slice(have);
    }
    Ok(data)
}

fn cut(path: &str, offset: usize, file_len: usize) -> OutlookError {
    OutlookError::Stream {
        stream: path.to_owned(),
        offset: offset as u64,
        what: format!(
            "truncated: the stream's data goes past the end of the file ({file_len} bytes)"
        ),
    }
}

/// Writes a compound file (version 3) whose root has `clsid`, with the
/// storages (paths from '/', each with its CLSID) and streams given.
pub(super) fn write(
    clsid: [u8; 16],
    storages: &[(String, [u8; 16])],
    streams: &[(String, Vec<u8>)],
) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| OutlookError::Write(format!("OLE object storage: {e}"));
    let mut file =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
            .map_err(fail)?;
    file.set_storage_clsid("/", uuid::Uuid::from_bytes_le(clsid))
        .map_err(fail)?;
    // Sorted by path, so a parent comes before its children.
    for (path, clsid) in storages {
        file.create_storage(path).map_err(fail)?;
        file.set_storage_clsid(path, uuid::Uuid::from_bytes_le(*clsid))
            .map_err(fail)?;
    }
    for (path, data) in streams {
        file.create_stream(path)
            .and_then(|mut s| s.write_all(data))
            .map_err(fail)?;
    }
    file.flush().map_err(fail)?;
    Ok(file.into_inner().into_inner())
}
