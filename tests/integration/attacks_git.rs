//! Issue 21, item 2: git runs nothing that a repository configured.
//!
//! A matrix: one hostile repository per way git could start a program (filters, external diff
//! drivers, textconv, fsmonitor, hooks, pager, config includes, the user's global configs, a
//! partial clone whose promisor remote runs a transport, a submodule with its own config),
//! each tried with a `staged`, an `unstaged` and a `base:HEAD~1` diff through the `context`
//! tool of a real `maestro serve`, with every git on PATH (and, for the partial clones, a git
//! that ignores `GIT_NO_LAZY_FETCH`, as one older than 2.39.4 does). Every program the
//! repository names is the same marker script, which appends to a file; no line may appear.
//!
//! Each repository is first shown to be hostile: a person's plain `git` (the `control`) run in
//! it starts the marker, so a quiet maestro means the door is closed, not that the case missed.
//! Each diff must also come out (or, for a partial clone, be refused as missing blobs), so a
//! quiet maestro does not mean git never ran.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::attacks::{Lab, all_text};
use crate::mcp::call;

const KINDS: [&str; 3] = ["staged", "unstaged", "base:HEAD~1"];

/// Hooks planted in the hook folders: `post-index-change` is the one `git diff` reaches (it
/// rewrites the index after a refresh); the others are there in case any other is.
const HOOKS: [&str; 8] = [
    "post-index-change",
    "reference-transaction",
    "pre-auto-gc",
    "post-checkout",
    "pre-commit",
    "post-commit",
    "fsmonitor-watchman",
    "push-to-checkout",
];

/// How the workspace's repository is made before the hostile settings are planted.
#[derive(Clone, Copy, PartialEq)]
enum Build {
    /// Two commits, a staged change to `b.txt`, an unstaged one to `a.txt`, two more files
    /// (`c.txt`, `d.txt`) unchanged.
    Plain,
    /// The same with a submodule `sub/` that has uncommitted changes.
    Submodule,
    /// A `--filter=blob:none` clone of a local origin whose every diff needs a blob the clone
    /// never downloaded (the index names `b.txt`'s first version; `HEAD~1` has `a.txt`'s).
    PartialClone,
}

/// What starts the marker for a person's plain git, in the workspace.
enum Control {
    Git(&'static [&'static str]),
    /// `git diff` on a terminal (a pager runs only there), through `script`.
    OnTerminal,
}

struct Case {
    name: &'static str,
    build: Build,
    plant: fn(&Repo),
    control: Control,
}

/// A diff of a plain build.
const DIFF: Control = Control::Git(&["diff"]);
/// A diff that needs the blob a partial clone lacks.
const FETCHING_DIFF: Control = Control::Git(&["diff", "--cached"]);

