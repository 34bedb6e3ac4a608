//! The compound file (MS-CFB) under a `.msg`, read once into memory as a
//! map from stream path to bytes, so the MAPI layer above never touches the
//! sector machinery and every size is checked before anything is allocated.
//!
//! The reader is this crate's own (see [`compound`] for the format): a `.msg`
//! has hundreds of small streams, and reading each by path through a
//! general-purpose compound-file library costs more than the conversion
//! itself. Here the FAT, the mini FAT and the directory are read once, and
//! every stream is copied straight out of the file's bytes.

mod compound;

use std::collections::BTreeMap;

use crate::error::Result;

/// A compound file's streams by path ("/__substg1.0_0037001F") and its
/// storages by path with their CLSIDs ("/__attach_version1.0_#00000000").
pub(super) struct Streams {
    streams: BTreeMap<String, Vec<u8>>,
    storages: BTreeMap<String, [u8; 16]>,
}

impl Streams {
    /// Reads every stream of the compound file in `bytes`.
    pub(super) fn read(bytes: &[u8]) -> Result<Streams> {
        let (streams, storages) = compound::read(bytes)?;
        Ok(Streams { streams, storages })
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

    /// Whether a storage exists at `path` (no trailing '/').
    pub(super) fn has_storage(&self, path: &str) -> bool {
        self.storages.contains_key(path)
    }

    /// The storage at `dir` (no trailing '/') and everything under it as a
    /// compound file of its own: the storage becomes the root, with its
    /// CLSID, every stream and every sub-storage (with theirs). This is how
    /// an OLE object attachment (PidTagAttachDataObject, MS-OXMSG 2.2.2.1)
    /// is carried: the object's application opens that file.
    ///
    /// The streams are moved out; `None` when there is no such storage.
    pub(super) fn take_storage(&mut self, dir: &str) -> Option<Result<Vec<u8>>> {
        let clsid = *self.storages.get(dir)?;
        let prefix = format!("{dir}/");
        let storages: Vec<(String, [u8; 16])> = self
            .storages
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, c)| (k[dir.len()..].to_owned(), *c))
            .collect();
        let paths: Vec<String> = self
            .streams
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        let mut streams = Vec::with_capacity(paths.len());
        for path in paths {
            if let Some(data) = self.streams.remove(&path) {
                streams.push((path[dir.len()..].to_owned(), data));
            }
        }
        Some(compound::write(clsid, &storages, &streams))
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
