//! Private folders and files for the profile: the store, the key files and anything
//! else only this user may read.
//!
//! On Unix a profile folder must be `0700` and its files `0600`. A folder this module
//! creates gets that mode; a folder or file that already exists with group or other
//! permission bits is refused with an error that names the exact `chmod` to run. Nothing
//! the user made is silently re-permissioned: a too-open folder may be shared on purpose,
//! and then the user, not Satchel, should decide.
//!
//! [`write_private_file`] replaces a file atomically: it writes a `0600` temporary file in
//! the same folder, flushes it to disk, renames it over the target and flushes the folder,
//! so a crash leaves either the old file or the new one, never a mix.
//!
//! On other platforms (Windows) the permission checks are no-ops: access is governed by
//! ACLs, and a profile under the user's own application-data folder is private by
//! default. Folder creation and atomic replacement still work there; only the folder
//! flush is skipped (Windows cannot open a folder as a file).
//!
//! The checks look at permission bits only, not at the owner: a folder owned by another
//! user but mode `0700` would fail later, when Satchel cannot write to it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a private folder or file could not be made, checked or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateFsError {
    /// A folder exists with group or other permissions.
    #[error(
        "the folder {} can be accessed by other users of this computer (mode {mode:03o}); \
         make it private with `chmod 700 {}` and try again",
        path.display(),
        shell_quote(path)
    )]
    FolderTooOpen {
        /// The folder.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A file exists with group or other permissions.
    #[error(
        "the file {} can be accessed by other users of this computer (mode {mode:03o}); \
         make it private with `chmod 600 {}` and try again",
        path.display(),
        shell_quote(path)
    )]
    FileTooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The path exists but is not a folder.
    #[error("{} exists but is not a folder", path.display())]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// The path exists but is not a regular file.
    #[error("{} exists but is not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The operating system refused an operation.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create the folder".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl PrivateFsError {
    /// The shell command that fixes the problem, if one does (`chmod 700 PATH` or
    /// `chmod 600 PATH`), for an app to show or offer.
    #[must_use]
    pub fn fix_command(&self) -> Option<String> {
        match self {
            Self::FolderTooOpen { path, .. } => Some(format!("chmod 700 {}", shell_quote(path))),
            Self::FileTooOpen { path, .. } => Some(format!("chmod 600 {}", shell_quote(path))),
            _ => None,
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PrivateFsError {
    let path = path.to_path_buf();
    move |source| PrivateFsError::Io {
        action,
        path,
        source,
    }
}

/// `path` quoted for a POSIX shell when it needs to be (spaces, quotes, `$`...).
fn shell_quote(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || "/._-+,:@%~".contains(c));
    if plain && !text.starts_with('~') {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Makes sure `path` is a folder only this user can access.
///
/// Creates it (and any missing parents) with mode `0700` if it does not exist. If it
/// exists, it must be a folder without group or other permissions; it is never
/// re-permissioned.
///
/// # Errors
/// [`PrivateFsError::FolderTooOpen`] (with the `chmod 700` to run),
/// [`PrivateFsError::NotAFolder`], or [`PrivateFsError::Io`].
pub fn ensure_private_dir(path: &Path) -> Result<(), PrivateFsError> {
    match fs::metadata(path) {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder
                .create(path)
                .map_err(io_error("create the folder", path))?;
        }
        Err(error) => return Err(io_error("inspect the folder", path)(error)),
    }
    let metadata = fs::metadata(path).map_err(io_error("inspect the folder", path))?;
    if !metadata.is_dir() {
        return Err(PrivateFsError::NotAFolder {
            path: path.to_path_buf(),
        });
    }
    match group_or_other_mode(&metadata) {
        Some(mode) => Err(PrivateFsError::FolderTooOpen {
            path: path.to_path_buf(),
            mode,
        }),
        None => Ok(()),
    }
}

/// Checks that the existing file at `path` is a regular file only this user can access.
///
/// # Errors
/// [`PrivateFsError::FileTooOpen`] (with the `chmod 600` to run),
/// [`PrivateFsError::NotAFile`], or [`PrivateFsError::Io`] (e.g. the file does not exist:
/// check `source.kind()` for [`io::ErrorKind::NotFound`]).
pub fn check_private_file(path: &Path) -> Result<(), PrivateFsError> {
    let metadata = fs::metadata(path).map_err(io_error("inspect the file", path))?;
    if !metadata.is_file() {
        return Err(PrivateFsError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    match group_or_other_mode(&metadata) {
        Some(mode) => Err(PrivateFsError::FileTooOpen {
            path: path.to_path_buf(),
            mode,
        }),
        None => Ok(()),
    }
}

/// Replaces the file at `path` with `bytes` atomically, with mode `0600`.
///
/// Writes a temporary file `.NAME.tmp-…` (mode `0600`) in the same folder, flushes it to
/// disk, renames it over `path`, then flushes the folder so the rename itself is durable.
/// If anything fails before the rename, the temporary file is removed and `path` is
/// untouched. The folder is not checked here: call [`ensure_private_dir`] first.
///
/// # Errors
/// [`PrivateFsError::Io`] naming the step that failed.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), PrivateFsError> {
    let file_name = path.file_name().ok_or_else(|| PrivateFsError::NotAFile {
        path: path.to_path_buf(),
    })?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (temp_path, mut file) = create_temp(folder, file_name)?;
    let written = file
        .write_all(bytes)
        .map_err(io_error("write", &temp_path))
        .and_then(|()| file.sync_all().map_err(io_error("flush", &temp_path)));
    drop(file);
    if let Err(error) =
        written.and_then(|()| fs::rename(&temp_path, path).map_err(io_error("replace", path)))
    {
        let _ = fs::remove_file(&temp_path);
        return Err(error);
    }
    sync_folder(folder)
}

/// Creates a fresh `0600` temporary file next to the target.
fn create_temp(
    folder: &Path,
    file_name: &std::ffi::OsStr,
) -> Result<(PathBuf, fs::File), PrivateFsError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    let mut last_error = None;
    for _ in 0..16 {
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = std::ffi::OsString::from(".");
        name.push(file_name);
        name.push(format!(".tmp-{}-{nanos:08x}-{count}", std::process::id()));
        let temp_path = folder.join(name);
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                last_error = Some((temp_path, error));
            }
            Err(error) => return Err(io_error("create a temporary file", &temp_path)(error)),
        }
    }
    let (temp_path, error) = last_error.unwrap_or_else(|| {
        (
            folder.to_path_buf(),
            io::Error::from(io::ErrorKind::AlreadyExists),
        )
    });
    Err(io_error("create a temporary file", &temp_path)(error))
}

