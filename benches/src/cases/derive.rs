//! Case 9: what `#[derive(StreamService)]` costs at build time, against the same crate on
//! `build.rs`: a clean build of the crate, and `cargo check` after editing its handler (the
//! derive runs again on every check; the build script does not).

use super::{Error, order};
use crate::Plan;
use crate::report::{Pairing, Report, Row};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const CASE: &str = "9. Derive vs build.rs";

/// One proto and the unary method the handler implements (and each edit changes).
struct Subject {
    /// For the table.
    label: String,
    /// The proto's text.
    proto: String,
    /// The package's module.
    package: &'static str,
    /// The stream module and handler trait.
    handler: &'static str,
    /// The method, its request and response.
    method: &'static str,
    request: &'static str,
    response: &'static str,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ is in the workspace")
        .to_owned()
}

/// A service of `methods` RPCs, the patterns in turn, on two messages.
fn big_proto(methods: usize) -> String {
    let mut proto = String::from(
        "syntax = \"proto3\";\npackage big;\nmessage Req { string id = 1; }\n\
         message Res { bytes data = 1; }\nservice Big {\n",
    );
    for i in 0..methods {
        let (a, b) = [
            ("", ""),
            ("", "stream "),
            ("stream ", ""),
            ("stream ", "stream "),
        ][i % 4];
        let _ = writeln!(proto, "  rpc Method{i}({a}Req) returns ({b}Res);");
    }
    proto.push_str("}\n");
    proto
}

/// The front ends: the derive as a crate gets it by default (the macro and its
/// dependencies unoptimized, as in every dev build), the derive with
/// `[profile.dev.build-override] opt-level = 3` (what the guide recommends), and build.rs.
#[derive(Clone, Copy)]
enum Front {
    Derive,
    DeriveOptimized,
    BuildRs,
}

impl Front {
    const ALL: [Front; 3] = [Front::Derive, Front::DeriveOptimized, Front::BuildRs];

    fn crate_name(self) -> &'static str {
        match self {
            Front::Derive => "bench-derive",
            Front::DeriveOptimized => "bench-derive-optimized",
            Front::BuildRs => "bench-build-rs",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Front::Derive => "derive",
            Front::DeriveOptimized => "derive, macro optimized",
            Front::BuildRs => "build.rs",
        }
    }
}

/// The handler, with `edit` in the method's body.
fn handler(subject: &Subject, edit: usize) -> String {
    let Subject {
        package,
        handler,
        method,
        request,
        response,
        ..
    } = subject;
    format!(
        "use crate::pb::{package}::{{{request}, {response}}};\n\
         use crate::pb::{package}::{handler};\n\n\
         impl {} for crate::Server {{\n\
         \x20   async fn {method}(\n\
         \x20       &self,\n\
         \x20       _ctx: rust_stream::CallContext,\n\
         \x20       _request: {request},\n\
         \x20   ) -> Result<{response}, tonic::Status> {{\n\
         \x20       Err(tonic::Status::unimplemented(\"edit {edit}\"))\n\
         \x20   }}\n\
         }}\n",
        handler.rsplit("::").next().unwrap_or(handler)
    )
}

/// The profile section of `front`'s manifest. In smoke mode the optimized derive compiles only
/// the macro crate optimized: the guide's `build-override` also changes the build scripts of
/// the runtime's dependencies (ring, zstd), which makes cargo compile the whole dependency
/// tree a second time, minutes of a smoke run whose figures mean nothing. The full run
/// measures the guide's setting.
fn profile(front: Front, smoke: bool) -> &'static str {
    match (front, smoke) {
        (Front::DeriveOptimized, false) => "\n[profile.dev.build-override]\nopt-level = 3\n",
        (Front::DeriveOptimized, true) => {
            "\n[profile.dev.package.rust-stream-macros]\nopt-level = 3\n"
        }
        (Front::Derive | Front::BuildRs, _) => "",
    }
}

/// Writes the crate of `front` for `subject` under `dir`, with the workspace's lock file, so
/// that it resolves to the versions every other nested build of the test suite uses and
/// shares their compiled dependencies.
fn write_crate(dir: &Path, front: Front, subject: &Subject, smoke: bool) -> Result<PathBuf, Error> {
    let krate = dir.join(front.crate_name());
    std::fs::create_dir_all(krate.join("src"))?;
    std::fs::create_dir_all(krate.join("proto"))?;
    std::fs::write(krate.join("proto/service.proto"), &subject.proto)?;
    let runtime = workspace().join("runtime").display().to_string();
    let mut manifest = format!(
        "[package]\nname = \"{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\n\
         rust-stream = {{ path = {runtime:?} }}\n\
         tonic = {{ version = \"0.14\", default-features = false, features = [\"transport\", \"codegen\", \"router\", \"server\", \"channel\"] }}\n\
         tonic-prost = \"0.14\"\nprost = \"0.14\"\n",
        front.crate_name()
    );
    let package = subject.package;
    manifest.push_str(profile(front, smoke));
    let lib = match front {
        Front::Derive | Front::DeriveOptimized => "#[derive(rust_stream::StreamService)]\n\
             #[stream_service(proto = \"proto/service.proto\", include = \"proto\", module = \"pb\")]\n\
             pub struct Server;\n\nmod handler;\n"
            .to_owned(),
        Front::BuildRs => {
            let generator = workspace().join("generator").display().to_string();
            let _ = write!(
                manifest,
                "\n[build-dependencies]\nrust-stream-build = {{ path = {generator:?} }}\n"
            );
            std::fs::write(
                krate.join("build.rs"),
                "fn main() {\n    rust_stream_build::Builder::new()\n        \
                 .compile(&[\"proto/service.proto\"], &[\"proto\"])\n        \
                 .expect(\"the proto compiles\");\n}\n",
            )?;
            format!(
                "pub mod pb {{\n    pub mod {package} {{\n        \
                 include!(concat!(env!(\"OUT_DIR\"), \"/{package}.rs\"));\n    }}\n}}\n\n\
                 pub struct Server;\n\nmod handler;\n"
            )
        }
    };
    std::fs::write(krate.join("Cargo.toml"), manifest)?;
    std::fs::copy(workspace().join("Cargo.lock"), krate.join("Cargo.lock"))?;
    std::fs::write(krate.join("src/lib.rs"), lib)?;
    std::fs::write(krate.join("src/handler.rs"), handler(subject, 0))?;
    Ok(krate)
}

