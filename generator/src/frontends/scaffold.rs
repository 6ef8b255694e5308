//! Handler skeletons for a whole model: which file each service's skeleton goes to, what
//! each file becomes, and what changed. The `rust-stream scaffold` command, the
//! `cargo generate` template and other tools call this.
//!
//! File names are decided here, once per run, and are distinct: `<service_snake>.rs`, with
//! the package prefixed (`<package>_<service_snake>.rs`) when two services of the run would
//! share a name, and a number appended if a name is still taken.
//!
//! A run is all or nothing. Before anything is written, every existing file is checked against
//! the protos, and the run fails with a [`DiagnosticKind::Stale`] diagnostic (at `file:line`,
//! saying what to do) for each of:
//! - a method of a service's handler `impl` that is not a method of its trait: the stub of an
//!   RPC that left the proto (found by its `// rust-stream: rpc <Name>` marker), a method
//!   renamed by hand, a helper written into the `impl`. When exactly one RPC of the same
//!   pattern is new, the message names it as the likely rename; a renamed RPC (one stub gone,
//!   one new) is reported, not added;
//! - a skeleton file of a service no longer in the protos: a `.rs` file of the directory that
//!   the scaffold wrote (it has the scaffold's marker comments) and that implements a
//!   `<Service>Handler` trait of no service of the run. Scaffold every proto of a directory in
//!   one run.
//!
//! Files the scaffold did not write (`mod.rs`, helpers) are never touched nor judged. The
//! user fixes what the report names and runs again.
//!
//! The text of every file is what rustfmt prints (default configuration, edition 2024), for a
//! new file and for a formatted file that stubs were added to: `cargo fmt --check` passes on
//! scaffold output.

mod handler_file;

use crate::emit::skeleton;
use crate::error::{Diagnostic, DiagnosticKind, Error, Location};
use crate::ident;
use crate::model::{Method, Model, Pattern, Service};
use crate::options::Params;
use handler_file::{HandlerFile, ImplMethod};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// How skeletons refer to the generated code and the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scaffold {
    module_path: String,
    flat: bool,
    runtime_path: String,
}

/// The skeleton of one service: where it goes and the module of its generated code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skeleton<'m> {
    /// The service.
    pub service: &'m Service,
    /// File name, relative to the skeleton directory (`streaming_examples.rs`).
    pub file_name: String,
    /// Rust path of the module holding the service's generated code (`crate::pb::streaming`).
    pub module_path: String,
}

/// What scaffolding did to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file did not exist and was written with a stub for every RPC.
    Created,
    /// The file already had every RPC; it was left as it was.
    UpToDate,
    /// Stubs for these RPCs (proto names) were inserted; nothing else changed.
    Added(Vec<String>),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Created => f.write_str("created"),
            Outcome::UpToDate => f.write_str("up to date"),
            Outcome::Added(rpcs) => write!(f, "added {}", rpcs.join(", ")),
        }
    }
}

/// One file of a run: its path, its service and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// Path of the file (the skeleton directory joined with its name).
    pub path: PathBuf,
    /// The service's fully qualified name (`pkg.Service`).
    pub service: String,
    /// What happened to the file.
    pub outcome: Outcome,
    /// The file's text after the run.
    pub content: String,
}

/// Every file of a successful run, in model order. Its `Display` is the report the CLI
/// prints, one line per file: `path: created`, `path: up to date` or `path: added A, B`.
///
/// A run that finds code the protos no longer have (see the [module docs](self)) has no
/// report: [`Scaffold::render`] and [`Scaffold::write`] fail with an [`Error`] holding one
/// [`DiagnosticKind::Stale`] diagnostic per method or file, located at its `file:line`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// One entry per service.
    pub files: Vec<FileReport>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            writeln!(f, "{}: {}", file.path.display(), file.outcome)?;
        }
        Ok(())
    }
}

/// The `.rs` files of a skeleton directory, file name -> text, as [`Scaffold::render`] takes
/// them: each service's skeleton that exists, and the other files, which may be skeletons of
/// services no longer in the protos. [`Scaffold::read`] reads them from disk.
pub type Files = BTreeMap<String, String>;

