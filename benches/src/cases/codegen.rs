//! Case 7: code generation over a large descriptor set, our generator vs tonic-prost-build,
//! each in a fresh child process (wall time and peak resident set).

use super::{Error, order};
use crate::report::{Pairing, Report, Row};
use crate::{Plan, sys};
use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    MethodDescriptorProto, ServiceDescriptorProto,
};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const CASE: &str = "7. Code generation";
/// The generators compared (the worker's `--tool`): the subject, then its reference.
const TOOLS: [&str; 2] = ["rust-stream", "tonic"];
/// How the rows name them.
const NAMES: [&str; 2] = ["rust-stream-build", "tonic-prost-build"];
/// Services per synthetic file.
const SERVICES_PER_FILE: usize = 15;

fn field(name: &str, number: i32, r#type: Type, repeated: bool) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(if repeated {
            Label::Repeated
        } else {
            Label::Optional
        } as i32),
        r#type: Some(r#type as i32),
        json_name: Some(name.into()),
        ..Default::default()
    }
}

/// A synthetic set of `services` services with `methods` methods each: method `k` is
/// unary, server-, client- or bidi-streaming by `k % 4`; every method has its own request
/// and response; client-streaming requests are chunk-shaped (one `bytes` field).
pub fn synthetic(services: usize, methods: usize) -> FileDescriptorSet {
    let files = services.div_ceil(SERVICES_PER_FILE);
    let file = |f: usize| {
        let package = format!("bench.pkg{f:04}");
        let mut proto = FileDescriptorProto {
            name: Some(format!("bench/pkg{f:04}.proto")),
            package: Some(package.clone()),
            syntax: Some("proto3".into()),
            ..Default::default()
        };
        let first = f * SERVICES_PER_FILE;
        for s in first..(first + SERVICES_PER_FILE).min(services) {
            let mut service = ServiceDescriptorProto {
                name: Some(format!("Service{s:04}")),
                ..Default::default()
            };
            for k in 0..methods {
                let base = format!("S{s:04}M{k}");
                let (client_streaming, server_streaming) =
                    [(false, false), (false, true), (true, false), (true, true)][k % 4];
                let request_fields = if client_streaming && !server_streaming {
                    vec![field("data", 1, Type::Bytes, false)]
                } else {
                    vec![
                        field("id", 1, Type::String, false),
                        field("count", 2, Type::Int64, false),
                        field("payload", 3, Type::Bytes, false),
                        field("tags", 4, Type::String, true),
                    ]
                };
                proto.message_type.push(DescriptorProto {
                    name: Some(format!("{base}Request")),
                    field: request_fields,
                    ..Default::default()
                });
                proto.message_type.push(DescriptorProto {
                    name: Some(format!("{base}Response")),
                    field: vec![
                        field("ok", 1, Type::Bool, false),
                        field("message", 2, Type::String, false),
                        field("data", 3, Type::Bytes, false),
                    ],
                    ..Default::default()
                });
                service.method.push(MethodDescriptorProto {
                    name: Some(format!("Method{k}")),
                    input_type: Some(format!(".{package}.{base}Request")),
                    output_type: Some(format!(".{package}.{base}Response")),
                    client_streaming: Some(client_streaming),
                    server_streaming: Some(server_streaming),
                    ..Default::default()
                });
            }
            proto.service.push(service);
        }
        proto
    };
    FileDescriptorSet {
        file: (0..files).map(file).collect(),
    }
}

/// The `codegen-worker` subcommand: runs `tool` over the set in `fds`, writing into `out`;
/// returns `wall_ms=<ms> peak_kib=<KiB>` (from reading the set to the last file written).
/// Both tools start from the encoded set; each decodes it itself.
pub fn worker(tool: &str, fds: &Path, out: &Path) -> Result<String, Error> {
    let start = Instant::now();
    let bytes = std::fs::read(fds)?;
    std::fs::create_dir_all(out)?;
    match tool {
        "tonic" => tonic_prost_build::configure()
            .out_dir(out)
            .build_client(true)
            .build_server(true)
            .compile_fds(FileDescriptorSet::decode(bytes.as_slice())?)?,
        "rust-stream" => {
            // The build API's entry point: descriptors -> model -> prost messages, tonic
            // client and server, stream layer, formatted, each file written as soon as it is
            // formatted.
            let descriptors =
                rust_stream_build::Descriptors::from_file_descriptor_set(&bytes, &[])?;
            let params = rust_stream_build::Params::default();
            rust_stream_build::generate_each(&descriptors, &params, |file| {
                std::fs::write(out.join(&file.name), file.content).map_err(|err| {
                    rust_stream_build::Error::new(
                        rust_stream_build::DiagnosticKind::Io,
                        format!("writing {}: {err}", file.name),
                    )
                })
            })?;
        }
        other => return Err(format!("unknown tool {other}").into()),
    }
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    Ok(format!(
        "wall_ms={wall_ms} peak_kib={}",
        sys::own_peak_kib()
    ))
}

