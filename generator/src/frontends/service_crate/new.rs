//! `rust-stream new`: a service crate from the user's own protos, rendered from the same
//! files as the `cargo generate` template (`templates/service`, built into the binary), with
//! the same placeholders, defaults and checks (read from its `cargo-generate.toml`).
//!
//! Without protos it writes what `cargo generate` writes: the guide's example. With protos,
//! it copies them and every import they need (well-known types and rust-stream's options
//! are built in) into `proto/`, renders the files that name no RPC, and runs a sync for the
//! handlers. Nothing is written until the protos have been read and every placeholder
//! checked.

use super::{PROTO_DIR, SyncReport, sync};
use crate::error::{DiagnosticKind, Error};
use crate::load::{Descriptors, OPTIONS_PROTO_NAME};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One file of the template: its path there and its text.
struct TemplateFile {
    path: &'static str,
    text: &'static str,
    /// Part of the guide's example, written only when no protos are given.
    example: bool,
}

/// Every file of the template but `cargo-generate.toml`.
const FILES: &[TemplateFile] = &[
    crate_file(
        "Cargo.toml.liquid",
        include_str!("../../../template/Cargo.toml.liquid"),
    ),
    crate_file("README.md", include_str!("../../../template/README.md")),
    crate_file("build.rs", include_str!("../../../template/build.rs")),
    crate_file("src/lib.rs", include_str!("../../../template/src/lib.rs")),
    crate_file("src/main.rs", include_str!("../../../template/src/main.rs")),
    crate_file(
        "src/production.rs",
        include_str!("../../../template/src/production.rs"),
    ),
    crate_file(
        "src/bin/client.rs",
        include_str!("../../../template/src/bin/client.rs"),
    ),
    crate_file(
        "tests/rpcs.rs",
        include_str!("../../../template/tests/rpcs.rs"),
    ),
    crate_file(
        "deploy/kubernetes.yaml",
        include_str!("../../../template/deploy/kubernetes.yaml"),
    ),
    example_file(
        "proto/streaming.proto",
        include_str!("../../../template/proto/streaming.proto"),
    ),
    example_file(
        "src/handlers/mod.rs",
        include_str!("../../../template/src/handlers/mod.rs"),
    ),
    example_file(
        "src/handlers/streaming_examples.rs",
        include_str!("../../../template/src/handlers/streaming_examples.rs"),
    ),
    example_file(
        "tests/handlers.rs",
        include_str!("../../../template/tests/handlers.rs"),
    ),
];

/// The template's placeholders: types, choices, defaults and patterns.
const CARGO_GENERATE_TOML: &str = include_str!("../../../template/cargo-generate.toml");

const fn crate_file(path: &'static str, text: &'static str) -> TemplateFile {
    TemplateFile {
        path,
        text,
        example: false,
    }
}

const fn example_file(path: &'static str, text: &'static str) -> TemplateFile {
    TemplateFile {
        path,
        text,
        example: true,
    }
}

/// The template's file paths, for a test that checks the list is the directory's.
pub fn template_paths() -> Vec<&'static str> {
    FILES.iter().map(|f| f.path).collect()
}

/// What `rust-stream new` is asked for.
#[derive(Clone, Debug, Default)]
pub struct NewCrate {
    /// The directory to create; its name is the crate's unless `name` is given.
    pub dir: PathBuf,
    /// The crate's name.
    pub name: Option<String>,
    /// The user's protos; none for the guide's example.
    pub protos: Vec<PathBuf>,
    /// Where the protos' imports are found.
    pub includes: Vec<PathBuf>,
    /// Placeholder values (`codegen=derive`), as `cargo generate --define` takes them.
    pub defines: Vec<(String, String)>,
}

/// Creates the crate; returns the sync's report.
pub fn new_crate(request: &NewCrate) -> Result<SyncReport, Error> {
    let name = crate_name(request)?;
    let values = placeholder_values(&name, &request.defines)?;
    check_empty(&request.dir)?;
    let protos = if request.protos.is_empty() {
        Vec::new()
    } else {
        proto_files(&request.protos, &request.includes)?
    };
    let rendered = render_all(&values, request.protos.is_empty())?;
    for (path, text) in rendered.iter().chain(&protos) {
        write(&request.dir.join(path), text)?;
    }
    sync(&request.dir)
}

/// The crate's name: `--name`, else the directory's; it must be a package name cargo takes.
fn crate_name(request: &NewCrate) -> Result<String, Error> {
    let name = match &request.name {
        Some(name) => name.clone(),
        None => request
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(usage(format!(
            "`{name}` is not a crate name: letters, digits, `-` and `_`, starting with a \
             letter (give one with --name)"
        )))
    }
}

/// Every placeholder's value: the defines, else the template's defaults; each checked
/// against the template's choices and pattern. The crate's names are set too.
fn placeholder_values(
    name: &str,
    defines: &[(String, String)],
) -> Result<BTreeMap<String, String>, Error> {
    let placeholders = placeholders()?;
    let mut values = BTreeMap::new();
    for (key, value) in defines {
        let Some(placeholder) = placeholders.get(key) else {
            let known: Vec<&str> = placeholders.keys().map(String::as_str).collect();
            return Err(usage(format!(
                "unknown placeholder `{key}`; valid placeholders: {}",
                known.join(", ")
            )));
        };
        placeholder.check(key, value)?;
        values.insert(key.clone(), value.clone());
    }
    for (key, placeholder) in &placeholders {
        if !values.contains_key(key) {
            values.insert(key.clone(), placeholder.default_value(key));
        }
    }
    values.insert("project-name".to_owned(), name.to_owned());
    values.insert("crate_name".to_owned(), name.replace('-', "_"));
    Ok(values)
}

