//! What `maestro init` writes to `.maestro/conf/verify.yaml`: checks for the project type
//! found at the root (Cargo, Python, Node, Go), each proposed only when its program runs here
//! or the project declares it. A declared tool that is not installed is proposed and named as
//! missing with what to do; a check left out says why. `look` reads the project and asks
//! what is installed; `decide` is pure.
//!
//! Files are read without following links and only in the project's root and its `tests/` or
//! `test/` folder, a bounded number of bytes each: a checkout may be hostile.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use regex::Regex;

use super::runnable::{imports, install_hint};
use crate::process::find_program;

/// Bytes read of any one file.
const READ_CAP: u64 = 256 * 1024;
/// Test files looked at to tell their style.
const MAX_TEST_FILES: usize = 200;

/// What `maestro init` proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proposal {
    /// The text of `.maestro/conf/verify.yaml`.
    pub text: String,
    /// The checks proposed: name and argv.
    pub checks: Vec<(String, Vec<String>)>,
    /// Proposed checks whose program is not installed here, each with what to do.
    pub missing: Vec<String>,
    /// Checks not proposed, each with why.
    pub left_out: Vec<String>,
}

/// The project types maestro proposes checks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Project {
    Rust,
    Python,
    Node,
    Go,
}

/// How a Python project's tests are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestStyle {
    /// Some test file uses `unittest`.
    Unittest,
    /// Some test file imports pytest, or a `conftest.py` is there.
    Pytest,
    /// Test files with neither: plain functions, which only pytest collects.
    Plain,
    /// No test file found.
    None,
}

/// What the project's files say.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    project: Project,
    style: TestStyle,
    /// The Python tests folder when it is not a package (`unittest discover -s` it).
    tests_folder: Option<&'static str>,
    /// Tools the project names, with the file that names them.
    declared: BTreeMap<&'static str, String>,
    /// package.json's scripts that maestro proposes (`test`, `lint`, `typecheck`).
    scripts: BTreeSet<&'static str>,
    /// package.json has dependencies but there is no `node_modules/`.
    node_modules_missing: bool,
    /// Programs in `node_modules/.bin/`.
    node_bins: BTreeSet<&'static str>,
}

/// What is installed here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Have {
    /// Programs found on PATH, of those a proposal may name.
    programs: BTreeSet<&'static str>,
    /// The Python interpreter on PATH (`python3`, else `python`).
    python: Option<&'static str>,
    pytest: bool,
    clippy: bool,
}

/// Programs a proposal may name, looked up on PATH.
const PROGRAMS: [&str; 7] = ["cargo", "python3", "python", "ruff", "mypy", "npm", "go"];

/// The checks for the project at `root`, or `None` when its type is not one maestro knows.
pub(crate) async fn proposal(root: &Path) -> Option<Proposal> {
    let layout = look(root)?;
    let mut have = Have {
        programs: PROGRAMS
            .into_iter()
            .filter(|p| find_program(p, root).is_ok())
            .collect(),
        ..Have::default()
    };
    have.python = ["python3", "python"]
        .into_iter()
        .find(|p| have.programs.contains(p));
    if layout.project == Project::Python
        && let Some(python) = have.python
    {
        have.pytest = imports(python, "pytest", root).await.is_ok();
    }
    if layout.project == Project::Rust && have.programs.contains("cargo") {
        have.clippy = clippy_installed(root).await;
    }
    Some(decide(&layout, &have))
}

/// Whether `cargo clippy` is there (a rustup component that may be missing).
async fn clippy_installed(root: &Path) -> bool {
    let argv = ["cargo", "clippy", "--version"].map(String::from).to_vec();
    let spec = super::spec(argv, root.to_path_buf(), std::time::Duration::from_secs(20));
    crate::process::run(&spec, &tokio_util::sync::CancellationToken::new())
        .await
        .is_ok_and(|o| o.ended == crate::process::Ended::Exited(0))
}

/// A regular file's text (never through a link), at most [`READ_CAP`] bytes.
fn read(path: &Path) -> Option<String> {
    let meta = path.symlink_metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(READ_CAP)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

fn is_file(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|m| m.is_file())
}

fn is_dir(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|m| m.is_dir())
}

/// Whether `text` names `tool` as a word of its own (`[tool.ruff]`, `ruff>=0.4`, not
/// `mypy-extensions`).
fn names(text: &str, tool: &str) -> bool {
    Regex::new(&format!(r"(?:^|[^\w-]){}(?:[^\w-]|$)", regex::escape(tool)))
        .is_ok_and(|re| re.is_match(text))
}

