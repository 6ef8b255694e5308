//! Checks on the descriptors before anything reads them: everything prost-build and
//! tonic-build assume of their input (and `panic!` on, or turn into code that does not
//! compile, when it does not hold) is checked here, so bad input gets an error naming the
//! element instead. protoc and protox never produce most of these faults; hand-built or
//! damaged requests do.
//!
//! A stage of the pipeline, after the index. Takes the descriptors' [`Index`] and the
//! [`Params`](crate::Params); gives nothing but the problems it finds, so that no later stage meets
//! input prost-build or tonic-build would panic on. Every type name resolves through the index.
//!
//! Also refused here: editions files that were not lowered (`editions`: descriptors built by hand
//! as prost-types values, which cannot carry `features`), and types the output would refer to
//! without generating them (a package that is neither generated nor mapped with `extern_path=`).

use crate::error::{Diagnostic, DiagnosticKind, Error};
use crate::ident;
use crate::index::{Index, TypeEntry};
use crate::load::{Descriptors, OPTIONS_PROTO_NAME};
use crate::options::Params;
use crate::proto::{FullName, SourceIndex};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto};
use std::collections::{BTreeMap, BTreeSet};

/// Why an editions file that was not lowered is refused.
const EDITIONS_NOT_LOWERED: &str = "an editions file must be read from an encoded \
     CodeGeneratorRequest or FileDescriptorSet (`Descriptors::from_request`, \
     `Descriptors::from_file_descriptor_set`): prost-types values cannot carry its features";

/// Every problem with the descriptors that would make prost-build or tonic-build fail
/// (checked before the model is built, so every front end and command sees them); what
/// passes is [`Checked`].
pub fn check(index: &Index<'_>, params: &Params) -> Result<Checked, Vec<Diagnostic>> {
    let descriptors = index.descriptors();
    let mut checker = walk(index, params);
    if !checker.problems.is_empty() {
        return Err(checker.problems);
    }
    checker.include_file(descriptors);
    Ok(Checked {
        output: checker.output,
    })
}

/// Descriptors that passed [`check`], with what generated code needs beyond it, found in
/// the same walk: every type it refers to is generated in the same run (or mapped with
/// `extern_path=`), and the include file is not a package's file.
#[derive(Debug)]
pub struct Checked {
    output: Vec<Diagnostic>,
}

impl Checked {
    /// Whether code can be generated. Only generation asks: `inspect` can show a proto
    /// whose imports are not generated.
    pub fn for_output(self) -> Result<(), Error> {
        match Error::from_diagnostics(self.output) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

fn walk<'a>(index: &'a Index<'a>, params: &'a Params) -> Checker<'a> {
    let descriptors = index.descriptors();
    let mut checker = Checker {
        index,
        generated_modules: descriptors
            .files
            .iter()
            .filter(|f| descriptors.to_generate.iter().any(|n| n == f.name()))
            .map(|f| ident::module_of(f.package()))
            .collect(),
        params,
        problems: descriptors.problems().to_vec(),
        output: Vec::new(),
        unlocated: Vec::new(),
    };
    let mut names = BTreeSet::new();
    for file in &descriptors.files {
        if !names.insert(file.name()) {
            checker.problems.push(Diagnostic::new(
                DiagnosticKind::InvalidDescriptor,
                None,
                format!("file `{}` is in the request twice", file.name()),
            ));
        }
        checker.file(
            index.source(file),
            descriptors.to_generate.iter().any(|n| n == file.name()),
        );
    }
    checker
}

/// What a type name may refer to where it is used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TypeKind {
    Message,
    MapEntry,
    Enum,
}

impl TypeKind {
    /// The kind of the type the index resolved a name to.
    fn of(entry: &TypeEntry<'_>) -> Self {
        match entry {
            TypeEntry::Message(message) if message.is_map_entry() => TypeKind::MapEntry,
            TypeEntry::Message(_) => TypeKind::Message,
            TypeEntry::Enum(_) => TypeKind::Enum,
        }
    }
}

struct Checker<'a> {
    /// Every type name resolves through it.
    index: &'a Index<'a>,
    generated_modules: BTreeSet<Vec<String>>,
    params: &'a Params,
    problems: Vec<Diagnostic>,
    /// Problems only for generation ([`output`]).
    output: Vec<Diagnostic>,
    /// Elements of the current file that its source info has no location for.
    unlocated: Vec<String>,
}