impl Scaffold {
    /// Skeletons for generated code at `module_path` (`crate::pb`), packages nested below it
    /// as the include file nests them, using the runtime at `::rust_stream`.
    pub fn new(module_path: impl Into<String>) -> Self {
        Scaffold {
            module_path: module_path.into(),
            flat: false,
            runtime_path: Params::default().runtime_path,
        }
    }

    /// The generated code of every package is directly at the module path (no nesting).
    pub fn flat(mut self, yes: bool) -> Self {
        self.flat = yes;
        self
    }

    /// Path of the runtime crate, as the `runtime_path=` parameter gives it.
    pub fn runtime_path(mut self, path: impl Into<String>) -> Self {
        self.runtime_path = path.into();
        self
    }

    /// The skeleton of every service of `model`, in model order, each with a file name of
    /// its own.
    pub fn skeletons<'m>(&self, model: &'m Model) -> Vec<Skeleton<'m>> {
        model
            .handler_modules()
            .into_iter()
            .zip(model.services())
            .map(|(module, (package, service))| Skeleton {
                service,
                file_name: crate::ident::skeleton_file(&module),
                module_path: if self.flat || package.module.is_empty() {
                    self.module_path.clone()
                } else {
                    format!("{}::{}", self.module_path, package.module.join("::"))
                },
            })
            .collect()
    }

    /// Reads the skeleton directory `dir` for [`Scaffold::render`]: the `.rs` files directly
    /// in it. A directory that does not exist has none. A service's skeleton that cannot be
    /// read fails the run with the OS's reason; another file that cannot be read as text is
    /// left out, as no skeleton.
    pub fn read(&self, model: &Model, dir: &Path) -> Result<Files, Error> {
        let mut files = Files::new();
        let skeletons: BTreeSet<String> = self
            .skeletons(model)
            .into_iter()
            .map(|s| s.file_name)
            .collect();
        for name in &skeletons {
            if let Some(text) = read_existing(&dir.join(name))? {
                files.insert(name.clone(), text);
            }
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(files),
            Err(err) => return Err(io_error(dir, &err)),
        };
        for entry in entries {
            let path = entry.map_err(|err| io_error(dir, &err))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(".rs")
                && !skeletons.contains(name)
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                files.insert(name.to_owned(), text);
            }
        }
        Ok(files)
    }

    /// What every skeleton in `dir` becomes, given the directory's `files` (empty for a new
    /// directory), without touching the file system.
    ///
    /// Fails, with every problem found, if an existing skeleton cannot take new stubs (it is
    /// another service's, or lacks the marker line), or if the directory holds code for RPCs
    /// or services that are no longer in the protos (see the [module docs](self)).
    pub fn render(&self, model: &Model, dir: &Path, files: &Files) -> Result<Report, Error> {
        let skeletons = self.skeletons(model);
        let mut problems = Vec::new();
        let mut report = Report::default();
        for skeleton in &skeletons {
            let path = dir.join(&skeleton.file_name);
            let old = files.get(&skeleton.file_name);
            if let Some(text) = old {
                let file = HandlerFile::read(text);
                if let Err(problem) = check_owner(skeleton.service, &path, &file) {
                    problems.push(problem);
                    continue;
                }
                problems.extend(stale_methods(skeleton, &path, text, &file));
            }
            let rendered = skeleton::scaffold(
                skeleton.service,
                &skeleton.module_path,
                &self.runtime_path,
                old.map(String::as_str),
            );
            let (content, added) = match rendered {
                Ok(rendered) => rendered,
                Err(err) => {
                    problems.extend_from_slice(err.diagnostics());
                    continue;
                }
            };
            let outcome = match old {
                None => Outcome::Created,
                Some(_) if added.is_empty() => Outcome::UpToDate,
                Some(_) => Outcome::Added(added),
            };
            report.files.push(FileReport {
                path,
                service: skeleton.service.full_name.clone(),
                outcome,
                content,
            });
        }
        problems.extend(stale_files(&skeletons, dir, files));
        match Error::from_diagnostics(problems) {
            Some(err) => Err(err),
            None => Ok(report),
        }
    }

    /// Writes the skeletons into `dir`: creates missing files, adds stubs for new RPCs to
    /// existing ones. Every file is read and rendered before any is written, so a run that
    /// fails ([`Scaffold::render`]) leaves the whole directory as it was.
    pub fn write(&self, model: &Model, dir: &Path) -> Result<Report, Error> {
        let report = self.render(model, dir, &self.read(model, dir)?)?;
        for file in &report.files {
            if file.outcome != Outcome::UpToDate {
                crate::frontends::builder::write_if_changed(&file.path, &file.content)?;
            }
        }
        Ok(report)
    }
}

