//! Checks on the model that renaming cannot fix, run before prost-build: names prost-build
//! cannot spell in Rust, and clashes between names the user chose and names prost-build,
//! tonic-build or rust-stream derive from them, in every namespace of the output (a
//! package's module, a message's module, a struct's fields, an enum's or a oneof's
//! variants). A clash names both sides and where each is declared.

use crate::error::{Diagnostic, DiagnosticKind, Location};
use crate::ident;
use crate::load::{Descriptors, qualify};
use crate::model::{Model, SourceIndex, module_of};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

/// Every problem with the model, empty if there is none.
pub fn check(model: &Model, descriptors: &Descriptors) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let mut files: Vec<&FileDescriptorProto> = descriptors.files.iter().collect();
    files.sort_by(|a, b| a.name().cmp(b.name()));
    for package in &model.packages {
        // The package module's type namespace: structs, enums and modules.
        let mut items = Namespace::default();
        for file in files
            .iter()
            .filter(|f| module_of(f.package()) == package.module)
        {
            let source = SourceIndex::new(file);
            if let Some(segment) = file.package().split('.').find(|s| ident::is_unnamed(s)) {
                problems.push(Diagnostic::new(
                    DiagnosticKind::InvalidName,
                    Some(source.location(&[2])),
                    format!(
                        "package `{}` has no Rust module name: case conversion leaves nothing \
                         of `{segment}`; rename it",
                        file.package()
                    ),
                ));
            }
            let mut walk = Walk {
                source: &source,
                problems: &mut problems,
            };
            walk.scope(
                file.package(),
                &[],
                (4, &file.message_type),
                (5, &file.enum_type),
                &mut items,
            );
        }
        let mut sub_packages = BTreeSet::new();
        for file in &files {
            let module = module_of(file.package());
            if module.len() == package.module.len() + 1
                && module.starts_with(&package.module)
                && sub_packages.insert(module[package.module.len()].clone())
            {
                items.take(
                    module[package.module.len()].clone(),
                    format!("the module of package `{}`", file.package()),
                    SourceIndex::new(file).location(&[2]),
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
                format!("{}_client", service.tonic_module),
                format!("{}_server", service.tonic_module),
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
    source: &'a SourceIndex<'f>,
    problems: &'a mut Vec<Diagnostic>,
}

/// Descriptors of one kind in a scope, with their field number in the scope's descriptor
/// (for source paths).
type Children<'d, T> = (i32, &'d [T]);

impl Walk<'_, '_> {
    /// Checks `rust_name`, prost-build's name for `what`, is an identifier.
    fn named(&mut self, what: &str, rust_name: &str, location: &Location) -> bool {
        let problem = if rust_name.is_empty() {
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

    /// Checks the messages and enums declared in `scope` (a package or a message), whose
    /// source path is `path`; their Rust names go in `items`.
    fn scope(
        &mut self,
        scope: &str,
        path: &[i32],
        (message_tag, messages): Children<'_, DescriptorProto>,
        (enum_tag, enums): Children<'_, EnumDescriptorProto>,
        items: &mut Namespace,
    ) {
        for (i, message) in messages.iter().enumerate() {
            if message.options.as_ref().is_some_and(|o| o.map_entry()) {
                continue;
            }
            let path = [path, &[message_tag, i as i32]].concat();
            self.message(scope, &path, message, items);
        }
        for (i, enumeration) in enums.iter().enumerate() {
            let path = [path, &[enum_tag, i as i32]].concat();
            self.enumeration(scope, &path, enumeration, items);
        }
    }

    fn message(
        &mut self,
        scope: &str,
        path: &[i32],
        message: &DescriptorProto,
        items: &mut Namespace,
    ) {
        let full = qualify(scope, message.name());
        let full = full.trim_start_matches('.');
        let location = self.source.location(path);
        let what = format!("message `{full}`");
        let rust_name = ident::to_upper_camel(message.name());
        if !self.named(&what, &rust_name, &location) {
            return;
        }
        items.take(rust_name, what, location.clone(), self.problems);

        // The struct's fields: plain fields, then one per oneof (proto3 `optional` fields
        // are plain fields in prost-build, not oneofs).
        let mut fields = Namespace::default();
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
                    if self.named(&what, &rust_name, &location) {
                        fields.take(rust_name, what, location, self.problems);
                    }
                }
            }
        }
        let nested: Vec<&DescriptorProto> = message
            .nested_type
            .iter()
            .filter(|n| !n.options.as_ref().is_some_and(|o| o.map_entry()))
            .collect();
        if nested.is_empty() && message.enum_type.is_empty() && oneofs.is_empty() {
            return;
        }
        items.take(
            ident::to_snake(message.name()),
            format!("the module of message `{full}`"),
            location,
            self.problems,
        );
        let mut module = Namespace::default();
        self.scope(
            full,
            path,
            (3, &message.nested_type),
            (4, &message.enum_type),
            &mut module,
        );
        for (o, members) in oneofs {
            let Some(oneof) = message.oneof_decl.get(o as usize) else {
                continue;
            };
            let what = format!("oneof `{full}.{}`", oneof.name());
            let location = self.source.location(&[path, &[8, o]].concat());
            let rust_name = ident::to_snake(oneof.name());
            if !self.named(&what, &rust_name, &location) {
                continue;
            }
            fields.take(rust_name, what.clone(), location.clone(), self.problems);
            // prost-build's `has_type_name_conflict`: a oneof named like a nested type gets
            // the suffix `OneOf`.
            let mut type_name = ident::to_upper_camel(oneof.name());
            if nested
                .iter()
                .map(|n| n.name())
                .chain(message.enum_type.iter().map(|e| e.name()))
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
                if self.named(&what, &rust_name, &location) {
                    variants.take(rust_name, what, location, self.problems);
                }
            }
        }
    }

    fn enumeration(
        &mut self,
        scope: &str,
        path: &[i32],
        enumeration: &EnumDescriptorProto,
        items: &mut Namespace,
    ) {
        let full = qualify(scope, enumeration.name());
        let full = full.trim_start_matches('.');
        let location = self.source.location(path);
        let what = format!("enum `{full}`");
        let rust_name = ident::to_upper_camel(enumeration.name());
        if !self.named(&what, &rust_name, &location) {
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
            if self.named(&what, &variant, &location) {
                variants.take(variant, what, location, self.problems);
            }
        }
        items.take(rust_name, what, location, self.problems);
    }
}