/// Python test files: `test_*.py` or `*_test.py` in the root, and below `tests/` or `test/`
/// two folders deep; links are not followed.
fn test_files(root: &Path) -> Vec<std::path::PathBuf> {
    let is_test = |name: &str| {
        name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
            || name == "conftest.py"
    };
    let mut out = Vec::new();
    let mut folders = vec![(root.to_path_buf(), 0usize, false)];
    while let Some((dir, depth, inside)) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_file() && is_test(&name) {
                out.push(e.path());
            } else if kind.is_dir()
                && (inside && depth < 2 || depth == 0 && (name == "tests" || name == "test"))
            {
                folders.push((e.path(), depth + 1, true));
            }
            if out.len() >= MAX_TEST_FILES {
                return out;
            }
        }
    }
    out
}

/// What the project's files say, or `None` when it is no type maestro knows.
fn look(root: &Path) -> Option<Layout> {
    let tests = test_files(root);
    let project = if is_file(&root.join("Cargo.toml")) {
        Project::Rust
    } else if [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements.txt",
        "Pipfile",
    ]
    .iter()
    .any(|f| is_file(&root.join(f)))
        || !tests.is_empty()
    {
        Project::Python
    } else if is_file(&root.join("package.json")) {
        Project::Node
    } else if is_file(&root.join("go.mod")) {
        Project::Go
    } else {
        return None;
    };
    let mut layout = Layout {
        project,
        style: TestStyle::None,
        tests_folder: None,
        declared: BTreeMap::new(),
        scripts: BTreeSet::new(),
        node_modules_missing: false,
        node_bins: BTreeSet::new(),
    };
    match project {
        Project::Python => look_python(root, &tests, &mut layout),
        Project::Node => look_node(root, &mut layout),
        Project::Rust | Project::Go => {}
    }
    Some(layout)
}

fn look_python(root: &Path, tests: &[std::path::PathBuf], layout: &mut Layout) {
    let mut configs: Vec<String> = [
        "pyproject.toml",
        "setup.cfg",
        "setup.py",
        "tox.ini",
        "Pipfile",
        ".pre-commit-config.yaml",
    ]
    .map(String::from)
    .to_vec();
    if let Ok(entries) = std::fs::read_dir(root) {
        let mut reqs: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("requirements") && n.ends_with(".txt"))
            .collect();
        reqs.sort();
        configs.extend(reqs);
    }
    for file in &configs {
        let Some(text) = read(&root.join(file)) else {
            continue;
        };
        for tool in ["pytest", "ruff", "mypy"] {
            if names(&text, tool) {
                layout.declared.entry(tool).or_insert_with(|| file.clone());
            }
        }
    }
    for (file, tool) in [
        ("pytest.ini", "pytest"),
        ("ruff.toml", "ruff"),
        (".ruff.toml", "ruff"),
        ("mypy.ini", "mypy"),
        (".mypy.ini", "mypy"),
    ] {
        if is_file(&root.join(file)) {
            layout.declared.entry(tool).or_insert_with(|| file.into());
        }
    }
    let (mut unittest, mut pytest) = (false, false);
    for path in tests {
        let shown = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        if path.file_name().is_some_and(|n| n == "conftest.py") {
            pytest = true;
            layout.declared.entry("pytest").or_insert(shown);
            continue;
        }
        let text = read(path).unwrap_or_default();
        if text.contains("import unittest") || text.contains("from unittest") {
            unittest = true;
        }
        if text.contains("import pytest") || text.contains("from pytest") {
            pytest = true;
            layout.declared.entry("pytest").or_insert(shown);
        }
    }
    layout.style = match (unittest, pytest, tests.is_empty()) {
        (_, true, _) => TestStyle::Pytest,
        (true, false, _) => TestStyle::Unittest,
        (false, false, false) => TestStyle::Plain,
        (false, false, true) => TestStyle::None,
    };
    // `python -m unittest` only walks into packages; a plain tests folder is named.
    layout.tests_folder = ["tests", "test"].into_iter().find(|f| {
        let dir = root.join(f);
        is_dir(&dir)
            && !is_file(&dir.join("__init__.py"))
            && tests.iter().any(|t| t.starts_with(&dir))
    });
}

