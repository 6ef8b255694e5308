//! Loading descriptors: from a protoc `CodeGeneratorRequest`, from an encoded
//! `FileDescriptorSet`, or by compiling `.proto` files with protox (no protoc needed).
//!
//! Stage 1 of the pipeline. Takes protoc's request, an encoded `FileDescriptorSet` or `.proto`
//! files; gives [`Descriptors`](crate::Descriptors): every file (editions files as they are,
//! with their encoded form for the `editions` stage to lower), the files to generate and the
//! `rust_stream` options.
//!
//! prost-types drops unknown fields, and with them the `rust_stream` extension options, so
//! the options are read from the same bytes a second time through small views below.

use crate::error::{Diagnostic, DiagnosticKind, Error, Location};
use crate::options::{
    MethodOptions, RetryOption, RetryOptions, ServiceOptions, ServiceRetryOptions,
};
use crate::proto::{FullName, SourceIndex};
use prost::Message;
use prost_types::compiler::CodeGeneratorRequest;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Name under which `rust_stream/options.proto` is importable everywhere.
pub const OPTIONS_PROTO_NAME: &str = "rust_stream/options.proto";

/// The text of `rust_stream/options.proto`, built into the generator so the build API and
/// the CLI can resolve the import without an include path.
pub const OPTIONS_PROTO: &str = include_str!("../../proto/rust_stream/options.proto");

/// The descriptors of one run, with the files to generate code for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Descriptors {
    /// Every file involved, imports included.
    pub files: Vec<FileDescriptorProto>,
    /// Names of the files to generate code for (`file_to_generate`).
    pub to_generate: Vec<String>,
    /// `(rust_stream.service)` of each service, by fully qualified name (`.pkg.Service`).
    pub service_options: BTreeMap<String, ServiceOptions>,
    /// `(rust_stream.method)` of each method, by `.pkg.Service.Method`.
    pub method_options: BTreeMap<String, MethodOptions>,
    /// `(rust_stream.service).methods.retry` of each service that sets it, by `.pkg.Service`.
    pub service_retry: BTreeMap<String, RetryOption>,
    /// `(rust_stream.method).retry` of each method that sets it, by `.pkg.Service.Method`.
    pub method_retry: BTreeMap<String, RetryOption>,
    /// Each editions file's encoded descriptor, by name: its features, which prost-types
    /// drops, for the editions stage.
    encoded_editions: BTreeMap<String, Vec<u8>>,
    /// Files read from disk, as absolute paths (see [`Descriptors::loaded_files`]).
    loaded_files: Vec<PathBuf>,
    /// Problems found while reading the options, reported with the descriptors' own.
    problems: Vec<Diagnostic>,
}

impl Descriptors {
    /// Decodes a protoc `CodeGeneratorRequest`; also returns its `parameter`.
    pub fn from_request(bytes: &[u8]) -> Result<(Descriptors, String), Error> {
        let request = CodeGeneratorRequest::decode(bytes).map_err(|err| {
            Error::new(
                DiagnosticKind::InvalidDescriptor,
                format!("not a CodeGeneratorRequest: {err}"),
            )
        })?;
        let raw = RawRequest::decode(bytes).map_err(|err| {
            Error::new(
                DiagnosticKind::InvalidDescriptor,
                format!("not a CodeGeneratorRequest: {err}"),
            )
        })?;
        if request.file_to_generate.is_empty() {
            return Err(Error::new(
                DiagnosticKind::InvalidDescriptor,
                "not a CodeGeneratorRequest: it names no file to generate",
            ));
        }
        let mut descriptors = Descriptors {
            files: request.proto_file,
            to_generate: request.file_to_generate,
            ..Descriptors::default()
        };
        let encoded = EncodedFiles::decode(bytes).map(|f| f.request_files);
        descriptors.keep_editions(encoded);
        descriptors.read_options(&raw.proto_file);
        Ok((descriptors, request.parameter.unwrap_or_default()))
    }

