//! `maestro runs`, `maestro log`: what runs exist and how they got where they are.

use std::fmt::Write as _;

use std::io::{BufRead, IsTerminal};

use super::args::{LogArgs, RunsArgs, UpgradeArgs};
use super::{EXIT_OK, EXIT_USAGE, fail, print_err, print_out};
use crate::engine::library::Snapshot;
use crate::engine::{Engine, RunView};

pub(super) fn runs(args: &RunsArgs, engine: &Engine) -> i32 {
    if let Some(id) = &args.run {
        return match engine.status(id) {
            Ok(view) => {
                if args.json {
                    print_out(&format!("{}\n", to_json(&view)));
                } else {
                    print_out(&show(&view));
                }
                EXIT_OK
            }
            Err(f) => fail(&f),
        };
    }
    match engine.runs(!args.all) {
        Ok(list) => {
            if args.json {
                print_out(&format!("{}\n", to_json(&list)));
            } else if list.is_empty() {
                print_out(if args.all {
                    "no runs yet\n"
                } else {
                    "no active runs (--all lists finished ones)\n"
                });
            } else {
                let mut out = String::new();
                for r in &list {
                    let _ = writeln!(
                        out,
                        "{}  {:<9} {:<21} {:<14} {}",
                        r.run_id,
                        r.status.as_str(),
                        r.workflow_label(),
                        r.stage.as_deref().or(r.end.as_deref()).unwrap_or("-"),
                        one_line(&r.task, 60)
                    );
                }
                print_out(&out);
            }
            EXIT_OK
        }
        Err(f) => fail(&f),
    }
}

fn show(v: &RunView) -> String {
    let s = &v.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {}  ({}, workflow `{}`)",
        s.run_id,
        s.status.as_str(),
        s.workflow_label()
    );
    if let Some(v) = &v.newer_version {
        let _ = writeln!(
            out,
            "the workflow file has changed since (now {}): `maestro upgrade {}` shows what changed and moves the run",
            crate::engine::library::Snapshot::short(v),
            s.run_id
        );
    }
    let _ = writeln!(out, "task: {}", s.task);
    match (&s.stage, &s.end) {
        (Some(stage), _) => {
            let _ = writeln!(
                out,
                "stage: {stage} — {} (visit {}{})",
                v.title.as_deref().unwrap_or(stage),
                s.visit,
                v.max_visits.map(|m| format!(" of {m}")).unwrap_or_default()
            );
        }
        (None, Some(end)) => {
            let _ = writeln!(out, "ended: {end}");
        }
        _ => {}
    }
    if let Some(note) = &v.note {
        let _ = writeln!(out, "note: {note}");
    }
    let b = &v.budget;
    let _ = writeln!(
        out,
        "consults: {} used, {} left in run, {} left in this visit",
        b.consults_used,
        b.consults_left_run
            .map_or("unlimited".into(), |n| n.to_string()),
        b.consults_left_visit
            .map_or("unlimited".into(), |n| n.to_string())
    );
    if let Some(a) = &v.approval {
        let _ = writeln!(
            out,
            "waiting for approval {} (by {}): maestro approve {}",
            a.approval_id,
            a.by.as_str(),
            a.approval_id
        );
    }
    for p in &v.workflow_problems {
        let _ = writeln!(
            out,
            "workflow edit refused: {}:{}:{} {} {}",
            p.file, p.line, p.column, p.rule, p.message
        );
    }
    out.push_str("history:\n");
    for h in &v.history {
        let (kind, data) = kind_and_data(&h.event);
        let _ = writeln!(out, "  {kind} {data}");
    }
    out
}

pub(super) fn log(args: &LogArgs, engine: &Engine) -> i32 {
    match engine.log(&args.run) {
        Ok(events) => {
            let mut out = String::new();
            for e in &events {
                if args.jsonl {
                    let _ = writeln!(out, "{}", to_json(e));
                } else {
                    let (kind, data) = kind_and_data(&e.event);
                    let _ = writeln!(out, "{:>5} {} {kind:<20} {data}", e.seq, e.at);
                }
            }
            print_out(&out);
            EXIT_OK
        }
        Err(f) => fail(&f),
    }
}

/// `maestro upgrade RUN`: show what moving the run to the current version changes, then
/// move it when the person agrees (at a terminal) or passed `--yes`.
pub(super) fn upgrade(args: &UpgradeArgs, engine: &Engine) -> i32 {
    let preview = match engine.upgrade_preview(&args.run) {
        Ok(p) => p,
        Err(f) => return fail(&f),
    };
    if preview.from == preview.to {
        print_out(&format!(
            "run {} already uses the current version of `{}` ({})\n",
            preview.run_id,
            preview.workflow,
            Snapshot::short(&preview.to)
        ));
        return EXIT_OK;
    }
    let mut text = format!(
        "run {} uses `{}`@{}; the current file is @{}. Moving it changes:\n",
        preview.run_id,
        preview.workflow,
        Snapshot::short(&preview.from),
        Snapshot::short(&preview.to)
    );
    // Each change prints as the audit trail records it (`Change::summary`), so the terminal
    // and `maestro log` never say different things.
    for c in &preview.changes {
        let _ = writeln!(text, "  {c}");
    }
    let loosening = preview
        .diff
        .iter()
        .filter(|c| c.effect == crate::engine::ops::upgrade::Effect::Loosens)
        .count();
    if loosening > 0 {
        let _ = writeln!(
            text,
            "{loosening} of these loosen your control over the run (marked `!`): read them before moving it."
        );
    }
    if !args.json {
        print_out(&text);
    }
    let agreed = args.yes
        || {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                print_err("move the run to the current version? [y/N] ");
                let mut line = String::new();
                let _ = stdin.lock().read_line(&mut line);
                matches!(line.trim(), "y" | "Y" | "yes")
            } else {
                print_err(
                    "error: not moved: confirm at a terminal, or pass --yes after reading the changes\n",
                );
                if args.json {
                    print_out(&format!("{}\n", to_json(&preview)));
                }
                return EXIT_USAGE;
            }
        };
    if !agreed {
        print_err("not moved\n");
        return EXIT_OK;
    }
    match engine.upgrade(&args.run, &preview.to) {
        Ok(u) => {
            if args.json {
                print_out(&format!("{}\n", to_json(&u)));
            } else {
                print_out(&format!(
                    "run {} now uses `{}`\n",
                    u.run.run_id,
                    u.run.workflow_label()
                ));
            }
            EXIT_OK
        }
        Err(f) => fail(&f),
    }
}

/// An event's tag and content, as `maestro log` prints them.
fn kind_and_data(e: &crate::engine::RunEvent) -> (String, serde_json::Value) {
    let v = serde_json::to_value(e).unwrap_or_default();
    (
        v["kind"].as_str().unwrap_or_default().to_string(),
        v.get("data").cloned().unwrap_or_default(),
    )
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

pub(super) fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM UTC` (Howard Hinnant's civil-from-days).
pub(super) fn when(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod when_tests {
    #[test]
    fn epoch_milliseconds_read_as_utc_dates() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        // 2026-11-26 17:29:07 UTC
        assert_eq!(super::when(1_795_714_147_000), "2026-11-26 17:29 UTC");
        assert_eq!(super::when(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
