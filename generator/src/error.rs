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

/// One problem with the input or the parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is, if it is about a proto element.
    pub location: Option<Location>,
    /// What is wrong, naming the element(s) involved.
    pub message: String,
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
    /// An error without a proto location (parameters, I/O, descriptor decoding).
    pub fn msg(message: impl Into<String>) -> Self {
        Error {
            diagnostics: vec![Diagnostic {
                location: None,
                message: message.into(),
            }],
        }
    }

    /// An error about the proto element at `location`.
    pub fn at(location: Option<Location>, message: impl Into<String>) -> Self {
        Error {
            diagnostics: vec![Diagnostic {
                location,
                message: message.into(),
            }],
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
