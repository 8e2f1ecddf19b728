//! The asset home: layered lookup of workflows, roles, skills, schemas and config.
//!
//! Layers, first hit wins: `--home DIR` / `MAESTRO_HOME`, the project's `.maestro/` (searched
//! from the working directory upward, stopping at the git root), the user's config dir
//! (`$XDG_CONFIG_HOME/maestro`), then the defaults built into the binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::Error;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

/// What kind of asset, and so which folder and file extension.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Workflow,
    Role,
    Skill,
    Schema,
    Config,
    /// A stage's report for the person (a minijinja template that writes Markdown).
    Report,
}

impl Kind {
    #[must_use]
    pub(crate) const fn dir(self) -> &'static str {
        match self {
            Kind::Workflow => "workflows",
            Kind::Role => "roles",
            Kind::Skill => "skills",
            Kind::Schema => "schemas",
            Kind::Config => "conf",
            Kind::Report => "reports",
        }
    }

    /// File extensions, most preferred first.
    #[must_use]
    pub(crate) const fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Workflow => &[".kdl", ".yaml", ".yml"],
            Kind::Role | Kind::Report => &[".md.j2"],
            Kind::Skill => &[".md"],
            Kind::Schema => &[".json"],
            Kind::Config => &[".yaml", ".yml"],
        }
    }

    #[must_use]
    pub(crate) const fn noun(self) -> &'static str {
        match self {
            Kind::Workflow => "workflow",
            Kind::Role => "role",
            Kind::Skill => "skill",
            Kind::Schema => "schema",
            Kind::Config => "config file",
            Kind::Report => "report template",
        }
    }
}

/// Where a layer comes from, for messages ("found in the project's .maestro/").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The folder of a file given on the command line.
    File,
    /// `--home` or `MAESTRO_HOME`.
    Explicit,
    Project,
    User,
    Builtin,
    /// The files a run's workflow version was compiled from, kept in the state file.
    Pinned,
}

#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub origin: Origin,
    /// `None` for the built-in and pinned layers.
    pub dir: Option<PathBuf>,
    /// The pinned layer's files by relative path (`roles/judge.md.j2`).
    pub files: Option<Arc<BTreeMap<String, Vec<u8>>>>,
}

/// Whether `name` may name an asset: `[a-z0-9_-]+`, at most 64 characters. Lookups refuse
/// anything else before touching the disk, so a name can never be a path.
#[must_use]
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// One asset's text and where it was found.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub kind: Kind,
    pub name: String,
    /// What to show people: a path, or `builtin:roles/judge.md.j2`.
    pub display: String,
    pub bytes: Vec<u8>,
    pub origin: Origin,
}

/// The resolved layers.
#[derive(Debug, Clone)]
pub struct Home {
    pub(crate) layers: Vec<Layer>,
    /// When set, every asset `find` returns is recorded here (what a compile read).
    reads: Option<Arc<Mutex<Vec<Asset>>>>,
    /// The user's config folder (`$XDG_CONFIG_HOME/maestro`), kept even while it does not
    /// exist: a file written there later becomes a layer.
    user_dir: Option<PathBuf>,
}

/// Inputs to [`Home::resolve`], so tests need not touch the process environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct HomeOptions {
    pub explicit: Option<PathBuf>,
    pub cwd: PathBuf,
    pub user_config: Option<PathBuf>,
}

impl HomeOptions {
    /// Reads `MAESTRO_HOME`, `XDG_CONFIG_HOME` and `HOME` from the environment.
    #[must_use]
    pub(crate) fn from_env(flag: Option<PathBuf>) -> Self {
        let env_home = std::env::var_os("MAESTRO_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let user_config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .map(|c| c.join("maestro"));
        Self {
            explicit: flag.or(env_home),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            user_config,
        }
    }
}

impl Home {
    #[must_use]
    pub(crate) fn resolve(opts: &HomeOptions) -> Home {
        let mut layers = Vec::new();
        if let Some(dir) = &opts.explicit {
            layers.push(Layer::dir(Origin::Explicit, dir.clone()));
        }
        if let Some(dir) = project_dir(&opts.cwd) {
            layers.push(Layer::dir(Origin::Project, dir));
        }
        if let Some(dir) = opts.user_config.as_ref().filter(|d| d.is_dir()) {
            layers.push(Layer::dir(Origin::User, dir.clone()));
        }
        layers.push(Layer::builtin());
        Home {
            layers,
            reads: None,
            user_dir: opts.user_config.clone(),
        }
    }

    /// Only the defaults built into the binary.
    #[must_use]
    pub fn builtin() -> Home {
        Home {
            layers: vec![Layer::builtin()],
            reads: None,
            user_dir: None,
        }
    }

