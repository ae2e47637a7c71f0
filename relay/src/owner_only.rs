//! Files and directories only the relay's own user may open: the data directory (0700), the
//! database and its `-wal`/`-shm` (0600), attachment files and keys (0600). Modes are set
//! explicitly after creating, so they don't depend on the umask; an existing path that others
//! could read is tightened, and that is logged. Elsewhere than on Unix these are plain creates.

use std::io;
use std::path::Path;

/// Directories: the owner only.
pub const DIR_MODE: u32 = 0o700;
/// Files: the owner reads and writes.
pub const FILE_MODE: u32 = 0o600;

/// Create `dir` (and missing parents) as 0700; an existing one is tightened to the owner only.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return tighten(dir);
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Make sure the file at `path` exists and is 0600: created empty if missing, tightened if others
/// could read it. For files another library opens afterwards (SQLite's database).
pub fn prepare_file(path: &Path) -> io::Result<()> {
    if path.exists() {
        return tighten(path);
    }
    let file = open_options().write(true).create(true).open(path)?;
    set_file_mode(&file)
}

/// `std::fs::OpenOptions` that create files as 0600 (narrowed further by the umask only; follow
/// with [`set_file_mode`] for an exact mode).
pub fn open_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Exactly 0600 on an open file, whatever the umask made of it.
pub fn set_file_mode(file: &std::fs::File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Take the group's and others' access away from an existing file or directory (the owner's and
/// special bits are kept); logged at INFO when that changed something. A path that exists but is
/// not ours to change (a shared directory) is left as it is, with a warning.
pub fn tighten(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 == 0 {
            return Ok(());
        }
        let tightened = mode & !0o077;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(tightened)) {
            Ok(()) => tracing::info!(
                path = %path.display(),
                from = format!("{:o}", mode & 0o7777),
                to = format!("{:o}", tightened & 0o7777),
                "others could read this; now only the relay's user can"
            ),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o7777),
                "others can read this and the relay may not change it; give the relay a directory of its own"
            ),
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_directory_and_file_are_the_owners_only() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("db");
        prepare_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 0, "created empty");
    }

    #[test]
    fn an_existing_open_directory_and_file_are_tightened_keeping_the_owners_bits() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o2775)).unwrap();
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o2700, "setgid kept, group and others gone");
        let file = dir.join("db");
        std::fs::write(&file, b"keep me").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me", "an existing file is not truncated");
    }
}
