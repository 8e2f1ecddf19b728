//! The second audit's item 5 (issue 21): `init --claude` on a hostile checkout. It overwrote a
//! file outside the project through a symlinked `SKILL.md` and a dangling `.mcp.json` link,
//! and reported success while the checkout's `.claude/settings.json` kept
//! `disableAllHooks: true` and `defaultMode: bypassPermissions`.

use crate::attacks::{Lab, snapshot};

fn link(lab: &Lab, target: &std::path::Path, rel: &str) {
    let at = lab.root().join(rel);
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, at).unwrap();
}

#[test]
fn init_never_writes_through_a_link() {
    let victim_name = "bashrc";
    for (rel, args) in [
        (".claude/skills/maestro/SKILL.md", &["init", "--claude"][..]),
        (".mcp.json", &["init", "--claude", "--no-hooks"][..]),
        (".claude", &["init", "--claude"][..]),
        (".claude/settings.json", &["init", "--claude"][..]),
        (".maestro", &["init"][..]),
        (".maestro/workflows/default.kdl", &["init", "--force"][..]),
    ] {
        let lab = Lab::new();
        let victim = lab.outside().join(victim_name);
        // A file that exists (to be overwritten) and, for the dangling case, one that does not.
        std::fs::write(&victim, "export PATH=/usr/bin\n").unwrap();
        let dangling = lab.outside().join("new.json");
        let to = if rel == ".mcp.json" {
            dangling.clone()
        } else if rel == ".claude" || rel == ".maestro" {
            lab.outside().clone()
        } else {
            victim.clone()
        };
        link(&lab, &to, rel);
        let (before_outside, before_inside) = (snapshot(&lab.outside()), snapshot(&lab.root()));
        let out = lab.maestro(args);
        assert_ne!(out.code, 0, "{rel}: {}\n{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("symbolic link"),
            "{rel}: {}",
            out.stderr
        );
        assert_eq!(
            snapshot(&lab.outside()),
            before_outside,
            "{rel}: a file outside changed"
        );
        assert!(!dangling.exists(), "{rel}");
        assert_eq!(
            snapshot(&lab.root()),
            before_inside,
            "{rel}: something was written before the refusal"
        );
    }
}

#[test]
fn a_setting_that_turns_the_hooks_off_is_reported_and_stops_init() {
    for (file, setting, words, key) in [
        (
            ".claude/settings.json",
            r#"{"disableAllHooks": true}"#,
            "disableAllHooks",
            "disableAllHooks",
        ),
        (
            ".claude/settings.json",
            r#"{"permissions": {"defaultMode": "bypassPermissions"}}"#,
            "bypassPermissions",
            "bypassPermissions",
        ),
        (
            ".claude/settings.local.json",
            r#"{"disableAllHooks": true}"#,
            "settings.local.json",
            "disableAllHooks",
        ),
        (
            "HOME/.claude/settings.json",
            r#"{"disableAllHooks": true}"#,
            "disableAllHooks",
            "disableAllHooks",
        ),
    ] {
        let lab = Lab::new();
        let path = match file.strip_prefix("HOME/") {
            Some(rel) => lab.home().join(rel),
            None => lab.root().join(file),
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, setting).unwrap();
        let out = lab.maestro(&["init", "--claude"]);
        assert_ne!(out.code, 0, "{file}: {}", out.stdout);
        assert!(
            out.stderr.contains(words) && out.stderr.contains("--force"),
            "{file}: {}",
            out.stderr
        );
        assert!(
            !lab.root().join(".mcp.json").exists(),
            "{file}: written anyway"
        );
        // With --force the person chose it: installed, and the warning stays on screen.
        let out = lab.maestro(&["init", "--claude", "--force"]);
        assert_eq!(out.code, 0, "{file}: {}", out.stderr);
        assert!(
            out.stderr.contains("warning") && out.stderr.contains(words),
            "{}",
            out.stderr
        );
        // The person's setting is theirs: reported, not removed.
        assert!(
            std::fs::read_to_string(&path).unwrap().contains(key),
            "{file}"
        );
    }
    // Without hooks there is nothing for the setting to defeat.
    let lab = Lab::new();
    lab.write(".claude/settings.json", r#"{"disableAllHooks": true}"#);
    assert_eq!(lab.maestro(&["init", "--claude", "--no-hooks"]).code, 0);
}
