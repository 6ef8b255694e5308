//! The proto vocabulary every stage shares: full names ([`FullName`]) and source locations
//! ([`SourceIndex`]). Takes descriptors; gives names and locations, spelled one way.

use crate::error::Location;
use prost_types::FileDescriptorProto;
use prost_types::source_code_info::Location as Span;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;

/// A fully qualified proto name as descriptors spell type references: a leading dot, then
/// the package and the enclosing messages (`.pkg.Outer.Inner`, `.Name` without a package).
/// A package's own prefix (`.pkg`, or empty without a package) is a `FullName` too: the
/// scope its elements are named in.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FullName(String);

impl FullName {
    /// The scope of a package's top-level elements: `.pkg`, or empty without a package.
    pub fn package(package: &str) -> Self {
        if package.is_empty() {
            FullName(String::new())
        } else {
            FullName(format!(".{package}"))
        }
    }

    /// The element `name` declared at the top of `package`: `.pkg.Name`, or `.Name`.
    pub fn of(package: &str, name: &str) -> Self {
        FullName::package(package).child(name)
    }

    /// The element `name` declared inside this one: `.pkg.Outer.Name`.
    pub fn child(&self, name: &str) -> Self {
        FullName(format!("{}.{name}", self.0))
    }

    /// The name as descriptors spell it, with its leading dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as messages show it, without the leading dot (`pkg.Msg`).
    pub fn shown(&self) -> &str {
        self.0.strip_prefix('.').unwrap_or(&self.0)
    }
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Borrow<str> for FullName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<FullName> for String {
    fn from(name: FullName) -> String {
        name.0
    }
}

/// A file's source locations by element path, built once per file: looking each element up
/// by scanning the list would be quadratic in the size of the proto.
#[derive(Debug)]
pub struct SourceIndex<'a> {
    file: &'a FileDescriptorProto,
    /// `None` when the file has no source info at all.
    by_path: Option<HashMap<&'a [i32], &'a Span>>,
}

impl<'a> SourceIndex<'a> {
    /// Indexes every location of `file`'s source info.
    pub fn new(file: &'a FileDescriptorProto) -> Self {
        let by_path = file.source_code_info.as_ref().map(|info| {
            info.location
                .iter()
                .map(|l| (l.path.as_slice(), l))
                .collect()
        });
        SourceIndex { file, by_path }
    }

    /// The file this indexes.
    pub fn file(&self) -> &'a FileDescriptorProto {
        self.file
    }

    fn get(&self, path: &[i32]) -> Option<&'a Span> {
        self.by_path.as_ref()?.get(path).copied()
    }

    /// The 1-based line and column of the element at `path`, as far as known.
    pub fn location(&self, path: &[i32]) -> Location {
        let span = self.span(path);
        let at = |i: usize| {
            span.and_then(|s| s.get(i))
                .and_then(|&n| u32::try_from(n).ok())
                .and_then(|n| n.checked_add(1))
        };
        Location {
            file: self.file.name().to_owned(),
            line: at(0),
            column: at(1),
        }
    }

    /// The span of the element at `path` (`[line, start, end]` or `[line, start, line,
    /// end]`, zero-based), if the file has source info for it.
    pub fn span(&self, path: &[i32]) -> Option<&'a [i32]> {
        self.get(path).map(|l| l.span.as_slice())
    }

    /// `false` if the file has source info without a location for `path`.
    pub fn covers(&self, path: &[i32]) -> bool {
        self.by_path
            .as_ref()
            .is_none_or(|spans| spans.contains_key(path))
    }

    /// The comment lines attached to the element at `path`: leading, then trailing.
    pub fn comments(&self, path: &[i32]) -> Vec<String> {
        let Some(location) = self.get(path) else {
            return Vec::new();
        };
        let mut lines: Vec<String> = Vec::new();
        for text in [&location.leading_comments, &location.trailing_comments]
            .into_iter()
            .flatten()
        {
            if !lines.is_empty() {
                lines.push(String::new());
            }
            let text = text.strip_suffix('\n').unwrap_or(text);
            lines.extend(text.split('\n').map(str::to_owned));
        }
        lines
    }
}
