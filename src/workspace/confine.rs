//! Confinement: the one place that decides which workspace paths a tool may write
//! ([`writable`]) and which context packing may read ([`readable`]), plus the file primitives
//! that never follow a link ([`write_atomic`], [`write_new`], [`read_nofollow`]).
//!
//! Invariants:
//! - A tool writes only inside the workspace root, never under `.maestro/`, `.claude/` or
//!   `.git/` (any depth, any letter case), never to `.mcp.json`, never to a secret file, never
//!   at a symbolic link, and never where a link in the path leads to any of these (or outside).
//! - Context packing reads only regular files inside the root that are not secret files,
//!   judged on the path asked for *and* on the file a link leads to.
//! - maestro's own backups (`.maestro/backups/`) are not a tool's write: they go through
//!   [`internal`], which refuses any link on the way, and never through [`writable`].
//! - A refusal names the path and the rule, never the file's contents.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a path may not be written or read. Nothing was touched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` is refused: {reason}")]
pub(crate) struct Refused {
    /// The path as it was asked for.
    pub path: String,
    pub reason: String,
}

/// Directories whose files steer maestro, the coding agent or git: a model writing there
/// could run commands (`verify.yaml`, `providers.yaml`, git hooks and config) or remove gates
/// (workflows, agent settings).
const CONTROL_DIRS: [(&str, &str); 3] = [
    (
        ".maestro",
        "it is a control file: maestro's checks, providers and workflows live under `.maestro/`, \
         and only a person edits them",
    ),
    (
        ".claude",
        "it is a control file: the coding agent's settings and hooks live under `.claude/`, \
         and only a person edits them",
    ),
    (
        ".git",
        "it is a control file: git's configuration and hooks live under `.git/`, and only a \
         person (or git itself) changes them",
    ),
];

const MCP_JSON: &str = "it is a control file: `.mcp.json` names the MCP servers the agent \
                        starts, and only a person edits it";

/// Why `rel` is a control file (compared case-insensitively, at any depth), if it is one.
#[must_use]
pub(crate) fn control_reason(rel: &str) -> Option<&'static str> {
    let mut last = None;
    for c in Path::new(rel).components() {
        if let Component::Normal(name) = c {
            let name = name.to_string_lossy().to_lowercase();
            if let Some((_, why)) = CONTROL_DIRS.iter().find(|(d, _)| name == *d) {
                return Some(why);
            }
            last = Some(name);
        }
    }
    (last.as_deref() == Some(".mcp.json")).then_some(MCP_JSON)
}

/// Places outside the workspace whose files steer maestro or the coding agent: every folder of
/// maestro's asset home (`--home`/`MAESTRO_HOME`, the user's config dir, whether it exists yet
/// or not) and Claude Code's user settings (`~/.claude/`, `~/.claude.json`, or the same under
/// `CLAUDE_CONFIG_DIR`). A model that writes `~/.config/maestro/conf/verify.yaml` names the
/// commands `verify` runs; one that writes `~/.claude/settings.json` turns the hooks off.
#[derive(Debug, Clone, Default)]
pub(crate) struct ControlPlaces {
    /// Real (link-resolved) paths, each with why it is a control place.
    places: Vec<(PathBuf, &'static str)>,
}

const ASSET_HOME: &str = "it is a control file: maestro's workflows, checks and providers live \
                          in its asset home, and only a person edits them";
const CLAUDE_USER: &str = "it is a control file: Claude Code's user settings, hooks and MCP \
                           servers live there, and only a person edits them";

impl ControlPlaces {
    /// The asset home's folders and Claude Code's user files: `claude_dir` (see
    /// [`claude_user_dir`], which holds its `.claude.json` when set by `CLAUDE_CONFIG_DIR`)
    /// and `~/.claude.json` in `home`, the user's home folder.
    #[must_use]
    pub(crate) fn new(
        asset_dirs: &[PathBuf],
        claude_dir: Option<PathBuf>,
        home: Option<&Path>,
    ) -> Self {
        let mut places = Vec::new();
        for d in asset_dirs {
            places.push((d.clone(), ASSET_HOME));
        }
        if let Some(d) = claude_dir {
            places.push((d, CLAUDE_USER));
        }
        if let Some(h) = home {
            places.push((h.join(".claude.json"), CLAUDE_USER));
        }
        let places = places
            .into_iter()
            .filter_map(|(p, why)| Some((real_path(&absolute(&p)?)?, why)))
            .collect();
        ControlPlaces { places }
    }