/// The element being checked: its kind, fully qualified name and descriptor path.
struct Element<'s, 'a> {
    source: &'s SourceIndex<'a>,
    what: String,
    path: Vec<i32>,
}

impl Checker<'_> {
    fn push(&mut self, kind: DiagnosticKind, at: &Element<'_, '_>, problem: impl AsRef<str>) {
        let message = if at.what.is_empty() {
            problem.as_ref().to_owned()
        } else {
            format!("{}: {}", at.what, problem.as_ref())
        };
        self.problems.push(Diagnostic::new(
            kind,
            Some(at.source.location(&at.path)),
            message,
        ));
    }

    fn invalid(&mut self, at: &Element<'_, '_>, problem: impl AsRef<str>) {
        self.push(DiagnosticKind::InvalidDescriptor, at, problem);
    }

    /// Requires a source location for `at` if the file has source info; the file's
    /// missing locations are reported together, by [`Checker::file`].
    fn located(&mut self, at: &Element<'_, '_>) {
        if !at.source.covers(&at.path) {
            self.unlocated
                .push(format!("{} (path {:?})", at.what, at.path));
        }
    }

    /// Requires the element to have a name; `false` (and no further checks) also for a name
    /// that is not an identifier, which the model's name checks report with the others.
    fn name(&mut self, at: &Element<'_, '_>, name: Option<&str>) -> bool {
        match name {
            Some(name) => ident::is_proto_identifier(name),
            None => {
                self.invalid(at, "it has no name");
                false
            }
        }
    }
}