/// Flushes a folder's entries (the rename) to disk. Unix only.
fn sync_folder(folder: &Path) -> Result<(), PrivateFsError> {
    #[cfg(unix)]
    {
        fs::File::open(folder)
            .and_then(|handle| handle.sync_all())
            .map_err(io_error("flush the folder", folder))?;
    }
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

/// The permission bits if any group or other bit is set (Unix); `None` elsewhere.
#[cfg(unix)]
fn group_or_other_mode(metadata: &fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn group_or_other_mode(_metadata: &fs::Metadata) -> Option<u32> {
    None
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn set_mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn creates_a_missing_folder_private() {
        let root = tempfile::tempdir().unwrap();
        let profile = root.path().join("a").join("profile");
        ensure_private_dir(&profile).unwrap();
        assert!(profile.is_dir());
        assert_eq!(mode(&profile) & 0o077, 0);
        assert_eq!(mode(&profile) & 0o700, 0o700);
        // Idempotent.
        ensure_private_dir(&profile).unwrap();
    }

    #[test]
    fn refuses_an_open_folder_without_changing_it() {
        let root = tempfile::tempdir().unwrap();
        let shared = root.path().join("my profile");
        fs::create_dir(&shared).unwrap();
        set_mode(&shared, 0o755);
        let error = ensure_private_dir(&shared).unwrap_err();
        assert!(matches!(
            error,
            PrivateFsError::FolderTooOpen { mode: 0o755, .. }
        ));
        let expected = format!("chmod 700 '{}'", shared.display());
        assert_eq!(error.fix_command().as_deref(), Some(expected.as_str()));
        assert!(error.to_string().contains(&expected), "{error}");
        assert!(error.to_string().contains("mode 755"), "{error}");
        assert_eq!(
            mode(&shared),
            0o755,
            "the folder was left as the user made it"
        );
        set_mode(&shared, 0o700);
        ensure_private_dir(&shared).unwrap();
        set_mode(&shared, 0o701);
        assert!(matches!(
            ensure_private_dir(&shared),
            Err(PrivateFsError::FolderTooOpen { mode: 0o701, .. })
        ));
    }

    #[test]
    fn a_file_is_not_a_folder() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("profile");
        fs::write(&file, b"x").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(PrivateFsError::NotAFolder { .. })
        ));
        assert!(matches!(
            check_private_file(root.path()),
            Err(PrivateFsError::NotAFile { .. })
        ));
    }

    #[test]
    fn checks_file_modes() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("store.key");
        let missing = check_private_file(&file).unwrap_err();
        assert!(
            matches!(&missing, PrivateFsError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
        );
        fs::write(&file, b"secret").unwrap();
        set_mode(&file, 0o644);
        let error = check_private_file(&file).unwrap_err();
        assert!(matches!(
            error,
            PrivateFsError::FileTooOpen { mode: 0o644, .. }
        ));
        let expected = format!("chmod 600 {}", file.display());
        assert_eq!(error.fix_command().as_deref(), Some(expected.as_str()));
        assert!(error.to_string().contains(&expected));
        set_mode(&file, 0o600);
        check_private_file(&file).unwrap();
        set_mode(&file, 0o400);
        check_private_file(&file).unwrap();
    }

    #[test]
    fn writes_atomically_with_mode_600() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("profile");
        ensure_private_dir(&folder).unwrap();
        let file = folder.join("store.key");
        write_private_file(&file, b"first").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"first");
        assert_eq!(mode(&file), 0o600);
        check_private_file(&file).unwrap();
        // Replacing a too-open file leaves a private one.
        set_mode(&file, 0o644);
        write_private_file(&file, b"second, longer").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"second, longer");
        assert_eq!(mode(&file), 0o600);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("store.key")]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("profile");
        ensure_private_dir(&folder).unwrap();
        // The target is a non-empty folder: the rename fails after the temporary was
        // written.
        let target = folder.join("store.key");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"x").unwrap();
        let error = write_private_file(&target, b"new").unwrap_err();
        assert!(
            matches!(
                error,
                PrivateFsError::Io {
                    action: "replace",
                    ..
                }
            ),
            "{error}"
        );
        let mut names: Vec<_> = fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, vec![std::ffi::OsString::from("store.key")]);
        // A folder that does not exist: a typed error, nothing created.
        let error = write_private_file(&root.path().join("none").join("f"), b"x").unwrap_err();
        assert!(matches!(error, PrivateFsError::Io { .. }), "{error}");
        assert!(!root.path().join("none").exists());
    }

    #[test]
    fn relative_paths_and_quoting() {
        assert_eq!(
            shell_quote(Path::new("/home/ann/.satchel")),
            "/home/ann/.satchel"
        );
        assert_eq!(
            shell_quote(Path::new("/tmp/it's mine")),
            r"'/tmp/it'\''s mine'"
        );
        assert_eq!(shell_quote(Path::new("~x")), "'~x'");
        assert_eq!(shell_quote(Path::new("$HOME")), "'$HOME'");
        assert!(matches!(
            write_private_file(Path::new("/"), b"x"),
            Err(PrivateFsError::NotAFile { .. })
        ));
    }
}
