//! The fuzz corpus's compile step: `compile-corpus [--seeded N] [CORPUS_DIR...]` generates
//! every case (N seeded inputs of each target, 300 by default, then each file of the
//! libFuzzer corpus directories, `targets/corpus/plugin` and `targets/corpus/protox`), keeps
//! the output of the cases the generator accepts and can build on their own, and checks it
//! with `cargo check` in one crate under `target/fuzz-compile`, built in
//! `target/generator-compile` beside the generator's compile tests. Exits non-zero, naming each
//! failing case with its input, if the generated code does not compile.

use rust_stream_fuzz::compile::{self, Output};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<String, String> {
    let mut count = 300;
    let mut dirs = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--seeded" {
            let n = args.next().ok_or("--seeded takes a number")?;
            count = n
                .parse()
                .map_err(|_| format!("--seeded {n}: not a number"))?;
        } else {
            dirs.push(PathBuf::from(arg));
        }
    }
    let cases = compile::inputs(count, &dirs)?;
    let total = cases.len();
    let outputs: Vec<Output> = cases
        .into_iter()
        .filter_map(|(target, origin, input)| compile::output(target, origin, &input))
        .filter(|output| compile::standalone(&output.parameter))
        .collect();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the fuzz crate has a parent")?;
    let target = workspace.join("target");
    let krate = target.join("fuzz-compile").join("corpus");
    std::fs::create_dir_all(&krate).map_err(|err| err.to_string())?;
    compile::write_crate(&krate, &outputs, &workspace.join("runtime"))?;
    // The workspace's versions, and the build directory of the generator's compile tests:
    // the dependencies are compiled once for both.
    std::fs::copy(workspace.join("Cargo.lock"), krate.join("Cargo.lock"))
        .map_err(|err| err.to_string())?;
    compile::check(&krate, &target.join("generator-compile"), &outputs)?;
    Ok(format!(
        "{} of {total} cases generated code that builds on its own; all of it compiles",
        outputs.len()
    ))
}