    /// From the process's environment (`CLAUDE_CONFIG_DIR`, `HOME`) and the asset home's
    /// folders.
    #[must_use]
    pub(crate) fn from_env(asset_dirs: &[PathBuf]) -> Self {
        ControlPlaces::new(asset_dirs, claude_user_dir(), env_dir("HOME").as_deref())
    }

    fn reason(&self, real: &Path) -> Option<&'static str> {
        let lower = |p: &Path| PathBuf::from(p.to_string_lossy().to_lowercase());
        let real_lower = lower(real);
        self.places
            .iter()
            .find(|(p, _)| real.starts_with(p) || real_lower.starts_with(lower(p)))
            .map(|(_, why)| *why)
    }
}

/// A folder named by an environment variable, unless it is unset or empty.
fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Claude Code's user folder (settings, hooks, MCP servers): `CLAUDE_CONFIG_DIR`, else
/// `~/.claude`.
#[must_use]
pub(crate) fn claude_user_dir() -> Option<PathBuf> {
    env_dir("CLAUDE_CONFIG_DIR").or_else(|| env_dir("HOME").map(|h| h.join(".claude")))
}

/// `path` made absolute against the current directory, without touching the disk.
fn absolute(path: &Path) -> Option<PathBuf> {
    if path.is_absolute() {
        Some(path.to_path_buf())
    } else {
        Some(std::env::current_dir().ok()?.join(path))
    }
}

/// Where `path` (absolute) really leads: every symbolic link on the way followed, dangling
/// ones too (a write through a dangling link creates the file it names), `..` applied to the
/// real folder it follows. Parts that do not exist yet are kept as they are. `None` for a loop
/// of links.
#[must_use]
pub(crate) fn real_path(path: &Path) -> Option<PathBuf> {
    use std::collections::VecDeque;
    /// As the kernel's limit on links in one lookup.
    const MAX_LINKS: usize = 40;
    let mut todo: VecDeque<std::ffi::OsString> = VecDeque::new();
    let mut real = PathBuf::from("/");
    let push_front = |todo: &mut VecDeque<std::ffi::OsString>, p: &Path| {
        for c in p.components().rev() {
            match c {
                Component::Normal(n) => todo.push_front(n.to_os_string()),
                Component::ParentDir => todo.push_front("..".into()),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
    };
    push_front(&mut todo, path);
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            real.pop();
            continue;
        }
        let next = real.join(&part);
        match next.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = std::fs::read_link(&next).ok()?;
                if target.is_absolute() {
                    real = PathBuf::from("/");
                }
                push_front(&mut todo, &target);
            }
            _ => real = next,
        }
    }
    Some(real)
}

/// Why writing `path` would change a control file, judged on where it really leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Control {
    pub reason: &'static str,
    /// Where a link on the way led (relative to the workspace when inside it), when the path
    /// as written is not itself a control file.
    pub through_link: Option<String>,
}

impl std::fmt::Display for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.through_link {
            Some(real) => write!(
                f,
                "a symbolic link in the path leads to `{real}`: {}",
                self.reason
            ),
            None => f.write_str(self.reason),
        }
    }
}

