//! Editable handler skeletons (`rust-stream scaffold`): one file per service with a struct
//! implementing the service's handler trait. Bodies follow the guide per pattern and compile
//! as generated, answering `UNIMPLEMENTED` where user logic goes.
//!
//! The file belongs to the user once written. Scaffolding again only inserts stubs for RPCs
//! the file does not have yet, above the insertion marker line, and leaves every other line
//! byte for byte as it was.
//!
//! The text is laid out as rustfmt lays it out ([`layout`]), so that `cargo fmt` leaves a new
//! file, and a formatted file that stubs were added to, as they are.

use crate::emit::layout::{self, Param, Ty, Use};
use crate::emit::pattern::{SkeletonTypes, Slot, emitter};
use crate::error::{DiagnosticKind, Error};
use crate::model::{Method, Service};
use std::collections::{BTreeMap, BTreeSet};

/// The line new stubs are inserted above.
pub const MARKER: &str = "    // rust-stream: new RPCs are added above this line.";

/// Prefix of the comment that starts each stub, followed by the RPC's proto name.
pub const RPC_MARKER: &str = "// rust-stream: rpc ";

/// Joins a module path and a path relative to the package module.
fn join(base: &str, relative: &str) -> String {
    if crate::model::is_absolute(relative) {
        return relative.to_owned();
    }
    let mut base: Vec<&str> = base.split("::").collect();
    let mut rest = relative;
    while let Some(tail) = rest.strip_prefix("super::") {
        if base.len() > 1 {
            base.pop();
        }
        rest = tail;
    }
    format!("{}::{rest}", base.join("::"))
}

/// Returns the skeleton for `service` (generated code at `module_path`, the runtime at
/// `runtime_path`), given the file's current text, and the RPCs it added.
pub fn scaffold(
    service: &Service,
    module_path: &str,
    runtime_path: &str,
    existing: Option<&str>,
) -> Result<(String, Vec<String>), Error> {
    let _ = runtime_path;
    let Some(existing) = existing else {
        let added = service
            .methods
            .iter()
            .map(|m| m.proto_name.clone())
            .collect();
        return Ok((new_file(service, module_path, runtime_path)?, added));
    };
    let missing = missing(service, existing);
    if missing.is_empty() {
        return Ok((existing.to_owned(), Vec::new()));
    }
    let Some(at) = existing.find(&format!("{MARKER}\n")) else {
        return Err(Error::new(
            DiagnosticKind::Usage,
            format!(
                "the skeleton of `{}` lacks the line `{}`; put it back inside the `impl` block \
             where new stubs should go",
                service.full_name,
                MARKER.trim()
            ),
        ));
    };
    // New stubs use the short names the file already imports, full paths for the rest: the
    // lines above them are the user's.
    let names = Names::new(service, module_path, runtime_path).only_imported(&imports(existing));
    let mut text = String::with_capacity(existing.len() + missing.len() * 600);
    text.push_str(&existing[..at]);
    for method in &missing {
        text.push_str(&stub(method, &names)?);
        text.push('\n');
    }
    text.push_str(&existing[at..]);
    Ok((text, missing.iter().map(|m| m.proto_name.clone()).collect()))
}

/// The methods of `service` that the skeleton `existing` has no stub for: neither the stub's
/// marker comment nor a method of that name.
pub fn missing<'s>(service: &'s Service, existing: &str) -> Vec<&'s Method> {
    service
        .methods
        .iter()
        .filter(|m| {
            !existing.contains(&format!("{RPC_MARKER}{}\n", m.proto_name))
                && !existing.contains(&format!("fn {}(", m.rust_name))
        })
        .collect()
}

/// Names a skeleton writes or its user expects to mean what they usually do: the runtime's
/// and the prelude's (editions 2015 to 2024). A message of one of these names keeps its full
/// path rather than shadow them.
const RESERVED: &[&str] = &[
    "CallContext",
    "RequestStream",
    "ResponseSink",
    "Status",
    "AsMut",
    "AsRef",
    "Box",
    "Clone",
    "Copy",
    "Default",
    "DoubleEndedIterator",
    "Drop",
    "Eq",
    "Err",
    "ExactSizeIterator",
    "Extend",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "FromIterator",
    "Future",
    "Into",
    "IntoFuture",
    "IntoIterator",
    "Iterator",
    "None",
    "Ok",
    "Option",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "Result",
    "Send",
    "Sized",
    "Some",
    "String",
    "Sync",
    "ToOwned",
    "ToString",
    "TryFrom",
    "TryInto",
    "Unpin",
    "Vec",
];

/// How the skeleton of one service spells each type: full path, and the short name if the
/// file imports it.
struct Names {
    /// Full path -> short name, for the imported ones.
    short: BTreeMap<String, String>,
    /// Full path of each item in use, in the order of `use` lines to write.
    used: BTreeSet<String>,
    runtime: String,
    module_path: String,
}

