//! Whether a check's program can start here: before it runs (`maestro doctor`, `maestro
//! init`) and after it did not (`verify`). A program that never started tested nothing, so it
//! is `cannot_run`, never a failing test.
//!
//! Read as "did not start": the spawn failing (not found, not executable), exit 127 or 126
//! (the shell's "not found" and "not executable" for a program a wrapper starts), and exit 1
//! with `No module named X` where X is the module `python -m` names or a package above it. A
//! test that imports a missing module of its own is a failing test: only the runner's own
//! module counts.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Check, check_dir, spec};
use crate::process::find_program;
use crate::process::{self, Ended, SpawnError};

/// How long `maestro doctor` and `maestro init` wait for `python -c "import X"`.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to do about a check that cannot run: install what is missing, or change the check.
fn fix(check: &Check, install: Option<&str>) -> String {
    let how = install.map(|i| format!(" ({i})")).unwrap_or_default();
    format!(
        "install it{how}, or change check `{}` in {}",
        check.name, check.source.file
    )
}

/// How to install a program a proposed or configured check names, when it is a known one.
#[must_use]
pub(crate) fn install_hint(program: &str) -> Option<String> {
    Some(match program {
        "cargo" | "rustc" => "Rust: https://rustup.rs".into(),
        "go" => "Go: https://go.dev/dl/".into(),
        "npm" | "npx" | "node" => "Node.js: https://nodejs.org".into(),
        "python3" | "python" => "Python 3: https://www.python.org/downloads/".into(),
        "pytest" | "ruff" | "mypy" | "black" | "flake8" | "pylint" => {
            format!("python3 -m pip install {program}")
        }
        _ => return None,
    })
}

/// The interpreter and module of `python3 -m X …` (any `python`, `python3`, `python3.12`).
#[must_use]
pub(crate) fn python_module(argv: &[String]) -> Option<(&str, &str)> {
    let program = argv.first()?;
    let base = Path::new(program).file_name()?.to_str()?;
    let version = base.strip_prefix("python")?;
    if !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let at = argv
        .iter()
        .skip(1)
        .take_while(|a| *a != "-c")
        .position(|a| a == "-m")?;
    let module = argv.get(at + 2)?;
    let valid = module.split('.').all(|part| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    valid.then_some((program.as_str(), module.as_str()))
}

/// The line of `output` saying that `module` (or a package above it) is not installed.
fn missing_module_line<'a>(module: &str, output: &'a str) -> Option<&'a str> {
    output.lines().find(|line| {
        line.match_indices("No module named ").any(|(at, m)| {
            let named = line[at + m.len()..]
                .trim_start_matches('\'')
                .split(|c: char| c == '\'' || c == ';' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .trim_end_matches(".__main__");
            !named.is_empty() && (module == named || module.starts_with(&format!("{named}.")))
        })
    })
}

/// The last line of output with something on it, cut to a readable length.
fn last_line(output: &str) -> String {
    let line = output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut cut: String = line.chars().take(200).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}

/// Why a check that ran and exited `code` did not really start, if it did not.
#[must_use]
pub(crate) fn did_not_start(check: &Check, code: i32, output: &str) -> Option<String> {
    let program = check.argv.first()?;
    let said = || {
        let line = last_line(output);
        if line.is_empty() {
            String::new()
        } else {
            format!(" (it said: `{line}`)")
        }
    };
    match code {
        127 => Some(format!(
            "`{program}` exited 127: a program it starts was not found{}; {}",
            said(),
            fix(check, None)
        )),
        126 => Some(format!(
            "`{program}` exited 126: a program it starts is not executable{}; make it \
             executable, or change check `{}` in {}",
            said(),
            check.name,
            check.source.file
        )),
        1 => {
            let (python, module) = python_module(&check.argv)?;
            let line = missing_module_line(module, output)?;
            Some(module_missing(check, python, module, line.trim()))
        }
        _ => None,
    }
}

fn module_missing(check: &Check, python: &str, module: &str, line: &str) -> String {
    let top = module.split('.').next().unwrap_or(module);
    format!(
        "the Python module `{module}` is not installed for `{python}` (`{line}`); {}",
        fix(
            check,
            Some(&format!("e.g. `{python} -m pip install {top}`"))
        )
    )
}

/// Why the program could not be started at all.
#[must_use]
pub(crate) fn spawn_failure(check: &Check, cwd: &Path, e: &SpawnError) -> String {
    let program = check.argv.first().map_or("", String::as_str);
    match e {
        SpawnError::NotFound(_) if program.contains('/') && cwd.join(program).is_file() => {
            format!(
                "`{program}` exists but its interpreter (its `#!` line) was not found; {}",
                fix(check, None)
            )
        }
        SpawnError::NotFound(_) if program.contains('/') => {
            format!("`{program}` does not exist; {}", fix(check, None))
        }
        SpawnError::NotFound(_) => format!(
            "`{program}` was not found on PATH; {}",
            fix(check, install_hint(program).as_deref())
        ),
        SpawnError::Io { message, .. } => {
            format!(
                "`{program}` cannot be started ({message}); {}",
                fix(check, None)
            )
        }
        SpawnError::Empty => format!("check `{}` has no program to run", check.name),
    }
}

