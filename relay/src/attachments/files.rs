//! Attachment bytes on local disk, under `<data dir>/attachments/`: one file per attachment,
//! named by its id, in a subdirectory named by the id's first two characters. A file appears
//! whole or not at all: it is written under `tmp/`, flushed to disk, then renamed into place, so a
//! crash or a full disk mid-download leaves nothing half-written where a reader could find it.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::sniff::HEAD_BYTES;

/// Ids are made by [`super::new_id`]; anything else is refused before it gets near a path.
pub fn is_valid_id(id: &str) -> bool {
    (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Clone)]
pub struct Files {
    root: PathBuf,
}

/// Why a write stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Files {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Files { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file of attachment `id` is (or would be). `None` for an id that isn't one.
    pub fn path(&self, id: &str) -> Option<PathBuf> {
        is_valid_id(id).then(|| self.root.join(&id[..2]).join(id))
    }

    fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Start writing the file of attachment `id`, at most `limit` bytes.
    pub async fn create(&self, id: &str, limit: u64) -> io::Result<Incoming> {
        if !is_valid_id(id) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an attachment id"));
        }
        let dir = self.temp_dir();
        private_dir(&dir).await?;
        let suffix: u64 = rand::random();
        let path = dir.join(format!("{id}.{suffix:016x}.part"));
        // The owner's only (the rename into place keeps the mode), whatever the umask.
        let mut options = crate::owner_only::open_options();
        options.write(true).create_new(true);
        let file = tokio::fs::OpenOptions::from(options).open(&path).await?;
        let temp = TempFile(Some(path));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(crate::owner_only::FILE_MODE)).await?;
        }
        Ok(Incoming {
            file,
            temp,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
            limit,
        })
    }

    /// Remove what interrupted writes left in `tmp/` (at start, before any new write begins).
    pub async fn clear_temp(&self) -> io::Result<usize> {
        let mut entries = match tokio::fs::read_dir(self.temp_dir()).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            if entry.file_name().to_string_lossy().ends_with(".part") {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// `dir` and its missing parents, the owner's only (0700).
async fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(crate::owner_only::DIR_MODE);
    builder.create(dir).await
}

/// A temporary file that is deleted unless it was renamed into place.
#[derive(Debug)]
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A file being written. Dropping it deletes what was written.
#[derive(Debug)]
pub struct Incoming {
    file: tokio::fs::File,
    temp: TempFile,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    limit: u64,
}

impl Incoming {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), WriteError> {
        let size = self.size + chunk.len() as u64;
        if size > self.limit {
            return Err(WriteError::TooLarge { limit: self.limit });
        }
        self.file.write_all(chunk).await?;
        self.hasher.update(chunk);
        if self.head.len() < HEAD_BYTES {
            let take = chunk.len().min(HEAD_BYTES - self.head.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.size = size;
        Ok(())
    }

    /// Everything is written: flush it to disk. The file is not in place yet ([`Written::keep`]).
    pub async fn finish(mut self) -> io::Result<Written> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        Ok(Written { temp: self.temp, size: self.size, sha256: self.hasher.finalize().into(), head: self.head })
    }
}

/// A complete file on disk, not in place yet: check it, then [`keep`](Written::keep) it. Dropping
/// it deletes it.
#[derive(Debug)]
pub struct Written {
    temp: TempFile,
    pub size: u64,
    pub sha256: [u8; 32],
    /// The first bytes, to sniff the type from.
    pub head: Vec<u8>,
}

impl Written {
    /// Move the file into place as attachment `id`'s (replacing an earlier copy, which can only be
    /// an identical download that was interrupted before it was recorded).
    pub async fn keep(mut self, files: &Files, id: &str) -> io::Result<()> {
        let target = files.path(id).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an attachment id"))?;
        let dir = target.parent().expect("an attachment path has a directory").to_owned();
        private_dir(&dir).await?;
        let temp = self.temp.0.as_ref().expect("a written file has its temporary path");
        tokio::fs::rename(temp, &target).await?;
        self.temp.0 = None;
        // The rename is durable once the directory is synced (before the store records `ready`).
        tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
            .await
            .map_err(io::Error::other)??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "aBcDeFgHiJkLmNoPqRsTuVwX";

    #[tokio::test]
    async fn a_kept_file_is_whole_and_in_place_and_nothing_is_left_in_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path().join("attachments"));
        let mut incoming = files.create(ID, 100).await.unwrap();
        incoming.write(b"hello ").await.unwrap();
        incoming.write(b"world").await.unwrap();
        let written = incoming.finish().await.unwrap();
        assert_eq!(written.size, 11);
        assert_eq!(hex::encode(written.sha256), hex::encode(Sha256::digest(b"hello world")));
        assert_eq!(written.head, b"hello world");
        written.keep(&files, ID).await.unwrap();
        let path = files.path(ID).unwrap();
        assert_eq!(path, dir.path().join("attachments").join("aB").join(ID));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
        assert_eq!(std::fs::read_dir(files.temp_dir()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_kept_file_and_its_directories_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path().join("attachments"));
        let mut incoming = files.create(ID, 100).await.unwrap();
        incoming.write(b"private").await.unwrap();
        incoming.finish().await.unwrap().keep(&files, ID).await.unwrap();
        let path = files.path(ID).unwrap();
        assert_eq!(mode(&path), 0o600);
        for dir in [files.root(), &files.temp_dir(), path.parent().unwrap()] {
            assert_eq!(mode(dir), 0o700, "{}", dir.display());
        }
    }

    #[tokio::test]
    async fn a_file_over_the_limit_or_abandoned_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path());
        let mut incoming = files.create(ID, 8).await.unwrap();
        incoming.write(b"12345").await.unwrap();
        assert!(matches!(incoming.write(b"6789").await, Err(WriteError::TooLarge { limit: 8 })));
        drop(incoming);
        let written = {
            let mut again = files.create(ID, 8).await.unwrap();
            again.write(b"1234").await.unwrap();
            again.finish().await.unwrap()
        };
        drop(written);
        assert_eq!(std::fs::read_dir(files.temp_dir()).unwrap().count(), 0);
        assert!(!files.path(ID).unwrap().exists());
    }

    #[tokio::test]
    async fn leftovers_of_a_crash_are_cleared_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path());
        std::fs::create_dir_all(files.temp_dir()).unwrap();
        std::fs::write(files.temp_dir().join(format!("{ID}.0000000000000001.part")), b"half").unwrap();
        assert_eq!(files.clear_temp().await.unwrap(), 1);
        assert_eq!(Files::new(dir.path().join("none")).clear_temp().await.unwrap(), 0);
    }

    #[test]
    fn only_our_ids_make_paths() {
        let files = Files::new("/data/attachments");
        assert!(files.path(ID).is_some());
        for bad in ["../../../../etc/passwd", "short", "has space in it......", "a/b/cdefghijklmnopqrstu", ""] {
            assert!(files.path(bad).is_none(), "{bad}");
        }
    }
}
