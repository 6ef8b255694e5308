//! The expansion: the generator's code for the protos, exactly as the build API writes it,
//! in a module next to the struct, and the glue that serves the struct as the service.

use crate::attr::{self, Errors, Located, Options};
use crate::cache::{self, Generated};
use crate::fallback;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use rust_stream_build::Location;
use rust_stream_build::model::{Package, Service};
use std::path::{Component, Path, PathBuf};
use syn::{DeriveInput, Ident};

/// Expands `#[derive(StreamService)]` on `input`, with relative paths taken from
/// `manifest_dir`. Never fails: problems become compile errors, with a fallback in place of
/// what could not be generated.
pub fn expand(input: &DeriveInput, manifest_dir: &Path) -> TokenStream {
    let mut errors = Errors::default();
    let options = attr::parse(&input.attrs, input.ident.span(), &mut errors);
    let module = options
        .module
        .clone()
        .unwrap_or_else(|| default_module(&input.ident));
    let expanded = if options.protos.is_empty() {
        None
    } else {
        generate(input, &options, &module, manifest_dir, &mut errors)
    };
    let out = match errors.into_error() {
        None => expanded.map(|e| e.code).unwrap_or_default(),
        Some(error) => fallback::expand(input, &options, &module, expanded, &error),
    };
    edition_gate(input, &options, &module, manifest_dir, out)
}

/// The minimum edition of a crate using the derive: the generated code (tonic's client)
/// relies on the 2021 prelude (`TryInto`, `TryFrom`).
pub const MINIMUM_EDITION: &str = "2021";

/// `code` where the crate is on edition 2021 or later; elsewhere one error at the attribute
/// naming the minimum edition, with the fallback's placeholders. A proc macro cannot ask
/// rustc for the crate's edition, so it is read from the crate's manifest, once per crate
/// while the manifests stay as they are.
fn edition_gate(
    input: &DeriveInput,
    options: &Options,
    module: &Ident,
    manifest_dir: &Path,
    code: TokenStream,
) -> TokenStream {
    let Some(edition) = cache::edition(manifest_dir) else {
        return code;
    };
    if edition.as_str() >= MINIMUM_EDITION {
        return code;
    }
    let error = syn::Error::new(
        options.span,
        format!(
            "#[derive(StreamService)] needs Rust edition {MINIMUM_EDITION} or later (the \
             generated code relies on its prelude), and this crate is on {edition}; set \
             `edition = \"{MINIMUM_EDITION}\"` in its Cargo.toml"
        ),
    );
    fallback::expand(input, options, module, None, &error)
}

/// What [`generate`] could make: the module, and the glue if a service could be served.
pub struct Expansion {
    /// Everything made: the module and, if any, the glue.
    pub code: TokenStream,
    /// Whether the glue (`impl StreamService`) is in `code`.
    pub served: bool,
}

/// The module a struct's code goes in when no `module =` is given, named by the generator.
pub fn default_module(ident: &Ident) -> Ident {
    format_ident!("{}", rust_stream_build::derive_module(&ident.to_string()))
}

/// The absolute paths of the attribute's protos and include directories; `None` after
/// reporting those that do not exist.
fn paths(options: &Options, manifest_dir: &Path, errors: &mut Errors) -> Option<Resolved> {
    let mut ok = true;
    let mut protos = Vec::new();
    for proto in &options.protos {
        let path = absolute(manifest_dir, &proto.value);
        if path.is_file() || path.is_dir() {
            protos.push(path);
        } else {
            ok = false;
            errors.at(
                proto.span,
                format!(
                    "proto file `{}` not found: looked for {} (paths are relative to CARGO_MANIFEST_DIR)",
                    proto.value,
                    path.display()
                ),
            );
        }
    }
    let mut includes: Vec<(String, PathBuf)> = Vec::new();
    for include in &options.includes {
        let path = absolute(manifest_dir, &include.value);
        if path.is_dir() {
            includes.push((include.value.clone(), path));
        } else {
            ok = false;
            errors.at(
                include.span,
                format!(
                    "include directory `{}` not found: looked for {}",
                    include.value,
                    path.display()
                ),
            );
        }
    }
    if options.includes.is_empty() {
        // Each proto's own directory, as `protoc -I` would be set for a lone file; a
        // directory of protos is the root of their imports.
        for (proto, path) in options.protos.iter().zip(&protos) {
            let written = if path.is_dir() {
                proto.value.clone()
            } else {
                Path::new(&proto.value)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            };
            let path = absolute(manifest_dir, &written);
            if !includes.iter().any(|(_, p)| *p == path) {
                includes.push((written, path));
            }
        }
    }
    ok.then_some(Resolved { protos, includes })
}

