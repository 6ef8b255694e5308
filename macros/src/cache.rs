//! A process-wide cache of parsed protos and generated code, keyed by the files' contents,
//! and of crates' editions, keyed by manifest directory: rustc loads a procedural macro once
//! per crate it compiles, so several derives on the same protos in one crate parse them once
//! and generate once, and read the crate's manifests once.

use crate::manifest::{self, Consulted};
use proc_macro2::TokenStream;
use quote::ToTokens;
use rust_stream_build::{
    Descriptors, Error, Model, Params, generate_tokens, model_of, nest_modules, root_items,
};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

/// What one derive needs from the generator.
pub struct Generated {
    /// The descriptors, imports included ([`Descriptors::loaded_files`] for rebuilds).
    pub descriptors: Descriptors,
    /// The files named in the attribute (code is generated for their imports too).
    pub named: Vec<String>,
    /// The model, for the glue.
    pub model: Model,
    /// Every package's code, nested as the include file nests them.
    pub code: TokenStream,
}

/// One set of protos: the files read with their contents, and the code per parameter set.
struct Entry {
    protos: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    files: Vec<(PathBuf, Vec<u8>)>,
    descriptors: Descriptors,
    named: Vec<String>,
    /// Token streams cannot outlive one macro call, so the code is kept as text.
    outputs: Vec<(Params, Model, String)>,
}

static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The protos of every parse in this process, for tests (which run in parallel).
#[cfg(test)]
pub static PARSED: Mutex<Vec<Vec<PathBuf>>> = Mutex::new(Vec::new());

/// The code for `protos` (absolute paths) with `includes` and `params`, from the cache if
/// every file it read still has the same contents.
pub fn generate(
    protos: &[PathBuf],
    includes: &[PathBuf],
    params: &Params,
) -> Result<Generated, Error> {
    // A poisoned lock only means an earlier call panicked; the entries are still whole.
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let position = cache
        .iter()
        .position(|e| e.protos == protos && e.includes == includes);
    let fresh = position.filter(|&i| {
        cache[i]
            .files
            .iter()
            .all(|(path, bytes)| std::fs::read(path).is_ok_and(|now| &now == bytes))
    });
    let index = match fresh {
        Some(i) => i,
        None => {
            if let Some(stale) = position {
                cache.remove(stale);
            }
            #[cfg(test)]
            PARSED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(protos.to_vec());
            let compiled = Descriptors::compile(protos, includes)?;
            let named = compiled.to_generate.clone();
            // As the build API: imported packages are generated too.
            let descriptors = compiled.generate_imports();
            let files = descriptors
                .loaded_files()
                .iter()
                .map(|path| (path.clone(), std::fs::read(path).unwrap_or_default()))
                .collect();
            cache.push(Entry {
                protos: protos.to_vec(),
                includes: includes.to_vec(),
                files,
                descriptors,
                named,
                outputs: Vec::new(),
            });
            cache.len() - 1
        }
    };
    let entry = &mut cache[index];
    let (model, code) = match entry.outputs.iter().find(|(p, _, _)| p == params) {
        Some((_, model, text)) => {
            let code = TokenStream::from_str(text).map_err(|err| {
                Error::new(
                    rust_stream_build::DiagnosticKind::Internal,
                    format!("cached code does not parse: {err}"),
                )
            })?;
            (model.clone(), code)
        }
        None => {
            let (model, seen) = model_of(&entry.descriptors, params)?;
            let mut code = nest_modules(&generate_tokens(&entry.descriptors, params)?)?;
            // What the include file holds at its root: `SERVICES`, `Handlers`, ...
            code.extend(root_items(&model, &seen, params)?.into_token_stream());
            entry
                .outputs
                .push((params.clone(), model.clone(), code.to_string()));
            (model, code)
        }
    };
    Ok(Generated {
        descriptors: entry.descriptors.clone(),
        named: entry.named.clone(),
        model,
        code,
    })
}

/// A crate's edition, with the manifests it was read from.
struct Edition {
    manifest_dir: PathBuf,
    consulted: Consulted,
    edition: Option<String>,
}

static EDITIONS: Mutex<Vec<Edition>> = Mutex::new(Vec::new());

/// The manifest directories whose edition was read from disk, for tests.
#[cfg(test)]
pub static EDITIONS_READ: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The edition of the crate whose manifest is in `manifest_dir` ([`manifest::edition`]),
/// from the cache while every manifest it was read from has the same contents (or is still
/// absent).
pub fn edition(manifest_dir: &Path) -> Option<String> {
    let mut editions = EDITIONS.lock().unwrap_or_else(|e| e.into_inner());
    let cached = editions.iter().position(|e| e.manifest_dir == manifest_dir);
    if let Some(i) = cached {
        let unchanged = editions[i]
            .consulted
            .iter()
            .all(|(path, bytes)| std::fs::read(path).ok() == *bytes);
        if unchanged {
            return editions[i].edition.clone();
        }
        editions.remove(i);
    }
    #[cfg(test)]
    EDITIONS_READ
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(manifest_dir.to_owned());
    let mut consulted = Consulted::new();
    let edition = manifest::edition(manifest_dir, &mut consulted);
    editions.push(Edition {
        manifest_dir: manifest_dir.to_owned(),
        consulted,
        edition: edition.clone(),
    });
    edition
}
