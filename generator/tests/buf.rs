//! The `buf.gen.yaml` of the READMEs and the guide, taken from the pages themselves, under the real buf CLI:
//! a workspace with protos in several directories and packages gives one include file
//! holding every package, no "duplicate generated file" warning, and exactly the files
//! protoc gives with the same plugin and parameters.
//!
//! buf comes from npm (`@bufbuild/buf`, pinned in `tests/buf/setup-buf.sh`), installed under
//! cargo's target dir and reused between runs. Without npm or the registry this test fails;
//! it never skips.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use support::workspace as root;

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-rust-stream");

/// The buf executable, installed on first use.
fn buf() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("buf");
    let script = root().join("tests/buf/setup-buf.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .output()
        .unwrap_or_else(|err| panic!("running {}: {err}", script.display()));
    assert!(
        output.status.success(),
        "buf could not be installed: tests/buf/setup-buf.sh needs npm and the npm registry \
         (.ci/run installs buf before the tests):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// The text of the first `yaml` code block after the first mention of `buf.gen.yaml`.
fn buf_gen_yaml(readme: &str) -> String {
    let text = std::fs::read_to_string(root().join(readme)).unwrap();
    let mention = text
        .find("buf.gen.yaml")
        .unwrap_or_else(|| panic!("{readme} no longer mentions buf.gen.yaml"));
    let start = mention
        + text[mention..]
            .find("```yaml\n")
            .unwrap_or_else(|| panic!("no yaml block after buf.gen.yaml in {readme}"))
        + "```yaml\n".len();
    let end = start + text[start..].find("```").unwrap();
    text[start..end].to_owned()
}

/// The `opt` list and `out` directory of the yaml's one plugin.
fn plugin_settings(yaml: &str) -> (Vec<String>, String) {
    let mut opts = Vec::new();
    let mut in_opt = false;
    let mut out = None;
    for line in yaml.lines() {
        let trimmed = line.trim();
        if let Some(dir) = trimmed.strip_prefix("out:") {
            out = Some(dir.trim().to_owned());
        }
        if trimmed == "opt:" {
            in_opt = true;
        } else if in_opt && let Some(opt) = trimmed.strip_prefix("- ") {
            opts.push(opt.trim().to_owned());
        } else if !trimmed.starts_with('#') {
            in_opt = false;
        }
    }
    (opts, out.expect("the plugin has an `out`"))
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let name = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Protos in three directories, each its own package, one importing another.
const PROTOS: &[(&str, &str)] = &[
    (
        "alpha/alpha.proto",
        "syntax = \"proto3\";\npackage alpha;\nmessage A { string id = 1; }\n\
         service Feed { rpc Watch(A) returns (stream A); }\n",
    ),
    (
        "beta/v1/beta.proto",
        "syntax = \"proto3\";\npackage beta.v1;\nimport \"alpha/alpha.proto\";\n\
         message B { alpha.A a = 1; bytes data = 2; }\n\
         service Store { rpc Put(stream B) returns (B); }\n",
    ),
    (
        "gamma/gamma.proto",
        "syntax = \"proto3\";\npackage gamma;\nmessage G {}\n\
         service Echo { rpc Talk(stream G) returns (stream G); }\n",
    ),
];

fn check_readme(readme: &str, buf: &Path) {
    let yaml = buf_gen_yaml(readme);
    let (opts, out) = plugin_settings(&yaml);
    let include_file = opts
        .iter()
        .find_map(|o| o.strip_prefix("include_file="))
        .unwrap_or_else(|| panic!("the yaml in {readme} sets no include_file:\n{yaml}"));

    let workspace = tempfile::tempdir().unwrap();
    let proto_dir = workspace.path().join("proto");
    for (name, text) in PROTOS {
        let path = proto_dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(
        workspace.path().join("buf.yaml"),
        "version: v2\nmodules:\n  - path: proto\n",
    )
    .unwrap();
    std::fs::write(workspace.path().join("buf.gen.yaml"), &yaml).unwrap();

    // buf finds `local: protoc-gen-rust-stream` on PATH, as it would after `cargo install`.
    let plugin_dir = Path::new(PLUGIN).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(plugin_dir.to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let output = Command::new(buf)
        .arg("generate")
        .current_dir(workspace.path())
        .env("PATH", path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "buf generate failed:\n{stderr}");
    assert!(
        !stderr.contains("duplicate"),
        "buf dropped files with the yaml of {readme}:\n{stderr}"
    );
    let from_buf = files(&workspace.path().join(&out));

    // The include file names every package.
    let include = &from_buf[include_file];
    for package in ["alpha.rs", "beta.v1.rs", "gamma.rs"] {
        assert!(from_buf.contains_key(package), "{:?}", from_buf.keys());
        assert!(
            include.contains(&format!("include!(\"{package}\")")),
            "{include_file} lacks {package} under the yaml of {readme}:\n{include}"
        );
    }
    for (name, text) in &from_buf {
        syn::parse_file(text).unwrap_or_else(|err| panic!("{name} does not parse: {err}"));
    }

    // protoc with the same plugin and parameters writes the same files.
    let protoc_out = tempfile::tempdir().unwrap();
    let status = Command::new(protoc_bin_vendored::protoc_bin_path().unwrap())
        .arg(format!("--plugin=protoc-gen-rust-stream={PLUGIN}"))
        .arg(format!("--rust-stream_out={}", protoc_out.path().display()))
        .arg(format!("--rust-stream_opt={}", opts.join(",")))
        .arg("-I")
        .arg(&proto_dir)
        .args(PROTOS.iter().map(|(name, _)| name))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        from_buf == files(protoc_out.path()),
        "buf's output differs from protoc's under the yaml of {readme}"
    );
}

#[test]
fn the_readmes_buf_gen_yaml_generates_every_package_under_real_buf() {
    let buf = buf();
    for readme in ["README.md", "docs/front-ends.md", "generator/README.md"] {
        check_readme(readme, &buf);
    }
}