impl Names {
    /// Short names for every type the skeleton needs, except where two types share a short
    /// name or a message is named like a runtime item or prelude type the skeleton writes
    /// (`Status`, `Result`, `CallContext`, ...): those keep their full paths.
    fn new(service: &Service, module_path: &str, runtime_path: &str) -> Names {
        let runtime = runtime_path.to_owned();
        let mut used = BTreeSet::new();
        let mut runtime_items = Vec::new();
        if !service.methods.is_empty() {
            runtime_items.push(format!("{runtime}::CallContext"));
            runtime_items.push(format!("{runtime}::Status"));
        }
        if service.methods.iter().any(|m| m.pattern.client_streams()) {
            runtime_items.push(format!("{runtime}::RequestStream"));
        }
        if service.methods.iter().any(|m| m.pattern.server_streams()) {
            runtime_items.push(format!("{runtime}::ResponseSink"));
        }
        used.extend(runtime_items.iter().cloned());
        used.insert(handler_path(service, module_path));
        let mut messages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for method in &service.methods {
            for type_ref in [&method.request, &method.response] {
                let path = join(module_path, &type_ref.rust_path);
                // `()`, well-known and extern types stay as prost spells them.
                if path.starts_with("::") || path == "()" {
                    continue;
                }
                messages
                    .entry(last_segment(&path).to_owned())
                    .or_default()
                    .insert(path);
            }
        }
        let reserved: BTreeSet<&str> = RESERVED
            .iter()
            .copied()
            .chain([
                service.handler_trait.as_str(),
                service.skeleton_struct.as_str(),
            ])
            .collect();
        for (name, paths) in &messages {
            if paths.len() == 1 && !reserved.contains(name.as_str()) {
                used.extend(paths.iter().cloned());
            }
        }
        let short = used
            .iter()
            .map(|path| (path.clone(), last_segment(path).to_owned()))
            .collect();
        Names {
            short,
            used,
            runtime,
            module_path: module_path.to_owned(),
        }
    }

    /// The full path of a message, from its path relative to the package module.
    /// Well-known types are named through the runtime's root (`rust_stream::prost_types`),
    /// as handler files name everything of the runtime, never through its `codegen`.
    fn message_path(&self, rust_path: &str) -> String {
        let path = join(&self.module_path, rust_path);
        let generated = format!("{}::codegen::prost_types::", self.runtime);
        match path.strip_prefix(&generated) {
            Some(name) => format!("{}::prost_types::{name}", self.runtime),
            None => path,
        }
    }

    /// Keeps only the short names `imports` (short name -> path) bring into the file.
    fn only_imported(mut self, imports: &BTreeMap<String, String>) -> Names {
        self.short
            .retain(|path, name| imports.get(name).map(|p| normal(p)) == Some(normal(path)));
        self.used.clear();
        self
    }

    /// How the file spells the item at `path`.
    fn spell(&self, path: &str) -> String {
        self.short
            .get(path)
            .cloned()
            .unwrap_or_else(|| path.to_owned())
    }

