//! Checks on the model that renaming cannot fix, run before prost-build: names prost-build
//! cannot spell in Rust, and clashes between names the user chose and names prost-build,
//! tonic-build or rust-stream derive from them, in every namespace of the output (a
//! package's module, a message's module, a struct's fields and the methods prost's derive
//! adds to it, an enum's or a oneof's variants). A clash names both sides and where each
//! is declared.
//!
//! A stage of the pipeline, after the model. Takes the [`Model`](crate::Model) and the
//! descriptors' [`Index`]; gives the problems renaming cannot fix. The namespaces are filled
//! from the index's declarations, scope by scope in declaration order (the first element to
//! take a name keeps it); a type a field names is looked up in the index too.

use crate::error::{Diagnostic, DiagnosticKind, Location};
use crate::ident;
use crate::ident::module_of;
use crate::index::{Declaration, Declared, Index};
use crate::model::Model;
use crate::proto::{FullName, SourceIndex};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

/// Every problem with the model, empty if there is none.
pub fn check(model: &Model, index: &Index<'_>) -> Vec<Diagnostic> {
    let descriptors = index.descriptors();
    let mut problems = Vec::new();
    let mut files: Vec<(Vec<String>, &FileDescriptorProto)> = descriptors
        .files
        .iter()
        .map(|f| (module_of(f.package()), f))
        .collect();
    files.sort_by(|a, b| a.1.name().cmp(b.1.name()));
    // Imports too: generated code names their types, through prost-build's names. Their
    // clashes are the business of whoever generates them.
    let generated: BTreeSet<&Vec<String>> = model.packages.iter().map(|p| &p.module).collect();
    for (module, file) in &files {
        let source = index.source(file);
        if let Some(problem) = package_problem(file.package()) {
            problems.push(Diagnostic::new(
                DiagnosticKind::InvalidName,
                Some(source.location(&[2])),
                problem,
            ));
        }
        if !generated.contains(module) {
            let mut found = Vec::new();
            Walk {
                index,
                source,
                problems: &mut found,
            }
            .scope(index.declarations(file), &mut Namespace::default());
            problems.extend(
                found
                    .into_iter()
                    .filter(|d| d.kind == DiagnosticKind::InvalidName),
            );
        }
    }
    for package in &model.packages {
        // The package module's type namespace: structs, enums and modules.
        let mut items = Namespace::default();
        for (_, file) in files.iter().filter(|(m, _)| *m == package.module) {
            let mut walk = Walk {
                index,
                source: index.source(file),
                problems: &mut problems,
            };
            walk.scope(index.declarations(file), &mut items);
        }
        let mut sub_packages = BTreeSet::new();
        for (module, file) in &files {
            if let Some((name, parent)) = module.split_last()
                && *parent == package.module
                && sub_packages.insert(name)
            {
                items.take(
                    name.clone(),
                    format!("the module of package `{}`", file.package()),
                    index.source(file).location(&[2]),
                    &mut problems,
                );
            }
        }
        let mut services = Namespace::default();
        for service in &package.services {
            let clashes = problems.len();
            services.take(
                service.rust_name.clone(),
                format!("service `{}`", service.full_name),
                service.location.clone(),
                &mut problems,
            );
            if problems.len() > clashes {
                // Its modules clash too; once is enough.
                continue;
            }
            for module in [
                service.tonic_client_module.clone(),
                service.tonic_server_module.clone(),
                service.stream_module.clone(),
            ] {
                items.take(
                    module.clone(),
                    format!("module `{module}` of service `{}`", service.full_name),
                    service.location.clone(),
                    &mut problems,
                );
            }
        }
    }
    problems
}

/// What is wrong with a package's name, if anything: a segment that is not an identifier
/// (only a hand-built request has one) or that case conversion leaves empty (`_`).
fn package_problem(package: &str) -> Option<String> {
    if package.is_empty() {
        return None;
    }
    if !package.split('.').all(ident::is_proto_identifier) {
        return Some(format!(
            "package `{package}` is not a dotted identifier; rename it"
        ));
    }
    let segment = package.split('.').find(|s| ident::is_unnamed(s))?;
    Some(format!(
        "package `{package}` has no Rust module name: case conversion leaves nothing of \
         `{segment}`; rename it"
    ))
}

