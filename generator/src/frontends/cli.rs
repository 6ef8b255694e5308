//! The `rust-stream` command-line tool (feature `bin`): `generate`, `inspect`, `scaffold`,
//! `new` and `sync`.

use crate::error::{Diagnostic, DiagnosticKind, Error};
use crate::frontends::builder::write_if_changed;
use crate::frontends::scaffold::Scaffold;
use crate::frontends::service_crate::{self, new::NewCrate, new::new_crate};
use crate::load::Descriptors;
use crate::model::{Model, Pattern};
use crate::options::{MethodOptions, OptionValue, Params, ServiceOptions};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

/// rust-stream: gRPC streaming patterns, generated right.
#[derive(Debug, Parser)]
#[command(name = "rust-stream", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate code without protoc, byte for byte what protoc-gen-rust-stream emits.
    Generate {
        /// Protos and include paths.
        #[command(flatten)]
        input: Input,
        /// Output directory.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Show every service and method: pattern, types, chunk field, guards, tuning.
    Inspect {
        /// Protos and include paths.
        #[command(flatten)]
        input: Input,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write handler skeletons into a source tree; re-running adds stubs for new RPCs only.
    ///
    /// One file per service, laid out as `cargo fmt` lays it out. Run again after the proto
    /// changed, it inserts stubs for new RPCs above the line `// rust-stream: new RPCs are
    /// added above this line.` and changes no other line.
    ///
    /// Code the protos no longer have stops the run before anything is written: handler
    /// methods of RPCs that left the proto (or that the handler trait lacks) and skeleton
    /// files of services that left the protos are reported as `file:line: ...` with what to
    /// do; the exit code is 1. Fix them and run again. Give every proto whose skeletons share
    /// the directory in one run; files the scaffold did not write are left alone.
    Scaffold {
        /// Protos and include paths.
        #[command(flatten)]
        input: Input,
        /// Directory for the skeleton files (one per service).
        #[arg(short, long)]
        out: PathBuf,
        /// Rust path of the module holding the generated code for the proto's package
        /// (`crate::pb`); packages nest below it unless `--flat` is given.
        #[arg(long, default_value = "crate::pb")]
        module_path: String,
        /// The generated code of each package is directly at `--module-path`.
        #[arg(long)]
        flat: bool,
    },
    /// Create a service crate from your protos: the `cargo generate` template's files
    /// around them and a handler per service. Without --proto, the guide's example.
    New {
        /// The directory to create; its name is the crate's.
        dir: PathBuf,
        /// A proto of yours (repeatable); its imports are copied too.
        #[arg(long = "proto")]
        protos: Vec<PathBuf>,
        /// Include paths for the protos' imports, searched in order (default: each
        /// proto's directory).
        #[arg(short = 'I', long = "include")]
        includes: Vec<PathBuf>,
        /// The crate's name (default: the directory's).
        #[arg(long)]
        name: Option<String>,
        /// A placeholder's value, as `cargo generate --define` takes it (repeatable):
        /// `codegen=build-rs|derive`, `tuning=balanced|low_latency|bulk_transfer`,
        /// `listen_addr=HOST:PORT`, `rust_stream_path=DIR` (default: the checkout this
        /// binary was built from).
        #[arg(short, long = "define", value_parser = parse_define)]
        defines: Vec<(String, String)>,
    },
    /// Bring a service crate in step with its protos (`proto/`): a handler file for each
    /// new service, a stub for each new RPC, `src/handlers/mod.rs` rewritten. RPCs and
    /// services that left the protos are reported with `file:line`, and nothing is
    /// written until they are gone.
    Sync {
        /// The crate's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// `key=value`, as `cargo generate --define` takes it.
fn parse_define(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not `key=value`"))
}

/// Protos, includes and parameters, as protoc takes them.
#[derive(Debug, Args)]
pub struct Input {
    /// The `.proto` files.
    #[arg(required = true)]
    pub protos: Vec<PathBuf>,
    /// Include paths (`-I`), searched in order.
    #[arg(short = 'I', long = "include")]
    pub includes: Vec<PathBuf>,
    /// Parameters, as in `--rust-stream_opt` (`k=v,k2=v2`); repeatable.
    #[arg(long = "opt")]
    pub opts: Vec<String>,
    /// Read the protos with this protoc binary (27 or later) instead of the built-in
    /// parser, which cannot read editions files.
    #[arg(long)]
    pub protoc: Option<PathBuf>,
}

impl Input {
    fn load(&self) -> Result<(Descriptors, Params), Error> {
        let params = Params::parse(&self.opts.join(","))?;
        let includes = if self.includes.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            self.includes.clone()
        };
        let protos = check_paths(&self.protos, &includes)?;
        let descriptors = match &self.protoc {
            Some(protoc) => Descriptors::compile_with_protoc(protoc, &protos, &includes)?,
            None => Descriptors::compile(&protos, &includes)?,
        };
        Ok((descriptors, params))
    }
}

/// Checks the include directories and the protos before protox sees them, so that each
/// problem is reported as what it is (protox says "not in any include path" for all of
/// them). Returns each proto as protox can resolve it: a proto given by a path that leads
/// into an include directory another way (an absolute path, `..`) is rewritten to go
/// through that directory.
fn check_paths(protos: &[PathBuf], includes: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut problems = Vec::new();
    for include in includes {
        match std::fs::metadata(include) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => problems.push(usage(format!(
                "include directory {} (-I) is not a directory",
                include.display()
            ))),
            Err(err) => problems.push(io_problem(
                format!("include directory {} (-I)", include.display()),
                &err,
            )),
        }
    }
    let mut resolved = Vec::with_capacity(protos.len());
    for proto in protos {
        match resolve_proto(proto, includes) {
            Ok(path) => resolved.push(path),
            Err(problem) => problems.push(problem),
        }
    }
    match Error::from_diagnostics(problems) {
        Some(err) => Err(err),
        None => Ok(resolved),
    }
}

/// Finds `proto` the way protox does (a path inside an include directory, else a name
/// relative to the include directories), then as a file anywhere inside one.
fn resolve_proto(proto: &Path, includes: &[PathBuf]) -> Result<PathBuf, Diagnostic> {
    if includes.iter().any(|include| proto.starts_with(include)) {
        check_proto_file(proto)?;
        return Ok(proto.to_owned());
    }
    if proto.is_relative()
        && let Some(found) = includes
            .iter()
            .map(|include| include.join(proto))
            .find(|path| path.exists())
    {
        check_proto_file(&found)?;
        return Ok(proto.to_owned());
    }
    check_proto_file(proto).map_err(|mut problem| {
        if proto.is_relative() && problem.kind == DiagnosticKind::Io {
            problem.message = format!(
                "{}; nor is it under {}",
                problem.message,
                searched(includes)
            );
        }
        problem
    })?;
    let canonical = |path: &Path| std::fs::canonicalize(path).ok();
    if let Some(file) = canonical(proto) {
        for include in includes {
            if let Some(relative) = canonical(include)
                .as_deref()
                .and_then(|dir| file.strip_prefix(dir).ok())
            {
                return Ok(include.join(relative));
            }
        }
    }
    Err(usage(format!(
        "{} is not inside any include directory ({}); add its directory with -I",
        proto.display(),
        searched(includes)
    )))
}

/// `-I a, -I b`.
fn searched(includes: &[PathBuf]) -> String {
    let flags: Vec<String> = includes
        .iter()
        .map(|include| format!("-I {}", include.display()))
        .collect();
    flags.join(", ")
}

/// `path` is a readable regular file.
fn check_proto_file(path: &Path) -> Result<(), Diagnostic> {
    let unreadable = |err| io_problem(format!("cannot read {}", path.display()), &err);
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(usage(format!(
            "{} is a directory; name the .proto files in it",
            path.display()
        )));
    }
    if !meta.is_file() {
        // Opening a FIFO would wait for a writer; protox reads regular files.
        return Err(usage(format!("{} is not a regular file", path.display())));
    }
    std::fs::File::open(path).map_err(unreadable)?;
    Ok(())
}

