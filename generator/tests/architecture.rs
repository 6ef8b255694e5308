//! The generator's imports run one way: the shared modules (errors, naming rules, settings)
//! import no stage; each stage imports only the shared modules and the stages before it
//! (load, editions, index, check, model, validate, emit); no stage imports a front end. Only the
//! spine (`pipeline`, `lib.rs`) runs the stages, and the front ends call it.
//!
//! Read from the sources, token by token (comments and `#[cfg(test)]` items left out), so
//! every path counts: `use` items and paths written inline alike.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The top-level modules in the order imports may run: each may use itself and those
/// before it. Modules on one line are one layer.
const LAYERS: &[&[&str]] = &[
    &["error", "ident", "options", "proto"],
    &["load"],
    &["editions"],
    &["index"],
    &["check"],
    &["model"],
    &["validate"],
    &["emit"],
    &["pipeline"],
    &["frontends"],
];

/// A `crate::` path in a source file that goes against [`LAYERS`].
#[derive(Debug)]
struct Violation {
    file: PathBuf,
    from: String,
    to: String,
}

#[test]
fn stages_import_only_earlier_stages_and_no_front_end() {
    let violations = violations(&source_dir());
    assert!(
        violations.is_empty(),
        "imports against the pipeline's order {LAYERS:?}:\n{}",
        violations
            .iter()
            .map(|v| format!(
                "  {}: `{}` uses `crate::{}`",
                v.file.display(),
                v.from,
                v.to
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Each stage's entry point, as it is called (`module::function`): only the spine calls them.
const ENTRY_POINTS: &[(&str, &str)] = &[
    ("load", "for_generation"),
    ("editions", "lower"),
    ("Index", "new"),
    ("check", "check"),
    ("model", "build"),
    ("validate", "check"),
    ("emit", "files"),
    ("emit", "tokens"),
];

#[test]
fn only_the_spine_runs_a_stage() {
    let sources = source_dir();
    let mut callers = Vec::new();
    for file in rust_files(&sources) {
        if file.file_stem().is_some_and(|stem| stem == "pipeline") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let mut pairs = Vec::new();
        path_pairs(TokenStream::from_str(&text).unwrap(), &mut pairs);
        for pair in pairs {
            if ENTRY_POINTS
                .iter()
                .any(|&(m, f)| pair.0 == m && pair.1 == f)
            {
                let at = file.strip_prefix(&sources).unwrap().display().to_string();
                callers.push(format!("{at}: {}::{}", pair.0, pair.1));
            }
        }
    }
    assert!(
        callers.is_empty(),
        "stages run outside the spine: {callers:#?}"
    );
}

#[test]
fn the_check_sees_an_import_of_a_later_stage() {
    let tokens = TokenStream::from_str(
        "use crate::ident; use crate::{error::Error, emit::ident}; fn f() { crate::frontends::x(); }
         #[cfg(test)] mod tests { use crate::frontends::y; }",
    )
    .unwrap();
    let mut found = Vec::new();
    crate_paths(tokens, &mut found);
    assert_eq!(found, ["ident", "error", "emit", "frontends"]);
    let mut pairs = Vec::new();
    path_pairs(
        TokenStream::from_str("fn f() { crate::check::check(x); }").unwrap(),
        &mut pairs,
    );
    assert!(pairs.contains(&("check".to_owned(), "check".to_owned())));
    assert_eq!(allowed("check", "model"), Some(false));
    assert_eq!(allowed("model", "check"), Some(true));
    assert_eq!(allowed("emit", "frontends"), Some(false));
    assert_eq!(allowed("frontends", "emit"), Some(true));
    assert_eq!(allowed("ident", "load"), Some(false));
    assert_eq!(allowed("load", "editions"), Some(false));
    assert_eq!(allowed("editions", "load"), Some(true));
    assert_eq!(allowed("index", "editions"), Some(true));
    assert_eq!(allowed("check", "Error"), Some(false));
    assert_eq!(allowed("frontends", "generate"), Some(true));
}

#[test]
fn every_module_has_a_layer() {
    let sources = source_dir();
    let mut unplaced = Vec::new();
    for entry in std::fs::read_dir(&sources).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "lib" && name != "bin" && layer(&name).is_none() {
            unplaced.push(name);
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules missing from LAYERS: {unplaced:?}"
    );
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Whether `from` may use `to`. Items of the crate root (the public façade: `crate::generate`,
/// `crate::Error`) are for the front ends; the stages and the shared modules reach an item
/// through the module that owns it. `None` if `from` has no layer.
fn allowed(from: &str, to: &str) -> Option<bool> {
    let from = layer(from)?;
    Some(match layer(to) {
        Some(to) => to <= from,
        None => from == LAYERS.len() - 1,
    })
}

fn violations(sources: &Path) -> Vec<Violation> {
    let mut out = Vec::new();
    for file in rust_files(sources) {
        let relative = file.strip_prefix(sources).unwrap();
        let from = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if from == "lib" || from == "bin" || layer(&from).is_none() {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let tokens = TokenStream::from_str(&text)
            .unwrap_or_else(|err| panic!("{} does not tokenize: {err:?}", file.display()));
        let mut paths = Vec::new();
        crate_paths(tokens, &mut paths);
        for to in paths {
            if allowed(&from, &to) != Some(true) {
                out.push(Violation {
                    file: relative.to_owned(),
                    from: from.clone(),
                    to,
                });
            }
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The first segment after every `crate::` in `tokens` (each name of a `crate::{a, b}`
/// group), leaving out items under `#[cfg(test)]`.
fn crate_paths(tokens: TokenStream, out: &mut Vec<String>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens[i..]) {
            i = end_of_item(&tokens, i + 2);
            continue;
        }
        match &tokens[i] {
            TokenTree::Ident(ident) if ident == "crate" && is_path_sep(&tokens[i + 1..]) => {
                match tokens.get(i + 3) {
                    Some(TokenTree::Ident(next)) => out.push(next.to_string()),
                    Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
                        group_heads(group.stream(), out)
                    }
                    _ => {}
                }
                i += 3;
            }
            TokenTree::Group(group) => {
                crate_paths(group.stream(), out);
                i += 1;
            }
            _ => i += 1,
        }
    }
}

/// Every `a::b` in `tokens`, leaving out items under `#[cfg(test)]`.
fn path_pairs(tokens: TokenStream, out: &mut Vec<(String, String)>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        if is_cfg_test(&tokens[i..]) {
            i = end_of_item(&tokens, i + 2);
            continue;
        }
        match (&tokens[i], tokens.get(i + 3)) {
            (TokenTree::Ident(a), Some(TokenTree::Ident(b))) if is_path_sep(&tokens[i + 1..]) => {
                out.push((a.to_string(), b.to_string()));
            }
            (TokenTree::Group(group), _) => path_pairs(group.stream(), out),
            _ => {}
        }
        i += 1;
    }
}

/// The first name of each path in a `use` group (`{a::b, c}` gives `a`, `c`).
fn group_heads(tokens: TokenStream, out: &mut Vec<String>) {
    let mut at_start = true;
    for token in tokens {
        match &token {
            TokenTree::Ident(ident) if at_start => {
                out.push(ident.to_string());
                at_start = false;
            }
            TokenTree::Punct(punct) if punct.as_char() == ',' => at_start = true,
            _ => at_start = false,
        }
    }
}

fn is_path_sep(tokens: &[TokenTree]) -> bool {
    matches!(tokens, [TokenTree::Punct(a), TokenTree::Punct(b), ..] if a.as_char() == ':' && b.as_char() == ':')
}

/// Whether `tokens` starts with `#[cfg(test)]`.
fn is_cfg_test(tokens: &[TokenTree]) -> bool {
    match tokens {
        [TokenTree::Punct(hash), TokenTree::Group(group), ..] => {
            hash.as_char() == '#'
                && group.delimiter() == Delimiter::Bracket
                && group.stream().to_string().replace(' ', "") == "cfg(test)"
        }
        _ => false,
    }
}

/// The index after the item starting at `start`: after its first `;` or `{ .. }` block.
fn end_of_item(tokens: &[TokenTree], start: usize) -> usize {
    let mut i = start;
    while let Some(token) = tokens.get(i) {
        i += 1;
        match token {
            TokenTree::Punct(punct) if punct.as_char() == ';' => break,
            TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => break,
            _ => {}
        }
    }
    i
}