/// The cores a child may run on: the machine's (the generators decide how many threads to
/// use), or one, pinned with `taskset` (the generators see one core and use one thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cores {
    All,
    One,
}

impl Cores {
    /// How the rows name it.
    fn label(self) -> &'static str {
        match self {
            Cores::All => "all cores",
            Cores::One => "one core",
        }
    }
}

/// Runs `tool` in a child process on `cores`; (wall ms, peak KiB).
fn measure(tool: &str, fds: &Path, out: &Path, cores: Cores) -> Result<(f64, f64), Error> {
    let exe = std::env::current_exe()?;
    let mut command = match cores {
        Cores::All => Command::new(&exe),
        Cores::One => {
            // The first core of the machine: affinity is inherited by the worker, and
            // `available_parallelism` reads it, so both generators see one core.
            let mut taskset = Command::new("taskset");
            taskset.args(["--cpu-list", "0"]).arg(&exe);
            taskset
        }
    };
    let output = command
        .arg("codegen-worker")
        .arg("--tool")
        .arg(tool)
        .arg("--fds")
        .arg(fds)
        .arg("--out")
        .arg(out)
        .output()?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr)
            .trim()
            .to_owned()
            .into());
    }
    let line = String::from_utf8_lossy(&output.stdout);
    let value = |key: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    };
    match (value("wall_ms"), value("peak_kib")) {
        (Some(wall), Some(peak)) => Ok((wall, peak)),
        _ => Err(format!("unexpected worker output {line:?}").into()),
    }
}

/// Each tool's wall times (s) and peak resident sets (MiB) on some cores, run by run.
#[derive(Default)]
struct Figures {
    wall: [Vec<f64>; 2],
    peak: [Vec<f64>; 2],
}

/// Runs the case: every repetition runs both tools on all cores and then on one, each pair
/// back to back with the order alternating, so every figure has its reference from the same
/// moment.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let (services, methods) = (plan.codegen_services, plan.codegen_methods);
    let dir = tempfile::tempdir()?;
    let fds = dir.path().join("set.binpb");
    std::fs::write(&fds, synthetic(services, methods).encode_to_vec())?;
    let mut runs = vec![(Cores::All, Figures::default())];
    if Command::new("taskset").arg("--version").output().is_ok() {
        runs.push((Cores::One, Figures::default()));
    } else {
        report.note("7: taskset not found; the one-core rows are left out".to_owned());
    }
    let mut ours_missing = None;
    for rep in 0..plan.reps {
        for (cores, figures) in &mut runs {
            for t in order(rep, TOOLS.len()) {
                if t == 0 && ours_missing.is_some() {
                    continue;
                }
                let out = dir.path().join(format!("{}-{rep}-{cores:?}", TOOLS[t]));
                let (fds, tool, cores) = (fds.clone(), TOOLS[t], *cores);
                let measured = tokio::task::spawn_blocking(move || {
                    measure(tool, &fds, &out, cores).map_err(|e| e.to_string())
                })
                .await?;
                match measured {
                    Ok((ms, kib)) => {
                        figures.wall[t].push(ms / 1e3);
                        figures.peak[t].push(kib / 1024.0);
                    }
                    Err(err) if t == 0 => ours_missing = Some(err),
                    Err(err) => return Err(err.into()),
                }
            }
        }
    }
    let size = format!("{services} services, {} methods", services * methods);
    if let Some(err) = &ours_missing {
        report.note(format!("7: rust-stream-build not measured (gap): {err}"));
    }
    for (cores, figures) in runs {
        let measures = [
            ("wall time, s", figures.wall),
            ("peak RSS, MiB", figures.peak),
        ];
        for (what, [ours, theirs]) in measures {
            let measure = format!("{what}, {} ({size})", cores.label());
            report.push(if ours_missing.is_some() {
                Row::new(CASE, &measure, NAMES[1], theirs)
            } else {
                Row::new(CASE, &measure, NAMES[0], ours).against(NAMES[1], theirs, Pairing::PerRun)
            });
        }
    }
    Ok(())
}
