//! The configuration that switches off every program a git configuration names under a name of
//! its own choosing: `git config --list -z` (every file, includes followed) → the settings that
//! empty each of them, given back to git at command-line level, which every config file
//! loses to.
//!
//! Only keys whose middle part (the "subsection") is open-ended need listing: a single key such
//! as `core.fsmonitor` is overridden without looking (`git.rs`). Of those, the ones a diff can
//! reach are the filter drivers (`filter.<x>.clean|smudge|process`, run on the working tree's
//! files); `credential.<url>.helper` is emptied as well, though only a fetch would ask for a
//! credential and every transport is refused.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;

/// Filter drivers (or credential URLs) a configuration may name before the diff is refused:
/// real ones have a few (git-lfs, nbstripout); tens of thousands would make git's environment
/// too large to start.
pub(super) const MAX_DRIVERS: usize = 1000;

/// A configuration that names more than [`MAX_DRIVERS`] filter drivers or credential URLs.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TooMany(pub(super) usize);

/// The `(key, value)` settings that switch off every filter driver and credential helper
/// named in `list`, the output of `git config --list -z`. Keys are bytes, as git wrote them:
/// a subsection need not be UTF-8, and the environment carries it as it is.
///
/// Git runs a filter only when its command is not empty (`convert.c`: `if (cmd && *cmd)`, and
/// the same for `process`), so an empty `clean`, `smudge` and `process` mean "no filter", and
/// `required = false` keeps the missing filter from failing the diff. An empty `helper` clears
/// the helpers listed before it (`credential.c`).
pub(super) fn overrides(list: &[u8]) -> Result<Vec<(OsString, OsString)>, TooMany> {
    let mut filters = BTreeSet::new();
    let mut helpers = BTreeSet::new();
    for entry in list.split(|b| *b == 0) {
        // Each entry is `key` or `key\nvalue`; a key never holds a newline.
        let key = entry.split(|b| *b == b'\n').next().unwrap_or_default();
        // `section.subsection.variable`: the section ends at the first dot, the variable
        // starts after the last; the subsection between may hold dots, `=` and anything else.
        let (Some(section_end), Some(variable_start)) = (
            key.iter().position(|b| *b == b'.'),
            key.iter().rposition(|b| *b == b'.'),
        ) else {
            continue;
        };
        if section_end == variable_start {
            continue;
        }
        let subsection = &key[section_end + 1..variable_start];
        // `git config --list` prints section and variable names in lower case; the subsection
        // keeps its case, as git matches it.
        match (&key[..section_end], &key[variable_start + 1..]) {
            (b"filter", b"clean" | b"smudge" | b"process" | b"required") => {
                filters.insert(subsection);
            }
            (b"credential", b"helper") => {
                helpers.insert(subsection);
            }
            _ => {}
        }
    }
    if let Some(n) = [filters.len(), helpers.len()]
        .into_iter()
        .find(|n| *n > MAX_DRIVERS)
    {
        return Err(TooMany(n));
    }
    let setting = |section: &str, name: &[u8], variable: &str, value: &str| {
        let mut key = format!("{section}.").into_bytes();
        key.extend_from_slice(name);
        key.extend_from_slice(format!(".{variable}").as_bytes());
        (OsString::from_vec(key), OsString::from(value))
    };
    let mut out = Vec::with_capacity(filters.len() * 4 + helpers.len());
    for name in filters {
        for variable in ["clean", "smudge", "process"] {
            out.push(setting("filter", name, variable, ""));
        }
        out.push(setting("filter", name, "required", "false"));
    }
    for url in helpers {
        out.push(setting("credential", url, "helper", ""));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &str) -> Vec<String> {
        overrides(list.as_bytes())
            .unwrap()
            .into_iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect()
    }

    #[test]
    fn every_filter_driver_is_emptied_whatever_its_name() {
        let list = "core.bare\nfalse\0filter.lfs.process\ngit-lfs filter-process\0\
                    filter.lfs.required\ntrue\0filter.a=b.c.clean\n/tmp/evil\0\
                    filter.Up.smudge\nx\nwith a newline in the value\0filter.Up.clean\0";
        assert_eq!(
            keys(list),
            [
                "filter.Up.clean=",
                "filter.Up.smudge=",
                "filter.Up.process=",
                "filter.Up.required=false",
                "filter.a=b.c.clean=",
                "filter.a=b.c.smudge=",
                "filter.a=b.c.process=",
                "filter.a=b.c.required=false",
                "filter.lfs.clean=",
                "filter.lfs.smudge=",
                "filter.lfs.process=",
                "filter.lfs.required=false",
            ]
        );
    }

    #[test]
    fn url_credential_helpers_are_emptied_and_other_keys_left_alone() {
        let list = "credential.https://example.com.helper\n!evil\0credential.helper\nstore\0\
                    diff.x.textconv\nevil\0remote.origin.url\next::sh\0filter\0filter.x\0";
        assert_eq!(keys(list), ["credential.https://example.com.helper="]);
    }

    #[test]
    fn too_many_drivers_refuse_the_list_and_names_stay_bytes() {
        let many: Vec<u8> = (0..=MAX_DRIVERS)
            .flat_map(|i| format!("filter.f{i}.clean\nx\0").into_bytes())
            .collect();
        assert_eq!(overrides(&many), Err(TooMany(MAX_DRIVERS + 1)));
        let odd = overrides(b"filter.\xff.clean\nx\0").unwrap();
        assert_eq!(odd[0].0.as_encoded_bytes(), b"filter.\xff.clean");
        assert_eq!(overrides(b"user.\xff.name\nx\0"), Ok(Vec::new()));
    }
}
