//! rust-stream's code generator: reads gRPC service descriptors, classifies every method by
//! streaming pattern, and emits the code that makes each pattern safe (handler traits,
//! adapters with cancellation, backpressure, limits and deadlines, tuned channels and
//! servers, upload helpers), next to prost's messages and tonic's client and server.
//!
//! The pipeline is descriptors ([`load`]) -> [`model`] -> [`validate`] -> [`emit`]; it keeps
//! no global state and never prints (except `cargo:` lines from [`Builder`]), so it can run
//! inside a proc-macro. Front ends:
//! - `protoc-gen-rust-stream`, the protoc plugin ([`plugin`]);
//! - [`Builder`], for `build.rs`, protoc-free (protox);
//! - the `rust-stream` CLI (feature `bin`): `generate`, `inspect`, `scaffold`.
//!
//! Settings come from plugin parameters ([`Params`]) and the proto options in
//! `rust_stream/options.proto`; see [`options`] for the precedence.
//!
#![doc = include_str!("../README.md")]

pub mod builder;
mod check;
#[cfg(feature = "bin")]
pub mod cli;
pub mod emit;
mod error;
pub mod ident;
pub mod load;
mod messages;
pub mod model;
pub mod options;
pub mod plugin;
pub mod validate;

pub use builder::Builder;
pub use emit::{GeneratedFile, generate};
pub use error::{Diagnostic, DiagnosticKind, Error, Location};
pub use load::Descriptors;
pub use model::Model;
pub use options::{Parameter, Params, parameters};