    /// Decodes an encoded `FileDescriptorSet` (as `protoc -o` or protox write it, with
    /// imports); code is generated for `to_generate`, or for every file if it is empty.
    pub fn from_file_descriptor_set(bytes: &[u8], to_generate: &[String]) -> Result<Self, Error> {
        let set = FileDescriptorSet::decode(bytes).map_err(|err| {
            Error::new(
                DiagnosticKind::InvalidDescriptor,
                format!("not a FileDescriptorSet: {err}"),
            )
        })?;
        let raw = RawSet::decode(bytes).map_err(|err| {
            Error::new(
                DiagnosticKind::InvalidDescriptor,
                format!("not a FileDescriptorSet: {err}"),
            )
        })?;
        let to_generate = if to_generate.is_empty() {
            set.file.iter().map(|f| f.name().to_owned()).collect()
        } else {
            to_generate.to_vec()
        };
        let mut descriptors = Descriptors {
            files: set.file,
            to_generate,
            ..Descriptors::default()
        };
        let encoded = EncodedFiles::decode(bytes).map(|f| f.set_files);
        descriptors.keep_editions(encoded);
        descriptors.read_options(&raw.file);
        Ok(descriptors)
    }

    /// Compiles `protos` with protox, searching `includes` (then the built-in
    /// `rust_stream/options.proto` and Google's well-known types) for imports.
    ///
    /// Code is generated for `protos` only, as protoc does with the files named on its
    /// command line; see [`Descriptors::generate_imports`] for the build API's behaviour.
    ///
    /// protox cannot parse editions files: with the default `vendored-protoc` feature they
    /// are read by the protoc that protoc-bin-vendored ships
    /// ([`Descriptors::compile_with_protoc`]), as the plugin under that protoc reads them;
    /// without it, the error names the file and the ways forward.
    pub fn compile(
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Self, Error> {
        use protox::file::{
            ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
        };

        struct OptionsResolver;
        impl FileResolver for OptionsResolver {
            fn open_file(&self, name: &str) -> Result<File, protox::Error> {
                if name == OPTIONS_PROTO_NAME {
                    File::from_source(name, OPTIONS_PROTO)
                } else {
                    Err(protox::Error::file_not_found(name))
                }
            }
        }

        let protos = expand_directories(protos)?;
        let mut resolver = ChainFileResolver::new();
        for include in includes {
            resolver.add(IncludeFileResolver::new(include.as_ref().to_owned()));
        }
        resolver.add(OptionsResolver);
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true).include_source_info(true);
        if let Err(err) = compiler.open_files(&protos) {
            return if uses_editions(&err) {
                Descriptors::compile_editions(&protos, includes, protox_error(err))
            } else {
                let includes: Vec<&Path> = includes.iter().map(AsRef::as_ref).collect();
                Err(with_search_path(protox_error(err), &includes))
            };
        }
        let to_generate: Vec<String> = compiler
            .files()
            .filter(|f| !f.is_import())
            .map(|f| f.name().to_owned())
            .collect();
        // Files with a path are the ones read from disk; the built-in options.proto and
        // Google's well-known types have none.
        let loaded_files = compiler
            .files()
            .filter_map(|f| f.path())
            .map(|path| {
                std::fs::canonicalize(path)
                    .or_else(|_| std::path::absolute(path))
                    .unwrap_or_else(|_| path.to_owned())
            })
            .collect();
        let bytes = compiler.encode_file_descriptor_set();
        let mut descriptors = Descriptors::from_file_descriptor_set(&bytes, &to_generate)?;
        descriptors.loaded_files = loaded_files;
        descriptors.normalize_source_info();
        Ok(descriptors)
    }

    /// Reads protos that protox refused for using editions (`refused` says so) with the protoc
    /// that protoc-bin-vendored ships, as the plugin under that protoc reads them.
    #[cfg(feature = "vendored-protoc")]
    fn compile_editions(
        protos: &[PathBuf],
        includes: &[impl AsRef<Path>],
        refused: Error,
    ) -> Result<Self, Error> {
        match protoc_bin_vendored::protoc_bin_path() {
            Ok(protoc) => Descriptors::compile_with_protoc(&protoc, protos, includes),
            Err(err) => Err(Error::new(
                DiagnosticKind::Unsupported,
                format!("{refused} (the bundled protoc does not run here: {err})"),
            )),
        }
    }

    /// Without the `vendored-protoc` feature, editions files need a protoc of the user's.
    #[cfg(not(feature = "vendored-protoc"))]
    fn compile_editions(
        _protos: &[PathBuf],
        _includes: &[impl AsRef<Path>],
        refused: Error,
    ) -> Result<Self, Error> {
        Err(refused)
    }