    /// A home that serves exactly `files` (relative paths → bytes), then nothing else: how a
    /// pinned workflow version is compiled again, independent of today's files.
    #[must_use]
    pub(crate) fn pinned(files: BTreeMap<String, Vec<u8>>) -> Home {
        Home {
            layers: vec![Layer {
                origin: Origin::Pinned,
                dir: None,
                files: Some(Arc::new(files)),
            }],
            reads: None,
            user_dir: None,
        }
    }

    /// This home, recording every asset found from now on.
    #[must_use]
    pub(crate) fn recording(&self) -> (Home, Arc<Mutex<Vec<Asset>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        (
            Home {
                layers: self.layers.clone(),
                reads: Some(log.clone()),
                user_dir: self.user_dir.clone(),
            },
            log,
        )
    }

    /// Every folder of this home a person keeps assets in, the user's config folder even
    /// before it exists: a file written in one changes what maestro runs, so these are
    /// control places (`workspace::confine::ControlPlaces`).
    #[must_use]
    pub(crate) fn control_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.layers.iter().filter_map(|l| l.dir.clone()).collect();
        dirs.extend(self.user_dir.clone());
        dirs
    }

    /// Puts a folder in front of every other layer (the home a workflow file sits in).
    pub fn push_front(&mut self, dir: PathBuf, origin: Origin) {
        if self.layers.iter().any(|l| l.dir.as_deref() == Some(&dir)) {
            return;
        }
        self.layers.insert(0, Layer::dir(origin, dir));
    }

    /// Finds an asset by name; the first layer that has it wins. A name that is not
    /// [`valid_name`] is found nowhere (no path is ever built from it).
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub(crate) fn find(&self, kind: Kind, name: &str) -> Result<Option<Asset>, Error> {
        if !valid_name(name) {
            return Ok(None);
        }
        let found = self.find_valid(kind, name)?;
        if let (Some(a), Some(log)) = (&found, &self.reads) {
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(a.clone());
        }
        Ok(found)
    }

