//! The minimum supported Rust version is stated once (`[workspace.package] rust-version`),
//! repeated in the README, and must be enough for every dependency in the lock file.

use rust_stream_tests::workspace;
use std::process::Command;

fn parse(version: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = version
        .split('.')
        .map(|part| {
            part.parse()
                .unwrap_or_else(|_| panic!("bad version {version:?}"))
        })
        .collect();
    // `1.88` and `1.88.0` are the same version.
    parts.resize(3, 0);
    parts
}

fn workspace_msrv() -> String {
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("rust-version in [workspace.package]")
}

#[test]
fn the_readme_states_the_workspace_msrv() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let msrv = workspace_msrv();
    assert!(
        readme.contains(&format!("MSRV: Rust {msrv}")),
        "README.md must say `MSRV: Rust {msrv}`"
    );
}

#[test]
fn no_dependency_needs_a_newer_rust_than_the_msrv() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(workspace())
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let msrv = parse(&workspace_msrv());
    let too_new: Vec<String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|package| {
            let needed = package["rust_version"].as_str()?;
            (parse(needed) > msrv).then(|| format!("{} needs {needed}", package["name"]))
        })
        .collect();
    assert!(
        too_new.is_empty(),
        "dependencies newer than the MSRV: {too_new:?}"
    );
}