    /// Compiles `protos` with the protoc binary at `protoc` instead of protox, searching
    /// `includes`, then the built-in `rust_stream/options.proto`, then protoc's own include
    /// directory (the well-known types, `google/protobuf/*_features.proto`). This is the way
    /// to read editions files, which protox cannot parse, without the plugin; protoc must
    /// know the files' edition (27 or later for 2023; protoc-bin-vendored 3.3 ships
    /// libprotoc 36, which knows 2024). Otherwise the same as [`Descriptors::compile`].
    pub fn compile_with_protoc(
        protoc: &Path,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Self, Error> {
        let protos = expand_directories(protos)?;
        let scratch = Scratch::new()?;
        let options_dir = scratch.0.join("include");
        let options_file = options_dir.join(OPTIONS_PROTO_NAME);
        std::fs::create_dir_all(options_file.parent().unwrap_or(&options_dir))
            .and_then(|()| std::fs::write(&options_file, OPTIONS_PROTO))
            .map_err(|err| io_error(&options_file, &err))?;
        let run = |out: &Path, imports: bool| -> Result<Vec<u8>, Error> {
            let mut cmd = std::process::Command::new(protoc);
            for include in includes {
                cmd.arg("-I").arg(include.as_ref());
            }
            cmd.arg("-I").arg(&options_dir);
            if imports {
                cmd.args(["--include_imports", "--include_source_info"]);
            }
            cmd.arg(format!("--descriptor_set_out={}", out.display()));
            cmd.args(&protos);
            let output = cmd.output().map_err(|err| {
                Error::new(
                    DiagnosticKind::Io,
                    format!("running protoc `{}` failed: {err}", protoc.display()),
                )
            })?;
            if !output.status.success() {
                return Err(Error::new(
                    DiagnosticKind::Syntax,
                    format!(
                        "protoc `{}` failed: {}",
                        protoc.display(),
                        String::from_utf8_lossy(&output.stderr).trim()
                    ),
                ));
            }
            std::fs::read(out).map_err(|err| io_error(out, &err))
        };
        // Without imports, the set holds exactly the named files, by protoc's names for them.
        let named = run(&scratch.0.join("named.pb"), false)?;
        let to_generate: Vec<String> = FileDescriptorSet::decode(named.as_slice())
            .map_err(|err| {
                Error::new(
                    DiagnosticKind::InvalidDescriptor,
                    format!("protoc wrote no FileDescriptorSet: {err}"),
                )
            })?
            .file
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        let bytes = run(&scratch.0.join("all.pb"), true)?;
        let mut descriptors = Descriptors::from_file_descriptor_set(&bytes, &to_generate)?;
        // The files found under `includes` are the ones read from disk (not ours, nor
        // protoc's own).
        descriptors.loaded_files = descriptors
            .files
            .iter()
            .filter_map(|f| {
                includes
                    .iter()
                    .map(|include| include.as_ref().join(f.name()))
                    .find(|path| path.is_file())
            })
            .map(|path| {
                std::fs::canonicalize(&path)
                    .or_else(|_| std::path::absolute(&path))
                    .unwrap_or(path)
            })
            .collect();
        descriptors.normalize_source_info();
        Ok(descriptors)
    }

    /// Every file [`Descriptors::compile`] read from disk, imports included, as absolute
    /// paths, in the order protox loaded them (not the built-in
    /// `rust_stream/options.proto` or Google's well-known types). A procedural macro
    /// `include_bytes!`es each, so that cargo rebuilds when one changes. Empty for
    /// descriptors decoded from a request or a descriptor set.
    pub fn loaded_files(&self) -> &[PathBuf] {
        &self.loaded_files
    }

    /// Problems found in the `rust_stream` options while decoding (reported by the
    /// generator together with every other problem).
    pub(crate) fn problems(&self) -> &[Diagnostic] {
        &self.problems
    }

    /// Generates code for every imported file as well (except the well-known types and
    /// `rust_stream/options.proto`), as prost-build's `compile_protos` does, so that one
    /// run yields every package the named files need.
    pub fn generate_imports(mut self) -> Self {
        self.to_generate = self
            .files
            .iter()
            .map(|f| f.name().to_owned())
            .filter(|name| name != OPTIONS_PROTO_NAME && !name.starts_with("google/protobuf/"))
            .collect();
        self
    }

    /// Drops the source info of files that are not generated, as protoc leaves it out of a
    /// plugin's request, so the CLI and the plugin see the same input.
    /// Keeps the encoded form of each editions file (`encoded`: every file's, in order).
    fn keep_editions(&mut self, encoded: Result<Vec<Vec<u8>>, prost::DecodeError>) {
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(err) => {
                self.problems.push(Diagnostic::new(
                    DiagnosticKind::InvalidDescriptor,
                    None,
                    format!("the descriptors' editions features do not decode: {err}"),
                ));
                return;
            }
        };
        for (file, bytes) in self.files.iter().zip(encoded) {
            if file.syntax.as_deref() == Some("editions") {
                self.encoded_editions.insert(file.name().to_owned(), bytes);
            }
        }
    }

