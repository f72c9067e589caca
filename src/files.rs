//! Reading the files a person names (layouts, the users file): regular files only, and never
//! more than a limit. A FIFO would block the console forever and `/dev/zero` would be read until
//! the memory runs out; both are refused with a clear error before anything is read. And
//! replacing a file whole ([`write_atomic`]): a crash leaves the old file or the new one.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A folder, FIFO, socket or device: `kind` says which.
    #[error("this is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("the file is larger than {} (it has {size} bytes or more); is this the right file?", size_text(*limit))]
    TooLarge { size: u64, limit: u64 },
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// What a file that is not a regular file is, in words.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    "not a regular file"
}

/// Opens `path` for reading if it is a regular file (symbolic links are followed). The file is
/// opened without blocking (a FIFO would wait for a writer) and checked on the open handle, so
/// the file checked is the file read.
pub fn open_regular(path: &Path) -> Result<File, FileError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO does not wait for a writer; O_NOCTTY: a terminal device
        // never becomes ours. Neither changes how a regular file reads.
        options.custom_flags((nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_NOCTTY).bits());
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(FileError::NotRegular { kind: kind_of(&meta) });
    }
    Ok(file)
}

/// Reads an open file whole, refusing one larger than `limit` bytes (its size is checked
/// first, and the read stops at the limit whatever the size said).
pub fn read_capped(file: File, limit: u64) -> Result<Vec<u8>, FileError> {
    let size = file.metadata()?.len();
    if size > limit {
        return Err(FileError::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { size: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

/// [`open_regular`] then [`read_capped`].
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_capped(open_regular(path)?, limit)
}

/// The folder `path` is in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `text` to a new file beside `path`, gives it `mode` (and `owner` = (uid, gid)), syncs
/// it, renames it over `path` and syncs the folder. On failure the new file is removed and
/// `path` is as it was.
pub fn write_atomic(path: &Path, text: &str, mode: u32, owner: Option<(u32, u32)>) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let dir = folder_of(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        // Made afresh (never opened through whatever may stand at its name), private at first.
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        if let Some((uid, gid)) = owner {
            let now = f.metadata()?;
            if now.uid() != uid || now.gid() != gid {
                std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
            }
        }
        // Exactly `mode`, whatever the umask.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ttyhmi-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_regular_file_is_read() {
        let d = dir("regular");
        let f = d.join("a.yaml");
        std::fs::write(&f, "title: x\n").unwrap();
        assert_eq!(read_regular(&f, 100).unwrap(), b"title: x\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_folder_is_refused() {
        let d = dir("folder");
        let e = read_regular(&d, 100).unwrap_err();
        assert_eq!(e.to_string(), "this is a folder, not a regular file");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_reading() {
        let d = dir("large");
        let f = d.join("big");
        std::fs::write(&f, vec![b'x'; 2048]).unwrap();
        let e = read_regular(&f, 1024).unwrap_err();
        assert_eq!(e.to_string(), "the file is larger than 1 KiB (it has 2048 bytes or more); is this the right file?");
        assert!(read_regular(&f, 2048).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_and_a_fifo_are_refused_at_once() {
        let e = read_regular(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "this is a device, not a regular file");
        let d = dir("fifo");
        let fifo = d.join("pipe.yaml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // Nobody writes to the FIFO: a blocking open would never return.
        let e = read_regular(&fifo, 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "this is a FIFO (named pipe), not a regular file");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