/// One `[placeholders.<name>]` of `cargo-generate.toml`.
#[derive(Debug, Default)]
struct Placeholder {
    choices: Vec<String>,
    default: String,
    regex: Option<regex::Regex>,
}

impl Placeholder {
    /// Refuses `value` as cargo-generate would, saying what is accepted.
    fn check(&self, key: &str, value: &str) -> Result<(), Error> {
        if !self.choices.is_empty() && !self.choices.iter().any(|c| c == value) {
            return Err(usage(format!(
                "\"{value}\" is not a valid value for {key}; valid values: {}",
                self.choices.join(", ")
            )));
        }
        if let Some(regex) = &self.regex
            && !regex.is_match(value)
        {
            return Err(usage(format!(
                "\"{value}\" is not a valid value for {key}: it must match {}",
                regex.as_str()
            )));
        }
        Ok(())
    }

    /// The default, except that `rust_stream_path` defaults to the checkout this binary
    /// was built from, when there is one: a crate that builds today, before the crates
    /// are published.
    fn default_value(&self, key: &str) -> String {
        if key == "rust_stream_path"
            && let Some(checkout) = checkout()
        {
            return checkout.display().to_string();
        }
        self.default.clone()
    }
}

/// The rust-stream checkout this binary was built from, if it is still there.
fn checkout() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    root.join("runtime")
        .join("Cargo.toml")
        .is_file()
        .then(|| root.to_owned())
}

/// The template's placeholders, read from its `cargo-generate.toml`.
fn placeholders() -> Result<BTreeMap<String, Placeholder>, Error> {
    let internal = |what: String| Error::new(DiagnosticKind::Internal, what);
    let table: toml::Table = CARGO_GENERATE_TOML
        .parse()
        .map_err(|err| internal(format!("the template's cargo-generate.toml: {err}")))?;
    let Some(toml::Value::Table(entries)) = table.get("placeholders") else {
        return Ok(BTreeMap::new());
    };
    let mut placeholders = BTreeMap::new();
    for (name, entry) in entries {
        let text = |key: &str| entry.get(key).and_then(toml::Value::as_str);
        let regex = text("regex")
            .map(regex::Regex::new)
            .transpose()
            .map_err(|err| internal(format!("placeholder `{name}`: {err}")))?;
        let choices = entry
            .get("choices")
            .and_then(toml::Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let placeholder = Placeholder {
            choices,
            default: text("default").unwrap_or_default().to_owned(),
            regex,
        };
        placeholders.insert(name.clone(), placeholder);
    }
    Ok(placeholders)
}

/// A directory that does not exist or is empty; anything else is refused untouched.
fn check_empty(dir: &Path) -> Result<(), Error> {
    match std::fs::read_dir(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(io(dir, &err)),
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(usage(format!(
                "{} already exists and is not empty; choose a new directory",
                dir.display()
            ))),
        },
    }
}

/// The files of `protos` and of every import they need, by their names under the include
/// directories, with their text: what `proto/` gets. Fails, naming the file and line, if
/// the protos do not compile.
fn proto_files(protos: &[PathBuf], includes: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, Error> {
    let includes: Vec<PathBuf> = if includes.is_empty() {
        let parents = protos.iter().filter_map(|p| p.parent()).map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_owned()
            }
        });
        let mut dirs: Vec<PathBuf> = parents.collect();
        dirs.dedup();
        dirs
    } else {
        includes.to_vec()
    };
    let descriptors = Descriptors::compile(protos, &includes)?;
    let mut files = Vec::new();
    for file in &descriptors.files {
        let name = file.name();
        if name == OPTIONS_PROTO_NAME || name.starts_with("google/protobuf/") {
            continue;
        }
        let source = includes
            .iter()
            .map(|include| include.join(name))
            .find(|path| path.is_file())
            .ok_or_else(|| usage(format!("{name} is not under any include directory")))?;
        let text = std::fs::read_to_string(&source).map_err(|err| io(&source, &err))?;
        files.push((Path::new(PROTO_DIR).join(name), text));
    }
    Ok(files)
}

/// Every template file to write, rendered, under its name in the crate.
fn render_all(
    values: &BTreeMap<String, String>,
    with_example: bool,
) -> Result<Vec<(PathBuf, String)>, Error> {
    let parser = liquid::ParserBuilder::with_stdlib()
        .build()
        .map_err(|err| Error::new(DiagnosticKind::Internal, err.to_string()))?;
    let mut globals = liquid::Object::new();
    for (key, value) in values {
        globals.insert(
            key.clone().into(),
            liquid::model::Value::scalar(value.clone()),
        );
    }
    let mut out = Vec::new();
    for file in FILES.iter().filter(|f| with_example || !f.example) {
        let render =
            || -> Result<String, liquid::Error> { parser.parse(file.text)?.render(&globals) };
        let text = render().map_err(|err| {
            Error::new(
                DiagnosticKind::Internal,
                format!("rendering the template's {}: {err}", file.path),
            )
        })?;
        let path = file.path.strip_suffix(".liquid").unwrap_or(file.path);
        out.push((PathBuf::from(path), text));
    }
    Ok(out)
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| io(parent, &err))?;
    }
    std::fs::write(path, text).map_err(|err| io(path, &err))
}

fn usage(message: String) -> Error {
    Error::new(DiagnosticKind::Usage, message)
}

fn io(path: &Path, err: &std::io::Error) -> Error {
    Error::new(DiagnosticKind::Io, format!("{}: {err}", path.display()))
}