/// An I/O failure, keeping the OS's reason: `cannot read a.proto: Permission denied (os
/// error 13)`.
fn io_problem(subject: String, err: &std::io::Error) -> Diagnostic {
    Diagnostic::new(DiagnosticKind::Io, None, format!("{subject}: {err}"))
}

fn usage(message: String) -> Diagnostic {
    Diagnostic::new(DiagnosticKind::Usage, None, message)
}

/// Parses `args` (the first is the program name) and runs them; returns what to print.
pub fn run_args<I, T>(args: I) -> Result<String, Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)
        .map_err(|err| Error::new(DiagnosticKind::Usage, err.to_string()))?;
    run(cli)
}

/// Runs the CLI; returns what to print on success.
pub fn run(cli: Cli) -> Result<String, Error> {
    match cli.command {
        Command::Generate { input, out } => {
            let (descriptors, params) = input.load()?;
            let (model, descriptors) = crate::model_of(&descriptors, &params)?;
            // What was generated, then where it went: the table `inspect` prints.
            let mut report = inspect_table(&model);
            report.push('\n');
            crate::pipeline::generate_from_model(&model, &descriptors, &params, |file| {
                let path = out.join(&file.name);
                write_if_changed(&path, &file.content)?;
                report.push_str(&format!(
                    "wrote {} ({} lines)\n",
                    path.display(),
                    file.content.lines().count()
                ));
                Ok(())
            })?;
            Ok(report)
        }
        Command::Inspect { input, json } => {
            let (descriptors, params) = input.load()?;
            let (model, _) = crate::model_of(&descriptors, &params)?;
            Ok(if json {
                inspect_json(&model)
            } else {
                inspect_table(&model)
            })
        }
        Command::Scaffold {
            input,
            out,
            module_path,
            flat,
        } => {
            let (descriptors, params) = input.load()?;
            let (model, _) = crate::model_of(&descriptors, &params)?;
            let report = Scaffold::new(module_path)
                .flat(flat)
                .runtime_path(params.runtime_path)
                .write(&model, &out)?;
            Ok(report.to_string())
        }
        Command::New {
            dir,
            protos,
            includes,
            name,
            defines,
        } => {
            let request = NewCrate {
                dir: dir.clone(),
                name,
                protos,
                includes,
                defines,
            };
            let report = new_crate(&request)?;
            Ok(format!(
                "{report}created {}: `cargo run` serves it, `cargo test` tests every RPC; \
                 after changing proto/, run `rust-stream sync` there\n",
                dir.display()
            ))
        }
        Command::Sync { dir } => Ok(service_crate::sync(&dir)?.to_string()),
    }
}