/// The names taken in one Rust namespace, each with the element that took it.
#[derive(Default)]
struct Namespace {
    taken: BTreeMap<String, (String, Location)>,
}

impl Namespace {
    /// Takes `rust_name` for `what` (declared at `location`), reporting a clash with the
    /// element that took it first.
    fn take(
        &mut self,
        rust_name: String,
        what: String,
        location: Location,
        problems: &mut Vec<Diagnostic>,
    ) {
        // `r#type` and `type` are one identifier.
        match self.taken.entry(ident::unraw(&rust_name).to_owned()) {
            Entry::Occupied(first) => {
                let (other, at) = first.get();
                problems.push(Diagnostic::new(
                    DiagnosticKind::NameClash,
                    Some(location),
                    format!(
                        "{what} and {other} (at {at}) both become `{rust_name}` in Rust; \
                         rename one of them"
                    ),
                ));
            }
            Entry::Vacant(free) => {
                free.insert((what, location));
            }
        }
    }
}

/// A walk over the messages and enums of one file, naming each as prost-build does.
struct Walk<'a, 'f> {
    index: &'a Index<'f>,
    source: &'a SourceIndex<'f>,
    problems: &'a mut Vec<Diagnostic>,
}

impl Walk<'_, '_> {
    /// Checks `proto_name` is an identifier (a hand-built request may hold anything) and
    /// `rust_name`, prost-build's name for it, is a Rust identifier.
    fn named(
        &mut self,
        what: &str,
        proto_name: &str,
        rust_name: &str,
        location: &Location,
    ) -> bool {
        let problem = if !ident::is_proto_identifier(proto_name) {
            format!("{what} is not an identifier; rename it")
        } else if rust_name.is_empty() {
            format!("{what} has no Rust name: case conversion leaves nothing of it; rename it")
        } else if syn::parse_str::<syn::Ident>(rust_name).is_err() {
            format!("{what} becomes `{rust_name}` in Rust, which is not an identifier; rename it")
        } else {
            return true;
        };
        self.problems.push(Diagnostic::new(
            DiagnosticKind::InvalidName,
            Some(location.clone()),
            problem,
        ));
        false
    }