/// Runs cargo in `dir`; its wall time in seconds.
fn cargo(dir: &Path, args: &[&str]) -> Result<f64, Error> {
    let start = Instant::now();
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        // Shared with the test suite's generated crates: dependencies are compiled once.
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("generator-compile"),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()?;
    let secs = start.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(format!(
            "cargo {args:?} in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(secs)
}

/// Writes every front's crate for `subject` under `dir`, in the order of [`Front::ALL`].
fn write_crates(dir: &Path, subject: &Subject, smoke: bool) -> Result<Vec<PathBuf>, Error> {
    Front::ALL
        .iter()
        .map(|&front| write_crate(dir, front, subject, smoke))
        .collect()
}

/// Builds and checks `crates`, which compiles their dependencies into the shared target
/// directory: what the figures must not include.
fn build_dependencies(crates: &[PathBuf]) -> Result<(), Error> {
    for krate in crates {
        cargo(krate, &["build", "--quiet"])?;
        cargo(krate, &["check", "--quiet"])?;
    }
    Ok(())
}

/// Compiles the dependencies of this case's crates, once, so that a later run of the case
/// (the smoke test's, under its time limit) compiles only the crates it measures. A first
/// build from a fresh clone compiles tonic, prost and the generator in several profiles:
/// minutes on a small machine. `smoke` prepares the smoke mode's crates (see `profile`).
pub fn prepare(smoke: bool) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    // Every subject's crates have the same dependencies: the reference proto's stand for all.
    build_dependencies(&write_crates(dir.path(), &reference_subject()?, smoke)?)
}

/// Clean builds and incremental checks of each front's crate, `reps` times each, in turn;
/// by front, as in [`Front::ALL`].
fn measure(subject: &Subject, reps: usize, smoke: bool) -> Result<[[Vec<f64>; 3]; 2], Error> {
    let dir = tempfile::tempdir()?;
    let fronts = Front::ALL;
    let crates = write_crates(dir.path(), subject, smoke)?;
    // Dependencies first, outside the figures (after `prepare`, only the crates themselves).
    build_dependencies(&crates)?;
    let mut clean = [Vec::new(), Vec::new(), Vec::new()];
    let mut check = [Vec::new(), Vec::new(), Vec::new()];
    let mut edits = 0;
    for rep in 0..reps {
        for i in order(rep, fronts.len()) {
            let krate = &crates[i];
            cargo(krate, &["clean", "--quiet", "-p", fronts[i].crate_name()])?;
            clean[i].push(cargo(krate, &["build", "--quiet"])?);
            cargo(krate, &["check", "--quiet"])?;
            edits += 1;
            std::fs::write(krate.join("src/handler.rs"), handler(subject, edits))?;
            check[i].push(cargo(krate, &["check", "--quiet"])?);
        }
    }
    Ok([clean, check])
}

/// The guide's service, `proto/streaming.proto`.
fn reference_subject() -> Result<Subject, Error> {
    Ok(Subject {
        label: "proto/streaming.proto".into(),
        proto: std::fs::read_to_string(workspace().join("proto/streaming.proto"))?,
        package: "streaming",
        handler: "streaming_examples_stream::StreamingExamplesHandler",
        method: "get_user",
        request: "UserRequest",
        response: "UserResponse",
    })
}

/// Runs case 9.
pub async fn run(plan: &Plan, report: &mut Report) -> Result<(), Error> {
    let methods = if plan.smoke { 8 } else { 400 };
    let subjects = [
        reference_subject()?,
        Subject {
            label: format!("{methods}-method service"),
            proto: big_proto(methods),
            package: "big",
            handler: "big_stream::BigHandler",
            method: "method0",
            request: "Req",
            response: "Res",
        },
    ];
    let (reps, smoke) = (plan.reps, plan.smoke);
    for (s, subject) in subjects.into_iter().enumerate() {
        let label = subject.label.clone();
        let [clean, check] = tokio::task::spawn_blocking(move || {
            measure(&subject, reps, smoke).map_err(|e| e.to_string())
        })
        .await??;
        // Only the reference proto's check has a target.
        let measures = [
            ("clean build of the crate", clean, false),
            ("`cargo check` after editing the handler", check, s == 0),
        ];
        for (measure, [derive, optimized, build], judged) in measures {
            for (front, values) in [(Front::Derive, derive), (Front::DeriveOptimized, optimized)] {
                let row = Row::new(
                    CASE,
                    &format!("{measure}, s ({label})"),
                    front.subject(),
                    values,
                )
                .against(Front::BuildRs.subject(), build.clone(), Pairing::PerRun);
                let row = if judged {
                    let met = row.median_ratio() <= 1.2;
                    row.judged("<= 1.2x build.rs", met)
                } else {
                    row
                };
                report.push(row);
            }
        }
    }
    Ok(())
}
