//! Nothing but a home for `tests/derive_ui.rs`: the compile errors of
//! `#[derive(StreamService)]`, in a crate whose dependencies are only what the cases need.