    /// The encoded descriptor of the editions file named `name`, if it came encoded.
    pub(crate) fn encoded(&self, name: &str) -> Option<&[u8]> {
        self.encoded_editions.get(name).map(Vec::as_slice)
    }

    /// These descriptors with `files` in place of their files (the editions stage's
    /// lowering) and `problems` first among their problems.
    pub(crate) fn lowered(
        &self,
        files: Vec<FileDescriptorProto>,
        problems: Vec<Diagnostic>,
    ) -> Self {
        Descriptors {
            files,
            encoded_editions: BTreeMap::new(),
            problems: problems
                .into_iter()
                .chain(self.problems.iter().cloned())
                .collect(),
            ..self.clone()
        }
    }

    fn normalize_source_info(&mut self) {
        for file in &mut self.files {
            if !self.to_generate.iter().any(|name| name == file.name()) {
                file.source_code_info = None;
            }
        }
    }

    /// Reads `(rust_stream.service)` and `(rust_stream.method)`. Extension number 51200
    /// is ours only in a file that imports `rust_stream/options.proto` (directly or through
    /// public imports): elsewhere another tool's option may use the number, and its value
    /// is not read. In a file that imports ours, a value that does not decode is reported.
    fn read_options(&mut self, raw: &[RawFile]) {
        let option_imports: Vec<&[String]> =
            raw.iter().map(|f| f.option_dependency.as_slice()).collect();
        let imports_ours = imports_options(&self.files, &option_imports);
        for (file, raw) in self.files.iter().zip(raw) {
            if !imports_ours.contains(file.name()) {
                continue;
            }
            let package = file.package();
            let source = SourceIndex::new(file);
            for (s, service) in raw.service.iter().enumerate() {
                let service_name =
                    FullName::of(package, service.name.as_deref().unwrap_or_default());
                let location = |path: &[i32]| source.location(path);
                match ours::<ServiceOptions>(service.options.as_deref()) {
                    Ok(Some(options)) => {
                        self.service_options
                            .insert(service_name.as_str().to_owned(), options);
                        // The same bytes decoded as one message; only `retry` is new.
                        let retry = ours::<ServiceRetryOptions>(service.options.as_deref());
                        if let Ok(Some(ServiceRetryOptions {
                            methods: Some(RetryOptions { retry: Some(retry) }),
                        })) = retry
                        {
                            self.service_retry
                                .insert(service_name.as_str().to_owned(), retry);
                        }
                    }
                    Ok(None) => {}
                    Err(err) => self.problems.push(Diagnostic::new(
                        DiagnosticKind::InvalidOption,
                        Some(location(&[6, s as i32])),
                        format!(
                            "service `{}`: (rust_stream.service) is not a `rust_stream.ServiceOptions` message: {err}",
                            service_name.shown()
                        ),
                    )),
                }
                for (m, method) in service.method.iter().enumerate() {
                    let name = format!(
                        "{service_name}.{}",
                        method.name.as_deref().unwrap_or_default()
                    );
                    match ours::<MethodOptions>(method.options.as_deref()) {
                        Ok(Some(options)) => {
                            let retry = ours::<RetryOptions>(method.options.as_deref());
                            if let Ok(Some(RetryOptions { retry: Some(retry) })) = retry {
                                self.method_retry.insert(name.clone(), retry);
                            }
                            self.method_options.insert(name, options);
                        }
                        Ok(None) => {}
                        Err(err) => self.problems.push(Diagnostic::new(
                            DiagnosticKind::InvalidOption,
                            Some(location(&[6, s as i32, 2, m as i32])),
                            format!(
                                "method `{}`: (rust_stream.method) is not a `rust_stream.MethodOptions` message: {err}",
                                name.trim_start_matches('.')
                            ),
                        )),
                    }
                }
            }
        }
    }
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, Error> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "rust-stream-protoc-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|err| io_error(&dir, &err))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The last step of loading: `descriptors` as every later stage sees them, without the
/// source info of imports (protoc gives none for imports, so every front end sees the
/// same). Borrowed when there is nothing to drop.
pub(crate) fn for_generation(descriptors: &Descriptors) -> Cow<'_, Descriptors> {
    let generated =
        |file: &FileDescriptorProto| descriptors.to_generate.iter().any(|n| n == file.name());
    let has_import_info = descriptors
        .files
        .iter()
        .any(|file| file.source_code_info.is_some() && !generated(file));
    if !has_import_info {
        return Cow::Borrowed(descriptors);
    }
    let mut owned = descriptors.clone();
    for file in &mut owned.files {
        if !generated(file) {
            file.source_code_info = None;
        }
    }
    Cow::Owned(owned)
}