const CASES: [Case; 22] = [
    Case {
        name: "clean filter",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt filter=evil");
            r.config("filter.evil.clean", &r.evil());
        },
        control: DIFF,
    },
    Case {
        name: "smudge filter",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt filter=evil");
            r.config("filter.evil.smudge", &r.evil());
        },
        control: Control::Git(&["cat-file", "--filters", "HEAD:a.txt"]),
    },
    Case {
        name: "filter process",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt filter=evil");
            r.config("filter.evil.process", &r.evil());
        },
        control: DIFF,
    },
    Case {
        // `-c filter.a=b.c.clean=` would set `filter.a` to `b.c.clean=`.
        name: "filter named with `=`",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt filter=a=b.c");
            r.config("filter.a=b.c.clean", &r.evil());
            r.config("filter.a=b.c.required", "true");
        },
        control: DIFF,
    },
    Case {
        name: "diff.external",
        build: Build::Plain,
        plant: |r| r.config("diff.external", &r.evil()),
        control: DIFF,
    },
    Case {
        name: "diff driver command",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt diff=evil");
            r.config("diff.evil.command", &r.evil());
        },
        control: DIFF,
    },
    Case {
        name: "textconv",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt diff=evil");
            r.config("diff.evil.textconv", &r.evil());
        },
        control: DIFF,
    },
    Case {
        name: "core.fsmonitor hook",
        build: Build::Plain,
        plant: |r| r.config("core.fsmonitor", &r.evil()),
        control: DIFF,
    },
    Case {
        name: "hooks in .git/hooks",
        build: Build::Plain,
        plant: |r| r.hooks(&r.ws().join(".git/hooks")),
        control: DIFF,
    },
    Case {
        name: "core.hooksPath",
        build: Build::Plain,
        plant: |r| {
            let dir = r.top().join("outside/hooks");
            r.hooks(&dir);
            r.config("core.hooksPath", dir.to_str().unwrap());
        },
        control: DIFF,
    },
    Case {
        name: "core.pager and pager.diff",
        build: Build::Plain,
        plant: |r| {
            r.config("core.pager", &r.evil());
            r.config("pager.diff", &r.evil());
        },
        control: Control::OnTerminal,
    },
    Case {
        // The included file is the repository's own (relative to `.git/config`).
        name: "include.path",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt filter=evil");
            write(
                &r.ws().join("evil.inc"),
                &format!("[filter \"evil\"]\n\tclean = {}\n", r.evil()),
            );
            r.config("include.path", "../evil.inc");
        },
        control: DIFF,
    },
    Case {
        name: "includeIf gitdir",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt filter=evil");
            let inc = r.top().join("outside/evil.inc");
            write(
                &inc,
                &format!("[filter \"evil\"]\n\tprocess = {}\n", r.evil()),
            );
            let key = format!("includeIf.gitdir:{}/.path", r.ws().display());
            r.config(&key, inc.to_str().unwrap());
        },
        control: DIFF,
    },
    Case {
        name: "~/.gitconfig",
        build: Build::Plain,
        plant: |r| {
            r.attributes("*.txt filter=evil");
            write(
                &r.top().join("home/.gitconfig"),
                &format!("[filter \"evil\"]\n\tclean = {}\n", r.evil()),
            );
        },
        control: DIFF,
    },
    Case {
        // The user-level attributes file (`$XDG_CONFIG_HOME/git/attributes`) names the filter.
        name: "$XDG_CONFIG_HOME/git/config and attributes",
        build: Build::Plain,
        plant: |r| {
            let dir = r.top().join("config/git");
            write(
                &dir.join("config"),
                &format!("[filter \"evil\"]\n\tprocess = {}\n", r.evil()),
            );
            write(&dir.join("attributes"), "*.txt filter=evil\n");
        },
        control: DIFF,
    },
    Case {
        // `.git/config.worktree`, and `.git/info/attributes` (which `--attr-source` ignores).
        name: "config.worktree and info/attributes",
        build: Build::Plain,
        plant: |r| {
            r.config("extensions.worktreeConfig", "true");
            r.git(
                &r.ws(),
                &["config", "--worktree", "filter.evil.clean", &r.evil()],
            );
            write(&r.ws().join(".git/info/attributes"), "*.txt filter=evil\n");
        },
        control: DIFF,
    },
    Case {
        // Git looks into a dirty submodule with `git status` under the submodule's config.
        name: "submodule with its own config",
        build: Build::Submodule,
        plant: |r| {
            let sub = r.ws().join(".git/modules/sub");
            for (key, value) in [
                ("core.fsmonitor", r.evil()),
                ("filter.evil.clean", r.evil()),
                ("diff.external", r.evil()),
            ] {
                r.git(&sub, &["config", key, &value]);
            }
            write(&r.ws().join("sub/.gitattributes"), "* filter=evil\n");
        },
        control: DIFF,
    },
    Case {
        name: "promisor remote over ext::",
        build: Build::PartialClone,
        plant: |r| {
            r.config("remote.origin.url", &format!("ext::{}", r.evil()));
            r.config("protocol.ext.allow", "always");
        },
        control: FETCHING_DIFF,
    },
    Case {
        name: "promisor remote over ssh with core.sshCommand",
        build: Build::PartialClone,
        plant: |r| {
            r.config("remote.origin.url", "ssh://git@example.invalid/repo.git");
            r.config("core.sshCommand", &r.evil());
        },
        control: FETCHING_DIFF,
    },
    Case {
        // A local server answers 401, so git asks the credential helper, then askpass.
        name: "promisor remote over http with credential.helper and core.askPass",
        build: Build::PartialClone,
        plant: |r| {
            let url = format!("http://{}/repo.git", unauthorized_server());
            r.config("remote.origin.url", &url);
            r.config("credential.helper", &r.evil());
            r.config(&format!("credential.{url}.helper"), &r.evil());
            r.config("core.askPass", &r.evil());
        },
        control: FETCHING_DIFF,
    },
    Case {
        // A local remote runs `uploadpack` through the shell.
        name: "promisor remote with remote.origin.uploadpack",
        build: Build::PartialClone,
        plant: |r| {
            r.config(
                "remote.origin.url",
                r.top().join("outside/origin").to_str().unwrap(),
            );
            r.config("remote.origin.uploadpack", &r.evil());
        },
        control: FETCHING_DIFF,
    },
    Case {
        // `innocent:x` becomes `evil::x`, which runs `git-remote-evil` from PATH.
        name: "promisor remote rewritten by url.insteadOf to a remote helper",
        build: Build::PartialClone,
        plant: |r| {
            let helper = r.top().join("bin/git-remote-evil");
            std::fs::copy(r.evil(), &helper).unwrap();
            r.config("remote.origin.url", "innocent:x");
            r.config("url.evil::.insteadOf", "innocent:");
        },
        control: FETCHING_DIFF,
    },
];

