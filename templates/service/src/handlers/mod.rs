//! The handlers, one file per service: edit those files. `rust-stream sync` rewrites
//! this one on every run, from the protos in `proto/`.

pub mod streaming_examples;

/// Every service's handler, each built with `Default`, as `src/main.rs` serves them.
pub fn all() -> crate::pb::Handlers<streaming_examples::StreamingExamplesImpl> {
    crate::pb::Handlers {
        streaming_examples: Default::default(),
    }
}