fn look_node(root: &Path, layout: &mut Layout) {
    let Some(doc) = read(&root.join("package.json"))
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return;
    };
    for script in ["test", "lint", "typecheck"] {
        let body = doc
            .pointer(&format!("/scripts/{script}"))
            .and_then(serde_json::Value::as_str);
        // `npm init` writes a test script that only fails.
        if body.is_some_and(|b| !b.contains("no test specified")) {
            layout.scripts.insert(script);
        }
    }
    let mut deps = false;
    for field in ["dependencies", "devDependencies"] {
        if let Some(map) = doc.get(field).and_then(serde_json::Value::as_object) {
            deps |= !map.is_empty();
            for (tool, package) in [("eslint", "eslint"), ("tsc", "typescript")] {
                if map.contains_key(package) {
                    layout
                        .declared
                        .insert(tool, format!("package.json ({field})"));
                }
            }
        }
    }
    layout.node_modules_missing = deps && !is_dir(&root.join("node_modules"));
    for bin in ["eslint", "tsc"] {
        if root.join("node_modules/.bin").join(bin).exists() {
            layout.node_bins.insert(bin);
        }
    }
}

/// Builds the proposal as it is decided.
#[derive(Default)]
struct Draft {
    checks: Vec<(String, Vec<String>)>,
    missing: Vec<String>,
    left_out: Vec<String>,
}

impl Draft {
    fn check(&mut self, name: &str, argv: &[&str]) {
        self.checks
            .push((name.into(), argv.iter().map(|a| (*a).to_string()).collect()));
    }

    /// A proposed check whose `program` is not installed here.
    fn missing(&mut self, name: &str, program: &str, why: &str) {
        let how = install_hint(program)
            .map(|h| format!(": {h}"))
            .unwrap_or_default();
        self.missing.push(format!(
            "`{program}` ({name}) {why}; install it before `verify`{how}"
        ));
    }
}

/// What to propose, from what the files say and what is installed.
fn decide(layout: &Layout, have: &Have) -> Proposal {
    let mut d = Draft::default();
    let on_path = |p: &str| have.programs.contains(p);
    match layout.project {
        Project::Rust => {
            d.check("test", &["cargo", "test"]);
            if on_path("cargo") && have.clippy {
                d.check("lint", &["cargo", "clippy", "--all-targets"]);
            } else if on_path("cargo") {
                d.left_out.push(
                    "lint: clippy is not installed (`rustup component add clippy`, then add \
                     `lint: {run: [cargo, clippy, --all-targets]}`)"
                        .into(),
                );
            } else {
                d.left_out
                    .push("lint: clippy needs cargo, which is not installed here".into());
            }
            d.check("types", &["cargo", "check"]);
            if !on_path("cargo") {
                d.missing("test, types", "cargo", "is not on PATH");
            }
        }
        Project::Python => decide_python(layout, have, &mut d),
        Project::Node => decide_node(layout, have, &mut d),
        Project::Go => {
            d.check("test", &["go", "test", "./..."]);
            d.check("lint", &["go", "vet", "./..."]);
            if !on_path("go") {
                d.missing("test, lint", "go", "is not on PATH");
            }
        }
    }
    render(d)
}

fn decide_python(layout: &Layout, have: &Have, d: &mut Draft) {
    let python = have.python.unwrap_or("python3");
    if have.python.is_none() {
        d.missing("test", "python3", "is not on PATH");
    }
    let declared = |tool: &str| layout.declared.get(tool);
    let wants_pytest = declared("pytest").is_some()
        || matches!(layout.style, TestStyle::Pytest | TestStyle::Plain)
        || layout.style == TestStyle::None && have.pytest;
    if wants_pytest {
        d.check("test", &[python, "-m", "pytest", "-q"]);
        if have.python.is_some() && !have.pytest {
            let why = match declared("pytest") {
                Some(file) => format!("is named in {file} but not installed for `{python}`"),
                None => format!(
                    "is what plain `test_` functions need, and it is not installed for `{python}`"
                ),
            };
            d.missing("test", "pytest", &why);
        }
    } else {
        match layout.tests_folder {
            Some(folder) => d.check(
                "test",
                &[python, "-m", "unittest", "discover", "-s", folder],
            ),
            None => d.check("test", &[python, "-m", "unittest"]),
        }
        if layout.style == TestStyle::None {
            d.left_out.push(
                "no test file found (test_*.py); `unittest` finds none until you add some".into(),
            );
        }
    }
    for (name, tool, argv) in [
        ("lint", "ruff", &["ruff", "check", "."][..]),
        ("types", "mypy", &["mypy", "."][..]),
    ] {
        match (have.programs.contains(tool), declared(tool)) {
            (true, _) => d.check(name, argv),
            (false, Some(file)) => {
                d.check(name, argv);
                d.missing(name, tool, &format!("is named in {file} but not on PATH"));
            }
            (false, None) => d.left_out.push(format!(
                "{name}: `{tool}` is neither installed nor named by the project"
            )),
        }
    }
}

