//! rust-stream's code generator: reads gRPC service descriptors, classifies every method by
//! streaming pattern, and emits the code that makes each pattern safe (handler traits,
//! adapters with cancellation, backpressure, limits and deadlines, tuned channels and
//! servers, upload helpers), next to prost's messages and tonic's client and server.
//!
//! The sources show the pipeline. Stages, in the order they run, each taking what the one
//! before it gives: `load` ([`Descriptors`] from protoc, a descriptor set or `.proto` files),
//! `editions` (editions files lowered to proto2 or proto3), `index` (the descriptors indexed
//! once), `check` (what prost-build and tonic-build assume), [`model`] (every name decided, every
//! clash resolved; read by the front ends, built only here), `validate` (what renaming cannot fix), `emit` (formatted files
//! ([`generate`], [`generate_each`]) or tokens ([`generate_tokens`])). Shared by all: `error`, `ident` (naming
//! rules) and [`options`]. The front ends, in `frontends`, take their users' input and run
//! the stages: the protoc plugin `protoc-gen-rust-stream` ([`plugin`]), [`Builder`] for
//! `build.rs` (protoc-free, protox), the `rust-stream` CLI (feature `bin`: `generate`,
//! `inspect`, `scaffold`, `new`), [`scaffold`] (handler skeletons) and `service_crate` (the
//! CLI's and the template's service crates).
//!
//! The public API is the façade: [`Builder`]; [`generate`], [`generate_each`], [`generate_tokens`] and
//! [`model_of`] on [`Descriptors`]; [`Params`] and [`parameters`]; [`Diagnostic`],
//! [`DiagnosticKind`], [`Error`] and [`Location`]; [`scaffold::Scaffold`]; the plugin's
//! [`plugin::respond`]. Items marked hidden serve rust-stream's own derive, CLI and tests.
//!
//! The generator keeps no global state and never prints (except `cargo:` lines from
//! [`Builder`]), so it can run inside a proc-macro. Problems come back as [`Diagnostic`]s with
//! a [`DiagnosticKind`] and a [`Location`], for each front end to present its own way.
//!
//! Settings come from plugin parameters ([`Params`]) and the proto options in
//! `rust_stream/options.proto`; see [`options`] for the precedence.
//!
#![doc = include_str!("../README.md")]

// The spine, which runs the stages.
mod pipeline;

// The stages, in the order they run; each takes what the one before it gives.
// 1. descriptors, from protoc, a descriptor set or `.proto` files;
mod load;
// 2. editions files lowered to proto2 or proto3;
mod editions;
// 3. the descriptor index, built once;
mod index;
// 4. what prost-build and tonic-build assume of their input;
mod check;
// 5. the model: every name decided, every clash resolved;
pub mod model;
// 6. what renaming cannot fix;
mod validate;
// 7. files or tokens.
mod emit;

// What every stage shares: errors, the naming rules, the settings, proto names and
// source locations.
mod error;
mod ident;
pub mod options;
mod proto;

// The ways in: the protoc plugin, the build API, the CLI, the scaffold and the service crate.
mod frontends;
#[cfg(feature = "bin")]
pub use frontends::cli;
pub use frontends::{plugin, scaffold};
// The service crate `rust-stream new` writes and `rust-stream sync` keeps in step, for the
// CLI and the template's tests.
#[doc(hidden)]
pub use frontends::service_crate;

pub use emit::{GeneratedFile, HEADER};
pub use error::{Diagnostic, DiagnosticKind, Error, Location};
pub use frontends::builder::Builder;
pub use load::Descriptors;
pub use model::Model;
pub use options::{Parameter, Params, parameters};
pub use pipeline::{generate, generate_each, generate_tokens, model_of};
// What the derive (`rust-stream-macros`) expands to, beside `generate_tokens`.
#[doc(hidden)]
pub use emit::{PackageTokens, nest_modules, root_items};

/// The derive's default module for a struct named `struct_name` (`Guide` -> `guide_proto`),
/// decided with every other emitted name.
#[doc(hidden)]
pub fn derive_module(struct_name: &str) -> String {
    ident::derive_module(struct_name)
}

/// The method a handler writes for `method`, on one line with short type names
/// (`async fn get_user(&self, ctx: CallContext, request: UserRequest) -> Result<UserResponse,
/// Status>`), from the same pattern emitter as the handler trait: for messages that show the
/// expected signature, such as the derive's.
#[doc(hidden)]
pub fn handler_signature(method: &model::Method) -> Result<String, Error> {
    use quote::ToTokens;
    let short = |path: &str| -> Result<proc_macro2::TokenStream, Error> {
        let name = path.rsplit("::").next().unwrap_or(path);
        syn::parse_str::<syn::Type>(name)
            .map(|ty| ty.into_token_stream())
            .map_err(|_| Error::new(DiagnosticKind::Internal, format!("`{name}` is not a type")))
    };
    let types = emit::pattern::Spelling {
        call_context: quote::quote!(CallContext),
        request_stream: quote::quote!(RequestStream),
        response_sink: quote::quote!(ResponseSink),
        status: quote::quote!(Status),
        result: quote::quote!(Result),
        request: short(&method.request.rust_path)?,
        response: short(&method.response.rust_path)?,
    };
    let signature = emit::pattern::skeleton_signature(method, &types)?;
    let item = syn::parse2::<syn::File>(quote::quote!(trait Handler { #signature; }))
        .map_err(|err| Error::new(DiagnosticKind::Internal, err.to_string()))?;
    let text = prettyplease::unparse(&item);
    // The lines inside `trait Handler { .. }`, joined into one.
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let inner = lines.get(1..lines.len().saturating_sub(1)).unwrap_or(&[]);
    let joined = inner.join(" ").replace("( ", "(").replace(" )", ")");
    Ok(joined.trim_end_matches(';').replace(",)", ")"))
}