fn io_error(path: &Path, err: &std::io::Error) -> Error {
    Error::new(DiagnosticKind::Io, format!("{}: {err}", path.display()))
}

/// Names of the files that can set `rust_stream` options: those importing
/// `rust_stream/options.proto` directly (also as edition 2024's `import option`, listed in
/// `option_imports` by file) or through a chain of public imports.
fn imports_options(
    files: &[FileDescriptorProto],
    option_imports: &[&[String]],
) -> BTreeSet<String> {
    // Files whose import makes the options visible: options.proto and, transitively,
    // files that import it publicly.
    let mut exports: BTreeSet<&str> = BTreeSet::from([OPTIONS_PROTO_NAME]);
    loop {
        let before = exports.len();
        for file in files {
            let mut public = file
                .public_dependency
                .iter()
                .filter_map(|&i| usize::try_from(i).ok())
                .filter_map(|i| file.dependency.get(i));
            if public.any(|d| exports.contains(d.as_str())) {
                exports.insert(file.name());
            }
        }
        if exports.len() == before {
            break;
        }
    }
    files
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            let options = option_imports.get(*i).copied().unwrap_or_default();
            f.dependency
                .iter()
                .chain(options)
                .any(|d| exports.contains(d.as_str()))
        })
        .map(|(_, f)| f.name().to_owned())
        .collect()
}

/// The value of extension 51200 in encoded options, as our message: `Ok(None)` if unset.
fn ours<T: Message + Default>(options: Option<&[u8]>) -> Result<Option<T>, prost::DecodeError> {
    let Some(options) = options else {
        return Ok(None);
    };
    let values = RawExtension::decode(options)?.values;
    if values.is_empty() {
        return Ok(None);
    }
    // Occurrences of a message field merge, as protobuf parsers merge them.
    T::decode(values.concat().as_slice()).map(Some)
}

