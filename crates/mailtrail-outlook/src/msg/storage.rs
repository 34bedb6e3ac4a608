//! The compound file (MS-CFB) under a `.msg`, read once into memory as a
//! map from stream path to bytes, so the MAPI layer above never touches the
//! sector machinery and every size is checked before anything is allocated.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use crate::error::{OutlookError, Result};

/// The first eight bytes of every compound file (MS-CFB 2.2).
const SIGNATURE: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// A compound file's streams by path ("/__substg1.0_0037001F").
pub(super) struct Streams {
    streams: BTreeMap<String, Vec<u8>>,
}

impl Streams {
    /// Reads every stream of the compound file in `bytes`.
    pub(super) fn read(bytes: &[u8]) -> Result<Streams> {
        if bytes.len() < 512 {
            return Err(OutlookError::CompoundFile(format!(
                "truncated: {} bytes, the header alone is 512",
                bytes.len()
            )));
        }
        if bytes[..8] != SIGNATURE {
            return Err(OutlookError::CompoundFile(
                "no compound file signature at offset 0".into(),
            ));
        }
        // Sectors are 512 (version 3) or 4096 bytes (version 4) after a
        // header of the same size (MS-CFB 2.2); a file ending inside a
        // sector was cut short.
        let sector = match bytes[0x1E] {
            9 => 512,
            12 => 4096,
            shift => {
                return Err(OutlookError::CompoundFile(format!(
                    "sector shift {shift} at offset 30, expected 9 or 12"
                )));
            }
        };
        if !bytes.len().is_multiple_of(sector) {
            return Err(OutlookError::CompoundFile(format!(
                "truncated: {} bytes end inside sector {} ({sector}-byte sectors)",
                bytes.len(),
                bytes.len() / sector
            )));
        }
        // A large read buffer: streams are read whole, once, from memory.
        let mut file = cfb::OpenOptions::new()
            .max_buffer_size(1 << 16)
            .open_with(Cursor::new(bytes))
            .map_err(|e| OutlookError::CompoundFile(e.to_string()))?;
        let entries: Vec<(String, u64)> = file
            .walk()
            .filter(|e| e.is_stream())
            .map(|e| (e.path().to_string_lossy().into_owned(), e.len()))
            .collect();
        let mut streams = BTreeMap::new();
        let mut total: u64 = 0;
        for (path, len) in entries {
            // Every byte of a stream is stored in the file once, so a stream
            // claiming more than the file holds is lying about its size.
            total = total.saturating_add(len);
            if len > bytes.len() as u64 || total > (bytes.len() as u64).saturating_mul(2) {
                return Err(OutlookError::Stream {
                    stream: path,
                    offset: 0,
                    what: format!(
                        "directory entry claims {len} bytes, more than the {}-byte file holds",
                        bytes.len()
                    ),
                });
            }
            let mut data = Vec::with_capacity(len as usize);
            file.open_stream(&path)
                .and_then(|s| s.take(len).read_to_end(&mut data))
                .map_err(|e| OutlookError::Stream {
                    stream: path.clone(),
                    offset: data.len() as u64,
                    what: e.to_string(),
                })?;
            if (data.len() as u64) < len {
                return Err(OutlookError::Stream {
                    stream: path,
                    offset: data.len() as u64,
                    what: format!("ends after {} of its {len} bytes", data.len()),
                });
            }
            streams.insert(path, data);
        }
        Ok(Streams { streams })
    }

    /// The stream at `path`.
    pub(super) fn get(&self, path: &str) -> Option<&[u8]> {
        self.streams.get(path).map(Vec::as_slice)
    }

    /// The stream at `path`, moved out: each value stream is read once, so
    /// large attachment data is not copied again.
    pub(super) fn take(&mut self, path: &str) -> Option<Vec<u8>> {
        self.streams.remove(path)
    }

    /// Names of the direct child storages of `dir` starting with `prefix`,
    /// sorted (the `#XXXXXXXX` suffix sorts in row order).
    pub(super) fn child_storages(&self, dir: &str, prefix: &str) -> Vec<String> {
        let start = format!("{dir}{prefix}");
        let mut names: Vec<String> = self
            .streams
            .range(start.clone()..)
            .take_while(|(k, _)| k.starts_with(&start))
            .filter_map(|(k, _)| {
                let rest = &k[dir.len()..];
                rest.split_once('/').map(|(storage, _)| storage.to_owned())
            })
            .collect();
        names.dedup();
        names
    }
}
