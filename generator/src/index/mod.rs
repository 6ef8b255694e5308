//! The descriptor index, built once after loading: every message, enum, service and method
//! by its full proto name, with where each is declared.
//!
//! A stage of the pipeline, after loading. Takes the [`Descriptors`]; gives an [`Index`]
//! that the checks, the model and the validation ask instead of walking the descriptors
//! themselves.

use crate::load::Descriptors;

/// The descriptors of one run, indexed.
#[derive(Debug)]
pub struct Index<'d> {
    descriptors: &'d Descriptors,
}

impl<'d> Index<'d> {
    /// Indexes `descriptors`.
    pub fn new(descriptors: &'d Descriptors) -> Self {
        Index { descriptors }
    }

    /// The descriptors indexed.
    pub fn descriptors(&self) -> &'d Descriptors {
        self.descriptors
    }
}
