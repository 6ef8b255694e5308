//! Compiles `proto/streaming.proto` for the plain tonic reference exactly as a tonic user
//! would by default: protox for parsing, tonic-prost-build with no options (so `bytes`
//! fields are `Vec<u8>`, as in tonic's own examples). Also records the versions of the
//! transport crates from `Cargo.lock` for the results' machine description.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../proto";
    let proto = "../proto/streaming.proto";
    println!("cargo:rerun-if-changed={proto}");
    println!("cargo:rerun-if-changed=../Cargo.lock");
    let descriptors = protox::compile([proto], [proto_dir])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;

    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    let versions: Vec<String> = ["tonic", "hyper", "h2", "prost", "tokio"]
        .iter()
        .map(|name| format!("{name} {}", locked_version(&lock, name)))
        .collect();
    println!(
        "cargo:rustc-env=BENCH_STACK_VERSIONS={}",
        versions.join(", ")
    );
    Ok(())
}

/// The version `Cargo.lock` pins for package `name`, or `?`.
fn locked_version(lock: &str, name: &str) -> String {
    let header = format!("name = \"{name}\"\n");
    lock.split("[[package]]")
        .find(|block| block.trim_start().starts_with(header.trim_start()))
        .and_then(|block| block.lines().find(|l| l.starts_with("version = ")))
        .map(|line| {
            line.trim_start_matches("version = ")
                .trim_matches('"')
                .to_owned()
        })
        .unwrap_or_else(|| "?".to_owned())
}
