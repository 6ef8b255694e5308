//! The spine: the one place that runs the stages, in order, each taking what the one
//! before it gave (as thiserror's `try_expand` and prost-build's `Context` do):
//!
//! ```text
//! Descriptors --load--> loaded --editions--> lowered --index--> Index --check--> Checked
//!     --model--> Model --validate--> valid Model --emit--> files or tokens
//! ```
//!
//! No stage calls another; the front ends call the functions here.

use crate::check::{self, Checked};
use crate::editions;
use crate::emit::{self, GeneratedFile, PackageTokens};
use crate::error::{Diagnostic, DiagnosticKind, Error};
use crate::index::Index;
use crate::load::{self, Descriptors};
use crate::model::{self, Model};
use crate::options::Params;
use crate::validate;

/// Generates every file for `descriptors`: the model, then prost-build and tonic (unless
/// `stream_only`), then the stream layer, formatted.
pub fn generate(descriptors: &Descriptors, params: &Params) -> Result<Vec<GeneratedFile>, Error> {
    let mut files = Vec::new();
    generate_each(descriptors, params, |file| {
        files.push(file);
        Ok(())
    })?;
    Ok(files)
}

/// Generates every file [`generate`] does and gives each to `each` as soon as it is
/// formatted, in the same order, instead of holding them all: what a caller that writes the
/// files wants, as it then holds one file at a time. Stops at the first error, the
/// generator's or `each`'s; the files given before it stay given.
pub fn generate_each(
    descriptors: &Descriptors,
    params: &Params,
    each: impl FnMut(GeneratedFile) -> Result<(), Error> + Send,
) -> Result<(), Error> {
    let loaded = load::for_generation(descriptors);
    let lowered = editions::lower(&loaded);
    let index = Index::new(&lowered);
    let (checked, model) = validated_model(&index, params)?;
    checked.for_output()?;
    emit::each_file(&model, index.descriptors(), params, each)
}

/// Generates the code for `descriptors` as tokens, one entry per package with code, without
/// formatting it: what a procedural macro expands to. [`crate::nest_modules`] puts the
/// packages in the module tree the include file would give them.
pub fn generate_tokens(
    descriptors: &Descriptors,
    params: &Params,
) -> Result<Vec<PackageTokens>, Error> {
    let loaded = load::for_generation(descriptors);
    let lowered = editions::lower(&loaded);
    let index = Index::new(&lowered);
    let (checked, model) = validated_model(&index, params)?;
    checked.for_output()?;
    emit::tokens(&model, index.descriptors(), params)
}

/// Builds the model for `descriptors` (as [`generate`] sees them), reporting every problem;
/// returns it with those descriptors, for the scaffold, the root items or emission.
pub fn model_of(descriptors: &Descriptors, params: &Params) -> Result<(Model, Descriptors), Error> {
    let loaded = load::for_generation(descriptors);
    let lowered = editions::lower(&loaded).into_owned();
    let (_, model) = validated_model(&Index::new(&lowered), params)?;
    Ok((model, lowered))
}

/// Generates every file for a model [`model_of`] built, with the descriptors it returned.
///
/// Packages are parsed and formatted independently, on up to as many threads as the
/// machine has cores (at most 8); the output does not depend on the number
/// of threads.
/// Each file is given to `each` as [`generate_each`] gives them.
#[cfg(feature = "bin")]
pub(crate) fn generate_from_model(
    model: &Model,
    descriptors: &Descriptors,
    params: &Params,
    each: impl FnMut(GeneratedFile) -> Result<(), Error> + Send,
) -> Result<(), Error> {
    let index = Index::new(descriptors);
    check::check(&index, params)
        .map_err(refused)?
        .for_output()?;
    emit::each_file(model, descriptors, params, each)
}

/// The stages between the index and emission: check, model, validate. The model's and the
/// validation's problems are reported together.
fn validated_model(index: &Index<'_>, params: &Params) -> Result<(Checked, Model), Error> {
    let checked = check::check(index, params).map_err(refused)?;
    let (model, mut problems) = model::build(index, params);
    problems.extend(validate::check(&model, index));
    if problems.is_empty() {
        Ok((checked, model))
    } else {
        Err(refused(problems))
    }
}

/// The error for the problems a stage found.
fn refused(problems: Vec<Diagnostic>) -> Error {
    Error::from_diagnostics(problems)
        .unwrap_or_else(|| Error::new(DiagnosticKind::Internal, "invalid input"))
}
