//! rust-stream's code generator: reads gRPC service descriptors, classifies every method by
//! streaming pattern, and emits the code that makes each pattern safe (handler traits,
//! adapters with cancellation, backpressure, limits and deadlines, tuned channels and
//! servers, upload helpers), next to prost's messages and tonic's client and server.
//!
//! The pipeline is descriptors ([`load`]) -> [`model`] (every name decided, every clash found)
//! -> checks -> emission, which returns formatted files ([`generate`]) or tokens
//! ([`generate_tokens`]); it keeps no global state and never prints (except `cargo:` lines from
//! [`Builder`]), so it can run inside a proc-macro. Problems come back as [`Diagnostic`]s with
//! a [`DiagnosticKind`] and a [`Location`], for each front end to present its own way.
//! Front ends:
//! - `protoc-gen-rust-stream`, the protoc plugin ([`plugin`]);
//! - [`Builder`], for `build.rs`, protoc-free (protox);
//! - the `rust-stream` CLI (feature `bin`): `generate`, `inspect`, `scaffold`;
//! - [`scaffold`], the handler skeletons of a model, for the CLI, templates and tools.
//!
//! Settings come from plugin parameters ([`Params`]) and the proto options in
//! `rust_stream/options.proto`; see [`options`] for the precedence.
//!
#![doc = include_str!("../README.md")]

pub mod builder;
mod check;
#[cfg(feature = "bin")]
pub mod cli;
mod editions;
mod emit;
mod error;
mod ident;
pub mod load;
mod messages;
pub mod model;
pub mod options;
pub mod plugin;
pub mod scaffold;
mod validate;

pub use builder::Builder;
pub use emit::{
    GeneratedFile, HEADER, PackageTokens, generate, generate_from_model, generate_tokens, model_of,
    nest_modules,
};
pub use error::{Diagnostic, DiagnosticKind, Error, Location};
pub use load::Descriptors;
pub use model::Model;
pub use options::{Parameter, Params, parameters};