/// The one decision "is this a control file": `path` (absolute, or relative to `root`) is
/// judged on its text (`.maestro/`, `.claude/`, `.git/` at any depth and in any letter case,
/// `.mcp.json`) and on its real location (every link followed, a file that does not exist yet
/// judged by its folder), inside the workspace by the same names and outside it by
/// `outside` (the asset home, Claude Code's user settings). A loop of links counts as a
/// control file: nothing safe can be said of it. The hook, `patch` and `restore` ask this
/// (`init`, which writes control files on purpose, asks [`own_file`]).
#[must_use]
pub(crate) fn control_file(root: &Path, path: &Path, outside: &ControlPlaces) -> Option<Control> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let root_real = real_path(&absolute(root)?).unwrap_or_else(|| root.to_path_buf());
    // As written: relative to the root as given or as resolved.
    let written = full
        .strip_prefix(root)
        .or_else(|_| full.strip_prefix(&root_real))
        .unwrap_or(&full);
    if let Some(reason) = control_reason(&written.to_string_lossy()) {
        return Some(Control {
            reason,
            through_link: None,
        });
    }
    let abs = absolute(&full);
    let Some(real) = abs.as_deref().and_then(real_path) else {
        return Some(Control {
            reason: "a loop of symbolic links: where it leads cannot be told, so it is treated \
                     as a control file",
            through_link: None,
        });
    };
    let (shown, reason) = match real.strip_prefix(&root_real) {
        Ok(rel) => (
            rel.to_string_lossy().into_owned(),
            control_reason(&rel.to_string_lossy()),
        ),
        Err(_) => (real.to_string_lossy().into_owned(), None),
    };
    let reason = reason.or_else(|| outside.reason(&real))?;
    Some(Control {
        reason,
        through_link: (abs.as_ref() != Some(&real)).then_some(shown),
    })
}

/// Decides whether a command a person runs (`maestro init`) may write `rel` below `root`: a
/// control file is what it writes on purpose, so only the way there is judged. No symbolic
/// link may be on the way or at the file (a committed `SKILL.md -> ~/.bashrc` or a dangling
/// `.mcp.json -> /elsewhere` must not redirect the write), and nothing leaves the root.
/// Returns the path to write (through [`write_atomic`], which creates its temporary file
/// exclusively).
///
/// # Errors
/// Absolute paths or `..`, a link anywhere on the way, something that is not a regular file
/// at `rel`.
pub(crate) fn own_file(root: &Path, rel: &str) -> Result<PathBuf, Refused> {
    let refuse = |reason: String| Refused {
        path: rel.to_string(),
        reason,
    };
    let norm = lexical(rel).map_err(|r| refuse(r.into()))?;
    let root = canonical_root(root, rel)?;
    let full = root.join(&norm);
    let mut probe = root.clone();
    for part in Path::new(&norm).components() {
        probe.push(part);
        match probe.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&probe)
                    .map_or_else(|_| "?".into(), |t| t.display().to_string());
                return Err(refuse(format!(
                    "`{}` is a symbolic link (to `{to}`); maestro does not write through links \
                     in a checkout, so a link cannot send the write elsewhere: remove it and \
                     run again",
                    probe.strip_prefix(&root).unwrap_or(&probe).display()
                )));
            }
            Ok(_) => {}
            // Nothing below a missing part exists, so no link either.
            Err(_) => break,
        }
    }
    if full.symlink_metadata().is_ok_and(|m| !m.is_file()) {
        return Err(refuse(
            "it is not a regular file (a directory or a device)".into(),
        ));
    }
    Ok(full)
}

/// File extensions of source code and prose: a file named `secrets.md` or `secret_reason.rs`
/// is about secrets, it does not hold them.
const SOURCE_OR_PROSE: [&str; 30] = [
    "rs", "py", "go", "js", "mjs", "cjs", "ts", "tsx", "jsx", "java", "kt", "rb", "php", "c", "h",
    "cc", "cpp", "hpp", "cs", "swift", "scala", "ex", "exs", "md", "rst", "adoc", "html", "css",
    "j2", "tmpl",
];