fn decide_node(layout: &Layout, have: &Have, d: &mut Draft) {
    let npm = have.programs.contains("npm");
    let mut uses_npm = Vec::new();
    if layout.scripts.contains("test") {
        d.check("test", &["npm", "test"]);
        uses_npm.push("test");
    } else {
        d.left_out
            .push("test: package.json has no `test` script to run".into());
    }
    for (name, script, tool, argv) in [
        (
            "lint",
            "lint",
            "eslint",
            &["npx", "--no-install", "eslint", "."][..],
        ),
        (
            "types",
            "typecheck",
            "tsc",
            &["npx", "--no-install", "tsc", "--noEmit"][..],
        ),
    ] {
        if layout.scripts.contains(script) {
            d.check(name, &["npm", "run", script]);
            uses_npm.push(name);
        } else if let Some(file) = layout.declared.get(tool) {
            d.check(name, argv);
            uses_npm.push(name);
            if !layout.node_bins.contains(tool) && !layout.node_modules_missing {
                d.missing
                    .push(format!("`{tool}` ({name}) is named in {file} but not in node_modules; run `npm install`"));
            }
        } else {
            d.left_out.push(format!(
                "{name}: no `{script}` script and no `{tool}` in package.json"
            ));
        }
    }
    if uses_npm.is_empty() {
        return;
    }
    if !npm {
        d.missing(&uses_npm.join(", "), "npm", "is not on PATH");
    } else if layout.node_modules_missing {
        d.missing.push(format!(
            "the dependencies in package.json are not installed (no node_modules/) ({}); run `npm install` before `verify`",
            uses_npm.join(", ")
        ));
    }
}

/// An argv word as YAML: plain when that reads back the same, else double-quoted.
fn yaml_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./=-".contains(c))
        && !word.starts_with("- ");
    if plain {
        word.to_string()
    } else {
        serde_json::to_string(word).unwrap_or_default()
    }
}

