//! Checks on the model that renaming cannot fix: clashes between names the user chose and
//! names prost-build, tonic-build or rust-stream derive from them. Each error names both
//! sides.

use crate::error::{Diagnostic, DiagnosticKind, Location};
use crate::ident;
use crate::load::Descriptors;
use crate::model::{Model, module_of};
use std::collections::BTreeMap;

/// Every problem with the model, empty if there is none.
pub fn check(model: &Model, descriptors: &Descriptors) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for package in &model.packages {
        // Items in the package module's type namespace: message structs, enums, modules.
        let mut items: BTreeMap<String, (String, Option<Location>)> = BTreeMap::new();
        for file in descriptors
            .files
            .iter()
            .filter(|f| module_of(f.package()) == package.module)
        {
            for message in &file.message_type {
                let nested = message
                    .nested_type
                    .iter()
                    .any(|n| !n.options.as_ref().is_some_and(|o| o.map_entry()))
                    || !message.enum_type.is_empty()
                    || !message.oneof_decl.is_empty();
                if nested {
                    items.insert(
                        ident::to_snake(message.name()),
                        (format!("the module of message `{}`", message.name()), None),
                    );
                }
            }
        }
        for other in descriptors.files.iter().map(|f| module_of(f.package())) {
            if other.len() == package.module.len() + 1 && other.starts_with(&package.module) {
                let name = other[package.module.len()].clone();
                items.insert(
                    name.clone(),
                    (format!("the module of package `{name}`"), None),
                );
            }
        }
        let mut services: BTreeMap<String, (String, Location)> = BTreeMap::new();
        for service in &package.services {
            if let Some((other, other_location)) = services.insert(
                service.rust_name.clone(),
                (service.full_name.clone(), service.location.clone()),
            ) {
                problems.push(Diagnostic {
                    kind: DiagnosticKind::NameClash,
                    location: Some(service.location.clone()),
                    message: format!(
                        "service `{}` and service `{other}` (at {other_location}) both become `{}` in Rust",
                        service.full_name, service.rust_name
                    ),
                });
                continue;
            }
            for module in [
                format!("{}_client", service.tonic_module),
                format!("{}_server", service.tonic_module),
                service.stream_module.clone(),
            ] {
                let this = format!("module `{module}` of service `{}`", service.full_name);
                if let Some((other, _)) = items.get(&module) {
                    problems.push(Diagnostic {
                        kind: DiagnosticKind::NameClash,
                        location: Some(service.location.clone()),
                        message: format!("{this} clashes with {other}; rename one of them"),
                    });
                } else {
                    items.insert(module, (this, Some(service.location.clone())));
                }
            }
        }
    }
    problems
}