    /// Checks the messages and enums a scope (a file or a message) declares, in order (map
    /// entries are not Rust items); their Rust names go in `items`.
    fn scope(&mut self, declarations: &[Declaration<'_>], items: &mut Namespace) {
        for declaration in declarations {
            match &declaration.declared {
                Declared::Message { .. } if declaration.declared.is_map_entry() => {}
                Declared::Message { message, nested } => {
                    self.message(declaration, message, nested, items);
                }
                Declared::Enum(enumeration) => self.enumeration(declaration, enumeration, items),
            }
        }
    }

    fn message(
        &mut self,
        declaration: &Declaration<'_>,
        message: &DescriptorProto,
        nested: &[Declaration<'_>],
        items: &mut Namespace,
    ) {
        let full_name = &declaration.full_name;
        let full = full_name.shown();
        let path = declaration.path.as_slice();
        let location = self.source.location(path);
        let what = format!("message `{full}`");
        let rust_name = ident::to_upper_camel(message.name());
        if !self.named(&what, message.name(), &rust_name, &location) {
            return;
        }
        items.take(rust_name, what, location.clone(), self.problems);

        // The struct's fields: plain fields, then one per oneof (proto3 `optional` fields
        // are plain fields in prost-build, not oneofs).
        let mut fields = Namespace::default();
        // The methods prost's derive adds to the struct for some fields.
        let mut methods = Namespace::default();
        let mut oneofs: BTreeMap<i32, Vec<(usize, &str)>> = BTreeMap::new();
        for (f, field) in message.field.iter().enumerate() {
            match field.oneof_index {
                Some(o) if !field.proto3_optional() => {
                    oneofs.entry(o).or_default().push((f, field.name()));
                }
                _ => {
                    let what = format!("field `{full}.{}`", field.name());
                    let location = self.source.location(&[path, &[2, f as i32]].concat());
                    let rust_name = ident::to_snake(field.name());
                    if self.named(&what, field.name(), &rust_name, &location) {
                        for (method, role) in
                            self.accessors(full_name, field, &rust_name, &what, &location)
                        {
                            let what = format!("the {role} of {what}");
                            methods.take(method, what, location.clone(), self.problems);
                        }
                        fields.take(rust_name, what, location, self.problems);
                    }
                }
            }
        }
        // The names of its nested messages and enums; map entries are not Rust items.
        let nested_names: Vec<&str> = nested
            .iter()
            .filter(|n| !n.declared.is_map_entry())
            .map(|n| n.declared.name())
            .collect();
        if nested_names.is_empty() && oneofs.is_empty() {
            return;
        }
        items.take(
            ident::to_snake(message.name()),
            format!("the module of message `{full}`"),
            location,
            self.problems,
        );
        let mut module = Namespace::default();
        self.scope(nested, &mut module);
        for (o, members) in oneofs {
            let Some(oneof) = message.oneof_decl.get(o as usize) else {
                continue;
            };
            let what = format!("oneof `{full}.{}`", oneof.name());
            let location = self.source.location(&[path, &[8, o]].concat());
            let rust_name = ident::to_snake(oneof.name());
            if !self.named(&what, oneof.name(), &rust_name, &location) {
                continue;
            }
            fields.take(rust_name, what.clone(), location.clone(), self.problems);
            // prost-build's `has_type_name_conflict`: a oneof named like a nested type gets
            // the suffix `OneOf`.
            let mut type_name = ident::to_upper_camel(oneof.name());
            if nested_names
                .iter()
                .any(|n| ident::to_upper_camel(n) == type_name)
            {
                type_name.push_str("OneOf");
            }
            module.take(
                type_name,
                format!("the enum of {what}"),
                location,
                self.problems,
            );
            let mut variants = Namespace::default();
            for (f, name) in members {
                let what = format!("field `{full}.{name}` of {what}");
                let location = self.source.location(&[path, &[2, f as i32]].concat());
                let rust_name = ident::to_upper_camel(name);
                if self.named(&what, name, &rust_name, &location) {
                    variants.take(rust_name, what, location, self.problems);
                }
            }
        }
    }

    /// The methods prost's derive generates on the struct of the message named `message` for
    /// `field`, whose Rust name is `rust_name`, each with its role: a getter for an optional
    /// scalar, a getter and `set_` (or, repeated, `push_`) for an enum, `get_` and `insert_`
    /// for a map of enum values.
    fn accessors(
        &mut self,
        message: &FullName,
        field: &FieldDescriptorProto,
        rust_name: &str,
        what: &str,
        location: &Location,
    ) -> Vec<(String, &'static str)> {
        let bare = ident::unraw(rust_name);
        // prost-build's map fields: those whose type is a map entry nested in the message.
        let entry = self
            .index
            .message(field.type_name())
            .filter(|entry| entry.is_map_entry())
            .filter(|_| {
                field
                    .type_name()
                    .rsplit_once('.')
                    .is_some_and(|(scope, _)| scope == message.as_str())
            });
        if let Some(entry) = entry {
            if entry
                .message
                .field
                .get(1)
                .is_none_or(|v| v.r#type() != Type::Enum)
            {
                return Vec::new();
            }
            if bare != rust_name {
                // prost's derive would panic at compile time forming `get_r#type`.
                self.problems.push(Diagnostic::new(
                    DiagnosticKind::InvalidName,
                    Some(location.clone()),
                    format!(
                        "{what} is a map of enum values named like a Rust keyword, for which \
                         prost cannot name its `get_` and `insert_` methods; rename it"
                    ),
                ));
                return Vec::new();
            }
            return vec![
                (format!("get_{bare}"), "getter"),
                (format!("insert_{bare}"), "inserter"),
            ];
        }
        let proto2 = matches!(self.source.file().syntax(), "" | "proto2");
        match field.r#type() {
            Type::Enum if field.label() == Label::Repeated => vec![
                (rust_name.to_owned(), "getter"),
                (format!("push_{bare}"), "appender"),
            ],
            Type::Enum => vec![
                (rust_name.to_owned(), "getter"),
                (format!("set_{bare}"), "setter"),
            ],
            Type::Message | Type::Group => Vec::new(),
            _ if field.proto3_optional() || (proto2 && field.label() == Label::Optional) => {
                vec![(rust_name.to_owned(), "getter")]
            }
            _ => Vec::new(),
        }
    }

    fn enumeration(
        &mut self,
        declaration: &Declaration<'_>,
        enumeration: &EnumDescriptorProto,
        items: &mut Namespace,
    ) {
        let full = declaration.full_name.shown();
        let path = declaration.path.as_slice();
        let location = self.source.location(path);
        let what = format!("enum `{full}`");
        let rust_name = ident::to_upper_camel(enumeration.name());
        if !self.named(&what, enumeration.name(), &rust_name, &location) {
            return;
        }
        let mut variants = Namespace::default();
        let mut numbers = BTreeSet::new();
        for (v, value) in enumeration.value.iter().enumerate() {
            // prost-build skips aliases (`allow_alias`) of a number it has seen.
            if !numbers.insert(value.number()) {
                continue;
            }
            let what = format!("value `{}` of enum `{full}`", value.name());
            let location = self.source.location(&[path, &[2, v as i32]].concat());
            let variant = ident::enum_variant(&rust_name, value.name());
            if self.named(&what, value.name(), &variant, &location) {
                variants.take(variant, what, location, self.problems);
            }
        }
        items.take(rust_name, what, location, self.problems);
    }
}

#[cfg(test)]
mod tests {
    use crate::error::{DiagnosticKind, Error};
    use crate::load::Descriptors;
    use crate::options::Params;

    /// Generates `t.proto` (`body`, after a proto3 syntax line unless it has its own) and
    /// `u.proto` (`other`, if any) with `params`.
    fn generate_two(
        body: &str,
        other: Option<&str>,
        params: &str,
    ) -> Result<Vec<crate::GeneratedFile>, Error> {
        let dir = tempfile::tempdir().unwrap();
        let mut protos = Vec::new();
        for (name, body) in [("t.proto", Some(body)), ("u.proto", other)] {
            let Some(body) = body else { continue };
            let proto = dir.path().join(name);
            let syntax = if body.starts_with("syntax") {
                ""
            } else {
                "syntax = \"proto3\";\n"
            };
            std::fs::write(&proto, format!("{syntax}{body}")).unwrap();
            protos.push(proto);
        }
        let descriptors = Descriptors::compile(&protos, &[dir.path()]).expect(body);
        crate::generate(&descriptors, &Params::parse(params).unwrap())
    }

    fn generate(body: &str, params: &str) -> Result<Vec<crate::GeneratedFile>, Error> {
        generate_two(body, None, params)
    }

    /// Each diagnostic as `kind location: message`.
    fn refusal(body: &str) -> Vec<String> {
        refusal_two(body, None)
    }

    fn refusal_two(body: &str, other: Option<&str>) -> Vec<String> {
        let err = generate_two(body, other, "").expect_err(body);
        err.diagnostics()
            .iter()
            .map(|d| format!("{:?} {d}", d.kind))
            .collect()
    }

    /// A message, an enum, a field, a oneof and an enum value prost-build would name with
    /// nothing, and a package, are refused at their declaration.
    #[test]
    fn names_made_only_of_underscores_that_prost_names_are_refused() {
        let no_name = "has no Rust name: case conversion leaves nothing of it; rename it";
        for (body, expected) in [
            (
                "package p;\nmessage _ { string a = 1; }\n",
                format!("InvalidName t.proto:3:1: message `p._` {no_name}"),
            ),
            (
                "package p;\nmessage M { message __ {} }\n",
                format!("InvalidName t.proto:3:13: message `p.M.__` {no_name}"),
            ),
            (
                "package p;\nmessage M { string __ = 1; }\n",
                format!("InvalidName t.proto:3:13: field `p.M.__` {no_name}"),
            ),
            (
                "package p;\nenum _ { A = 0; }\n",
                format!("InvalidName t.proto:3:1: enum `p._` {no_name}"),
            ),
            (
                "package p;\nenum E { _ = 0; }\n",
                format!("InvalidName t.proto:3:10: value `_` of enum `p.E` {no_name}"),
            ),
            (
                "package p;\nmessage M { oneof _ { string a = 1; } }\n",
                format!("InvalidName t.proto:3:13: oneof `p.M._` {no_name}"),
            ),
            (
                "package p;\nmessage M { oneof k { string __ = 1; } }\n",
                format!("InvalidName t.proto:3:23: field `p.M.__` of oneof `p.M.k` {no_name}"),
            ),
            (
                "package _;\nmessage M {}\n",
                "InvalidName t.proto:2:1: package `_` has no Rust module name: case conversion \
                 leaves nothing of `_`; rename it"
                    .to_owned(),
            ),
            (
                "package a.__.b;\nmessage M {}\n",
                "InvalidName t.proto:2:1: package `a.__.b` has no Rust module name: case \
                 conversion leaves nothing of `__`; rename it"
                    .to_owned(),
            ),
        ] {
            assert_eq!(refusal(body), [expected], "{body}");
        }
    }

    /// Unnamed elements of an imported file are refused too, though its package is not
    /// generated: prost-build would refer to them through an empty name. Here `A` and `a` of
    /// the imported package do not clash: whoever generates that package reports it.
    #[test]
    fn unnamed_elements_of_imported_files_are_refused() {
        let cases = [
            (
                "package _;\nmessage M {}\n",
                "._.M",
                "u.proto: package `_` has no Rust module name: case conversion leaves nothing \
              of `_`; rename it",
            ),
            (
                "package u;\nmessage _ {}\nmessage A {}\nmessage a {}\n",
                ".u._",
                "u.proto: message `u._` has no Rust name: case conversion leaves nothing of it; \
              rename it",
            ),
        ];
        for (imported, ty, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("u.proto"),
                format!("syntax = \"proto3\";\n{imported}"),
            )
            .unwrap();
            let proto = dir.path().join("t.proto");
            std::fs::write(
                &proto,
                format!(
                    "syntax = \"proto3\";\npackage p;\nimport \"u.proto\";\n\
                     service S {{ rpc A({ty}) returns ({ty}); }}\n"
                ),
            )
            .unwrap();
            let descriptors = Descriptors::compile(&[&proto], &[dir.path()]).unwrap();
            let err = crate::generate(&descriptors, &Params::default()).unwrap_err();
            let found: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
            assert_eq!(found, [expected], "{imported}");
        }
    }

    /// `package _` with an include file writes no file named `.rs` and no include file.
    #[test]
    fn an_unnamed_package_writes_no_files() {
        let err = generate("package _;\nmessage M {}\n", "include_file=mod.rs").unwrap_err();
        assert_eq!(err.diagnostics()[0].kind, DiagnosticKind::InvalidName);
    }

    /// Services and methods, which rust-stream names, keep names made only of underscores:
    /// the output parses (the emitter parses every file) and holds the decided names.
    #[test]
    fn services_and_methods_made_only_of_underscores_are_named() {
        let files = generate(
            "package p;\nmessage M { bytes data = 1; }\n\
             service _ {\n  rpc _(M) returns (M);\n  rpc __(stream M) returns (M);\n  \
             rpc ___(M) returns (stream M);\n  rpc _1(stream M) returns (stream M);\n}\n\
             service __S_ {\n  rpc a__b(M) returns (M);\n  rpc c_(M) returns (M);\n}\n",
            "include_file=mod.rs",
        )
        .unwrap();
        let code = &files.iter().find(|f| f.name == "p.rs").unwrap().content;
        for expected in [
            "pub trait __Handler",
            "pub mod __stream",
            "pub mod ___server",
            "pub trait __:",
            "async fn __(",
            "async fn ___(",
            "async fn ____(",
            "async fn _1(",
            "pub const __: &str = \"/p._/_\";",
            "pub const ___: &str = \"/p._/__\";",
            "pub mod s_stream",
            "async fn a_b(",
            "async fn c(",
        ] {
            assert!(code.contains(expected), "{expected} not in:\n{code}");
        }
    }

    /// Every pair of elements with one Rust name in one namespace is reported, at the
    /// second, naming the first and where it is.
    #[test]
    fn elements_with_one_rust_name_are_reported_with_both_locations() {
        for (body, expected) in [
            (
                "package p;\nmessage PingPong {}\nmessage Ping_Pong {}\n",
                "NameClash t.proto:4:1: message `p.Ping_Pong` and message `p.PingPong` \
                 (at t.proto:3:1) both become `PingPong` in Rust; rename one of them",
            ),
            (
                "package p;\nmessage Chunk {}\nmessage CHUNK {}\n",
                "NameClash t.proto:4:1: message `p.CHUNK` and message `p.Chunk` \
                 (at t.proto:3:1) both become `Chunk` in Rust; rename one of them",
            ),
            (
                "package p;\nmessage Item {}\nenum ITEM { X = 0; }\n",
                "NameClash t.proto:4:1: enum `p.ITEM` and message `p.Item` \
                 (at t.proto:3:1) both become `Item` in Rust; rename one of them",
            ),
            (
                "package p;\nmessage Outer {\n  message In {}\n  enum IN { X = 0; }\n}\n",
                "NameClash t.proto:5:3: enum `p.Outer.IN` and message `p.Outer.In` \
                 (at t.proto:4:3) both become `In` in Rust; rename one of them",
            ),
            (
                "package p;\nmessage Local { enum A { X = 0; } }\nmessage local { message B {} }\n",
                "NameClash t.proto:4:1: message `p.local` and message `p.Local` \
                 (at t.proto:3:1) both become `Local` in Rust; rename one of them",
            ),
            (
                "package p;\nmessage _1 { message X {} }\n",
                "NameClash t.proto:3:1: the module of message `p._1` and message `p._1` \
                 (at t.proto:3:1) both become `_1` in Rust; rename one of them",
            ),
            (
                "package p;\nmessage FeedStream { message X {} }\nmessage M {}\n\
                 service Feed { rpc A(M) returns (M); }\n",
                "NameClash t.proto:5:1: module `feed_stream` of service `p.Feed` and the module \
                 of message `p.FeedStream` (at t.proto:3:1) both become `feed_stream` in Rust; \
                 rename one of them",
            ),
            (
                "package p;\nmessage M {}\nmessage ab_client {}\nmessage Ab_client { message X {} }\n\
                 service Ab { rpc A(M) returns (M); }\n",
                "NameClash t.proto:6:1: module `ab_client` of service `p.Ab` and the module of \
                 message `p.Ab_client` (at t.proto:5:1) both become `ab_client` in Rust; \
                 rename one of them",
            ),
            (
                "package p;\nmessage M {}\nservice Feed { rpc A(M) returns (M); }\n\
                 service FEED { rpc A(M) returns (M); }\n",
                "NameClash t.proto:5:1: service `p.FEED` and service `p.Feed` (at t.proto:4:1) \
                 both become `Feed` in Rust; rename one of them",
            ),
            // proto3 refuses these three itself (their JSON names clash); proto2 does not.
            (
                "syntax = \"proto2\";\npackage p;\n\
                 message M {\n  optional string a = 1;\n  optional string A = 2;\n}\n",
                "NameClash t.proto:5:3: field `p.M.A` and field `p.M.a` (at t.proto:4:3) \
                 both become `a` in Rust; rename one of them",
            ),
            (
                "syntax = \"proto2\";\npackage p;\n\
                 message M {\n  oneof kind { string a = 1; }\n  optional string Kind = 2;\n}\n",
                "NameClash t.proto:4:3: oneof `p.M.kind` and field `p.M.Kind` (at t.proto:5:3) \
                 both become `kind` in Rust; rename one of them",
            ),
            (
                "syntax = \"proto2\";\npackage p;\n\
                 message M {\n  oneof kind {\n    string a = 1;\n    string A = 2;\n  }\n}\n",
                "NameClash t.proto:6:5: field `p.M.A` of oneof `p.M.kind` and field `p.M.a` of \
                 oneof `p.M.kind` (at t.proto:5:5) both become `A` in Rust; rename one of them",
            ),
            (
                "syntax = \"proto2\";\npackage p;\nenum E { A = 0; }\n\
                 message M {\n  optional E kind = 1;\n  optional int32 set_kind = 2;\n}\n",
                "NameClash t.proto:6:3: the getter of field `p.M.set_kind` and the setter of \
                 field `p.M.kind` (at t.proto:5:3) both become `set_kind` in Rust; rename one \
                 of them",
            ),
            (
                "package p;\nenum E { A = 0; }\n\
                 message M {\n  repeated E x = 1;\n  optional string push_x = 2;\n}\n",
                "NameClash t.proto:6:3: the getter of field `p.M.push_x` and the appender of \
                 field `p.M.x` (at t.proto:5:3) both become `push_x` in Rust; rename one of them",
            ),
            (
                "package p;\nenum E { A = 0; }\n\
                 message M {\n  map<string, E> x = 1;\n  E get_x = 2;\n}\n",
                "NameClash t.proto:6:3: the getter of field `p.M.get_x` and the getter of \
                 field `p.M.x` (at t.proto:5:3) both become `get_x` in Rust; rename one of them",
            ),
            (
                "package p;\nenum E { A = 0; }\nmessage M { map<string, E> type = 1; }\n",
                "InvalidName t.proto:4:13: field `p.M.type` is a map of enum values named like a \
                 Rust keyword, for which prost cannot name its `get_` and `insert_` methods; \
                 rename it",
            ),
            (
                "package p;\nenum E {\n  E_A = 0;\n  A = 1;\n}\n",
                "NameClash t.proto:5:3: value `A` of enum `p.E` and value `E_A` of enum `p.E` \
                 (at t.proto:4:3) both become `A` in Rust; rename one of them",
            ),
        ] {
            let found = refusal(body);
            assert!(
                found.iter().any(|d| d == expected),
                "{body}\nexpected {expected}\nfound {found:#?}"
            );
        }
    }

    /// A sub-package's module and a message's module of the same name, in two files.
    #[test]
    fn a_sub_package_clashing_with_a_message_module_is_reported() {
        assert_eq!(
            refusal_two(
                "package p;\nmessage Q { message R {} }\n",
                Some("package p.q;\nmessage Z {}\n")
            ),
            [
                "NameClash u.proto:2:1: the module of package `p.q` and the module of message \
              `p.Q` (at t.proto:3:1) both become `q` in Rust; rename one of them"
            ]
        );
    }

    /// Names that differ only by case or underscores but land in different namespaces,
    /// aliases of one enum number, a message whose only oneofs are proto3 `optional` fields
    /// (it gets no module, so `feed_stream` is free), and fields named like the methods of
    /// fields that have none (a plain string, a map of strings) are not clashes.
    #[test]
    fn names_in_different_namespaces_do_not_clash() {
        generate(
            "package p;\n\
             message Item { string item = 1; oneof Kind { string kind_a = 2; } message KIND {} }\n\
             message Other { string item = 1; message Item {} }\n\
             enum E { option allow_alias = true; E_A = 0; A = 0; B = 1; }\n\
             enum F { F_A = 0; }\n\
             message M { optional string a = 1; }\n\
             service Item_ { rpc Item(M) returns (M); rpc item_(M) returns (M); }\n\
             message FeedStream { optional string a = 1; }\n\
             service Feed { rpc A(M) returns (M); }\n\
             message Accessors {\n  E set_e = 1;\n  string e = 2;\n  map<string, string> type = 3;\n\
               string get_type = 4;\n  map<string, E> m = 5;\n  string set_m = 6;\n}\n",
            "",
        )
        .unwrap();
    }

    /// A map of enum values gets prost's `get_` and `insert_` methods (which fields may
    /// clash with) and cannot be named like a keyword; a map of messages gets neither.
    #[test]
    fn maps_of_enum_values_have_accessors() {
        let refused = refusal(
            "package p;\n\
             enum E { E_A = 0; }\n\
             message V {}\n\
             message M {\n  map<string, E> tags = 1;\n  E insert_tags = 2;\n\
               map<string, E> type = 3;\n  map<string, V> v = 4;\n  E get_v = 5;\n}\n",
        );
        assert_eq!(refused.len(), 2, "{refused:#?}");
        assert!(
            refused[0].contains(
                "the getter of field `p.M.insert_tags` and the inserter of field `p.M.tags`"
            ),
            "{refused:#?}"
        );
        assert!(
            refused[1]
                .contains("field `p.M.type` is a map of enum values named like a Rust keyword"),
            "{refused:#?}"
        );
    }
}

#[cfg(test)]
mod hand_built {
    use crate::load::Descriptors;
    use crate::options::Params;