struct Resolved {
    protos: Vec<PathBuf>,
    /// As written (for messages) and absolute.
    includes: Vec<(String, PathBuf)>,
}

impl Resolved {
    /// A proto location as the user would open it: `proto/streaming.proto:3:5`.
    fn display(&self, location: &Location) -> String {
        let written = self
            .includes
            .iter()
            .find(|(_, path)| path.join(&location.file).is_file())
            .map(|(written, _)| {
                Path::new(written)
                    .join(&location.file)
                    .display()
                    .to_string()
            })
            .unwrap_or_else(|| location.file.clone());
        Location {
            file: written,
            ..location.clone()
        }
        .to_string()
    }

    /// The attribute value to report a problem in `file` at: the proto that is `file`, else
    /// the first.
    fn span_of(&self, options: &Options, file: Option<&str>) -> Span {
        file.and_then(|file| {
            self.protos
                .iter()
                .position(|p| p.ends_with(file))
                .map(|i| options.protos[i].span)
        })
        .unwrap_or(options.protos[0].span)
    }
}

/// `manifest_dir/relative` with `.` and `..` resolved in the text, as the message shows it.
fn absolute(manifest_dir: &Path, relative: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for part in manifest_dir.join(relative).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The whole expansion, or `None` after reporting why the module cannot be made.
fn generate(
    input: &DeriveInput,
    options: &Options,
    module: &Ident,
    manifest_dir: &Path,
    errors: &mut Errors,
) -> Option<Expansion> {
    let resolved = paths(options, manifest_dir, errors)?;
    let includes: Vec<PathBuf> = resolved.includes.iter().map(|(_, p)| p.clone()).collect();
    let generated = match cache::generate(&resolved.protos, &includes, &options.params) {
        Ok(generated) => generated,
        Err(error) => {
            for diagnostic in error.diagnostics() {
                let file = diagnostic.location.as_ref().map(|l| l.file.as_str());
                let message = match &diagnostic.location {
                    Some(location) => {
                        format!("{}: {}", resolved.display(location), diagnostic.message)
                    }
                    None => diagnostic.message.clone(),
                };
                errors.at(resolved.span_of(options, file), message);
            }
            return None;
        }
    };
    // Without a service to serve, the module is still emitted: code using its types then
    // compiles, and the one error is about the service.
    let chosen = options
        .serve
        .then(|| choose_service(options, &resolved, &generated, errors))
        .flatten();
    let glue = chosen.and_then(|(package, service)| {
        match glue(input, options, module, package, service) {
            Ok(glue) => Some(glue),
            Err(error) => {
                errors.push(error);
                None
            }
        }
    });
    let code = &generated.code;
    let vis = &input.vis;
    let doc = format!(
        "The code generated from {} for `{}` by `#[derive(StreamService)]`: prost's messages, \
         tonic's client and server and rust-stream's stream layer, as the build API writes them.",
        options.proto_list(),
        input.ident
    );
    // `include_bytes!` is how cargo learns that the crate depends on each file (stable
    // Rust has no tracked-path API).
    let tracked = generated.descriptors.loaded_files().iter().map(|path| {
        let path = path.display().to_string();
        quote!(
            const _: &[u8] = include_bytes!(#path);
        )
    });
    let served = glue.is_some();
    let code = quote! {
        #[doc = #doc]
        #[allow(missing_docs)]
        #vis mod #module {
            #code
        }
        const _: () = {
            #(#tracked)*
            #glue
        };
    };
    Some(Expansion { code, served })
}

/// The service to serve: the one named by `service = ".."`, or the only one declared in the
/// named protos.
fn choose_service<'g>(
    options: &Options,
    resolved: &Resolved,
    generated: &'g Generated,
    errors: &mut Errors,
) -> Option<(&'g Package, &'g Service)> {
    let declared: Vec<(&Package, &Service)> = generated
        .model
        .services()
        .filter(|(_, s)| generated.named.contains(&s.location().file))
        .collect();
    let names = || {
        declared
            .iter()
            .map(|(_, s)| format!("`{}`", s.full_name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let protos = || options.proto_list();
    match &options.service {
        Some(Located { value, span }) => {
            let found: Vec<_> = declared
                .iter()
                .filter(|(_, s)| s.full_name() == value || s.proto_name() == value)
                .collect();
            match found.as_slice() {
                [one] => Some(**one),
                [] => {
                    errors.at(
                        *span,
                        format!(
                            "no service `{value}` in {}; services: {}",
                            protos(),
                            if declared.is_empty() {
                                "none".to_owned()
                            } else {
                                names()
                            }
                        ),
                    );
                    None
                }
                _ => {
                    errors.at(
                        *span,
                        format!(
                            "`{value}` names several services; use the fully qualified name: {}",
                            names()
                        ),
                    );
                    None
                }
            }
        }
        None => match declared.as_slice() {
            [one] => Some(*one),
            [] => {
                errors.at(
                    resolved.span_of(options, None),
                    format!(
                        "{} declares no service; #[derive(StreamService)] serves one",
                        protos()
                    ),
                );
                None
            }
            _ => {
                errors.at(
                    options.span,
                    format!(
                        "{} declare several services; choose one with `service = \"...\"`: {}",
                        protos(),
                        names()
                    ),
                );
                None
            }
        },
    }
}

/// An identifier the generator named, raw if it is a keyword.
fn ident(name: &str) -> syn::Result<Ident> {
    syn::parse_str::<Ident>(name)
        .or_else(|_| syn::parse_str::<Ident>(&format!("r#{name}")))
        .map_err(|_| {
            syn::Error::new(
                Span::call_site(),
                format!("`{name}` is not a Rust identifier"),
            )
        })
}

/// `impl StreamService` for the struct, bound by a trait whose error, if the struct does not
/// implement the handler trait, names the service, the proto and every RPC with its pattern
/// and expected signature.
fn glue(
    input: &DeriveInput,
    options: &Options,
    module: &Ident,
    package: &Package,
    service: &Service,
) -> syn::Result<TokenStream> {
    let krate = options
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::rust_stream));
    let mut path = vec![module.clone()];
    for part in package.module() {
        path.push(ident(part)?);
    }
    let stream = ident(service.stream_module())?;
    let server_module = ident(service.tonic_server_module())?;
    let handler = ident(service.handler_trait())?;
    let adapter = ident(service.adapter())?;
    let config = ident(service.config_struct())?;
    let server = ident(service.tonic_server())?;
    let ty = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let helpers = HelperNames::new(input, module, &krate);
    let check = handler_check(input, options, &path, &stream, &handler, service, &helpers)?;
    let check_trait = &helpers.check_trait;
    let mut where_clause = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    // Through our trait, whose message the check's error carries. Without generics the bound
    // is higher-ranked: a bound naming no parameter is checked at the impl (a second error
    // after the check's), one with a bound lifetime only where the impl is used.
    let bound: syn::WherePredicate = if input.generics.params.is_empty() {
        syn::parse_quote!(for<'derive> Self: #check_trait)
    } else {
        syn::parse_quote!(Self: #check_trait)
    };
    where_clause.predicates.push(bound);
    Ok(quote! {
        #check
        impl #impl_generics #krate::codegen::StreamService for #ty #ty_generics #where_clause {
            type Server = #(#path::)*#server_module::#server<#(#path::)*#stream::#adapter<Self>>;
            type Config = #(#path::)*#stream::#config;
            const TUNING: #krate::codegen::Tuning = #(#path::)*#stream::TUNING;
            fn server_from_arc(
                this: ::std::sync::Arc<Self>,
                config: Self::Config,
            ) -> Self::Server {
                #(#path::)*#stream::#adapter::from_arc(this)
                    .with_config(config)
                    .into_server()
            }
        }
    })
}

/// The names the derive declares beside the user's (in the block that holds its impl), each
/// distinct from every name of the user's in that block: the struct, its generic
/// parameters, the module and the first segment of the crate's path. A struct named
/// `Implemented` then is not hidden by the check's trait.
struct HelperNames {
    /// The trait whose unmet bound explains what to implement.
    check_trait: Ident,
    /// The function that checks the bound at once.
    check_fn: Ident,
    /// The type parameter of the trait's blanket impl and of the function.
    param: Ident,
}

impl HelperNames {
    fn new(input: &DeriveInput, module: &Ident, krate: &syn::Path) -> Self {
        let mut taken: Vec<String> = input
            .generics
            .params
            .iter()
            .map(|param| match param {
                syn::GenericParam::Type(t) => t.ident.to_string(),
                syn::GenericParam::Lifetime(l) => l.lifetime.ident.to_string(),
                syn::GenericParam::Const(c) => c.ident.to_string(),
            })
            .collect();
        taken.push(input.ident.to_string());
        taken.push(module.to_string());
        taken.extend(krate.segments.first().map(|s| s.ident.to_string()));
        let fresh = |base: &str| {
            let mut name = base.to_owned();
            while taken.iter().any(|t| t.trim_start_matches("r#") == name) {
                name.push('_');
            }
            format_ident!("{name}")
        };
        HelperNames {
            check_trait: fresh("Implemented"),
            check_fn: fresh("implemented"),
            param: fresh("T"),
        }
    }
}

/// `Implemented`: the handler trait under another name, whose
/// `#[diagnostic::on_unimplemented]` says what to implement (rustc reports an unmet bound
/// with the message of the trait named in the bound). The handler trait is its supertrait,
/// so that the bound alone gives the impl everything it needs: one error, not one per use.
fn handler_check(
    input: &DeriveInput,
    options: &Options,
    path: &[Ident],
    stream: &Ident,
    handler: &Ident,
    service: &Service,
    helpers: &HelperNames,
) -> syn::Result<TokenStream> {
    let ty = &input.ident;
    let HelperNames {
        check_trait,
        check_fn,
        param,
    } = helpers;
    let trait_path = format!(
        "{}::{stream}::{handler}",
        path.iter()
            .map(Ident::to_string)
            .collect::<Vec<_>>()
            .join("::")
    );
    let protos = options.proto_list();
    let message = escape(&format!(
        "`{ty}` does not implement `{handler}`, the handler of gRPC service `{}` ({protos})",
        service.full_name()
    ));
    let label = escape(&format!(
        "`#[derive(StreamService)]` serves `{ty}` as `{}`",
        service.full_name()
    ));
    let mut notes = vec![escape(&format!(
        "add `impl {trait_path} for {ty}` with one async method per RPC \
         (an RPC left out answers UNIMPLEMENTED):"
    ))];
    for method in service.methods() {
        let signature = rust_stream_build::handler_signature(method)
            .map_err(|err| syn::Error::new(Span::call_site(), err))?;
        notes.push(escape(&format!(
            "{} ({}): {signature}",
            method.proto_name(),
            method.pattern().label()
        )));
    }
    // Where the struct is named without generics, the bound is checked at once.
    let check_now = input.generics.params.is_empty().then(|| {
        quote! {
            fn #check_fn<#param: #check_trait>() {}
            let _ = #check_fn::<#ty>;
        }
    });
    Ok(quote! {
        #[diagnostic::on_unimplemented(message = #message, label = #label, #(note = #notes),*)]
        trait #check_trait: #(#path::)*#stream::#handler {}
        impl<#param: #(#path::)*#stream::#handler> #check_trait for #param {}
        #check_now
    })
}

/// `on_unimplemented` reads `{..}` as format arguments.
fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}
