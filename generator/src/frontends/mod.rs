//! The front ends: the ways into the generator. Each takes its user's input (a protoc
//! request, `build.rs` settings, command-line arguments, a model to scaffold), runs the
//! stages through the crate's entry points ([`crate::generate`], [`crate::model_of`] and
//! friends), and gives its user's output (a protoc response, files written under `OUT_DIR`,
//! a report on the terminal, handler files). Stages never call into a front end.
//!
//! - [`plugin`]: `protoc-gen-rust-stream`, a `CodeGeneratorRequest` in, a response out;
//! - [`builder`]: [`crate::Builder`], for `build.rs`, compiling `.proto` files with protox;
//! - `cli` (feature `bin`): the `rust-stream` command: `generate`, `inspect`, `scaffold`, `new`;
//! - [`scaffold`]: handler skeletons for a model's services, created or kept in step;
//! - [`service_crate`]: a service crate's generated files and handler modules, kept in sync.

pub mod builder;
#[cfg(feature = "bin")]
pub mod cli;
pub mod plugin;
pub mod scaffold;
pub mod service_crate;
