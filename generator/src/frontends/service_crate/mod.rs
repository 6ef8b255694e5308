//! A service crate as the template lays it out, and `rust-stream sync`, which keeps what
//! depends on its protos in step with them.
//!
//! ```text
//! proto/                every .proto below it is compiled; it is also the import root
//! src/pb.rs or lib.rs   the generated code at `crate::pb` (build.rs or the derive)
//! src/handlers/<s>.rs   one handler per service: yours once written
//! src/handlers/mod.rs   the handler modules and `all()`: rewritten by every sync
//! ```
//!
//! Everything else that depends on the protos is generated at build time: the service
//! list, the descriptors for reflection, `Handlers` (one field per service, so a service
//! added to the protos is a compile error until its handler exists) and the per-RPC tests.
//! A sync writes a stub file for each new service and a stub for each new RPC, rewrites
//! `mod.rs`, and changes no line of a handler; RPCs or services that left the protos are
//! reported with where they are, and then nothing is written.

#[cfg(feature = "bin")]
pub mod new;

use crate::emit::root_types;
use crate::emit::service_set;
use crate::error::{DiagnosticKind, Error};
use crate::frontends::scaffold::{Report, Scaffold};
use crate::ident;
use crate::load::Descriptors;
use crate::model::Model;
use crate::model_of;
use crate::options::Params;
use std::fmt;
use std::path::{Path, PathBuf};

/// The directory of the protos, relative to the crate.
pub const PROTO_DIR: &str = "proto";
/// The directory of the handler files, relative to the crate.
pub const HANDLER_DIR: &str = "src/handlers";
/// The module generated code is at.
pub const MODULE_PATH: &str = "crate::pb";

/// The widest line rustfmt keeps (its default `max_width`).
const MAX_WIDTH: usize = 100;

/// What a sync did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// The handler files.
    pub handlers: Report,
    /// `src/handlers/mod.rs`, and whether its text changed.
    pub module_file: (PathBuf, bool),
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.handlers)?;
        let (path, changed) = &self.module_file;
        let what = if *changed { "rewritten" } else { "up to date" };
        writeln!(f, "{}: {what}", path.display())
    }
}

/// The protos of a service crate, as its build sees them.
#[derive(Clone, Debug)]
pub struct CrateProtos {
    /// The model.
    pub model: Model,
    /// The name the generated code gives `Handlers`.
    pub handlers_struct: String,
}

/// The model of the crate at `dir`: every proto below `proto/`, imports generated too (as
/// the crate's build compiles them).
pub fn model(dir: &Path) -> Result<CrateProtos, Error> {
    let protos = dir.join(PROTO_DIR);
    let descriptors = Descriptors::compile(&[&protos], &[&protos])?.generate_imports();
    let (model, seen) = model_of(&descriptors, &Params::default())?;
    if model.services().next().is_none() {
        return Err(Error::new(
            DiagnosticKind::Usage,
            format!(
                "the protos in {} declare no service; a service crate serves at least one",
                protos.display()
            ),
        ));
    }
    let handlers_struct = service_set::struct_name(&model.handler_modules(), &root_types(&seen));
    Ok(CrateProtos {
        model,
        handlers_struct,
    })
}

/// Brings the crate at `dir` in step with its protos: a stub file per new service, a stub
/// per new RPC, `src/handlers/mod.rs` rewritten. Fails, writing nothing, if a handler file
/// holds RPCs that left the protos or a file belongs to a service that did.
pub fn sync(dir: &Path) -> Result<SyncReport, Error> {
    let protos = model(dir)?;
    let module_text = handlers_module(&protos);
    let handlers = Scaffold::new(MODULE_PATH).write(&protos.model, &dir.join(HANDLER_DIR))?;
    let module_path = dir.join(HANDLER_DIR).join("mod.rs");
    let changed = std::fs::read_to_string(&module_path).ok().as_deref() != Some(&module_text);
    crate::frontends::builder::write_if_changed(&module_path, &module_text)?;
    Ok(SyncReport {
        handlers,
        module_file: (module_path, changed),
    })
}

