//! Handler skeletons for a whole model: which file each service's skeleton goes to, what
//! each file becomes, and what changed. The `rust-stream scaffold` command, the
//! `cargo generate` template and other tools call this.
//!
//! File names are decided here, once per run, and are distinct: `<service_snake>.rs`, with
//! the package prefixed (`<package>_<service_snake>.rs`) when two services of the run would
//! share a name, and a number appended if a name is still taken.

use crate::emit::skeleton;
use crate::error::{DiagnosticKind, Error};
use crate::ident;
use crate::model::{Model, Package, Service};
use crate::options::Params;
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

/// Every file of a run, in model order. Its `Display` is the report the CLI prints, one line
/// per file: `path: created`, `path: up to date` or `path: added A, B`.
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
        let services: Vec<(&Package, &Service)> = model
            .packages
            .iter()
            .flat_map(|p| p.services.iter().map(move |s| (p, s)))
            .collect();
        file_names(&services)
            .into_iter()
            .zip(services)
            .map(|(file_name, (package, service))| Skeleton {
                service,
                file_name,
                module_path: if self.flat || package.module.is_empty() {
                    self.module_path.clone()
                } else {
                    format!("{}::{}", self.module_path, package.module.join("::"))
                },
            })
            .collect()
    }

    /// What every skeleton becomes, given each file's current text (`None` if it does not
    /// exist yet), without touching the file system. Fails, naming the service, if an
    /// existing file cannot take new stubs.
    pub fn render(
        &self,
        model: &Model,
        dir: &Path,
        mut existing: impl FnMut(&Path) -> Result<Option<String>, Error>,
    ) -> Result<Report, Error> {
        let mut report = Report::default();
        for skeleton in self.skeletons(model) {
            let path = dir.join(&skeleton.file_name);
            let old = existing(&path)?;
            if let Some(text) = &old {
                check_owner(skeleton.service, &path, text)?;
            }
            let (content, added) = skeleton::scaffold(
                skeleton.service,
                &skeleton.module_path,
                &self.runtime_path,
                old.as_deref(),
            )?;
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
        Ok(report)
    }

    /// Writes the skeletons into `dir`: creates missing files, adds stubs for new RPCs to
    /// existing ones. Every file is read and rendered before any is written, so a file that
    /// cannot take stubs leaves the whole directory as it was.
    pub fn write(&self, model: &Model, dir: &Path) -> Result<Report, Error> {
        let report = self.render(model, dir, read_existing)?;
        for file in &report.files {
            if file.outcome != Outcome::UpToDate {
                crate::builder::write_if_changed(&file.path, &file.content)?;
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
        Err(err) => Err(Error::new(
            DiagnosticKind::Io,
            format!("reading {}: {err}", path.display()),
        )),
    }
}

/// An existing file must be the service's own skeleton, so that stubs never go into the
/// impl of another service's handler (a file left by an earlier run whose services were
/// renamed, or written by hand). A file that does not parse is not judged here.
fn check_owner(service: &Service, path: &Path, text: &str) -> Result<(), Error> {
    let Ok(file) = syn::parse_file(text) else {
        return Ok(());
    };
    let expected = ident::compose(&service.rust_name, "Handler");
    let handlers: Vec<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(item) => item.trait_.as_ref()?.1.segments.last(),
            _ => None,
        })
        .map(|segment| ident::unraw(&segment.ident.to_string()).to_owned())
        .filter(|name| name.ends_with("Handler"))
        .collect();
    if handlers.is_empty() || handlers.iter().any(|h| h == ident::unraw(&expected)) {
        return Ok(());
    }
    Err(Error::new(
        DiagnosticKind::Usage,
        format!(
            "{} is not the skeleton of `{}`: it implements `{}`, not `{expected}`; move it \
             away or scaffold into another directory",
            path.display(),
            service.full_name,
            handlers.join("`, `"),
        ),
    ))
}

/// A distinct file name per service, parallel to `services`: its handler module's name
/// ([`ident::handler_modules`]) with `.rs`.
fn file_names(services: &[(&Package, &Service)]) -> Vec<String> {
    let stems: Vec<(&[String], &str)> = services
        .iter()
        .map(|(p, s)| (p.module.as_slice(), s.skeleton_stem.as_str()))
        .collect();
    ident::handler_modules(&stems)
        .into_iter()
        .map(|stem| format!("{stem}.rs"))
        .collect()
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
        crate::emit::model_of(&descriptors, &Params::default())
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
            .render(&model, dir, |_| Ok(None))
            .unwrap();
        let path = Path::new("skeletons").join("event.rs");
        assert_eq!(
            created.to_string(),
            format!("{}: created\n", path.display())
        );
        let text = created.files[0].content.clone();
        let same = Scaffold::new("crate::pb")
            .render(&model, dir, |_| Ok(Some(text.clone())))
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
