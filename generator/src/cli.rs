//! The `rust-stream` command-line tool (feature `bin`): `generate`, `inspect`, `scaffold`.

use crate::builder::write_if_changed;
use crate::emit::{self, stream::guards};
use crate::error::{DiagnosticKind, Error};
use crate::load::Descriptors;
use crate::model::{Model, Pattern};
use crate::options::Params;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

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
}

impl Input {
    fn load(&self) -> Result<(Descriptors, Params), Error> {
        let params = Params::parse(&self.opts.join(","))?;
        let includes = if self.includes.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            self.includes.clone()
        };
        Ok((Descriptors::compile(&self.protos, &includes)?, params))
    }
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
            let (model, descriptors) = emit::model_of(&descriptors, &params)?;
            let files = emit::generate_from_model(&model, &descriptors, &params)?;
            // What was generated, then where it went: the table `inspect` prints.
            let mut report = inspect_table(&model);
            report.push('\n');
            for file in files {
                let path = out.join(&file.name);
                write_if_changed(&path, &file.content)?;
                report.push_str(&format!(
                    "wrote {} ({} lines)\n",
                    path.display(),
                    file.content.lines().count()
                ));
            }
            Ok(report)
        }
        Command::Inspect { input, json } => {
            let (descriptors, params) = input.load()?;
            let (model, _) = emit::model_of(&descriptors, &params)?;
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
            let (model, _) = emit::model_of(&descriptors, &params)?;
            let mut report = String::new();
            let mut names = std::collections::BTreeMap::new();
            for service in model.packages.iter().flat_map(|p| &p.services) {
                *names
                    .entry(emit::skeleton::file_name(service))
                    .or_insert(0usize) += 1;
            }
            for package in &model.packages {
                for service in &package.services {
                    let base = if flat || package.module.is_empty() {
                        module_path.clone()
                    } else {
                        format!("{module_path}::{}", package.module.join("::"))
                    };
                    let mut file = emit::skeleton::file_name(service);
                    if names.get(&file).copied().unwrap_or(0) > 1 && !package.module.is_empty() {
                        // Two services of this run share a name: prefix the package.
                        let prefix: Vec<&str> = package
                            .module
                            .iter()
                            .map(|p| crate::ident::unraw(p))
                            .collect();
                        file = format!("{}_{file}", prefix.join("_"));
                    }
                    let path = out.join(file);
                    let existing = match std::fs::read_to_string(&path) {
                        Ok(text) => Some(text),
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                        Err(err) => {
                            return Err(Error::new(
                                DiagnosticKind::Io,
                                format!("reading {}: {err}", path.display()),
                            ));
                        }
                    };
                    let (content, added) = emit::skeleton::scaffold(
                        service,
                        &base,
                        &params.runtime_path,
                        existing.as_deref(),
                    )?;
                    if existing.as_deref() != Some(content.as_str()) {
                        write_if_changed(&path, &content)?;
                    }
                    report.push_str(&format!(
                        "{}: {}\n",
                        path.display(),
                        if existing.is_none() {
                            "created".to_owned()
                        } else if added.is_empty() {
                            "up to date".to_owned()
                        } else {
                            format!("added {}", added.join(", "))
                        }
                    ));
                }
            }
            Ok(report)
        }
    }
}

fn tuning_text(tuning: &crate::options::TuningSpec) -> String {
    let mut text = tuning.preset.clone();
    for (name, value) in [
        ("stream_window", tuning.stream_window.map(u64::from)),
        ("connection_window", tuning.connection_window.map(u64::from)),
        ("max_message_size", tuning.max_message_size),
    ] {
        if let Some(value) = value {
            text.push_str(&format!(" {name}={value}"));
        }
    }
    text
}

fn options_text(method: &crate::model::Method) -> String {
    let o = &method.options;
    let mut parts = Vec::new();
    for (name, value) in [
        ("buffer", o.buffer.map(u64::from)),
        ("max_total_bytes", o.max_total_bytes),
        ("max_messages", o.max_messages),
        ("idle_timeout_ms", o.idle_timeout_ms),
        ("deadline_ms", o.deadline_ms),
    ] {
        if let Some(value) = value {
            parts.push(format!("{name}={value}"));
        }
    }
    if method.upload_helper.is_some() {
        parts.push(format!("chunk_size={}", method.chunk_size()));
    }
    if parts.is_empty() {
        "defaults".to_owned()
    } else {
        parts.join(" ")
    }
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
                        "{}{}{}",
                        method.proto_name,
                        if method.rust_name != crate::ident::to_snake(&method.proto_name) {
                            format!(" (as {})", method.rust_name)
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
                    guards(method),
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
                "tuning": {
                    "preset": service.tuning.preset,
                    "stream_window": service.tuning.stream_window,
                    "connection_window": service.tuning.connection_window,
                    "max_message_size": service.tuning.max_message_size,
                },
                "methods": service.methods.iter().map(|m| json!({
                    "name": m.proto_name,
                    "rust_name": m.rust_name,
                    "renamed_because": m.renamed_because,
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
                    "guards": guards(m),
                    "options": {
                        "buffer": m.options.buffer,
                        "max_total_bytes": m.options.max_total_bytes,
                        "max_messages": m.options.max_messages,
                        "idle_timeout_ms": m.options.idle_timeout_ms,
                        "chunk_size": m.chunk_size(),
                        "deadline_ms": m.options.deadline_ms,
                    },
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