    /// Names only a hand-built request can hold (protox and protoc refuse them) are refused
    /// before prost-build sees them.
    #[test]
    fn names_that_are_not_identifiers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let proto = dir.path().join("t.proto");
        std::fs::write(
            &proto,
            "syntax = \"proto3\";\npackage p;\nmessage M { string a = 1; }\nenum E { E_A = 0; }\n",
        )
        .unwrap();
        let compiled = Descriptors::compile(&[&proto], &[dir.path()]).unwrap();
        type Edit = fn(&mut prost_types::FileDescriptorProto);
        let cases: [(Edit, &str); 5] = [
            (
                |f| f.message_type[0].name = Some("a-b".into()),
                "t.proto:3:1: message `p.a-b` is not an identifier; rename it",
            ),
            (
                |f| f.message_type[0].field[0].name = Some("é".into()),
                "t.proto:3:13: field `p.M.é` is not an identifier; rename it",
            ),
            (
                |f| f.enum_type[0].value[0].name = Some(String::new()),
                "t.proto:4:10: value `` of enum `p.E` is not an identifier; rename it",
            ),
            (
                |f| f.package = Some("Put.".into()),
                "t.proto:2:1: package `Put.` is not a dotted identifier; rename it",
            ),
            (
                |f| f.package = Some("a.1b".into()),
                "t.proto:2:1: package `a.1b` is not a dotted identifier; rename it",
            ),
        ];
        for (edit, expected) in cases {
            let mut descriptors = compiled.clone();
            edit(
                descriptors
                    .files
                    .iter_mut()
                    .find(|f| f.name() == "t.proto")
                    .unwrap(),
            );
            let err = crate::generate(&descriptors, &Params::default()).unwrap_err();
            let found: Vec<String> = err.diagnostics().iter().map(|d| d.to_string()).collect();
            assert_eq!(found, [expected]);
            assert_eq!(
                err.diagnostics()[0].kind,
                crate::DiagnosticKind::InvalidName
            );
        }
    }

    /// Unicode is not valid in a proto identifier: protox refuses it at the token.
    #[test]
    fn unicode_names_are_refused_by_the_parser() {
        let dir = tempfile::tempdir().unwrap();
        let proto = dir.path().join("t.proto");
        std::fs::write(&proto, "syntax = \"proto3\";\npackage p;\nmessage Ünï {}\n").unwrap();
        let err = Descriptors::compile(&[&proto], &[dir.path()]).unwrap_err();
        assert_eq!(err.diagnostics()[0].kind, crate::DiagnosticKind::Syntax);
        assert!(
            err.to_string().starts_with("t.proto:3:9: invalid token"),
            "{err}"
        );
    }
}