/// `name=value` for each option set, space-separated.
fn set_text(values: impl Iterator<Item = (&'static str, OptionValue)>) -> String {
    let parts: Vec<String> = values
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    parts.join(" ")
}

/// A service's tuning: its preset and each override set.
fn tuning_text(tuning: &crate::options::TuningSpec) -> String {
    let overrides = tuning.overrides();
    let set = set_text(overrides.set_values());
    if set.is_empty() {
        tuning.preset.clone()
    } else {
        format!("{} {set}", tuning.preset)
    }
}

/// A method's options set by the protos or the parameters, or `defaults`.
fn options_text(method: &crate::model::Method) -> String {
    let set = set_text(method.options.set_values());
    if set.is_empty() {
        "defaults".to_owned()
    } else {
        set
    }
}

/// Each declared option of `options` with its effective value: the one set, else the
/// declared default (`null` for a tuning preset's).
fn options_json<S>(
    options: &S,
    declared: &'static [crate::options::Declared<S>],
) -> serde_json::Map<String, serde_json::Value> {
    declared
        .iter()
        .map(|option| {
            let value = match (option.value)(options).or(option.default) {
                Some(OptionValue::Number(n)) => serde_json::Value::from(n),
                Some(OptionValue::Word(w)) => serde_json::Value::from(w),
                None => serde_json::Value::Null,
            };
            (option.name.to_owned(), value)
        })
        .collect()
}

fn inspect_table(model: &Model) -> String {
    let mut rows = vec![[
        "service".to_owned(),
        "method".to_owned(),
        "pattern".to_owned(),
        "request -> response".to_owned(),
        "chunk field".to_owned(),
        "guards".to_owned(),
        "settings".to_owned(),
    ]];
    for package in &model.packages {
        for service in &package.services {
            for method in &service.methods {
                let stream = |s: bool| if s { "stream " } else { "" };
                rows.push([
                    format!("{} [{}]", service.full_name, tuning_text(&service.tuning)),
                    format!(
                        "{}{}{}{}",
                        method.proto_name,
                        if method.rust_name != crate::ident::to_snake(&method.proto_name) {
                            format!(" (as {})", method.rust_name)
                        } else {
                            String::new()
                        },
                        if method.client_helper != method.rust_name {
                            format!(" (client: {})", method.client_helper)
                        } else {
                            String::new()
                        },
                        if method.deprecated {
                            " (deprecated)"
                        } else {
                            ""
                        }
                    ),
                    method.pattern.label().to_owned(),
                    format!(
                        "{}{} -> {}{}",
                        stream(method.pattern.client_streams()),
                        method.request.proto_name.trim_start_matches('.'),
                        stream(method.pattern.server_streams()),
                        method.response.proto_name.trim_start_matches('.'),
                    ),
                    method
                        .request
                        .chunk
                        .as_ref()
                        .filter(|_| method.pattern.client_streams())
                        .map_or("-".to_owned(), |c| c.proto_name.clone()),
                    method.pattern.guards().to_owned(),
                    options_text(method),
                ]);
            }
        }
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
}

/// A service's tuning: its preset and every override (`null` where the preset decides).
fn tuning_json(tuning: &crate::options::TuningSpec) -> serde_json::Value {
    let mut json = options_json(&tuning.overrides(), ServiceOptions::OPTIONS);
    json.insert("preset".to_owned(), tuning.preset.clone().into());
    serde_json::Value::Object(json)
}

/// A method's retry policy: where it comes from and the fields the proto sets (the others
/// are `RetryPolicy::IDEMPOTENT`'s); `null` without one.
fn retry_json(retry: Option<&crate::model::Retry>) -> serde_json::Value {
    let Some(retry) = retry else {
        return serde_json::Value::Null;
    };
    let policy = retry.policy();
    serde_json::json!({
        "source": format!("{:?}", retry.source()),
        "retries": retry.retries(),
        "max_attempts": policy.max_attempts,
        "initial_backoff_ms": policy.initial_backoff_ms,
        "max_backoff_ms": policy.max_backoff_ms,
        "backoff_multiplier": policy.backoff_multiplier,
        "retryable_codes": policy.retryable_codes,
    })
}

fn inspect_json(model: &Model) -> String {
    use serde_json::json;
    let services: Vec<_> = model
        .packages
        .iter()
        .flat_map(|p| &p.services)
        .map(|service| {
            json!({
                "service": service.full_name,
                "rust_name": service.rust_name,
                "stream_module": service.stream_module,
                "deprecated": service.deprecated,
                "tuning": tuning_json(&service.tuning),
                "methods": service.methods.iter().map(|m| json!({
                    "name": m.proto_name,
                    "rust_name": m.rust_name,
                    "renamed_because": m.renamed_because,
                    "client_helper": m.client_helper,
                    "client_renamed_because": m.client_renamed_because,
                    "path": m.grpc_path,
                    "pattern": match m.pattern {
                        Pattern::Unary => "unary",
                        Pattern::ServerStreaming => "server_streaming",
                        Pattern::ClientStreaming => "client_streaming",
                        Pattern::Bidi => "bidi_streaming",
                    },
                    "request": m.request.proto_name.trim_start_matches('.'),
                    "response": m.response.proto_name.trim_start_matches('.'),
                    "request_rust": m.request.rust_path,
                    "response_rust": m.response.rust_path,
                    "chunk_field": m.request.chunk.as_ref().map(|c| c.proto_name.clone()),
                    "upload_helper": m.upload_helper,
                    "deprecated": m.deprecated,
                    "idempotency": format!("{:?}", m.idempotency),
                    "retry": retry_json(m.retry.as_ref()),
                    "guards": m.pattern.guards(),
                    "options": options_json(&m.options, MethodOptions::OPTIONS),
                    "location": m.location.to_string(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "services": services }))
        .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every declared option, set through its parameter: `inspect`'s table shows each and
    /// its JSON has each, from the one declaration.
    #[test]
    fn inspect_shows_every_declared_option() {
        let mut params = Params::default();
        for option in MethodOptions::OPTIONS {
            let value = match option.default {
                Some(OptionValue::Word(_)) => "zstd",
                _ => "70000",
            };
            params.set(option.name, Some(value)).unwrap();
        }
        for option in ServiceOptions::OPTIONS {
            params.set(option.name, Some("70000")).unwrap();
        }
        let method = &params.method_defaults;
        let table = set_text(method.set_values());
        let json = options_json(method, MethodOptions::OPTIONS);
        for option in MethodOptions::OPTIONS {
            assert!(table.contains(&format!("{}=", option.name)), "{table}");
            assert!(!json[option.name].is_null(), "{}", option.name);
        }
        let tuning = ServiceOptions::default().tuning(&params);
        let table = tuning_text(&tuning);
        let json = tuning_json(&tuning);
        for option in ServiceOptions::OPTIONS {
            assert!(table.contains(&format!("{}=70000", option.name)), "{table}");
            assert_eq!(json[option.name], 70000, "{}", option.name);
        }
    }

    /// `inspect --json` says where each method's retry policy comes from and what it sets.
    #[test]
    fn inspect_json_shows_each_retry_policy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("r.proto"),
            "syntax = \"proto3\";\npackage r;\nimport \"rust_stream/options.proto\";\n\
             message M {}\nservice S {\n\
             rpc Read(M) returns (M) { option idempotency_level = NO_SIDE_EFFECTS; }\n\
             rpc Off(M) returns (M) { option idempotency_level = IDEMPOTENT;\n\
             option (rust_stream.method) = { retry: { max_attempts: 1 } }; }\n\
             rpc Write(M) returns (M);\n}\n",
        )
        .unwrap();
        let descriptors = Descriptors::compile(&["r.proto"], &[dir.path()]).unwrap();
        let (model, _) = crate::model_of(&descriptors, &Params::default()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&inspect_json(&model)).unwrap();
        let methods = &json["services"][0]["methods"];
        assert_eq!(methods[0]["retry"]["source"], "Idempotency");
        assert_eq!(methods[0]["retry"]["retries"], true);
        assert_eq!(methods[1]["retry"]["source"], "Method");
        assert_eq!(methods[1]["retry"]["retries"], false);
        assert_eq!(methods[1]["retry"]["max_attempts"], 1);
        assert!(methods[2]["retry"].is_null());
    }
}