/// Why a path must never be read or written by a tool, if it is a secret store. Judged on the
/// path's text only (lowercased), so it works for paths that do not exist yet.
#[must_use]
pub(crate) fn secret_reason(rel: &str) -> Option<&'static str> {
    let lower = rel.to_lowercase();
    let lower = lower.trim_start_matches("./");
    let name = lower.rsplit('/').next().unwrap_or(lower);
    let in_dir = |d: &str| {
        let mut parts = lower.split('/');
        parts.next_back();
        parts.any(|c| c == d)
    };
    let source_or_prose = name
        .rsplit_once('.')
        .is_some_and(|(stem, e)| !stem.is_empty() && SOURCE_OR_PROSE.contains(&e));
    if in_dir(".git") {
        return Some("git's own files (remotes with tokens, credentials helpers) are never sent");
    }
    if name.starts_with(".env") {
        return Some("environment files hold secrets");
    }
    if in_dir(".ssh")
        || ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"]
            .iter()
            .any(|k| name.starts_with(k))
    {
        return Some("SSH keys and config are never sent");
    }
    if in_dir(".aws")
        || in_dir(".gnupg")
        || lower.contains(".config/gcloud/")
        || lower.ends_with(".docker/config.json")
        || in_dir(".kube")
        || name == "kubeconfig"
        || name == ".dockercfg"
        || name == ".vault-token"
        || lower == ".config/gh/hosts.yml"
        || lower.ends_with("/.config/gh/hosts.yml")
        || (name.ends_with(".json")
            && (name.contains("service-account") || name.contains("service_account")))
    {
        return Some("cloud, cluster and service credentials are never sent");
    }
    if [".pem", ".key", ".p12", ".pfx", ".keystore", ".jks", ".ppk"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        return Some("key files are never sent");
    }
    if name.ends_with(".tfstate") || name.ends_with(".tfstate.backup") {
        return Some("Terraform state holds every secret of the infrastructure it describes");
    }
    if [
        ".netrc",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        ".pgpass",
        ".my.cnf",
        ".htpasswd",
        "htpasswd",
        "token.json",
        ".s3cfg",
        ".boto",
    ]
    .contains(&name)
        || (!source_or_prose && (name.starts_with("credentials") || name.contains("secret")))
    {
        return Some("credential files are never sent");
    }
    None
}

/// The path's parts if it is relative and stays below the root (no `..`, no prefix), joined
/// with `/`; otherwise why not.
fn lexical(rel: &str) -> Result<String, &'static str> {
    let p = Path::new(rel);
    if p.is_absolute() {
        return Err("absolute paths are not allowed; use a path relative to the workspace root");
    }
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(
                    "`..` leads outside the workspace; use a path relative to the workspace root",
                );
            }
        }
    }
    if parts.is_empty() {
        return Err("an empty path names no file; use a path relative to the workspace root");
    }
    Ok(parts.join("/"))
}

fn canonical_root(root: &Path, rel: &str) -> Result<PathBuf, Refused> {
    root.canonicalize().map_err(|e| Refused {
        path: rel.into(),
        reason: format!(
            "the workspace root {} cannot be opened ({e})",
            root.display()
        ),
    })
}

/// The real location of `full`: its deepest existing ancestor with links resolved, plus the
/// parts that do not exist yet. `None` when a link on the way points nowhere.
fn resolve(full: &Path) -> Option<PathBuf> {
    let mut missing = Vec::new();
    let mut probe = full.to_path_buf();
    loop {
        if probe.symlink_metadata().is_ok() {
            let mut real = probe.canonicalize().ok()?;
            real.extend(missing.iter().rev());
            return Some(real);
        }
        missing.push(probe.file_name()?.to_os_string());
        probe = probe.parent()?.to_path_buf();
    }
}