/// The proto files `paths` name: a file as it is, a directory as every `.proto` file
/// below it, in path order (hidden directories skipped). A directory without one is an
/// error naming it.
pub fn expand_directories(paths: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, Error> {
    let mut protos = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if !path.is_dir() {
            protos.push(path.to_owned());
            continue;
        }
        let before = protos.len();
        collect_protos(path, &mut protos)?;
        if protos.len() == before {
            return Err(Error::new(
                DiagnosticKind::Usage,
                format!("no .proto file in the directory {}", path.display()),
            ));
        }
    }
    Ok(protos)
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let io = |err: std::io::Error| {
        Error::new(
            DiagnosticKind::Io,
            format!("reading the directory {}: {err}", dir.display()),
        )
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_dir() && !hidden {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

/// What the protox path says of an editions file, and how to proceed.
pub(crate) const PROTOX_EDITIONS: &str = "the protoc-free parser (protox) cannot read; \
     enable rust-stream-build's default `vendored-protoc` feature (a bundled protoc reads them), \
     generate with the protoc plugin (`protoc --rust-stream_out=...`), or have rust-stream run \
     a protoc 27 or later: `Builder::protoc(path)` in build.rs, `--protoc PATH` on the command line";

/// protox's `import 'x' not found`, completed with where it looked and how to add a
/// directory (each front end takes include directories its own way).
fn with_search_path(error: Error, includes: &[&Path]) -> Error {
    let Some(diagnostic) = error.diagnostics().first() else {
        return error;
    };
    let Some(import) = diagnostic
        .message
        .strip_prefix("import '")
        .and_then(|rest| rest.strip_suffix("' not found"))
    else {
        return error;
    };
    let searched = if includes.is_empty() {
        "no include directory".to_owned()
    } else {
        let dirs: Vec<String> = includes
            .iter()
            .map(|dir| format!("`{}`", dir.display()))
            .collect();
        format!("the include directories {}", dirs.join(", "))
    };
    Error::at(
        diagnostic.kind,
        diagnostic.location.clone(),
        format!(
            "import '{import}' not found; searched {searched}, then the built-in \
             `{OPTIONS_PROTO_NAME}` and `google/protobuf/*.proto`. Add the directory that \
             holds `{import}` as an include: `include = \"...\"` in #[stream_service], \
             `-I DIR` on the command line, or in the includes of `Builder::compile`"
        ),
    )
}

/// `true` if protox stopped at an `edition = ...` line, which it cannot parse at all.
fn uses_editions(err: &protox::Error) -> bool {
    err.to_string().ends_with("but found 'edition'")
}

/// protox's message says what is wrong; its diagnostic says where. Both go into the error,
/// so a malformed proto is reported as `file:line:column: message`.
fn protox_error(err: protox::Error) -> Error {
    let message = err.to_string();
    // protox does not parse editions at all; say which file and what reads it.
    if uses_editions(&err) {
        let location = protox_location(&err);
        let file = location.as_ref().map_or("", |l| l.file.as_str()).to_owned();
        return Error::at(
            DiagnosticKind::Unsupported,
            location,
            format!("`{file}` uses editions, which {PROTOX_EDITIONS}"),
        );
    }
    let kind = if err.is_io() || err.is_file_not_found() {
        DiagnosticKind::Io
    } else {
        DiagnosticKind::Syntax
    };
    Error::at(kind, protox_location(&err), message)
}

fn protox_location(err: &protox::Error) -> Option<Location> {
    use miette::Diagnostic;
    let file = err.file()?.to_owned();
    let position = err
        .labels()
        .and_then(|mut labels| labels.next())
        .and_then(|label| {
            let contents = err.source_code()?.read_span(label.inner(), 0, 0).ok()?;
            Some((contents.line() as u32 + 1, contents.column() as u32 + 1))
        });
    Some(Location {
        file,
        line: position.map(|(line, _)| line),
        column: position.map(|(_, column)| column),
    })
}

// Views of the descriptors that keep the `rust_stream` extensions prost-types drops.

#[derive(Clone, PartialEq, Message)]
struct RawRequest {
    #[prost(message, repeated, tag = "15")]
    proto_file: Vec<RawFile>,
}

/// Every file of a request or a set, still encoded.
#[derive(Clone, PartialEq, Message)]
struct EncodedFiles {
    /// `FileDescriptorSet.file`.
    #[prost(bytes = "vec", repeated, tag = "1")]
    set_files: Vec<Vec<u8>>,
    /// `CodeGeneratorRequest.proto_file`.
    #[prost(bytes = "vec", repeated, tag = "15")]
    request_files: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct RawSet {
    #[prost(message, repeated, tag = "1")]
    file: Vec<RawFile>,
}

#[derive(Clone, PartialEq, Message)]
struct RawFile {
    #[prost(message, repeated, tag = "6")]
    service: Vec<RawService>,
    /// Edition 2024's `import option` files.
    #[prost(string, repeated, tag = "15")]
    option_dependency: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct RawService {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    method: Vec<RawMethod>,
    /// `ServiceOptions`, still encoded: read by [`ours`].
    #[prost(bytes = "vec", optional, tag = "3")]
    options: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct RawMethod {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    /// `MethodOptions`, still encoded: read by [`ours`].
    #[prost(bytes = "vec", optional, tag = "4")]
    options: Option<Vec<u8>>,
}

/// Extension 51200 of `ServiceOptions` or `MethodOptions`, still encoded.
#[derive(Clone, PartialEq, Message)]
struct RawExtension {
    #[prost(bytes = "vec", repeated, tag = "51200")]
    values: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files read from disk, imports included, absolute; not the built-in ones.
    #[test]
    fn loaded_files_are_every_file_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("a.proto"),
            "syntax = \"proto3\";\nimport \"sub/b.proto\";\nimport \"rust_stream/options.proto\";\n\
             message A { B b = 1; }\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sub/b.proto"),
            "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\n\
             message B { google.protobuf.Timestamp at = 1; }\n",
        )
        .unwrap();
        // A relative include directory still gives absolute paths.
        let cwd = std::env::current_dir().unwrap();
        let relative = pathdiff(dir.path(), &cwd);
        let descriptors = Descriptors::compile(&["a.proto"], &[relative]).unwrap();
        let mut loaded = descriptors.loaded_files().to_vec();
        loaded.sort();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(loaded, [root.join("a.proto"), root.join("sub/b.proto")]);
        assert!(loaded.iter().all(|p| p.is_absolute()));
        // The files protox compiled include the built-in ones, which are not on disk.
        assert!(descriptors.files.len() > loaded.len());
    }

    /// `to` relative to `from` when `to` is below `from`'s root (enough for a temp dir).
    fn pathdiff(to: &Path, from: &Path) -> PathBuf {
        let ups = from.components().count().saturating_sub(1);
        let mut out = PathBuf::new();
        for _ in 0..ups {
            out.push("..");
        }
        out.join(to.strip_prefix("/").unwrap_or(to))
    }

    /// Options are read in files that import rust_stream's options directly or through
    /// public imports, and only there.
    #[test]
    fn options_are_read_where_they_are_imported_also_publicly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("reexport.proto"),
            "syntax = \"proto3\";\nimport public \"rust_stream/options.proto\";\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("user.proto"),
            "syntax = \"proto3\";\npackage u;\nimport \"reexport.proto\";\n\
             message M { string s = 1; }\n\
             service S { rpc Get(M) returns (M) { option (rust_stream.method) = { buffer: 3 }; } }\n",
        )
        .unwrap();
        let descriptors = Descriptors::compile(&["user.proto"], &[dir.path()]).unwrap();
        assert_eq!(descriptors.method_options[".u.S.Get"].buffer, Some(3));
        let names: Vec<&str> = descriptors.files.iter().map(|f| f.name()).collect();
        let readers = imports_options(&descriptors.files, &[]);
        assert!(readers.contains("user.proto"), "{names:?}");
        assert!(!readers.contains(OPTIONS_PROTO_NAME));
    }

    /// A missing import names each include directory searched and how to add one.
    #[test]
    fn a_missing_import_names_the_directories_searched_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("svc.proto"),
            "syntax = \"proto3\";\nimport \"google/api/annotations.proto\";\n",
        )
        .unwrap();
        let err =
            Descriptors::compile(&[dir.path().join("svc.proto")], &[dir.path(), other.path()])
                .unwrap_err();
        let message = err.to_string();
        for expected in [
            "svc.proto:2:1: import 'google/api/annotations.proto' not found; searched the \
             include directories ",
            &format!("`{}`, `{}`", dir.path().display(), other.path().display()),
            "`include = \"...\"` in #[stream_service]",
            "`-I DIR` on the command line",
            "`Builder::compile`",
        ] {
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    /// Every kind of malformed input is reported as `file:line:column: what`.
    #[test]
    fn malformed_protos_are_reported_at_file_line_column() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "syntax = \"proto3\";\nmessage A { string a = 1 }\n",
                "bad.proto:2:26: expected ';'",
            ),
            (
                "syntax = \"proto3\";\nimport \"gone.proto\";\n",
                "bad.proto:2:1: import 'gone.proto' not found; searched the include directories `",
            ),
            (
                "syntax = \"proto3\";\nmessage A {\n  Foo a = 1;\n}\n",
                "bad.proto:3:3: name 'Foo' is not defined",
            ),
        ];
        for (source, expected) in cases {
            std::fs::write(dir.path().join("bad.proto"), source).unwrap();
            let err =
                Descriptors::compile(&[dir.path().join("bad.proto")], &[dir.path().to_owned()])
                    .expect_err(source);
            let message = err.to_string();
            assert!(
                message.starts_with(expected),
                "{message:?} should start with {expected:?}"
            );
        }
    }
}
