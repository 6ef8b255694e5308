//! Errors that name the proto element they are about.

use std::fmt;

/// Where in a `.proto` file an error is (1-based line and column), as far as known.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The file, as protoc names it (relative to its include directory).
    pub file: String,
    /// 1-based line, if the descriptors carry source info.
    pub line: Option<u32>,
    /// 1-based column, if the descriptors carry source info.
    pub column: Option<u32>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// What kind of problem a [`Diagnostic`] reports, so each front end can present it its own
/// way (a compile error at an attribute, protoc's `error`, the CLI's `file:line:col`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The proto text does not parse or its names do not resolve.
    Syntax,
    /// A file could not be found, read or written.
    Io,
    /// The input uses something the generator does not support (such as editions).
    Unsupported,
    /// A proto name cannot become a Rust identifier.
    InvalidName,
    /// Two elements would get the same Rust name.
    NameClash,
    /// A type is used that is not defined, or whose code is not generated.
    UnresolvedType,
    /// A plugin parameter, build option or `rust_stream` proto option is invalid.
    InvalidOption,
    /// The descriptors are malformed (a hand-built or damaged request).
    InvalidDescriptor,
    /// The command line is wrong.
    Usage,
    /// Code the user owns no longer matches the protos: a handler method or a skeleton file
    /// of an RPC or a service that is gone.
    Stale,
    /// The generator produced something it cannot use: a bug in rust-stream.
    Internal,
}

/// One problem with the input or the parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What kind of problem this is.
    pub kind: DiagnosticKind,
    /// Where the problem is, if it is about a proto element.
    pub location: Option<Location>,
    /// What is wrong, naming the element(s) involved.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic of `kind` about the element at `location`.
    pub fn new(
        kind: DiagnosticKind,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            kind,
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Everything that went wrong in one run; the generator reports all problems it finds, not
/// just the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    diagnostics: Vec<Diagnostic>,
}

impl Error {
    /// An error of `kind` without a proto location (parameters, I/O, descriptor decoding).
    pub fn new(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Error::at(kind, None, message)
    }

    /// An error of `kind` about the proto element at `location`.
    pub fn at(
        kind: DiagnosticKind,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            diagnostics: vec![Diagnostic::new(kind, location, message)],
        }
    }

    /// Builds an error from collected diagnostics; `None` if there are none.
    pub fn from_diagnostics(mut diagnostics: Vec<Diagnostic>) -> Option<Self> {
        diagnostics.sort_by(|a, b| (&a.location, &a.message).cmp(&(&b.location, &b.message)));
        diagnostics.dedup();
        (!diagnostics.is_empty()).then_some(Error { diagnostics })
    }

    /// Each problem found, ordered by location.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        std::io::Error::other(err.to_string())
    }
}

/// The text of a panic's payload (`panic!("...")` carries a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