impl Checker<'_> {
    fn file(&mut self, source: &SourceIndex<'_>, generated: bool) {
        let file = source.file();
        let at = Element {
            source,
            // The location names the file.
            what: String::new(),
            path: Vec::new(),
        };
        if file.name.as_deref().is_none_or(str::is_empty) {
            self.invalid(&at, "a file has no name");
        }
        match file.syntax.as_deref() {
            // An unset string reads as "", so "" is proto2 as well (see `messages`).
            None | Some("" | "proto2" | "proto3") => {}
            Some("editions") => self.push(DiagnosticKind::Unsupported, &at, EDITIONS_NOT_LOWERED),
            Some(other) => self.push(
                DiagnosticKind::Unsupported,
                &at,
                format!("unknown syntax `{other}`; rust-stream reads proto2 and proto3"),
            ),
        }
        let package = file.package();
        if !package.is_empty() && !package.split('.').all(ident::is_proto_identifier) {
            // The model's name checks report it; every name in the file would be wrong too.
            return;
        }
        let prefix = FullName::package(package);
        for (i, message) in file.message_type.iter().enumerate() {
            self.message(source, &prefix, message, vec![4, i as i32], generated);
        }
        for (i, e) in file.enum_type.iter().enumerate() {
            self.enumeration(source, &prefix, e, vec![5, i as i32]);
        }
        self.services(source, &prefix, generated);
        let unlocated = std::mem::take(&mut self.unlocated);
        if let Some(first) = unlocated.first() {
            self.invalid(
                &at,
                format!(
                    "its source info has no location for {} element(s) prost-build documents, \
                     the first {first}; send complete source info or none",
                    unlocated.len()
                ),
            );
        }
    }

    fn services(&mut self, source: &SourceIndex<'_>, prefix: &FullName, generated: bool) {
        let file = source.file();
        for (i, service) in file.service.iter().enumerate() {
            let path = vec![6, i as i32];
            let service_name = prefix.child(service.name());
            let at = Element {
                source,
                what: format!("service `{}`", service_name.shown()),
                path,
            };
            if !self.name(&at, service.name.as_deref()) {
                continue;
            }
            self.located(&at);
            for (m, method) in service.method.iter().enumerate() {
                let mut path = at.path.clone();
                path.extend([2, m as i32]);
                let method_at = Element {
                    source,
                    what: format!("method `{}.{}`", service_name.shown(), method.name()),
                    path,
                };
                if !self.name(&method_at, method.name.as_deref()) {
                    continue;
                }
                self.located(&method_at);
                // Fields 2 and 3 of MethodDescriptorProto.
                for (role, field, ty) in [
                    ("request type", 2, method.input_type.as_deref()),
                    ("response type", 3, method.output_type.as_deref()),
                ] {
                    self.type_name(&method_at, role, ty, &[TypeKind::Message], generated);
                    let mut type_path = method_at.path.clone();
                    type_path.push(field);
                    self.method_scope(source, service, &type_path, ty);
                }
            }
        }
    }

    /// protoc looks a relative type name of a method up in the service's scope first, where
    /// the service's methods are: in `rpc Status(Req) returns (Status)` the response type is
    /// the method, and protoc refuses it ("is not a message type"). protox takes the message,
    /// so the name as written is checked here; the descriptors only hold the name it
    /// resolved to, and the span of the type name tells which suffix of it was written.
    /// A compound name (`Status.Inner`) passes protoc, and so here: a method is not a scope,
    /// so its lookup goes on outwards.
    fn method_scope(
        &mut self,
        source: &SourceIndex<'_>,
        service: &prost_types::ServiceDescriptorProto,
        type_path: &[i32],
        resolved: Option<&str>,
    ) {
        let Some(written) = resolved
            .zip(source.span(type_path))
            .and_then(|(resolved, span)| written_name(resolved, span))
            .filter(|written| !written.starts_with('.') && !written.contains('.'))
        else {
            return;
        };
        let service_name = FullName::of(source.file().package(), service.name());
        let Some(method_path) = self.index.method_path(service_name.child(written).as_str()) else {
            return;
        };
        let resolved = resolved.unwrap_or_default();
        self.problems.push(Diagnostic::new(
            DiagnosticKind::Syntax,
            Some(source.location(type_path)),
            format!(
                "\"{written}\" is not a message type: inside service {service} it names the \
                 method {service}.{written} ({at}); write \"{resolved}\" or rename one of them",
                service = service_name.shown(),
                at = source.location(method_path),
            ),
        ));
    }

    fn message(
        &mut self,
        source: &SourceIndex<'_>,
        prefix: &FullName,
        message: &DescriptorProto,
        path: Vec<i32>,
        generated: bool,
    ) {
        let full = prefix.child(message.name());
        let map_entry = message.options.as_ref().is_some_and(|o| o.map_entry());
        let at = Element {
            source,
            what: format!(
                "{} `{}`",
                if map_entry { "map entry" } else { "message" },
                full.shown()
            ),
            path,
        };
        if !self.name(&at, message.name.as_deref()) {
            return;
        }
        let external = self.params.extern_path_of(full.as_str()).is_some();
        if map_entry {
            self.map_entry(&at, message, generated);
            return;
        }
        if !external {
            self.located(&at);
        }
        let mut numbers = BTreeMap::new();
        for (i, field) in message.field.iter().enumerate() {
            let mut path = at.path.clone();
            path.extend([2, i as i32]);
            let field_at = Element {
                source,
                what: format!("field `{}.{}`", full.shown(), field.name()),
                path,
            };
            if !external {
                self.located(&field_at);
            }
            if let Some(other) = numbers.insert(field.number(), field.name()) {
                self.invalid(
                    &field_at,
                    format!(
                        "its number {} is also the number of field `{other}`",
                        field.number()
                    ),
                );
            }
            self.field(&field_at, field, generated);
            if let Some(index) = field.oneof_index
                && usize::try_from(index).map_or(true, |i| i >= message.oneof_decl.len())
            {
                self.invalid(
                    &field_at,
                    format!(
                        "its oneof_index {index} is out of range: the message declares {} oneof(s)",
                        message.oneof_decl.len()
                    ),
                );
            }
        }
        for (i, oneof) in message.oneof_decl.iter().enumerate() {
            let mut path = at.path.clone();
            path.extend([8, i as i32]);
            let oneof_at = Element {
                source,
                what: format!("oneof `{}.{}`", full.shown(), oneof.name()),
                path,
            };
            self.name(&oneof_at, oneof.name.as_deref());
            // prost-build documents only oneofs with a field that is not proto3 `optional`
            // (the others are synthetic).
            let real = message
                .field
                .iter()
                .any(|f| f.oneof_index == Some(i as i32) && !f.proto3_optional.unwrap_or(false));
            if real && !external {
                self.located(&oneof_at);
            }
        }
        for (i, nested) in message.nested_type.iter().enumerate() {
            let mut path = at.path.clone();
            // A map entry is synthesized, without a source location of its own: its
            // problems are reported at the map field that declares it.
            let entry = full.child(nested.name());
            let is_entry = nested.options.as_ref().is_some_and(|o| o.map_entry());
            match message
                .field
                .iter()
                .position(|f| f.type_name() == entry.as_str())
            {
                Some(field) if is_entry => path.extend([2, field as i32]),
                _ => path.extend([3, i as i32]),
            }
            self.message(source, &full, nested, path, generated);
        }
        for (i, e) in message.enum_type.iter().enumerate() {
            let mut path = at.path.clone();
            path.extend([4, i as i32]);
            self.enumeration(source, &full, e, path);
        }
    }

    /// prost-build reads a map entry's `field[0]` as the key and `field[1]` as the value,
    /// asserting their names.
    fn map_entry(&mut self, at: &Element<'_, '_>, message: &DescriptorProto, generated: bool) {
        let [key, value] = message.field.as_slice() else {
            self.invalid(
                at,
                format!(
                    "a map entry has exactly two fields, `key` and `value`; it has {}",
                    message.field.len()
                ),
            );
            return;
        };
        if key.name() != "key"
            || value.name() != "value"
            || key.number() != 1
            || value.number() != 2
        {
            self.invalid(
                at,
                "a map entry's fields are `key = 1` and `value = 2`, in that order",
            );
            return;
        }
        let key_ok = matches!(
            key.r#type.and_then(|t| Type::try_from(t).ok()),
            Some(
                Type::Int32
                    | Type::Int64
                    | Type::Uint32
                    | Type::Uint64
                    | Type::Sint32
                    | Type::Sint64
                    | Type::Fixed32
                    | Type::Fixed64
                    | Type::Sfixed32
                    | Type::Sfixed64
                    | Type::Bool
                    | Type::String
            )
        );
        if !key_ok {
            self.invalid(at, "a map key is an integer, `bool` or `string`");
        }
        for field in [key, value] {
            let field_at = Element {
                source: at.source,
                what: format!("{} field `{}`", at.what, field.name()),
                path: at.path.clone(),
            };
            self.field(&field_at, field, generated);
        }
    }

    fn field(&mut self, at: &Element<'_, '_>, field: &FieldDescriptorProto, generated: bool) {
        if !self.name(at, field.name.as_deref()) {
            return;
        }
        if !(1..=536_870_911).contains(&field.number()) {
            self.invalid(
                at,
                format!("its number {} is outside 1..=536870911", field.number()),
            );
        }
        if field.label.is_some_and(|l| Label::try_from(l).is_err()) {
            self.invalid(
                at,
                format!("its label {} is unknown", field.label.unwrap_or_default()),
            );
        }
        let Some(ty) = field.r#type.and_then(|t| Type::try_from(t).ok()) else {
            self.invalid(
                at,
                match field.r#type {
                    Some(t) => format!("its type {t} is unknown"),
                    None => "it has no type".to_owned(),
                },
            );
            return;
        };
        match ty {
            Type::Message | Type::Group => self.type_name(
                at,
                "type",
                field.type_name.as_deref(),
                &[TypeKind::Message, TypeKind::MapEntry],
                generated,
            ),
            Type::Enum => self.type_name(
                at,
                "type",
                field.type_name.as_deref(),
                &[TypeKind::Enum],
                generated,
            ),
            _ => {}
        }
        if let Some(default) = &field.default_value
            && let Err(problem) = check_default(ty, default, field.type_name(), self.index)
        {
            self.invalid(at, format!("its default value `{default}` {problem}"));
        }
    }

    /// A type name as prost-build resolves it: fully qualified, defined among the
    /// descriptors as one of `kinds`, and generated (or mapped with `extern_path=`) if
    /// generated code refers to it.
    fn type_name(
        &mut self,
        at: &Element<'_, '_>,
        role: &str,
        name: Option<&str>,
        kinds: &[TypeKind],
        generated: bool,
    ) {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            self.invalid(at, format!("its {role} has no name"));
            return;
        };
        if !name.starts_with('.') || name[1..].split('.').any(|part| part.is_empty()) {
            self.invalid(
                at,
                format!("its {role} `{name}` is not fully qualified (`.package.Message`)"),
            );
            return;
        }
        if self.params.extern_path_of(name).is_some() {
            return;
        }
        let Some(info) = self.index.type_named(name) else {
            self.push(
                DiagnosticKind::UnresolvedType,
                at,
                format!("its {role} `{name}` is not defined in any file of the request"),
            );
            return;
        };
        if !kinds.contains(&TypeKind::of(info)) {
            let is = match info {
                TypeEntry::Enum(_) => "an enum",
                TypeEntry::Message(_) => "a message",
            };
            self.invalid(at, format!("its {role} `{name}` is {is}"));
            return;
        }
        let defined_in = info.file();
        let file = defined_in.name().to_owned();
        let module = ident::module_of(defined_in.package());
        let well_known = name.starts_with(".google.protobuf.") || file == OPTIONS_PROTO_NAME;
        if generated && !well_known && !self.generated_modules.contains(&module) {
            let package = defined_in.package();
            let mapped = if package.is_empty() {
                name.to_owned()
            } else {
                format!(".{package}")
            };
            self.output.push(Diagnostic::new(
                DiagnosticKind::UnresolvedType,
                Some(at.source.location(&at.path)),
                format!(
                    "{}: its {role} `{name}` is defined in `{file}`, whose code is not \
                     generated; add `{file}` to the files to generate, or map it to \
                     existing Rust code with `extern_path={mapped}=::crate_name::path`",
                    at.what
                ),
            ));
        }
    }

    fn enumeration(
        &mut self,
        source: &SourceIndex<'_>,
        prefix: &FullName,
        e: &EnumDescriptorProto,
        path: Vec<i32>,
    ) {
        let full = prefix.child(e.name());
        let at = Element {
            source,
            what: format!("enum `{}`", full.shown()),
            path,
        };
        if !self.name(&at, e.name.as_deref()) {
            return;
        }
        let external = self.params.extern_path_of(full.as_str()).is_some();
        if external {
            return;
        }
        self.located(&at);
        if e.value.is_empty() {
            self.invalid(&at, "it has no values");
        }
        for (i, value) in e.value.iter().enumerate() {
            let mut path = at.path.clone();
            path.extend([2, i as i32]);
            let value_at = Element {
                source,
                what: format!("enum value `{}.{}`", full.shown(), value.name()),
                path,
            };
            if self.name(&value_at, value.name.as_deref()) {
                self.located(&value_at);
            }
        }
    }

    /// An include file named like a package's file would overwrite it.
    fn include_file(&mut self, descriptors: &Descriptors) {
        let Some(include) = &self.params.include_file else {
            return;
        };
        if let Some(package) = self
            .generated_modules
            .iter()
            .find(|module| crate::ident::file_name(module, self.params.stream_only) == *include)
        {
            let package = descriptors
                .files
                .iter()
                .find(|f| ident::module_of(f.package()) == *package)
                .map_or("", |f| f.package());
            self.output.push(Diagnostic::new(
                DiagnosticKind::InvalidOption,
                None,
                format!(
                    "parameter `include_file`: `{include}` is the file generated for package \
                     `{package}`; choose another name (such as `mod.rs`)"
                ),
            ));
        }
    }
}