    /// An asset's translation: `skills/<name>.<lang>.md` beside `skills/<name>.md`. Recorded
    /// like any read, so a pinned version keeps it.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub(crate) fn find_translation(
        &self,
        kind: Kind,
        name: &str,
        lang: &str,
    ) -> Result<Option<Asset>, Error> {
        if !valid_name(name) || !crate::syntax::keys::is_lang_code(lang) {
            return Ok(None);
        }
        let found = self.find_valid(kind, &format!("{name}.{lang}"))?;
        if let (Some(a), Some(log)) = (&found, &self.reads) {
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(a.clone());
        }
        Ok(found)
    }

    fn find_valid(&self, kind: Kind, name: &str) -> Result<Option<Asset>, Error> {
        for layer in &self.layers {
            for ext in kind.extensions() {
                let rel = format!("{}/{name}{ext}", kind.dir());
                if let Some(files) = &layer.files {
                    if let Some(bytes) = files.get(&rel) {
                        return Ok(Some(Asset {
                            kind,
                            name: name.to_string(),
                            display: format!("pinned:{rel}"),
                            bytes: bytes.clone(),
                            origin: layer.origin,
                        }));
                    }
                    continue;
                }
                match &layer.dir {
                    Some(dir) => {
                        let path = dir.join(&rel);
                        if path.is_file() {
                            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                            return Ok(Some(Asset {
                                kind,
                                name: name.to_string(),
                                display: path.display().to_string(),
                                bytes,
                                origin: layer.origin,
                            }));
                        }
                    }
                    None => {
                        if let Some((_, text)) = builtin::BUILTIN.iter().find(|(p, _)| *p == rel) {
                            return Ok(Some(Asset {
                                kind,
                                name: name.to_string(),
                                display: format!("builtin:{rel}"),
                                bytes: text.as_bytes().to_vec(),
                                origin: Origin::Builtin,
                            }));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Every asset name of a kind across all layers, sorted, each once.
    #[must_use]
    pub(crate) fn names(&self, kind: Kind) -> Vec<String> {
        let mut names = Vec::new();
        for layer in &self.layers {
            if let Some(files) = &layer.files {
                let prefix = format!("{}/", kind.dir());
                for p in files.keys() {
                    if let Some(file) = p.strip_prefix(&prefix)
                        && let Some(n) = strip_ext(kind, file)
                    {
                        names.push(n.to_string());
                    }
                }
                continue;
            }
            match &layer.dir {
                Some(dir) => {
                    if let Ok(entries) = std::fs::read_dir(dir.join(kind.dir())) {
                        for e in entries.filter_map(Result::ok) {
                            let file = e.file_name().to_string_lossy().into_owned();
                            if let Some(n) = strip_ext(kind, &file) {
                                names.push(n.to_string());
                            }
                        }
                    }
                }
                None => {
                    let prefix = format!("{}/", kind.dir());
                    for (p, _) in builtin::BUILTIN {
                        if let Some(file) = p.strip_prefix(&prefix)
                            && let Some(n) = strip_ext(kind, file)
                        {
                            names.push(n.to_string());
                        }
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

fn strip_ext(kind: Kind, file: &str) -> Option<&str> {
    kind.extensions()
        .iter()
        .find_map(|ext| file.strip_suffix(ext))
        .filter(|n| valid_name(n))
}

impl Layer {
    fn dir(origin: Origin, dir: PathBuf) -> Layer {
        Layer {
            origin,
            dir: Some(dir),
            files: None,
        }
    }

    fn builtin() -> Layer {
        Layer {
            origin: Origin::Builtin,
            dir: None,
            files: None,
        }
    }
}

/// The project's `.maestro/`: from `cwd` upward, stopping at the git root.
#[must_use]
pub(crate) fn project_dir(cwd: &Path) -> Option<PathBuf> {
    for dir in cwd.ancestors() {
        let candidate = dir.join(".maestro");
        if candidate.is_dir() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// Every built-in asset as (relative path, contents), for `maestro init`.
#[must_use]
pub(crate) fn builtin_files() -> &'static [(&'static str, &'static str)] {
    builtin::BUILTIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_searched_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("proj");
        std::fs::create_dir_all(project.join(".git")).unwrap();
        std::fs::create_dir_all(project.join(".maestro/roles")).unwrap();
        std::fs::write(project.join(".maestro/roles/judge.md.j2"), "mine").unwrap();
        let sub = project.join("src/deep");
        std::fs::create_dir_all(&sub).unwrap();
        let home = Home::resolve(&HomeOptions {
            cwd: sub,
            ..Default::default()
        });
        assert_eq!(home.layers[0].origin, Origin::Project);
        let judge = home.find(Kind::Role, "judge").unwrap().unwrap();
        assert_eq!(judge.bytes, b"mine");
        assert_eq!(judge.origin, Origin::Project);
        // not overridden: comes from the binary
        let skill = home
            .find(Kind::Skill, "stage1_example_analysis")
            .unwrap()
            .unwrap();
        assert_eq!(skill.origin, Origin::Builtin);
        assert!(home.find(Kind::Role, "nope").unwrap().is_none());
    }

    #[test]
    fn names_that_are_not_names_find_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("w/workflows")).unwrap();
        std::fs::write(tmp.path().join("w/x.kdl"), "secret").unwrap();
        let mut home = Home::builtin();
        home.push_front(tmp.path().join("w/workflows/sub"), Origin::Explicit);
        for bad in [
            "../x",
            "../../w/x",
            "a/b",
            "A",
            "",
            ".hidden",
            "x\0",
            &"a".repeat(65),
        ] {
            assert!(home.find(Kind::Workflow, bad).unwrap().is_none(), "{bad}");
        }
        assert!(valid_name("stage1_example-analysis"));
        // A translation's language is a language code, never a path piece.
        std::fs::create_dir_all(tmp.path().join("w/skills")).unwrap();
        std::fs::write(tmp.path().join("w/skills/m.ko.md"), "번역").unwrap();
        let mut home = Home::builtin();
        home.push_front(tmp.path().join("w"), Origin::Explicit);
        assert_eq!(
            home.find_translation(Kind::Skill, "m", "ko")
                .unwrap()
                .unwrap()
                .bytes,
            "번역".as_bytes()
        );
        for (name, lang) in [
            ("m", "../ko"),
            ("m", "k/o"),
            ("m", "KO"),
            ("../m", "ko"),
            ("m", ""),
        ] {
            assert!(
                home.find_translation(Kind::Skill, name, lang)
                    .unwrap()
                    .is_none(),
                "{name} {lang}"
            );
        }
        assert!(
            !home.names(Kind::Skill).iter().any(|n| n.contains('.')),
            "a translation is not a skill of its own"
        );
    }

    #[test]
    fn a_pinned_home_serves_its_files_and_records_reads() {
        let mut files = BTreeMap::new();
        files.insert("roles/judge.md.j2".to_string(), b"pinned judge".to_vec());
        let (home, log) = Home::pinned(files).recording();
        assert_eq!(
            home.find(Kind::Role, "judge").unwrap().unwrap().bytes,
            b"pinned judge"
        );
        assert!(home.find(Kind::Role, "example_analyst").unwrap().is_none());
        assert_eq!(home.names(Kind::Role), ["judge"]);
        assert_eq!(log.lock().unwrap().len(), 1);
    }

    #[test]
    fn project_search_stops_at_the_git_root() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".maestro")).unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        assert_eq!(project_dir(&repo), None);
        assert_eq!(project_dir(tmp.path()), Some(tmp.path().join(".maestro")));
    }
}