/// `pub fn all() -> <handlers><types..> {` as rustfmt lays it out: on one line if it fits,
/// else the return type on a line of its own, else its arguments one per line.
fn signature(handlers: &str, types: &[String]) -> String {
    let return_type = format!("-> {handlers}<{}>", types.join(", "));
    let one_line = format!("pub fn all() {return_type}");
    // The brace goes on the line if it fits there, else on its own.
    let with_brace = |line: &str| {
        if line.len() + 2 <= MAX_WIDTH {
            format!("{line} {{\n")
        } else {
            format!("{line}\n{{\n")
        }
    };
    // rustfmt keeps a signature one column past its width when the brace goes below it.
    if one_line.len() <= MAX_WIDTH + 1 {
        return with_brace(&one_line);
    }
    if return_type.len() <= MAX_WIDTH {
        return format!("pub fn all()\n{}", with_brace(&return_type));
    }
    let mut text = format!("pub fn all() -> {handlers}<\n");
    for ty in types {
        text.push_str(&format!("    {ty},\n"));
    }
    text.push_str("> {\n");
    text
}

/// The text of `src/handlers/mod.rs` for `protos`, formatted as rustfmt formats it.
pub fn handlers_module(protos: &CrateProtos) -> String {
    let services: Vec<_> = protos.model.services().collect();
    let modules: Vec<String> = protos
        .model
        .handler_modules()
        .iter()
        .map(|m| ident::to_snake(m))
        .collect();
    let mut out = String::from(
        "//! The handlers, one file per service: edit those files. `rust-stream sync` rewrites\n\
         //! this one on every run, from the protos in `proto/`.\n\n",
    );
    // rustfmt sorts consecutive `mod` items.
    let mut sorted = modules.clone();
    sorted.sort_by(|a, b| ident::unraw(a).cmp(ident::unraw(b)));
    for module in &sorted {
        out.push_str(&format!("pub mod {module};\n"));
    }
    let types: Vec<String> = services
        .iter()
        .zip(&modules)
        .map(|((_, service), module)| format!("{module}::{}", service.skeleton_struct))
        .collect();
    let handlers = format!("{MODULE_PATH}::{}", protos.handlers_struct);
    out.push_str(
        "\n/// Every service's handler, each built with `Default`, as `src/main.rs` serves them.\n",
    );
    out.push_str(&signature(&handlers, &types));
    out.push_str(&format!("    {handlers} {{\n"));
    for module in &modules {
        out.push_str(&format!("        {module}: Default::default(),\n"));
    }
    out.push_str("    }\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signature of `all()` is what rustfmt prints, for every number of services and
    /// every name length around the three layouts' edges.
    #[test]
    fn handlers_module_signatures_are_what_rustfmt_prints() {
        let Ok(version) = std::process::Command::new("rustfmt")
            .arg("--version")
            .output()
        else {
            eprintln!("rustfmt is not installed: skipped (CI has it)");
            return;
        };
        assert!(version.status.success());
        let dir = tempfile::tempdir().unwrap();
        for services in 1..=5 {
            for length in 1..=40 {
                let types: Vec<String> = (0..services)
                    .map(|i| format!("m{i}::{}Impl", "X".repeat(length)))
                    .collect();
                let text = format!(
                    "{}    crate::pb::Handlers {{}}\n}}\n",
                    signature("crate::pb::Handlers", &types)
                );
                let path = dir.path().join("mod.rs");
                std::fs::write(&path, &text).unwrap();
                let status = std::process::Command::new("rustfmt")
                    .args(["--edition", "2024", "--check"])
                    .arg(&path)
                    .output()
                    .unwrap();
                assert!(
                    status.status.success(),
                    "{services} services, names of {length}:\n{text}\n{}",
                    String::from_utf8_lossy(&status.stdout)
                );
            }
        }
    }
}