/// The file's text, `None` if there is no file; any other failure keeps the OS's reason.
fn read_existing(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_error(path, &err)),
    }
}

fn io_error(path: &Path, err: &std::io::Error) -> Error {
    Error::new(
        DiagnosticKind::Io,
        format!("reading {}: {err}", path.display()),
    )
}

/// An existing file must be the service's own skeleton, so that stubs never go into the
/// impl of another service's handler (a file left by an earlier run whose services were
/// renamed, or written by hand).
fn check_owner(service: &Service, path: &Path, file: &HandlerFile) -> Result<(), Diagnostic> {
    let expected = ident::unraw(&service.handler_trait);
    let handlers: Vec<&str> = file
        .handler_impls()
        .map(|i| i.trait_name.as_str())
        .collect();
    if handlers.is_empty() || handlers.contains(&expected) {
        return Ok(());
    }
    Err(Diagnostic::new(
        DiagnosticKind::Usage,
        None,
        format!(
            "{} is not the skeleton of `{}`: it implements `{}`, not `{expected}`; move it \
             away or scaffold into another directory",
            path.display(),
            service.full_name,
            handlers.join("`, `"),
        ),
    ))
}

/// A stale problem at `path:line`.
fn stale(path: &Path, line: usize, message: String) -> Diagnostic {
    let location = Location {
        file: path.display().to_string(),
        line: u32::try_from(line).ok(),
        column: None,
    };
    Diagnostic::new(DiagnosticKind::Stale, Some(location), message)
}

/// The methods of the service's handler `impl` in `file` that are not methods of its trait.
fn stale_methods(
    skeleton: &Skeleton<'_>,
    path: &Path,
    text: &str,
    file: &HandlerFile,
) -> Vec<Diagnostic> {
    let service = skeleton.service;
    let handler = ident::unraw(&service.handler_trait);
    let known: BTreeSet<&str> = service
        .methods
        .iter()
        .map(|m| ident::unraw(&m.rust_name))
        .collect();
    let impls: Vec<_> = file
        .impls
        .iter()
        .filter(|i| i.trait_name == handler)
        .collect();
    let gone: Vec<&ImplMethod> = impls
        .iter()
        .flat_map(|i| &i.methods)
        .filter(|m| !known.contains(ident::unraw(&m.name)))
        .collect();
    let new = skeleton::missing(service, text);
    let self_type = impls
        .first()
        .map_or(service.skeleton_struct.as_str(), |i| i.self_type.as_str());
    let rpc_named = |rpc: &str| service.methods.iter().find(|m| m.proto_name == rpc);
    gone.iter()
        .map(|method| {
            let rename = likely_rename(method.pattern, &gone, &new);
            let message = match &method.marker {
                Some(marker) => match rpc_named(&marker.rpc) {
                    Some(rpc) => renamed_by_hand(method, handler, service, rpc),
                    None => gone_stub(method, &marker.rpc, service, rename),
                },
                None => foreign_method(method, handler, self_type, service, rename),
            };
            // A stub starts at its marker.
            let line = method.marker.as_ref().map_or(method.line, |m| m.line);
            stale(path, line, message)
        })
        .collect()
}

/// The one new RPC of `pattern`, if `pattern` is known and `gone` has one method of it: the
/// likely new name of a renamed RPC.
fn likely_rename<'m>(
    pattern: Option<Pattern>,
    gone: &[&ImplMethod],
    new: &[&'m Method],
) -> Option<&'m Method> {
    let pattern = pattern?;
    let gone_of_pattern = gone.iter().filter(|m| m.pattern == Some(pattern)).count();
    match new
        .iter()
        .filter(|m| m.pattern == pattern)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [only] if gone_of_pattern == 1 => Some(only),
        _ => None,
    }
}