/// One git binary under test.
struct Flavour {
    label: String,
    real: PathBuf,
    /// A wrapper that drops `GIT_NO_LAZY_FETCH` before running `real`.
    without_no_lazy_fetch: bool,
}

/// Every distinct git on PATH, then the first one with `GIT_NO_LAZY_FETCH` dropped; `None` when
/// there is no git (a failure under CI).
fn flavours() -> Option<Vec<Flavour>> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let Ok(real) = dir.join("git").canonicalize() else {
            continue;
        };
        if seen.contains(&real) {
            continue;
        }
        seen.push(real.clone());
        let Ok(v) = Command::new(&real).arg("--version").output() else {
            continue;
        };
        let version = String::from_utf8_lossy(&v.stdout).trim().to_string();
        out.push(Flavour {
            label: format!("{version} ({})", real.display()),
            real,
            without_no_lazy_fetch: false,
        });
    }
    let Some(first) = out.first() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "git is not installed, so no diff can be tested; install git"
        );
        eprintln!("skipped: git is not on PATH, so git's hostile repositories cannot be tried");
        return None;
    };
    out.push(Flavour {
        label: format!("{} ignoring GIT_NO_LAZY_FETCH", first.label),
        real: first.real.clone(),
        without_no_lazy_fetch: true,
    });
    Some(out)
}

/// The lab's repository, built and poked with the git under test.
struct Repo<'a> {
    lab: &'a Lab,
    git: &'a Path,
}