fn render(d: Draft) -> Proposal {
    let mut text = String::from(
        "# The project's own checks, run by the `verify` tool without a shell.\n# Only these names can be run. Edit the argv lists to match your project.\n",
    );
    for m in &d.missing {
        let _ = writeln!(text, "# Not installed when `maestro init` wrote this: {m}.");
    }
    for l in &d.left_out {
        let _ = writeln!(text, "# Not proposed: {l}.");
    }
    text.push_str("checks:\n");
    for (name, argv) in &d.checks {
        let words: Vec<String> = argv.iter().map(|w| yaml_word(w)).collect();
        let _ = write!(
            text,
            "  {name}:\n    run: [{}]\n    timeout: 10m\n",
            words.join(", ")
        );
    }
    Proposal {
        text,
        checks: d.checks,
        missing: d.missing,
        left_out: d.left_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(project: Project, style: TestStyle) -> Layout {
        Layout {
            project,
            style,
            tests_folder: None,
            declared: BTreeMap::new(),
            scripts: BTreeSet::new(),
            node_modules_missing: false,
            node_bins: BTreeSet::new(),
        }
    }

    fn have(programs: &[&'static str], pytest: bool) -> Have {
        let programs: BTreeSet<&'static str> = programs.iter().copied().collect();
        Have {
            python: ["python3", "python"]
                .into_iter()
                .find(|p| programs.contains(p)),
            programs,
            pytest,
            clippy: true,
        }
    }

    fn runs(p: &Proposal) -> Vec<String> {
        p.checks
            .iter()
            .map(|(n, a)| format!("{n}: {}", a.join(" ")))
            .collect()
    }

    #[test]
    fn unittest_tests_without_pytest_get_unittest_and_no_uninstalled_linters() {
        let mut l = layout(Project::Python, TestStyle::Unittest);
        l.tests_folder = Some("tests");
        let p = decide(&l, &have(&["python3"], false));
        assert_eq!(runs(&p), ["test: python3 -m unittest discover -s tests"]);
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        assert_eq!(p.left_out.len(), 2, "{:?}", p.left_out);
        assert!(
            p.left_out[0].starts_with("lint: `ruff`"),
            "{:?}",
            p.left_out
        );
        // The file says why too, and still reads as a verify config.
        assert!(
            p.text.contains("# Not proposed: types: `mypy`"),
            "{}",
            p.text
        );
        let (checks, problems) = super::super::parse_config("verify.yaml", &p.text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(checks[0].argv, p.checks[0].1);
    }

    #[test]
    fn a_declared_tool_that_is_not_installed_is_proposed_and_named_missing() {
        let mut l = layout(Project::Python, TestStyle::Pytest);
        l.declared.insert("pytest", "pyproject.toml".into());
        l.declared.insert("ruff", "pyproject.toml".into());
        let p = decide(&l, &have(&["python3", "mypy"], false));
        assert_eq!(
            runs(&p),
            [
                "test: python3 -m pytest -q",
                "lint: ruff check .",
                "types: mypy ."
            ]
        );
        assert_eq!(p.missing.len(), 2, "{:?}", p.missing);
        assert!(
            p.missing[0].starts_with("`pytest` (test) is named in pyproject.toml")
                && p.missing[0].contains("python3 -m pip install pytest"),
            "{:?}",
            p.missing
        );
        assert!(p.missing[1].starts_with("`ruff` (lint)"), "{:?}", p.missing);
    }

    #[test]
    fn installed_pytest_runs_plain_test_functions_and_python_alone_is_used_when_python3_is_not_there()
     {
        let l = layout(Project::Python, TestStyle::Plain);
        let p = decide(&l, &have(&["python"], true));
        assert_eq!(runs(&p), ["test: python -m pytest -q"]);
        assert!(p.missing.is_empty());
        let p = decide(
            &layout(Project::Python, TestStyle::Unittest),
            &have(&[], false),
        );
        assert_eq!(runs(&p)[0], "test: python3 -m unittest");
        assert!(
            p.missing[0].starts_with("`python3` (test) is not on PATH"),
            "{:?}",
            p.missing
        );
    }

    #[test]
    fn rust_node_and_go_say_what_is_missing() {
        let p = decide(&layout(Project::Rust, TestStyle::None), &have(&[], false));
        assert_eq!(runs(&p), ["test: cargo test", "types: cargo check"]);
        assert!(p.missing[0].contains("rustup.rs"), "{:?}", p.missing);
        let mut no_clippy = have(&["cargo"], false);
        no_clippy.clippy = false;
        let p = decide(&layout(Project::Rust, TestStyle::None), &no_clippy);
        assert!(p.missing.is_empty() && p.left_out[0].contains("rustup component add clippy"));

        let mut l = layout(Project::Node, TestStyle::None);
        l.scripts.insert("test");
        l.declared
            .insert("tsc", "package.json (devDependencies)".into());
        l.node_modules_missing = true;
        let p = decide(&l, &have(&["npm"], false));
        assert_eq!(
            runs(&p),
            ["test: npm test", "types: npx --no-install tsc --noEmit"]
        );
        assert_eq!(p.left_out.len(), 1, "{:?}", p.left_out);
        assert!(p.missing[0].contains("npm install"), "{:?}", p.missing);

        let p = decide(&layout(Project::Go, TestStyle::None), &have(&["go"], false));
        assert_eq!(runs(&p), ["test: go test ./...", "lint: go vet ./..."]);
        assert!(p.missing.is_empty());
    }

    #[test]
    fn a_tool_is_named_as_a_word_of_its_own() {
        assert!(names("[tool.ruff]\nline-length = 88\n", "ruff"));
        assert!(names("dev = [\"pytest>=8\", \"mypy\"]", "pytest"));
        assert!(names("dev = [\"pytest>=8\", \"mypy\"]", "mypy"));
        assert!(!names("mypy-extensions==1.0\nmypy_extensions", "mypy"));
        assert!(!names("pytestify", "pytest"));
    }

    #[test]
    fn argv_words_that_yaml_would_read_otherwise_are_quoted() {
        assert_eq!(yaml_word("./..."), "./...");
        assert_eq!(yaml_word("--noEmit"), "--noEmit");
        assert_eq!(yaml_word("a b"), "\"a b\"");
        assert_eq!(yaml_word("x: y"), "\"x: y\"");
    }
}
