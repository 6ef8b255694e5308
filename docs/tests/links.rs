//! Every relative link of the READMEs and the guide points at a file that exists, and every
//! `#anchor` at a heading of its page, so that moving or renaming a page cannot leave a
//! dead link behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the docs crate is in the workspace")
        .to_owned()
}

/// The Markdown files whose links are checked: the workspace's and the crates' READMEs,
/// the contributing guide and every page of the guide.
fn pages() -> Vec<PathBuf> {
    let root = workspace();
    let mut pages: Vec<PathBuf> = ["README.md", "CONTRIBUTING.md", "generator/README.md"]
        .iter()
        .map(|page| root.join(page))
        .collect();
    let guide = std::fs::read_dir(root.join("docs")).expect("docs/ is readable");
    pages.extend(
        guide
            .map(|entry| entry.expect("a docs/ entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "md")),
    );
    pages.sort();
    pages
}

/// The text outside fenced code blocks, where links are links.
fn prose(markdown: &str) -> Vec<&str> {
    let mut fenced = false;
    markdown
        .lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The targets of the inline links `[text](target)` and the reference definitions
/// `[name]: target` of `markdown`.
fn links(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(markdown) {
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            targets.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
        if let Some(definition) = line.strip_prefix('[')
            && let Some((_, target)) = definition.split_once("]: ")
        {
            targets.push(target.trim().to_owned());
        }
    }
    targets
}

/// GitHub's anchor for a heading: lower case, spaces as `-`, punctuation other than `-`
/// and `_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    prose(markdown)
        .into_iter()
        .filter(|line| line.starts_with('#'))
        .filter_map(|line| line.trim_start_matches('#').strip_prefix(' '))
        .map(anchor)
        .collect()
}

/// What is wrong with `target`, a link on `page`, if anything.
fn check(page: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() {
        page.to_owned()
    } else {
        page.parent()?.join(path)
    };
    if !file.exists() {
        return Some(format!("{target}: no such file"));
    }
    let is_markdown = file.extension().is_some_and(|ext| ext == "md");
    if fragment.is_empty() || !is_markdown {
        return None;
    }
    let text = std::fs::read_to_string(&file).ok()?;
    (!anchors(&text).contains(fragment)).then(|| format!("{target}: no heading `#{fragment}`"))
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for target in links(&text) {
            if let Some(problem) = check(&page, &target) {
                broken.push(format!("{}: {problem}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_finds_links_anchors_and_dead_ends() {
    let page = "# Tuning defaults and why\n[a](x.md) `code` [b](#tuning-defaults-and-why)\n```\n[c](nowhere.md)\n```\n[tonic]: https://github.com/hyperium/tonic\n";
    assert_eq!(
        links(page),
        [
            "x.md",
            "#tuning-defaults-and-why",
            "https://github.com/hyperium/tonic"
        ]
    );
    assert!(anchors(page).contains("tuning-defaults-and-why"));
    assert_eq!(
        anchor("4. `#[derive(StreamService)]`: no build script"),
        "4-derivestreamservice-no-build-script"
    );
    let readme = workspace().join("README.md");
    assert!(check(&readme, "docs/README.md").is_none());
    assert!(check(&readme, "docs/no-such-page.md").is_some());
    assert!(check(&readme, "docs/tuning.md#no-such-heading").is_some());
    assert!(check(&readme, "docs/tuning.md#tuning-defaults-and-why").is_none());
}