    /// The `use` lines for every short name, one item per parent module, as rustfmt orders
    /// and lays them out. `deprecated` is the module of a deprecated service, if it is.
    fn use_lines(&self, deprecated: Option<&str>) -> String {
        let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for path in &self.used {
            let (parent, name) = path.rsplit_once("::").unwrap_or(("", path));
            groups.entry(parent).or_default().push(name.to_owned());
        }
        let uses = groups
            .into_iter()
            .map(|(parent, names)| Use {
                // A deprecated service's module is deprecated: importing from it is a use of it.
                attributes: if deprecated == Some(parent) {
                    vec!["#[allow(deprecated)]".to_owned()]
                } else {
                    Vec::new()
                },
                parent: parent.to_owned(),
                names,
            })
            .collect();
        layout::use_items(uses)
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// A path without spaces or a leading `::`, for comparing paths as written.
fn normal(path: &str) -> String {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    path.trim_start_matches("::").to_owned()
}

/// The names a file's top-level `use` items bring in (name -> path); none if the file does
/// not parse.
fn imports(text: &str) -> BTreeMap<String, String> {
    fn walk(prefix: &str, tree: &syn::UseTree, out: &mut BTreeMap<String, String>) {
        match tree {
            syn::UseTree::Path(p) => walk(&format!("{prefix}{}::", p.ident), &p.tree, out),
            syn::UseTree::Name(n) => {
                out.insert(n.ident.to_string(), format!("{prefix}{}", n.ident));
            }
            syn::UseTree::Rename(r) => {
                out.insert(r.rename.to_string(), format!("{prefix}{}", r.ident));
            }
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| walk(prefix, t, out)),
            syn::UseTree::Glob(_) => {}
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(file) = syn::parse_file(text) {
        for item in file.items {
            if let syn::Item::Use(item) = item {
                let prefix = if item.leading_colon.is_some() {
                    "::"
                } else {
                    ""
                };
                walk(prefix, &item.tree, &mut out);
            }
        }
    }
    out
}

fn handler_path(service: &Service, module_path: &str) -> String {
    format!(
        "{module_path}::{}::{}",
        service.stream_module, service.handler_trait
    )
}

fn new_file(service: &Service, module_path: &str, runtime_path: &str) -> Result<String, Error> {
    let names = Names::new(service, module_path, runtime_path);
    let stream_module = format!("{module_path}::{}", service.stream_module);
    let deprecated = service.deprecated.then_some(stream_module.as_str());
    let handler = names.spell(&handler_path(service, module_path));
    let name = &service.skeleton_struct;
    let mut text = format!(
        "//! The `{full}` service, scaffolded by `rust-stream scaffold`.\n\
         //!\n\
         //! This file is yours to edit. Running `rust-stream scaffold` again adds stubs for RPCs\n\
         //! added to the proto and leaves everything else as it is.\n\
         //!\n\
         //! Serve it with `{adapter}::new({name}).into_server()`; `{adapter}` is in\n\
         //! `{stream_module}`.\n\
         \n\
         {uses}\
         \n\
         /// Implements `{full}`.\n\
         #[derive(Debug, Default)]\n\
         pub struct {name};\n\
         \n\
         {allow}{impl_line}",
        full = service.full_name,
        adapter = service.adapter,
        uses = names.use_lines(deprecated),
        impl_line = layout::impl_header(&handler, name),
        allow = if service.deprecated {
            "#[allow(deprecated)]\n"
        } else {
            ""
        },
    );
    for (i, method) in service.methods.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&stub(method, &names)?);
    }
    if !service.methods.is_empty() {
        text.push('\n');
    }
    text.push_str(MARKER);
    text.push_str("\n}\n");
    Ok(text)
}

/// One stub: the marker comment, the signature of the pattern's shape and its skeleton body,
/// laid out as rustfmt would.
fn stub(method: &Method, names: &Names) -> Result<String, Error> {
    let runtime = &names.runtime;
    let request = names.spell(&names.message_path(&method.request.rust_path));
    let response = names.spell(&names.message_path(&method.response.rust_path));
    let status = names.spell(&format!("{runtime}::Status"));
    for spelled in [&request, &response, &status] {
        if syn::parse_str::<syn::Type>(spelled).is_err() {
            return Err(Error::new(
                DiagnosticKind::Internal,
                format!("`{spelled}` is not a Rust type"),
            ));
        }
    }
    let name = crate::emit::ident(&method.rust_name)?;
    let ty = |slot: Slot| match slot {
        Slot::Request => Ty::plain(&request),
        Slot::RequestStream => Ty::generic(
            names.spell(&format!("{runtime}::RequestStream")),
            vec![request.clone()],
        ),
        Slot::ResponseSink => Ty::generic(
            names.spell(&format!("{runtime}::ResponseSink")),
            vec![response.clone()],
        ),
        Slot::Response => Ty::plain(&response),
        Slot::Unit => Ty::plain("()"),
    };
    let shape = emitter(method.pattern).shape();
    let mut params = vec![
        Param {
            binding: "&self".to_owned(),
            ty: None,
        },
        Param {
            binding: "ctx".to_owned(),
            ty: Some(Ty::plain(names.spell(&format!("{runtime}::CallContext")))),
        },
    ];
    params.extend(shape.inputs.iter().map(|input| Param {
        binding: if input.mut_in_skeleton {
            format!("mut {}", input.name)
        } else {
            input.name.to_owned()
        },
        ty: Some(ty(input.slot)),
    }));
    // No `allow(deprecated)`: implementing a deprecated method is no use of it.
    let result = Ty::generic("Result", vec![ty(shape.output).text(), status.clone()]);
    let signature = layout::signature(4, &format!("async fn {name}"), &params, &result);
    let body = emitter(method.pattern).skeleton_body(method, &SkeletonTypes { status, response });
    Ok(format!(
        "    {RPC_MARKER}{}\n{signature}{body}    }}\n",
        method.proto_name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Descriptors;
    use crate::options::Params;

    fn service_of(proto: &str, name: &str) -> Service {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.proto"), proto).unwrap();
        let descriptors =
            Descriptors::compile(&[dir.path().join("p.proto")], &[dir.path().to_owned()]).unwrap();
        let (model, _) = crate::model_of(&descriptors, &Params::default()).unwrap();
        model
            .packages
            .into_iter()
            .flat_map(|p| p.services)
            .find(|s| s.proto_name == name)
            .unwrap()
    }

    const PROTO: &str = "syntax = \"proto3\";\npackage p;\n\
        message Req { string id = 1; }\n\
        message Status { int32 code = 1; }\n\
        message Result { string ok = 1; }\n\
        message Msg { string a = 1; }\n\
        message Outer { message Msg { string b = 1; } }\n\
        service Svc {\n\
          rpc Get(Req) returns (Status);\n\
          rpc Put(stream Req) returns (Result);\n\
          rpc Watch(Msg) returns (stream Outer.Msg);\n\
        }\n";

    #[test]
    fn skeletons_import_short_names_unless_a_message_would_shadow_one() {
        let service = service_of(PROTO, "Svc");
        let (text, added) = scaffold(&service, "crate::pb::p", "::rust_stream", None).unwrap();
        assert_eq!(added, ["Get", "Put", "Watch"]);
        for line in [
            "use ::rust_stream::{CallContext, RequestStream, ResponseSink, Status};\n",
            "use crate::pb::p::Req;\n",
            "use crate::pb::p::svc_stream::SvcHandler;\n",
            "impl SvcHandler for SvcImpl {\n",
            "ctx: CallContext,",
            "-> Result<crate::pb::p::Status, Status> {",
            "mut requests: RequestStream<Req>,",
            "-> Result<crate::pb::p::Result, Status> {",
            "request: crate::pb::p::Msg,",
            "sink: ResponseSink<crate::pb::p::outer::Msg>,",
            "Err(Status::unimplemented(",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        // Past the imports, no runtime path is spelled out.
        let body = &text[text.find("pub struct").unwrap()..];
        assert!(!body.contains("rust_stream"), "{body}");
    }

    #[test]
    fn skeletons_name_well_known_types_through_the_runtime_root() {
        let proto = "syntax = \"proto3\";\npackage p;\n\
            import \"google/protobuf/timestamp.proto\";\n\
            service Clock { rpc Now(google.protobuf.Timestamp) returns (google.protobuf.Timestamp); }\n";
        let (text, _) = scaffold(
            &service_of(proto, "Clock"),
            "crate::pb::p",
            "::rust_stream",
            None,
        )
        .unwrap();
        assert!(
            text.contains("request: ::rust_stream::prost_types::Timestamp,"),
            "{text}"
        );
        assert!(!text.contains("codegen"), "{text}");
    }

    #[test]
    fn skeletons_honour_the_runtime_path() {
        let service = service_of(PROTO, "Svc");
        let (text, _) = scaffold(&service, "crate::pb::p", "::my::rt", None).unwrap();
        assert!(
            text.contains("use ::my::rt::{CallContext, RequestStream, ResponseSink, Status};\n"),
            "{text}"
        );
        assert!(!text.contains("codegen"), "{text}");
        assert!(!text.contains("rust_stream::"), "{text}");
    }

    #[test]
    fn new_stubs_use_full_paths_for_names_the_file_does_not_import() {
        let old = service_of(
            "syntax = \"proto3\";\npackage p;\nmessage Req { string id = 1; }\n\
             service Svc { rpc Get(Req) returns (Req); }\n",
            "Svc",
        );
        let new = service_of(
            "syntax = \"proto3\";\npackage p;\nmessage Req { string id = 1; }\n\
             message Other { string id = 1; }\n\
             service Svc { rpc Get(Req) returns (Req); rpc Put(stream Req) returns (Other); }\n",
            "Svc",
        );
        let (first, _) = scaffold(&old, "crate::pb::p", "::rust_stream", None).unwrap();
        let (second, added) =
            scaffold(&new, "crate::pb::p", "::rust_stream", Some(&first)).unwrap();
        assert_eq!(added, ["Put"]);
        let mut lines = second.lines();
        for old_line in first.lines() {
            assert!(lines.any(|l| l == old_line), "{old_line:?} changed");
        }
        for part in [
            "ctx: CallContext,",
            "mut requests: ::rust_stream::RequestStream<Req>,",
            "-> Result<crate::pb::p::Other, Status> {",
        ] {
            assert!(second.contains(part), "{part:?} missing from:\n{second}");
        }
        let (third, added) =
            scaffold(&new, "crate::pb::p", "::rust_stream", Some(&second)).unwrap();
        assert!(added.is_empty());
        assert_eq!(third, second);
    }

    #[test]
    fn joins_relative_paths() {
        assert_eq!(join("crate::pb::a", "Msg"), "crate::pb::a::Msg");
        assert_eq!(join("crate::pb::a", "super::b::Msg"), "crate::pb::b::Msg");
        assert_eq!(
            join("crate::pb", "::prost_types::Timestamp"),
            "::prost_types::Timestamp"
        );
        assert_eq!(join("crate::pb", "()"), "()");
        assert_eq!(
            join("crate::pb", "crate::rt::codegen::prost_types::Any"),
            "crate::rt::codegen::prost_types::Any"
        );
    }
}
