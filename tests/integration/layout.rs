//! The start-up layout (`link/startup.ld`, `build.rs` `startup_layout`, docs/architecture.md
//! "Start-up"): the list has the shape the linker and the generator promise, and the binary
//! under test was laid out by it wherever the build could.

const SCRIPT: &str = include_str!("../../link/startup.ld");

/// Where the list is meant to work (build.rs, `startup_layout`).
const LISTED_PLATFORM: bool = cfg!(all(
    target_arch = "x86_64",
    target_os = "linux",
    target_env = "gnu"
));

/// The lists of section patterns, one per group, in order.
fn groups() -> Vec<Vec<&'static str>> {
    let mut groups = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in SCRIPT.lines().map(str::trim) {
        match line {
            "*(" => current = Some(Vec::new()),
            ")" => groups.extend(current.take()),
            _ => {
                if let Some(list) = current.as_mut() {
                    list.push(line);
                }
            }
        }
    }
    groups
}

#[test]
fn the_list_is_three_groups_of_single_word_patterns_inserted_before_the_code() {
    assert!(
        SCRIPT.contains("SECTIONS {\n  .text.hot : {"),
        "the list must define the .text.hot output section"
    );
    assert!(
        SCRIPT.trim_end().ends_with("} INSERT BEFORE .text;"),
        "the list must add to the default layout (INSERT), not replace it"
    );
    let groups = groups();
    assert_eq!(groups.len(), 3, "tool list, catalogue, hook");
    let mut seen = std::collections::HashSet::new();
    for (i, group) in groups.iter().enumerate() {
        assert!(!group.is_empty(), "group {} is empty", i + 1);
        for pattern in group {
            let name = pattern
                .strip_prefix(".text.")
                .unwrap_or_else(|| panic!("`{pattern}` is not a .text section pattern"));
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$' | '*')),
                "`{pattern}` is not one word of the linker script"
            );
            assert!(seen.insert(*pattern), "`{pattern}` is listed twice");
            // A crate hash left in a name ties the list to one build.
            if name.starts_with("_R") {
                let mut rest = name;
                while let Some(at) = rest.find("Cs") {
                    rest = &rest[at + 2..];
                    let hash: String = rest
                        .chars()
                        .take_while(char::is_ascii_alphanumeric)
                        .collect();
                    assert!(
                        hash.is_empty() || !rest[hash.len()..].starts_with('_'),
                        "`{pattern}` keeps the crate hash `Cs{hash}_`"
                    );
                }
            }
        }
    }
    assert!(
        seen.len() > 1000,
        "only {} functions: was the list made from a whole start?",
        seen.len()
    );
}

/// The section-header flag of a section that holds code.
const SHF_EXECINSTR: u64 = 0x4;

/// One section header of an ELF file: name, flags, address, size.
struct Section {
    name: String,
    flags: u64,
    addr: u64,
    size: u64,
}

fn sections(elf: &[u8]) -> Vec<Section> {
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().expect("2 bytes"));
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().expect("8 bytes"));
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    let shoff = usize::try_from(u64_at(0x28)).expect("offset");
    let entsize = usize::from(u16_at(0x3A));
    let count = usize::from(u16_at(0x3C));
    let names = shoff + entsize * usize::from(u16_at(0x3E));
    let names = usize::try_from(u64_at(names + 0x18)).expect("offset");
    (0..count)
        .map(|i| {
            let at = shoff + entsize * i;
            let name = names + u32_at(at) as usize;
            let end = elf[name..].iter().position(|&b| b == 0).expect("name") + name;
            Section {
                name: String::from_utf8_lossy(&elf[name..end]).into_owned(),
                flags: u64_at(at + 8),
                addr: u64_at(at + 0x10),
                size: u64_at(at + 0x20),
            }
        })
        .collect()
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a debug build keeps the compiler's layout: `cargo test --release` checks it"
)]
fn the_binary_under_test_starts_with_its_start_up_code() {
    let how = env!("MAESTRO_BUILT_LAYOUT");
    if how != "startup" {
        // Where the list is meant to work, only a debug build goes without it.
        assert!(
            !(LISTED_PLATFORM && std::env::var_os("CI").is_some() && !how.contains("debug build")),
            "the build did not lay out the start-up code: {how}"
        );
        eprintln!("skipped: this build has the {how} layout");
        return;
    }
    let elf = std::fs::read(env!("CARGO_BIN_EXE_maestro")).expect("read the maestro binary");
    let sections = sections(&elf);
    let find = |name: &str| {
        sections
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} section in the binary"))
    };
    let hot = find(".text.hot");
    let text = find(".text");
    assert!(hot.flags & SHF_EXECINSTR != 0, ".text.hot is not code");
    assert!(hot.addr < text.addr, ".text.hot must come before .text");
    // The list names ~6,000 functions, ~2.8 MiB of a release build. Far less means the names
    // stopped matching.
    assert!(
        hot.size > 512 * 1024,
        ".text.hot holds only {} bytes: the list no longer matches the code's names",
        hot.size
    );
}

/// Tests run a debug build, which keeps the compiler's layout; this links a small program with
/// the list the way a release build of maestro is linked, so that a list the linker refuses, or
/// one whose standard-library names no longer match, fails here rather than in `cargo install`.
#[test]
#[cfg_attr(
    not(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu")),
    ignore = "the list is used only on x86_64 Linux with glibc"
)]
fn the_linker_takes_the_list_and_it_matches_the_standard_library() {
    if !LISTED_PLATFORM {
        eprintln!("skipped: the list is used only on x86_64 Linux with glibc");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("hello.rs");
    std::fs::write(&source, "fn main() { println!(\"hello\"); }\n").expect("write");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/link/startup.ld");
    let binary = dir.path().join("hello");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let built = std::process::Command::new(&rustc)
        .args([
            "--edition",
            "2024",
            "-C",
            "symbol-mangling-version=v0",
            "-C",
        ])
        .arg(format!("link-arg=-Wl,-T,{script}"))
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output();
    let built = match built {
        Ok(out) => out,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: rustc did not run ({e})");
            return;
        }
        Err(e) => panic!("rustc did not run: {e}"),
    };
    assert!(
        built.status.success(),
        "the linker refused link/startup.ld:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let ran = std::process::Command::new(&binary).output().expect("run");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "hello\n");
    let elf = std::fs::read(&binary).expect("read");
    let hot = sections(&elf)
        .into_iter()
        .find(|s| s.name == ".text.hot")
        .expect(
            "no standard-library function of the list matched: are its crate hashes wildcards?",
        );
    assert!(hot.size > 0);
}
