//! The build-script API: protoc-free (protox) compilation of protos into `OUT_DIR`.

use crate::emit::GeneratedFile;
use crate::error::{DiagnosticKind, Error};
use crate::load::Descriptors;
use crate::options::Params;
use std::path::{Path, PathBuf};

/// Compiles protos from a `build.rs` without protoc.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     rust_stream_build::Builder::new()
///         .bytes(".streaming.Chunk.data")
///         .compile(&["../proto/streaming.proto"], &["../proto"])?;
///     Ok(())
/// }
/// ```
///
/// and in the crate: `pub mod streaming { include!(concat!(env!("OUT_DIR"), "/streaming.rs")); }`.
///
/// Imported packages are generated too (as prost-build does), except Google's well-known
/// types (`prost_types`) and `rust_stream/options.proto`, which needs no include path.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    params: Params,
    out_dir: Option<PathBuf>,
    rerun_if_changed: bool,
    protoc: Option<PathBuf>,
}

impl Builder {
    /// A builder with the default parameters, writing to `OUT_DIR`, printing
    /// `cargo:rerun-if-changed` for every proto it reads.
    pub fn new() -> Self {
        Builder {
            rerun_if_changed: true,
            ..Builder::default()
        }
    }

    /// Writes to `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Sets a parameter by the name protoc-gen-rust-stream uses (`buffer`, `tuning`, ...).
    pub fn param(mut self, key: &str, value: &str) -> Result<Self, Error> {
        self.params
            .set(key, Some(value))
            .map_err(|problem| Error::new(DiagnosticKind::InvalidOption, problem))?;
        Ok(self)
    }

    /// Replaces all parameters.
    pub fn params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    /// Path of the runtime crate in generated code (default `::rust_stream`).
    pub fn runtime_path(mut self, path: impl Into<String>) -> Self {
        self.params.runtime_path = path.into();
        self
    }

    /// Emit only the stream layer (`<package>.stream.rs`).
    pub fn stream_only(mut self, yes: bool) -> Self {
        self.params.stream_only = yes;
        self
    }

    /// Also write an include file nesting every package's module.
    pub fn include_file(mut self, name: impl Into<String>) -> Self {
        self.params.include_file = Some(name.into());
        self
    }

    /// Generate `bytes::Bytes` for the `bytes` fields under this proto path.
    pub fn bytes(mut self, path: impl Into<String>) -> Self {
        self.params.bytes.push(path.into());
        self
    }

    /// Maps a proto package or type to existing Rust code (`extern_path=`): `proto_path` is
    /// fully qualified (`.other.pkg`), `rust_path` absolute (`::other_crate::pkg`). Code
    /// referring to it uses the path; no code is generated for it.
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.params
            .extern_paths
            .push((proto_path.into(), rust_path.into()));
        self
    }

    /// Reads the protos with the protoc binary at `path` instead of protox, which cannot
    /// parse editions files ([`Descriptors::compile_with_protoc`]; protoc 27 or later, e.g.
    /// `protoc_bin_vendored::protoc_bin_path()`).
    pub fn protoc(mut self, path: impl Into<PathBuf>) -> Self {
        self.protoc = Some(path.into());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default on).
    pub fn emit_rerun_if_changed(mut self, yes: bool) -> Self {
        self.rerun_if_changed = yes;
        self
    }

    /// Generates the files in memory.
    pub fn generate(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Vec<GeneratedFile>, Error> {
        let descriptors = self.descriptors(protos, includes)?;
        crate::generate(&descriptors, &self.params)
    }

    /// The descriptors of `protos` and their imports, noting the inputs for cargo.
    fn descriptors(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Descriptors, Error> {
        self.params.check()?;
        let descriptors = match &self.protoc {
            Some(protoc) => Descriptors::compile_with_protoc(protoc, protos, includes)?,
            None => Descriptors::compile(protos, includes)?,
        }
        .generate_imports();
        if self.rerun_if_changed {
            for proto in protos {
                println!("cargo:rerun-if-changed={}", proto.as_ref().display());
            }
            for include in includes {
                println!("cargo:rerun-if-changed={}", include.as_ref().display());
            }
        }
        Ok(descriptors)
    }

    /// Generates and writes the files (only those whose content changed), each as soon as
    /// it is formatted.
    pub fn compile(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    Error::new(
                        DiagnosticKind::Usage,
                        "OUT_DIR is not set; call out_dir() outside build.rs",
                    )
                })?,
        };
        let descriptors = self.descriptors(protos, includes)?;
        crate::generate_each(&descriptors, &self.params, |file| {
            write_if_changed(&out_dir.join(&file.name), &file.content)
        })
    }
}

/// Writes `content` to `path` unless it already holds exactly that.
pub fn write_if_changed(path: &Path, content: &str) -> Result<(), Error> {
    if std::fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| {
            Error::new(
                DiagnosticKind::Io,
                format!("creating {}: {err}", parent.display()),
            )
        })?;
    }
    std::fs::write(path, content).map_err(|err| {
        Error::new(
            DiagnosticKind::Io,
            format!("writing {}: {err}", path.display()),
        )
    })
}