/// The message for a stub whose RPC left the service.
fn gone_stub(method: &ImplMethod, rpc: &str, service: &Service, rename: Option<&Method>) -> String {
    let name = &method.name;
    let full = &service.full_name;
    let advice = match rename {
        Some(new) => format!(
            "delete it, or, if {rpc} was renamed to {new_rpc} (the one new {pattern} RPC), \
             rename the method to `{new_name}` and its marker to `{marker}{new_rpc}`",
            new_rpc = new.proto_name,
            pattern = new.pattern.label(),
            new_name = new.rust_name,
            marker = skeleton::RPC_MARKER,
        ),
        None => "delete it, or, if the RPC was renamed, rename the method and its marker to \
                 the new name"
            .to_owned(),
    };
    format!("method `{name}` (rpc {rpc}) is no longer in {full}: {advice}")
}

/// The message for a stub whose method was renamed by hand: its RPC is still there.
fn renamed_by_hand(method: &ImplMethod, handler: &str, service: &Service, rpc: &Method) -> String {
    format!(
        "method `{}` is not a method of `{handler}` ({}): its marker names rpc {}, whose method \
         is `{}`; rename it back",
        method.name, service.full_name, rpc.proto_name, rpc.rust_name
    )
}

/// The message for a method of the handler `impl` that its trait does not have (written or
/// renamed by hand).
fn foreign_method(
    method: &ImplMethod,
    handler: &str,
    self_type: &str,
    service: &Service,
    rename: Option<&Method>,
) -> String {
    let name = &method.name;
    let full = &service.full_name;
    let mut message = format!(
        "method `{name}` is not a method of `{handler}` ({full}): delete it or move it to an \
         inherent `impl {self_type}` block"
    );
    if let Some(new) = rename {
        message.push_str(&format!(
            ", or, if it is for {} (the one new {} RPC), rename it to `{}`",
            new.proto_name,
            new.pattern.label(),
            new.rust_name
        ));
    }
    message
}

