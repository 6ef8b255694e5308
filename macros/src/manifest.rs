//! A crate's edition, read from its manifest (and its workspace's, when inherited): a proc
//! macro cannot ask rustc for it. The cache in `cache` keeps the answer per manifest
//! directory; this module only reads.

use std::path::{Path, PathBuf};

/// Every manifest path read while finding an edition, with its contents then (`None` if
/// there was no file): what decides whether a cached answer still holds.
pub type Consulted = Vec<(PathBuf, Option<Vec<u8>>)>;

/// The crate's edition from `manifest_dir/Cargo.toml`: its `[package]` edition, `2015` if
/// none is written, the workspace's `[workspace.package]` edition if inherited
/// (`edition.workspace = true`); `None` if a manifest cannot be read. Every manifest read
/// goes in `consulted`.
pub fn edition(manifest_dir: &Path, consulted: &mut Consulted) -> Option<String> {
    let manifest = read_manifest(manifest_dir, consulted)?;
    let package = manifest.get("package")?.as_table()?;
    match package.get("edition") {
        None => Some("2015".to_owned()),
        Some(toml::Value::String(edition)) => Some(edition.clone()),
        Some(toml::Value::Table(inherited)) if inherited.get("workspace").is_some() => {
            workspace_edition(manifest_dir, consulted)
        }
        Some(_) => None,
    }
}

/// The edition of the workspace `member_dir` belongs to: cargo's search, the nearest manifest
/// at or above it with a `[workspace]` table.
fn workspace_edition(member_dir: &Path, consulted: &mut Consulted) -> Option<String> {
    let root = member_dir
        .ancestors()
        .filter_map(|dir| read_manifest(dir, consulted))
        .find(|manifest| manifest.contains_key("workspace"))?;
    let edition = root.get("workspace")?.get("package")?.get("edition")?;
    edition.as_str().map(str::to_owned)
}

/// `dir/Cargo.toml`, parsed; `None` if there is none or it is not TOML.
fn read_manifest(dir: &Path, consulted: &mut Consulted) -> Option<toml::Table> {
    let path = dir.join("Cargo.toml");
    let bytes = std::fs::read(&path).ok();
    consulted.push((path, bytes.clone()));
    String::from_utf8(bytes?).ok()?.parse().ok()
}