impl Repo<'_> {
    fn ws(&self) -> PathBuf {
        self.lab.root()
    }

    /// The lab's folder: `ws/`, `outside/`, `home/`, `bin/`, `config/`.
    fn top(&self) -> PathBuf {
        self.ws().parent().unwrap().to_path_buf()
    }

    fn marker(&self) -> PathBuf {
        self.top().join("outside/MARKER")
    }

    /// The marker program: every program the repository names is this one.
    fn evil(&self) -> String {
        self.top()
            .join("outside/evil")
            .to_str()
            .unwrap()
            .to_string()
    }

    /// What the marker recorded, and forgets it.
    fn take_marker(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.marker()).ok()?;
        std::fs::remove_file(self.marker()).unwrap();
        Some(text)
    }

    /// Plain git in `dir` as a person would run it.
    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        self.person(self.git, dir, args)
    }

    /// `program` run by a person in `dir`: the lab's HOME, config and PATH, nothing inherited
    /// from the test's environment (a hook running the tests may set `GIT_DIR`).
    fn person(&self, program: &Path, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(dir)
            .env_clear()
            .env("HOME", self.top().join("home"))
            .env("XDG_CONFIG_HOME", self.top().join("config"))
            .env("PATH", self.lab.path_var())
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "a")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "a")
            .env("GIT_COMMITTER_EMAIL", "a@example.com")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs git for the setup and returns its stdout; it must succeed and fetch nothing.
    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self
            .command(dir, args)
            .env("GIT_NO_LAZY_FETCH", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn config(&self, key: &str, value: &str) {
        self.git(&self.ws(), &["config", key, value]);
    }

    fn attributes(&self, line: &str) {
        write(&self.ws().join(".gitattributes"), &format!("{line}\n"));
    }

    fn hooks(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for hook in HOOKS {
            std::fs::copy(self.evil(), dir.join(hook)).unwrap();
        }
    }

    /// A fresh repository at `dir` with `files` committed.
    fn init(&self, dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        self.git(dir, &["init", "-q", "-b", "main"]);
        for (name, text) in files {
            write(&dir.join(name), text);
        }
        self.git(dir, &["add", "."]);
        self.git(dir, &["commit", "-qm", "first"]);
    }

    fn build(&self, build: Build) {
        let ws = self.ws();
        let first = [
            ("a.txt", "one\n"),
            ("b.txt", "b1\n"),
            ("c.txt", "c\n"),
            ("d.txt", "d\n"),
        ];
        match build {
            Build::Plain | Build::Submodule => {
                self.init(&ws, &first);
                write(&ws.join("a.txt"), "two\n");
                if build == Build::Submodule {
                    let origin = self.top().join("outside/subrepo");
                    self.init(&origin, &[("s.txt", "s\n")]);
                    self.git(
                        &ws,
                        &[
                            "-c",
                            "protocol.file.allow=always",
                            "submodule",
                            "add",
                            "-q",
                            origin.to_str().unwrap(),
                            "sub",
                        ],
                    );
                    // The same size: git must read the file (through its filter) to see that
                    // it changed.
                    write(&ws.join("sub/s.txt"), "t\n");
                }
                self.git(&ws, &["commit", "-qam", "second"]);
                write(&ws.join("b.txt"), "b2\n");
                self.git(&ws, &["add", "b.txt"]);
            }
            Build::PartialClone => {
                let origin = self.top().join("outside/origin");
                self.init(&origin, &first);
                write(&origin.join("a.txt"), "two\n");
                write(&origin.join("b.txt"), "b2\n");
                self.git(&origin, &["commit", "-qam", "second"]);
                self.git(&origin, &["config", "uploadpack.allowFilter", "true"]);
                std::fs::remove_dir_all(&ws).unwrap();
                let url = format!("file://{}", origin.display());
                // The clone's checkout fetches HEAD's blobs, so it may fetch.
                let out = self
                    .command(
                        &self.top(),
                        &["clone", "-q", "--filter=blob:none", &url, "ws"],
                    )
                    .output()
                    .unwrap();
                assert!(out.status.success(), "clone: {}", stderr(&out));
                let b1 = self.git(&origin, &["rev-parse", "HEAD~1:b.txt"]);
                let a1 = self.git(&origin, &["rev-parse", "HEAD~1:a.txt"]);
                // The staged change is `b.txt` back to its first version, which the clone lacks.
                self.git(
                    &ws,
                    &["update-index", "--cacheinfo", &format!("100644,{b1},b.txt")],
                );
                let missing =
                    self.git(&ws, &["rev-list", "--objects", "--missing=print", "HEAD~1"]);
                for blob in [&a1, &b1] {
                    assert!(
                        missing.contains(&format!("?{blob}")),
                        "the clone has {blob}, so no diff would need a fetch: {missing}"
                    );
                }
            }
        }
        write(&ws.join("a.txt"), "three\n");
    }

    /// Gives `c.txt` and `d.txt` a new modification time: git reads them again, through any
    /// filter, and finding them unchanged, rewrites the index (the `post-index-change` hook).
    fn touch(&self, round: u64) {
        let when = SystemTime::now() + Duration::from_secs(100 * round);
        for name in ["c.txt", "d.txt"] {
            let f = std::fs::File::options()
                .write(true)
                .open(self.ws().join(name))
                .unwrap();
            f.set_modified(when).unwrap();
        }
    }

    /// Runs the case's control: the marker must start.
    fn control(&self, case: &Case) -> Result<(), String> {
        let out = match &case.control {
            Control::Git(args) => self.command(&self.ws(), args).output().unwrap(),
            Control::OnTerminal => {
                if Command::new("script").arg("--version").output().is_err() {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "`script` (util-linux) is missing, so the pager case proves nothing"
                    );
                    eprintln!(
                        "{}: `script` is missing, so the pager's control is skipped",
                        case.name
                    );
                    return Ok(());
                }
                let line = format!("'{}' diff", self.git.display());
                self.person(
                    Path::new("script"),
                    &self.ws(),
                    &["-qec", &line, "/dev/null"],
                )
                .env("TERM", "dumb")
                .output()
                .unwrap()
            }
        };
        match self.take_marker() {
            Some(_) => Ok(()),
            None => Err(format!(
                "control: a person's plain git did not start the marker, so the case proves \
                 nothing (git said: {})",
                stderr(&out)
            )),
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// A local HTTP server that answers every request with 401 and Basic auth, for as long as the
/// test binary runs; its address.
fn unauthorized_server() -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().take(64).flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    addr
}

/// Builds `case`'s repository for `flavour`, proves it hostile, and asks maestro for every
/// kind of diff; the problems found.
async fn try_case(case: &Case, flavour: &Flavour) -> Vec<String> {
    let lab = Lab::new();
    let repo = Repo {
        lab: &lab,
        git: &flavour.real,
    };
    let marker = repo.marker();
    executable(
        Path::new(&repo.evil()),
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$0 $*\" >> '{}'\nexit 0\n",
            marker.display()
        ),
    );
    // maestro finds this git first on PATH.
    let bin_git = repo.top().join("bin/git");
    if flavour.without_no_lazy_fetch {
        executable(
            &bin_git,
            &format!(
                "#!/bin/sh\nunset GIT_NO_LAZY_FETCH\nexec '{}' \"$@\"\n",
                flavour.real.display()
            ),
        );
    } else {
        std::os::unix::fs::symlink(&flavour.real, &bin_git).unwrap();
    }
    repo.build(case.build);
    (case.plant)(&repo);
    let mut problems = Vec::new();
    let at = |kind: &str| format!("{} × {} × {kind}", case.name, flavour.label);
    repo.touch(1);
    if let Err(e) = repo.control(case) {
        problems.push(format!("{}: {e}", at("control")));
    }
    let client = lab.serve().await;
    for (round, kind) in (2..).zip(KINDS) {
        repo.touch(round);
        let r = call(&client, "context", json!({ "diff": kind })).await;
        let text = all_text(&r);
        if let Some(ran) = repo.take_marker() {
            problems.push(format!("{}: git started a program: {ran}", at(kind)));
        }
        let expected = if case.build == Build::PartialClone {
            "partial clone has not downloaded".to_string()
        } else {
            let file = if kind == "staged" { "b.txt" } else { "a.txt" };
            format!("diff --git a/{file} b/{file}")
        };
        if !text.contains(&expected) {
            problems.push(format!("{}: expected `{expected}` in {text}", at(kind)));
        }
    }
    client.cancel().await.unwrap();
    problems
}