/// Checks a proto2 default value the way prost-build and prost-derive read it.
fn check_default(
    ty: Type,
    default: &str,
    type_name: &str,
    index: &Index<'_>,
) -> Result<(), String> {
    let number = |ok: bool| {
        if ok {
            Ok(())
        } else {
            let name = ty.as_str_name().trim_start_matches("TYPE_").to_lowercase();
            Err(format!("is not a valid `{name}`"))
        }
    };
    match ty {
        Type::Bytes => unescape_c(default).map(drop),
        Type::String => Ok(()),
        Type::Bool => number(matches!(default, "true" | "false")),
        Type::Int32 | Type::Sint32 | Type::Sfixed32 => number(default.parse::<i32>().is_ok()),
        Type::Int64 | Type::Sint64 | Type::Sfixed64 => number(default.parse::<i64>().is_ok()),
        Type::Uint32 | Type::Fixed32 => number(default.parse::<u32>().is_ok()),
        Type::Uint64 | Type::Fixed64 => number(default.parse::<u64>().is_ok()),
        Type::Float | Type::Double => {
            number(matches!(default, "inf" | "-inf" | "nan") || default.parse::<f64>().is_ok())
        }
        Type::Enum => {
            let known = index
                .enumeration(type_name)
                .is_some_and(|e| e.enumeration.value.iter().any(|v| v.name() == default));
            if known {
                Ok(())
            } else {
                Err(format!("is not a value of `{type_name}`"))
            }
        }
        Type::Message | Type::Group => Err("is not allowed on a message field".to_owned()),
    }
}

