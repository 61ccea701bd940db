//! Files and folders only their owner may read: the database, the secret file, mail written to
//! disk. Created with these modes whatever the umask (0600 files, 0700 folders); what already
//! exists keeps its own.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `folder` and any missing parents, each `0700`.
///
/// # Errors
/// The I/O error.
pub fn create_folder(folder: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

/// Creates the folder that will hold `path`, if `path` names one.
///
/// # Errors
/// The I/O error.
pub fn create_parent_folder(path: &Path) -> io::Result<()> {
    match path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        Some(folder) => create_folder(folder),
        None => Ok(()),
    }
}

/// Options that create a new file `0600`, failing if it exists.
pub fn new_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates `path` as a new `0600` file, failing if it exists.
///
/// # Errors
/// The I/O error; `AlreadyExists` when the file is there.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    new_file_options().open(path)
}