/// The files of the directory that are skeletons of services no longer in the protos: the
/// scaffold wrote them (they have its markers) and they implement a `…Handler` trait of no
/// service of the run.
fn stale_files(skeletons: &[Skeleton<'_>], dir: &Path, files: &Files) -> Vec<Diagnostic> {
    let ours: BTreeSet<&str> = skeletons.iter().map(|s| s.file_name.as_str()).collect();
    let handlers: BTreeSet<&str> = skeletons
        .iter()
        .map(|s| ident::unraw(&s.service.handler_trait))
        .collect();
    // A service whose skeleton does not exist yet may be the renamed one.
    let new: Vec<&Skeleton<'_>> = skeletons
        .iter()
        .filter(|s| !files.contains_key(&s.file_name))
        .collect();
    let mut problems = Vec::new();
    for (name, text) in files {
        if ours.contains(name.as_str()) {
            continue;
        }
        let file = HandlerFile::read(text);
        if !file.scaffolded {
            continue;
        }
        for found in file.handler_impls() {
            if handlers.contains(found.trait_name.as_str()) {
                continue;
            }
            let mut message = format!(
                "`{}` is the handler of no service in the protos (its service was removed or \
                 renamed): move this file out of the directory or delete it, and remove its \
                 `mod` line",
                found.trait_name
            );
            if let [renamed] = new.as_slice() {
                message.push_str(&format!(
                    "; if the service was renamed to {}, the next run creates its skeleton, \
                     {}, for what you wrote here",
                    renamed.service.full_name, renamed.file_name
                ));
            }
            problems.push(stale(&dir.join(name), found.line, message));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Descriptors;
    use std::collections::BTreeSet;

    /// Writes `files` (name, text) into a temporary include directory and builds the model.
    fn model(files: &[(&str, &str)]) -> Model {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let protos: Vec<PathBuf> = files.iter().map(|(n, _)| dir.path().join(n)).collect();
        let descriptors = Descriptors::compile(&protos, &[dir.path()]).unwrap();
        crate::model_of(&descriptors, &Params::default())
            .unwrap_or_else(|err| panic!("{err}"))
            .0
    }

    /// A proto file of `package` with one service per entry, each with its own RPCs.
    fn proto(package: Option<&str>, services: &[(&str, &[&str])]) -> String {
        let mut text = String::from("syntax = \"proto3\";\n");
        if let Some(package) = package {
            text.push_str(&format!("package {package};\n"));
        }
        text.push_str("message M {}\n");
        for (service, rpcs) in services {
            text.push_str(&format!("service {service} {{\n"));
            for rpc in *rpcs {
                text.push_str(&format!("  rpc {rpc}(M) returns (stream M);\n"));
            }
            text.push_str("}\n");
        }
        text
    }

    /// The trait the file's one `impl` block implements, and the functions in it.
    fn impl_of(content: &str) -> (String, Vec<String>) {
        let file = syn::parse_file(content).unwrap_or_else(|err| panic!("{err}\n{content}"));
        let impls: Vec<&syn::ItemImpl> = file
            .items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Impl(i) => Some(i),
                _ => None,
            })
            .collect();
        assert_eq!(impls.len(), 1, "{content}");
        let (_, path, _) = impls[0].trait_.as_ref().expect("a trait impl");
        let fns = impls[0]
            .items
            .iter()
            .filter_map(|item| match item {
                syn::ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
                _ => None,
            })
            .collect();
        (path.segments.last().unwrap().ident.to_string(), fns)
    }

    /// Every way two services can reach one file name, in one run: a `_stream` suffix
    /// (`Event` / `EventStream`), one name in two packages, names equal only after snake
    /// casing (`HTTPApi` / `HttpApi`), a package prefix that spells another service's name
    /// (`foo_bar.Foo`, `foo.BarFoo`, `FooBarFoo`), and reserved stems (`Mod`, `Aux`). Every
    /// service gets its own file, holding exactly its RPCs; a second run changes nothing.
    #[test]
    fn every_service_gets_its_own_file_with_exactly_its_rpcs() {
        let model = model(&[
            (
                "a.proto",
                &proto(
                    Some("a"),
                    &[("Event", &["AOne"]), ("EventStream", &["ATwo"])],
                ),
            ),
            (
                "b.proto",
                &proto(Some("b"), &[("Event", &["BOne"]), ("HTTPApi", &["BTwo"])]),
            ),
            ("c.proto", &proto(Some("c"), &[("HttpApi", &["COne"])])),
            (
                "foo_bar.proto",
                &proto(Some("foo_bar"), &[("Foo", &["DOne"])]),
            ),
            ("x.proto", &proto(Some("x"), &[("Foo", &["EOne"])])),
            ("foo.proto", &proto(Some("foo"), &[("BarFoo", &["FOne"])])),
            ("y.proto", &proto(Some("y"), &[("BarFoo", &["GOne"])])),
            (
                "root.proto",
                &proto(
                    None,
                    &[
                        ("FooBarFoo", &["HOne"]),
                        ("AEvent", &["HTwo"]),
                        ("Mod", &["HThree"]),
                        ("Aux", &["HFour"]),
                    ],
                ),
            ),
        ]);
        let services: usize = model.packages.iter().map(|p| p.services.len()).sum();
        assert_eq!(services, 13);
        let dir = tempfile::tempdir().unwrap();
        let report = Scaffold::new("crate::pb")
            .write(&model, dir.path())
            .unwrap();
        assert_eq!(report.files.len(), services);

        let names: BTreeSet<String> = report
            .files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), services, "{names:?}");
        let on_disk = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(on_disk, services);
        for reserved in ["mod.rs", "aux.rs"] {
            assert!(!names.contains(reserved), "{names:?}");
        }

        for file in &report.files {
            assert_eq!(file.outcome, Outcome::Created);
            let service = model
                .packages
                .iter()
                .flat_map(|p| &p.services)
                .find(|s| s.full_name == file.service)
                .unwrap();
            let rpcs: Vec<String> = service
                .methods
                .iter()
                .map(|m| m.rust_name.clone())
                .collect();
            let handler = ident::compose(&service.rust_name, "Handler");
            let content = std::fs::read_to_string(&file.path).unwrap();
            assert_eq!(
                impl_of(&content),
                (handler, rpcs),
                "{}",
                file.path.display()
            );
        }

        let again = Scaffold::new("crate::pb")
            .write(&model, dir.path())
            .unwrap();
        assert!(
            again.files.iter().all(|f| f.outcome == Outcome::UpToDate),
            "{again}"
        );
    }

    /// Names with no clash are the service's snake-case name, unprefixed and untrimmed; a
    /// prefix goes only to the services that share a name.
    #[test]
    fn file_names_are_the_snake_case_service_name_prefixed_only_on_a_clash() {
        let model = model(&[
            (
                "a.proto",
                &proto(
                    Some("a.v1"),
                    &[
                        ("Event", &["One"]),
                        ("EventStream", &["Two"]),
                        ("Type", &["Three"]),
                    ],
                ),
            ),
            ("b.proto", &proto(Some("b"), &[("Event", &["Four"])])),
        ]);
        let names: Vec<(String, String)> = Scaffold::new("crate::pb")
            .skeletons(&model)
            .into_iter()
            .map(|s| (s.service.full_name.clone(), s.file_name))
            .collect();
        let expected = [
            ("a.v1.Event", "a_v1_event.rs"),
            ("a.v1.EventStream", "event_stream.rs"),
            ("a.v1.Type", "type.rs"),
            ("b.Event", "b_event.rs"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(names, expected);
    }

    /// The report line of each outcome, and the module path each skeleton refers to.
    #[test]
    fn report_text_and_module_paths() {
        let model = model(&[("a.proto", &proto(Some("a.v1"), &[("Event", &["One"])]))]);
        let dir = Path::new("skeletons");
        let nested = Scaffold::new("crate::pb").skeletons(&model);
        assert_eq!(nested[0].module_path, "crate::pb::a::v1");
        let flat = Scaffold::new("crate::pb").flat(true).skeletons(&model);
        assert_eq!(flat[0].module_path, "crate::pb");

        let created = Scaffold::new("crate::pb")
            .render(&model, dir, &Files::new())
            .unwrap();
        let path = Path::new("skeletons").join("event.rs");
        assert_eq!(
            created.to_string(),
            format!("{}: created\n", path.display())
        );
        let text = created.files[0].content.clone();
        let same = Scaffold::new("crate::pb")
            .render(&model, dir, &Files::from([("event.rs".to_owned(), text)]))
            .unwrap();
        assert_eq!(
            same.to_string(),
            format!("{}: up to date\n", path.display())
        );
        assert_eq!(
            Outcome::Added(vec!["One".to_owned(), "Two".to_owned()]).to_string(),
            "added One, Two"
        );
    }

    /// A file holding another service's skeleton (here: the names of an earlier run, when
    /// `Event` and `EventStream` shared `event.rs`) is refused, not given the wrong stubs.
    #[test]
    fn another_service_s_skeleton_is_refused_and_nothing_is_written() {
        let model = model(&[(
            "a.proto",
            &proto(Some("a"), &[("Event", &["One"]), ("EventStream", &["Two"])]),
        )]);
        let scaffold = Scaffold::new("crate::pb");
        let dir = tempfile::tempdir().unwrap();
        let report = scaffold.write(&model, dir.path()).unwrap();
        let stream_skeleton = report.files[1].content.clone();
        std::fs::write(dir.path().join("event.rs"), &stream_skeleton).unwrap();
        std::fs::remove_file(dir.path().join("event_stream.rs")).unwrap();

        let err = scaffold.write(&model, dir.path()).unwrap_err().to_string();
        let path = dir.path().join("event.rs");
        assert_eq!(
            err,
            format!(
                "{} is not the skeleton of `a.Event`: it implements `EventStreamHandler`, not \
                 `EventHandler`; move it away or scaffold into another directory",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), stream_skeleton);
        assert!(!dir.path().join("event_stream.rs").exists());
    }

    /// A proto of package `acme` with a message `M`, a chunk-shaped `Chunk`, and services
    /// whose RPCs are written out (`Get(M) returns (M)`).
    fn acme(services: &[(&str, &[&str])]) -> Model {
        let mut text = String::from(
            "syntax = \"proto3\";\npackage acme;\nmessage M {}\nmessage Chunk { bytes data = 1; }\n",
        );
        for (service, rpcs) in services {
            text.push_str(&format!("service {service} {{\n"));
            for rpc in *rpcs {
                text.push_str(&format!("  rpc {rpc};\n"));
            }
            text.push_str("}\n");
        }
        model(&[("acme.proto", &text)])
    }

    const GET_USER: &str = "GetUser(M) returns (M)";
    const WATCH: &str = "Watch(M) returns (stream M)";
    const UPLOAD: &str = "Upload(stream Chunk) returns (M)";

    /// The 1-based line of the first line of `text` that is `line` once trimmed.
    fn line_of(text: &str, line: &str) -> usize {
        text.lines()
            .position(|l| l.trim() == line)
            .unwrap_or_else(|| panic!("{line:?} not in:\n{text}"))
            + 1
    }

    /// Fails to scaffold `model` into `dir`: returns the problems, having checked that every
    /// file is as it was and that no file was written.
    fn failed_run(dir: &Path, model: &Model) -> Vec<Diagnostic> {
        let snapshot = || -> BTreeMap<PathBuf, Vec<u8>> {
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| {
                    let path = e.unwrap().path();
                    let bytes = std::fs::read(&path).unwrap();
                    (path, bytes)
                })
                .collect()
        };
        let files = snapshot();
        let err = Scaffold::new("crate::pb").write(model, dir).unwrap_err();
        assert_eq!(snapshot(), files, "files changed by a failed run");
        assert!(
            err.diagnostics()
                .iter()
                .all(|d| d.kind == DiagnosticKind::Stale),
            "{err}"
        );
        err.diagnostics().to_vec()
    }

    /// Scaffolds `before`, then fails to scaffold `after` ([`failed_run`]).
    fn stale_run(dir: &Path, before: &Model, after: &Model) -> Vec<Diagnostic> {
        Scaffold::new("crate::pb").write(before, dir).unwrap();
        failed_run(dir, after)
    }

    /// `path:line: message`.
    fn at(path: &Path, line: usize, message: &str) -> String {
        format!("{}:{line}: {message}", path.display())
    }

    /// An RPC that left the proto: its stub is reported at its marker line, with what to do,
    /// and nothing is written, not even the new service's file.
    #[test]
    fn a_removed_rpc_is_reported_at_its_stub_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let before = acme(&[("Ingest", &[GET_USER, WATCH])]);
        let after = acme(&[("Ingest", &[WATCH]), ("Audit", &[WATCH])]);
        let problems = stale_run(dir.path(), &before, &after);
        let path = dir.path().join("ingest.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        let line = line_of(&text, "// rust-stream: rpc GetUser");
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [at(
                &path,
                line,
                "method `get_user` (rpc GetUser) is no longer in acme.Ingest: delete it, or, if \
                 the RPC was renamed, rename the method and its marker to the new name"
            )]
        );
        assert!(!dir.path().join("audit.rs").exists());
    }

    /// A renamed RPC is one stub gone and one RPC new: reported with the new name as the
    /// likely rename when it is the only new RPC of the pattern, never added.
    #[test]
    fn a_renamed_rpc_is_reported_with_the_likely_new_name_and_not_added() {
        let dir = tempfile::tempdir().unwrap();
        let before = acme(&[("Ingest", &[GET_USER, WATCH])]);
        let after = acme(&[("Ingest", &["FetchUser(M) returns (M)", WATCH, UPLOAD])]);
        let problems = stale_run(dir.path(), &before, &after);
        let path = dir.path().join("ingest.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("FetchUser"), "{text}");
        assert_eq!(
            problems[0].to_string(),
            at(
                &path,
                line_of(&text, "// rust-stream: rpc GetUser"),
                "method `get_user` (rpc GetUser) is no longer in acme.Ingest: delete it, or, if \
                 GetUser was renamed to FetchUser (the one new unary RPC), rename the method to \
                 `fetch_user` and its marker to `// rust-stream: rpc FetchUser`"
            )
        );
        assert_eq!(problems.len(), 1);

        // Two new unary RPCs: no guess.
        let dir = tempfile::tempdir().unwrap();
        let two = acme(&[(
            "Ingest",
            &["FetchUser(M) returns (M)", "FindUser(M) returns (M)", WATCH],
        )]);
        let problems = stale_run(dir.path(), &before, &two);
        assert!(
            problems[0]
                .message
                .ends_with("rename the method and its marker to the new name"),
            "{}",
            problems[0]
        );
    }

    /// Methods of the handler `impl` that its trait lacks, without a marker (a helper written
    /// into the `impl`) or under a marker whose RPC is still there (renamed by hand), are
    /// reported at their `fn` line.
    #[test]
    fn methods_written_or_renamed_by_hand_are_reported_at_their_fn() {
        let dir = tempfile::tempdir().unwrap();
        let model = acme(&[("Ingest", &[GET_USER, UPLOAD])]);
        Scaffold::new("crate::pb")
            .write(&model, dir.path())
            .unwrap();
        let path = dir.path().join("ingest.rs");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("async fn get_user(", "async fn get_user_v2(")
            .replace(
                skeleton::MARKER,
                &format!(
                    "    fn helper(&self) -> u8 {{\n        0\n    }}\n\n{}",
                    skeleton::MARKER
                ),
            );
        std::fs::write(&path, &text).unwrap();
        let problems = failed_run(dir.path(), &model);
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let fn_line = |name: &str| {
            1 + text
                .lines()
                .position(|l| l.contains(&format!("fn {name}(")))
                .unwrap()
        };
        assert_eq!(
            messages,
            [
                at(
                    &path,
                    fn_line("get_user_v2") - 1,
                    "method `get_user_v2` is not a method of `IngestHandler` (acme.Ingest): its \
                     marker names rpc GetUser, whose method is `get_user`; rename it back"
                ),
                at(
                    &path,
                    fn_line("helper"),
                    "method `helper` is not a method of `IngestHandler` (acme.Ingest): delete it \
                     or move it to an inherent `impl IngestImpl` block"
                ),
            ]
        );
    }

    /// The skeleton of a service that left the protos is reported at its `impl`; `mod.rs`,
    /// a hand-written file implementing some `…Handler` trait and other files are neither
    /// reported nor touched.
    #[test]
    fn a_removed_service_s_file_is_reported_and_other_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let before = acme(&[("Ingest", &[WATCH]), ("Billing", &[GET_USER])]);
        Scaffold::new("crate::pb")
            .write(&before, dir.path())
            .unwrap();
        let others = [
            (
                "mod.rs",
                "pub mod billing;\npub mod ingest;\npub mod logging;\n",
            ),
            (
                "logging.rs",
                "pub struct Log;\nimpl crate::events::EventHandler for Log {\n    fn on(&self) {}\n}\n",
            ),
            (
                "notes.txt",
                "// rust-stream: rpc Nothing\nimpl XHandler for Y {}\n",
            ),
        ];
        for (name, text) in others {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let after = acme(&[("Ingest", &[WATCH])]);
        let problems = stale_run(dir.path(), &before, &after);
        let path = dir.path().join("billing.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [at(
                &path,
                line_of(&text, "impl BillingHandler for BillingImpl {"),
                "`BillingHandler` is the handler of no service in the protos (its service was \
                 removed or renamed): move this file out of the directory or delete it, and \
                 remove its `mod` line"
            )]
        );

        // Renamed: the one new service is named.
        let renamed = acme(&[("Ingest", &[WATCH]), ("Invoicing", &[GET_USER])]);
        let problems = failed_run(dir.path(), &renamed);
        assert!(
            problems[0].message.ends_with(
                "; if the service was renamed to acme.Invoicing, the next run creates its \
                 skeleton, invoicing.rs, for what you wrote here"
            ),
            "{}",
            problems[0]
        );

        // Once the file is gone, the run succeeds and the other files are as they were.
        std::fs::remove_file(&path).unwrap();
        let report = Scaffold::new("crate::pb")
            .write(&after, dir.path())
            .unwrap();
        assert_eq!(report.files[0].outcome, Outcome::UpToDate);
        for (name, text) in others {
            assert_eq!(
                std::fs::read_to_string(dir.path().join(name)).unwrap(),
                text
            );
        }
    }

    /// A skeleton path that cannot be read fails the run with the OS's reason, before any
    /// file is written.
    #[test]
    fn an_unreadable_skeleton_fails_with_the_os_reason_and_writes_nothing() {
        let model = model(&[(
            "a.proto",
            &proto(Some("a"), &[("Alpha", &["One"]), ("Beta", &["Two"])]),
        )]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("beta.rs")).unwrap();
        let err = Scaffold::new("crate::pb")
            .write(&model, dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("beta.rs: Is a directory"), "{err}");
        assert!(!dir.path().join("alpha.rs").exists());
    }
}