fn relative_to(root: &Path, real: &Path) -> Option<String> {
    real.strip_prefix(root)
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Decides whether a tool (patch, restore) may write, create, delete or rename `rel`, and
/// returns the real path to use.
///
/// # Errors
/// Absolute paths, `..`, control files (`.maestro/`, `.claude/`, `.git/`, `.mcp.json`), secret
/// files, a symbolic link at the path, something that is not a regular file, and a link in the
/// path that leads outside the root or to any of these.
pub(crate) fn writable(root: &Path, rel: &str) -> Result<PathBuf, Refused> {
    let refuse = |reason: String| Refused {
        path: rel.to_string(),
        reason,
    };
    let norm = lexical(rel).map_err(|r| refuse(r.into()))?;
    // The whole workspace is the limit here (below), so only its own control files matter.
    if let Some(c) = control_file(root, Path::new(&norm), &ControlPlaces::default()) {
        return Err(refuse(c.to_string()));
    }
    if let Some(why) = secret_reason(&norm) {
        return Err(refuse(format!(
            "it is a secret file ({why}); tools neither read nor write it"
        )));
    }
    let root = canonical_root(root, rel)?;
    let full = root.join(&norm);
    if let Ok(meta) = full.symlink_metadata() {
        if meta.file_type().is_symlink() {
            return Err(refuse(
                "it is a symbolic link; change the file it points to instead".into(),
            ));
        }
        if !meta.is_file() {
            return Err(refuse(
                "it is not a regular file (a directory or a device); only files are written".into(),
            ));
        }
    }
    let Some(real) = resolve(&full) else {
        return Err(refuse(
            "a symbolic link in the path points nowhere; fix or remove the link".into(),
        ));
    };
    let Some(real_rel) = relative_to(&root, &real) else {
        return Err(refuse(
            "a symbolic link in the path leads outside the workspace".into(),
        ));
    };
    // A link in the path (`gitlink -> .git`) must not reach what the name alone would not.
    if real_rel.is_empty() {
        return Err(refuse(
            "a symbolic link in the path leads to the workspace root itself".into(),
        ));
    }
    if let Some(why) = secret_reason(&real_rel) {
        return Err(refuse(format!(
            "a symbolic link in the path leads to `{real_rel}`, a secret file ({why})"
        )));
    }
    Ok(real)
}

/// Decides whether context packing may read `rel`, and returns the real path to read.
///
/// # Errors
/// Paths outside the root (also through a link), secret files (by the name asked for or by
/// the name of the file a link leads to, which covers `.git/`), missing files and anything
/// that is not a regular file.
pub(crate) fn readable(root: &Path, rel: &str) -> Result<PathBuf, Refused> {
    let refuse = |reason: String| Refused {
        path: rel.to_string(),
        reason,
    };
    let norm = lexical(rel).map_err(|r| {
        refuse(format!(
            "outside the workspace: {}",
            r.split_once("; ").map_or(r, |(_, fix)| fix)
        ))
    })?;
    if let Some(why) = secret_reason(&norm) {
        return Err(refuse(format!("a secret file: {why}")));
    }
    let root = canonical_root(root, rel)?;
    let Ok(real) = root.join(&norm).canonicalize() else {
        return Err(refuse("does not exist".into()));
    };
    let Some(real_rel) = relative_to(&root, &real) else {
        return Err(refuse(
            "a symbolic link to a place outside the workspace".into(),
        ));
    };
    if let Some(why) = secret_reason(&real_rel) {
        return Err(refuse(format!(
            "a symbolic link to `{real_rel}`, a secret file: {why}"
        )));
    }
    if !real.metadata().is_ok_and(|m| m.is_file()) {
        return Err(refuse(
            "not a regular file (a directory, a device or a pipe)".into(),
        ));
    }
    Ok(real)
}

/// A path under the workspace's `.maestro/` for maestro's own files (backups). Not a tool's
/// write, so [`writable`] (which refuses `.maestro/`) does not judge it; instead no part of the
/// path that exists may be a symbolic link, so a planted `.maestro/backups -> /elsewhere`
/// cannot redirect what maestro writes or reads there.
///
/// # Errors
/// A part with `..` or a root, or a link on the way.
pub(crate) fn internal(root: &Path, parts: &[&str]) -> Result<PathBuf, Refused> {
    let shown = format!(".maestro/{}", parts.join("/"));
    let refuse = |reason: &str| Refused {
        path: shown.clone(),
        reason: reason.into(),
    };
    let mut path = canonical_root(root, &shown)?;
    let mut names = vec![".maestro".to_string()];
    for p in parts {
        names.extend(lexical(p).map_err(refuse)?.split('/').map(str::to_string));
    }
    let mut exists = true;
    for name in &names {
        path.push(name);
        // Once a part is missing, nothing below it exists, so it holds no link.
        if exists {
            match path.symlink_metadata() {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(refuse(
                        "a symbolic link in maestro's own folder; maestro keeps its backups \
                         only in real folders (remove the link)",
                    ));
                }
                Ok(_) => {}
                Err(_) => exists = false,
            }
        }
    }
    Ok(path)
}