/// Tries `case` with every flavour of git (the one without lazy-fetch protection only for a
/// partial clone, the only repository it changes anything for).
async fn matrix(case: &Case) {
    let Some(flavours) = flavours() else {
        return;
    };
    let mut problems = Vec::new();
    let mut tried = 0;
    for f in &flavours {
        if f.without_no_lazy_fetch && case.build != Build::PartialClone {
            continue;
        }
        problems.extend(try_case(case, f).await);
        tried += KINDS.len();
    }
    assert!(
        problems.is_empty(),
        "{} of {tried} diffs went wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

macro_rules! matrix_tests {
    ($($test:ident => $index:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                matrix(&CASES[$index]).await;
            }
        )*

        /// Every case has its test.
        #[test]
        fn every_hostile_repository_has_a_test() {
            let mut indexes = vec![$($index),*];
            indexes.sort_unstable();
            assert_eq!(indexes, (0..CASES.len()).collect::<Vec<_>>());
        }
    };
}

matrix_tests! {
    a_clean_filter_does_not_run => 0,
    a_smudge_filter_does_not_run => 1,
    a_filter_process_does_not_run => 2,
    a_filter_named_with_an_equals_sign_does_not_run => 3,
    diff_external_does_not_run => 4,
    a_diff_driver_command_does_not_run => 5,
    textconv_does_not_run => 6,
    an_fsmonitor_hook_does_not_run => 7,
    hooks_in_dot_git_hooks_do_not_run => 8,
    hooks_in_core_hooks_path_do_not_run => 9,
    a_pager_does_not_run => 10,
    a_filter_from_include_path_does_not_run => 11,
    a_filter_from_include_if_does_not_run => 12,
    a_filter_from_the_home_gitconfig_does_not_run => 13,
    a_filter_from_the_xdg_config_and_attributes_does_not_run => 14,
    a_filter_from_config_worktree_and_info_attributes_does_not_run => 15,
    a_submodules_own_config_does_not_run => 16,
    a_promisor_ext_remote_is_not_fetched_from => 17,
    a_promisor_ssh_remote_does_not_run_core_ssh_command => 18,
    a_promisor_http_remote_does_not_run_credential_helpers_or_askpass => 19,
    a_promisor_local_remote_does_not_run_uploadpack => 20,
    a_promisor_remote_helper_from_insteadof_does_not_run => 21,
}
