//! Typed library errors. Every variant that concerns a file names it, so a
//! binary can print `error: {err}` as one line that tells the user what to fix.

use std::path::{Path, PathBuf};

/// Errors returned by the wordspot library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the OS level.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error (shown in the message, so not chained as a source).
        error: std::io::Error,
    },
    /// Audio could not be decoded or is unusable (empty, corrupt, NaN...).
    #[error("{}: {msg}", path.display())]
    Audio {
        /// The audio file (`-` for standard input).
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A model file is missing, corrupt or does not have the expected shape.
    #[error("{}: {msg}", path.display())]
    Model {
        /// The model or sidecar file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A template store, manifest, stats or labels file is missing or malformed.
    #[error("{}: {msg}", path.display())]
    Format {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it (with a line number where there is one).
        msg: String,
    },
    /// Audio device problems (not found, unsupported format, stream failure).
    #[error("audio device: {0}")]
    Device(String),
    /// Invalid argument or configuration (empty keyword, zero-length query...).
    #[error("{0}")]
    Invalid(String),
}

/// Result alias for the library.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            error: source,
        }
    }
    /// An [`Error::Audio`] for `path`.
    pub fn audio(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::Audio {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }
    /// An [`Error::Model`] for `path`.
    pub fn model(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::Model {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }
    /// An [`Error::Format`] for `path`.
    pub fn format(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }
    /// An [`Error::Invalid`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
}