/// Bytes that make a temporary file's name unpredictable: `RandomState` is seeded from the
/// OS, and the counter, clock and pid keep names distinct within a process.
fn random_suffix() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Opens a new file exclusively: fails if anything (a file, a link, even a dangling one)
/// is already at `path`, and never follows a link.
fn create_exclusive(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Reads a file, refusing to follow a link at its last part.
///
/// # Errors
/// The file is missing, a link, or unreadable.
pub(crate) fn read_nofollow(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

/// Writes a file that must not exist yet (maestro's own backups), private to the user.
///
/// # Errors
/// Something is already at `path`, or an I/O failure.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = create_exclusive(path, 0o600)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// How many names to try before giving up on a temporary file.
const TEMP_TRIES: usize = 16;

/// Writes `bytes` to `path` through a new temporary file in the same folder, then renames it
/// over `path`. The temporary file is created exclusively under an unpredictable name and never
/// through a link, so a link planted at a guessed name cannot redirect the write; the rename
/// replaces the directory entry, never a file a link points to. An existing file keeps its
/// permission bits.
///
/// # Errors
/// `path` is a symbolic link, no temporary name was free, or an I/O failure (the temporary
/// file is removed).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        ));
    };
    std::fs::create_dir_all(dir)?;
    let keep_mode = match path.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; maestro never writes through one",
                    path.display()
                ),
            ));
        }
        Ok(m) => Some(m.permissions().mode() & 0o777),
        Err(_) => None,
    };
    // Long names are shortened so the temporary name stays within NAME_MAX.
    let stem: String = name.to_string_lossy().chars().take(96).collect();
    let mut opened = None;
    for _ in 0..TEMP_TRIES {
        let tmp = dir.join(format!(".{stem}.{}.maestro-tmp", random_suffix()));
        // A new file gets the usual 0666 less the umask; an existing file's bits are copied
        // below, so the temporary file starts private.
        match create_exclusive(&tmp, if keep_mode.is_some() { 0o600 } else { 0o666 }) {
            Ok(f) => {
                opened = Some((tmp, f));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let Some((tmp, mut file)) = opened else {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "no free temporary name next to {} after {TEMP_TRIES} tries",
                path.display()
            ),
        ));
    };
    let written = (|| {
        if let Some(mode) = keep_mode {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        crate::log::dropped(
            &format!("removing {}", tmp.display()),
            std::fs::remove_file(&tmp),
        );
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_files_are_recognised_in_any_case_at_any_depth() {
        for p in [
            ".maestro/conf/verify.yaml",
            ".Maestro/conf/x",
            ".claude/settings.json",
            "sub/.CLAUDE/settings.local.json",
            ".git/config",
            ".GIT/config",
            "vendor/lib/.git/hooks/pre-commit",
            ".mcp.json",
            "tools/.MCP.json",
        ] {
            assert!(control_reason(p).is_some(), "{p}");
        }
        for p in [
            ".gitignore",
            ".github/workflows/ci.yml",
            "src/git.rs",
            "mcp.json",
            "maestro/x",
        ] {
            assert!(control_reason(p).is_none(), "{p}");
        }
    }

    #[test]
    fn secret_files_are_recognised_without_refusing_source_files() {
        for p in [
            ".env",
            ".env.local",
            "config/.env.production",
            "home/.ssh/config",
            "id_rsa",
            "id_dsa",
            "certs/server.pem",
            "deploy/tls.key",
            ".aws/credentials",
            "credentials.json",
            ".npmrc",
            "service-account.json",
            "deploy/my-service-account-prod.json",
            ".git-credentials",
            ".pgpass",
            ".my.cnf",
            "infra/terraform.tfstate",
            "infra/terraform.tfstate.backup",
            ".htpasswd",
            ".vault-token",
            "token.json",
            ".dockercfg",
            ".config/gh/hosts.yml",
            "home/.config/gh/hosts.yml",
            ".git/config",
            "sub/.GIT/HEAD",
            "k8s/secrets.yaml",
            "client_secret_123.json",
            ".secrets",
        ] {
            assert!(secret_reason(p).is_some(), "{p}");
        }
        for p in [
            "src/env.rs",
            "README.md",
            "keyboard.rs",
            "docs/environment.md",
            "src/token.rs",
            "docs/secrets.md",
            "src/workspace/secret_reason.rs",
            "src/credentials.rs",
            "service-account.md",
            ".gitignore",
            "src/git/config.rs",
            "tokens.rs",
        ] {
            assert!(secret_reason(p).is_none(), "{p}");
        }
    }

    #[test]
    fn paths_that_leave_the_root_are_refused_before_any_disk_access() {
        let root = Path::new("/nonexistent-root-for-a-test");
        for p in ["", ".", "/etc/passwd", "../x", "a/../../x"] {
            let e = writable(root, p).unwrap_err();
            assert!(e.reason.contains("relative to the workspace"), "{p}: {e}");
        }
        let e = writable(root, ".maestro/conf/verify.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`.maestro/conf/verify.yaml` is refused: it is a control file: maestro's checks, \
             providers and workflows live under `.maestro/`, and only a person edits them"
        );
        assert!(
            writable(root, ".env")
                .unwrap_err()
                .reason
                .contains("secret file")
        );
        assert!(
            readable(root, "../x")
                .unwrap_err()
                .reason
                .contains("outside the workspace")
        );
    }

    #[test]
    fn links_are_judged_by_where_they_lead() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::write(root.join(".git/config"), "[core]\n").unwrap();
        std::fs::write(root.join(".env"), "K=v\n").unwrap();
        std::fs::write(root.join("ok.txt"), "fine\n").unwrap();
        std::os::unix::fs::symlink(".git", root.join("gitlink")).unwrap();
        std::os::unix::fs::symlink(".env", root.join("notes.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/nowhere", root.join("dangling")).unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink("real", root.join("alias")).unwrap();

        for (p, why) in [
            ("gitlink/config", "leads to `.git/config`"),
            (
                "gitlink/hooks/pre-commit",
                "leads to `.git/hooks/pre-commit`",
            ),
            ("notes.txt", "symbolic link; change the file"),
            ("out/x.txt", "outside the workspace"),
            ("dangling/x.txt", "points nowhere"),
            ("real", "not a regular file"),
        ] {
            let e = writable(root, p).unwrap_err();
            assert!(e.reason.contains(why), "{p}: {e}");
        }
        // A link inside the workspace to an ordinary folder is fine; the real path is returned.
        let real = writable(root, "alias/new.txt").unwrap();
        assert_eq!(real, root.canonicalize().unwrap().join("real/new.txt"));
        assert!(writable(root, "ok.txt").is_ok() && writable(root, "new/dir/f.txt").is_ok());

        let e = readable(root, "notes.txt").unwrap_err();
        assert!(e.reason.contains("`.env`, a secret file"), "{e}");
        assert!(
            readable(root, "gitlink/config")
                .unwrap_err()
                .reason
                .contains("`.git/config`")
        );
        assert!(
            readable(root, "out")
                .unwrap_err()
                .reason
                .contains("outside")
        );
        assert!(
            readable(root, "missing.txt")
                .unwrap_err()
                .reason
                .contains("does not exist")
        );
        assert!(
            readable(root, "real")
                .unwrap_err()
                .reason
                .contains("not a regular file")
        );
        assert!(readable(root, "ok.txt").is_ok());
    }

    #[test]
    fn internal_paths_refuse_links_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let p = internal(root, &["backups", "bk-0123456789", "files", "src/a.rs"]).unwrap();
        assert!(
            p.ends_with(".maestro/backups/bk-0123456789/files/src/a.rs"),
            "{}",
            p.display()
        );
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.join(".maestro")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join(".maestro/backups")).unwrap();
        let e = internal(root, &["backups", "bk-0123456789"]).unwrap_err();
        assert!(e.reason.contains("symbolic link"), "{e}");
        assert!(internal(root, &["../x"]).is_err());
    }

    #[test]
    fn atomic_writes_never_follow_a_planted_link_and_keep_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("file");
        std::fs::write(&victim, "untouched\n").unwrap();
        let target = dir.path().join("b.txt");
        std::fs::write(&target, "old\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o750)).unwrap();
        // The old fixed temp name, planted as a link: it must be ignored, not written through.
        std::os::unix::fs::symlink(&victim, dir.path().join(".b.txt.maestro-tmp")).unwrap();
        write_atomic(&target, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750);
        // No temporary file is left behind; the planted link is still just a link.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        // A link at the target itself is refused.
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(write_atomic(&link, b"x").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
        // Exclusive creation refuses anything already there, links included.
        assert!(write_new(&link, b"x").is_err());
        assert!(read_nofollow(&link).is_err());
        assert_ne!(random_suffix(), random_suffix());
    }
}