/// prost-build's C unescaping of a `bytes` default, which panics on what this refuses.
fn unescape_c(s: &str) -> Result<Vec<u8>, String> {
    let src = s.as_bytes();
    let mut out = Vec::with_capacity(src.len());
    let mut p = 0;
    while p < src.len() {
        if src[p] != b'\\' {
            out.push(src[p]);
            p += 1;
            continue;
        }
        p += 1;
        let Some(&c) = src.get(p) else {
            return Err("ends with `\\`".to_owned());
        };
        let simple = match c {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(0x0a),
            b'r' => Some(0x0d),
            b't' => Some(0x09),
            b'v' => Some(0x0b),
            b'\\' | b'?' | b'\'' | b'"' => Some(c),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            p += 1;
        } else if c.is_ascii_digit() && c < b'8' {
            let mut octal = 0u32;
            let start = p;
            while p < src.len() && p < start + 3 && (b'0'..=b'7').contains(&src[p]) {
                octal = octal * 8 + u32::from(src[p] - b'0');
                p += 1;
            }
            out.push(
                u8::try_from(octal).map_err(|_| "has an octal escape above \\377".to_owned())?,
            );
        } else if c == b'x' || c == b'X' {
            let hex = src
                .get(p + 1..p + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .ok_or_else(|| "has a `\\x` escape without two hex digits".to_owned())?;
            let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            p += 3;
        } else {
            return Err(format!("has an unknown escape `\\{}`", c as char));
        }
    }
    Ok(out)
}

/// The type name written at `span` (one line: `[line, start, end]`) that resolved to
/// `resolved` (`.a.B.C`): the fully qualified name or the suffix (`a.B.C`, `B.C`, `C`) as
/// long as the span, each being one character or more longer than the next; `None` for a
/// span over several lines or of no such length (a name with spaces or comments inside).
fn written_name<'r>(resolved: &'r str, span: &[i32]) -> Option<&'r str> {
    let [_, start, end] = *span else {
        return None;
    };
    let width = usize::try_from(end.checked_sub(start)?).ok()?;
    std::iter::once(resolved)
        .chain(resolved.match_indices('.').map(|(i, _)| &resolved[i + 1..]))
        .find(|candidate| candidate.len() == width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_names_are_the_suffix_as_long_as_the_span() {
        for (resolved, span, written) in [
            (".acme.Status", &[6, 27, 33][..], Some("Status")),
            (".acme.Status", &[6, 27, 38], Some("acme.Status")),
            (".acme.Status", &[6, 27, 39], Some(".acme.Status")),
            (".acme.Status.Inner", &[6, 10, 22], Some("Status.Inner")),
            (".Status", &[0, 0, 6], Some("Status")),
            (".Status", &[0, 0, 7], Some(".Status")),
            (".acme.Status", &[6, 27, 30], None),
            (".acme.Status", &[6, 27, 7, 3], None),
            (".acme.Status", &[6, 27, 20], None),
            (".acme.Status", &[], None),
        ] {
            assert_eq!(written_name(resolved, span), written, "{resolved} {span:?}");
        }
    }

    #[test]
    fn c_escapes_are_read_as_prost_build_reads_them() {
        assert_eq!(unescape_c(r"a\n\x41\101\0").unwrap(), b"a\nAA\0");
        for bad in [r"\", r"\x4", r"\xzz", r"\q", r"\777", "\\x\u{e9}"] {
            assert!(unescape_c(bad).is_err(), "{bad}");
        }
    }
}