/// Whether `python -c "import <module>"` succeeds in `dir` (the module's name is an argument,
/// never part of the code).
///
/// # Errors
/// The line that says why not.
pub(crate) async fn imports(python: &str, module: &str, dir: &Path) -> Result<(), String> {
    let argv = [
        python,
        "-c",
        "import importlib, sys; importlib.import_module(sys.argv[1])",
        module,
    ]
    .map(String::from)
    .to_vec();
    let out = process::run(
        &spec(argv, dir.to_path_buf(), IMPORT_TIMEOUT),
        &CancellationToken::new(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.ended {
        Ended::Exited(0) => Ok(()),
        Ended::TimedOut => Err(format!(
            "importing `{module}` did not finish in {} s",
            IMPORT_TIMEOUT.as_secs()
        )),
        _ => Err(missing_module_line(module, &text)
            .map_or_else(|| last_line(&text), |l| l.trim().to_string())),
    }
}

/// Whether `check` can start here, checked without running it: its `cwd`, its program on
/// PATH, and for `python -m X` that X imports. `None` when it can.
pub(crate) async fn probe(root: &Path, check: &Check) -> Option<String> {
    let dir = match check_dir(root, check) {
        Ok(dir) => dir,
        Err(why) => return Some(why),
    };
    let program = check.argv.first()?;
    if let Err(why) = find_program(program, &dir) {
        let install = install_hint(program).filter(|_| !why.contains("not executable"));
        return Some(format!("{why}; {}", fix(check, install.as_deref())));
    }
    let (python, module) = python_module(&check.argv)?;
    match imports(python, module, &dir).await {
        Ok(()) => None,
        Err(line) if missing_module_line(module, &line).is_some() => {
            Some(module_missing(check, python, module, &line))
        }
        Err(line) => Some(format!(
            "`{python} -c \"import {module}\"` failed (`{line}`); {}",
            fix(check, None)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(argv: &[&str]) -> Check {
        Check {
            name: "test".into(),
            argv: argv.iter().map(|a| (*a).to_string()).collect(),
            timeout: Duration::from_secs(10),
            cwd: None,
            source: super::super::CheckSource {
                file: ".maestro/conf/verify.yaml".into(),
                outside_project: false,
            },
        }
    }

    #[test]
    fn the_module_python_runs_is_found_in_the_argv() {
        let m = |argv: &[&str]| {
            let argv: Vec<String> = argv.iter().map(|a| (*a).to_string()).collect();
            python_module(&argv).map(|(p, m)| format!("{p} {m}"))
        };
        assert_eq!(
            m(&["python3", "-m", "pytest", "-q"]).as_deref(),
            Some("python3 pytest")
        );
        assert_eq!(
            m(&["/usr/bin/python3.12", "-X", "dev", "-m", "unittest"]).as_deref(),
            Some("/usr/bin/python3.12 unittest")
        );
        assert_eq!(
            m(&["python", "-m", "pkg.cli"]).as_deref(),
            Some("python pkg.cli")
        );
        assert_eq!(m(&["python3", "-c", "x", "-m", "pytest"]), None);
        assert_eq!(m(&["python3", "-m", "os; rm"]), None);
        assert_eq!(m(&["pythonista", "-m", "pytest"]), None);
        assert_eq!(m(&["cargo", "-m", "x"]), None);
    }

    #[test]
    fn only_the_runners_own_module_missing_means_it_did_not_start() {
        let py = check(&["python3", "-m", "pytest", "-q"]);
        let why = did_not_start(&py, 1, "/usr/bin/python3: No module named pytest\n").unwrap();
        assert!(
            why.contains("`pytest` is not installed for `python3`")
                && why.contains("python3 -m pip install pytest")
                && why.contains("change check `test` in .maestro/conf/verify.yaml"),
            "{why}"
        );
        // A package above a dotted module.
        let sub = check(&["python3", "-m", "pkg.cli"]);
        let out = "Error while finding module specification for 'pkg.cli' (ModuleNotFoundError: No module named 'pkg')";
        assert!(did_not_start(&sub, 1, out).is_some());
        // A test importing something missing is a failing test, not a missing runner.
        let unit = check(&["python3", "-m", "unittest"]);
        let out = "E\n======\nERROR: test_a\nModuleNotFoundError: No module named 'requests'\n\nFAILED (errors=1)\n";
        assert_eq!(did_not_start(&unit, 1, out), None);
        let out = "ModuleNotFoundError: No module named 'unittest_extra'\n";
        assert_eq!(did_not_start(&unit, 1, out), None);
        // The same words with another exit code are the test's own.
        assert_eq!(did_not_start(&py, 2, "No module named pytest"), None);
    }

    #[test]
    fn exits_127_and_126_are_a_program_that_did_not_start() {
        let npm = check(&["npm", "test"]);
        let why = did_not_start(&npm, 127, "> jest\n\nsh: 1: jest: not found\n").unwrap();
        assert!(
            why.contains("exited 127") && why.contains("`sh: 1: jest: not found`"),
            "{why}"
        );
        assert!(
            did_not_start(&npm, 126, "")
                .unwrap()
                .contains("not executable")
        );
        assert_eq!(did_not_start(&npm, 1, "1 failed"), None);
        assert_eq!(did_not_start(&npm, 0, ""), None);
    }
}
