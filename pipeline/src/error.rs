//! Errors of the pipeline library: what went wrong, where, and what to do.

use std::path::PathBuf;

/// A problem inside one raw text file, with its 1-based line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("line 1: the file is empty")]
    Empty,
    #[error("line {line}: the file ends here but {expected} was expected (truncated file?)")]
    Truncated { line: u64, expected: String },
    #[error("line {line}: expected {expected} {what} fields, got {got}")]
    FieldCount {
        line: u64,
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("line {line}: expected 25 joints per body, got {got}")]
    JointCount { line: u64, got: u64 },
    #[error("line {line}: {field} is not a number: {text:?}")]
    NotANumber {
        line: u64,
        field: &'static str,
        text: String,
    },
    #[error("line {line}: {field} is not a non-negative integer: {text:?}")]
    NotAnInteger {
        line: u64,
        field: &'static str,
        text: String,
    },
    #[error("line {line}: {field} is {value}, more than the {max} allowed")]
    OutOfRange {
        line: u64,
        field: &'static str,
        value: u64,
        max: u64,
    },
    #[error("line {line}: {field} is not finite: {text:?} (NaN or infinity in the sensor data)")]
    NonFinite {
        line: u64,
        field: &'static str,
        text: String,
    },
    #[error("line {line}: unexpected data after the end of the {declared}")]
    TrailingData { line: u64, declared: String },
    #[error("line {line}: {message}")]
    Invalid { line: u64, message: String },
}

impl ParseError {
    /// The 1-based line the error points at.
    pub fn line(&self) -> u64 {
        match self {
            Self::Empty => 1,
            Self::Truncated { line, .. }
            | Self::FieldCount { line, .. }
            | Self::JointCount { line, .. }
            | Self::NotANumber { line, .. }
            | Self::NotAnInteger { line, .. }
            | Self::OutOfRange { line, .. }
            | Self::NonFinite { line, .. }
            | Self::TrailingData { line, .. }
            | Self::Invalid { line, .. } => *line,
        }
    }
}

/// Why one raw file or clip did not become a sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("label file {file}: {source}")]
    Label { file: String, source: ParseError },
    #[error("{0}")]
    Clean(#[from] crate::clean::CleanError),
    #[error("{0}")]
    Rejected(String),
    #[error("cannot read the file: {0}")]
    Io(String),
}

impl SampleError {
    /// The line to blame, where there is one.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::Parse(e) | Self::Label { source: e, .. } => Some(e.line()),
            _ => None,
        }
    }
}

/// Errors that stop a whole command (bad arguments, unwritable output).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] skel_schemas::ManifestError),
    #[error(transparent)]
    Split(#[from] skel_schemas::SplitError),
    #[error("parquet shard {path}: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("arrow data for shard {path}: {source}")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow_schema::ArrowError,
    },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
}

impl PipelineError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
