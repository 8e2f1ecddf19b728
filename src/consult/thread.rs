//! Replaying a thread's earlier turns into a follow-up's prompt, within a character budget:
//! whole while they fit; past the budget the oldest turns are summarised first (their opening
//! lines, with a pointer to the whole text), then dropped, and only then is the newest cut.

use std::fmt::Write as _;

use serde::Serialize;

use crate::engine::threads::Turn;

/// How the earlier turns went into the prompt.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub(crate) struct Replay {
    /// Turns replayed whole.
    pub whole: Vec<u32>,
    /// Turns replayed as a summary, oldest first.
    pub summarised: Vec<u32>,
    /// Turns left out (too old for the budget).
    pub dropped: Vec<u32>,
    /// The newest turn had to be cut to fit.
    pub cut: bool,
}

impl Replay {
    /// One line for the tool result, e.g. "replayed turns 1–2 (1 summarised)".
    #[must_use]
    pub(crate) fn line(&self) -> String {
        let n = self.whole.len() + self.summarised.len();
        let mut s = format!("replayed {n} earlier turn(s)");
        if !self.summarised.is_empty() {
            let _ = write!(s, ", {} summarised", self.summarised.len());
        }
        if !self.dropped.is_empty() {
            let _ = write!(s, ", {} left out", self.dropped.len());
        }
        if self.cut {
            s.push_str(", the last one cut");
        }
        s
    }
}

/// Characters of a summarised turn's question and answer.
const SUMMARY_QUESTION: usize = 300;
const SUMMARY_ANSWER: usize = 700;

fn head(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n).collect();
    out.push_str(" […]");
    out
}

fn whole(t: &Turn) -> String {
    format!(
        "### Turn {n}: the question\n{q}\n{packed}\n### Turn {n}: your answer\n{a}\n\n",
        n = t.turn,
        q = t.question.trim_end(),
        packed = t
            .packed
            .as_ref()
            .map(|p| format!("(with it: {p})\n"))
            .unwrap_or_default(),
        a = t.answer.trim_end(),
    )
}

fn summary(t: &Turn) -> String {
    format!(
        "### Turn {n} (summarised; whole text: maestro://consults/{id})\nAsked: {q}\nYou answered: {a}\n\n",
        n = t.turn,
        id = t.id,
        q = head(t.question.trim(), SUMMARY_QUESTION),
        a = head(t.answer.trim(), SUMMARY_ANSWER),
    )
}

fn cut(t: &Turn, budget: usize) -> String {
    let text = whole(t);
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= budget {
        return text;
    }
    let keep_head = budget * 2 / 3;
    let keep_tail = budget.saturating_sub(keep_head + 60);
    let mut out: String = chars[..keep_head].iter().collect();
    let _ = write!(
        out,
        "\n[… {} characters cut to fit …]\n",
        chars.len() - keep_head - keep_tail
    );
    out.extend(&chars[chars.len() - keep_tail..]);
    out.push('\n');
    out
}

const HEADING: &str = "## The conversation so far\n\
    You are continuing a conversation with the same person. Earlier turns follow, oldest first.\n\n";

/// The earlier turns as prompt text within `budget` characters, and how they were fitted.
#[must_use]
pub(crate) fn replay(turns: &[Turn], budget: usize) -> (String, Replay) {
    if turns.is_empty() {
        return (String::new(), Replay::default());
    }
    let budget = budget.saturating_sub(HEADING.len());
    let whole_texts: Vec<String> = turns.iter().map(whole).collect();
    let sizes: Vec<usize> = whole_texts.iter().map(|t| t.chars().count()).collect();
    // The form of each turn: 0 dropped, 1 summarised, 2 whole. Start whole; degrade the
    // oldest first until the total fits.
    let mut form = vec![2u8; turns.len()];
    let summaries: Vec<String> = turns.iter().map(summary).collect();
    let size = |form: &[u8]| -> usize {
        form.iter()
            .enumerate()
            .map(|(i, f)| match f {
                2 => sizes[i],
                1 => summaries[i].chars().count(),
                _ => 0,
            })
            .sum::<usize>()
            + 60
    };
    let last = turns.len() - 1;
    for i in 0..last {
        if size(&form) <= budget {
            break;
        }
        form[i] = 1;
    }
    for i in 0..last {
        if size(&form) <= budget {
            break;
        }
        form[i] = 0;
    }
    let mut report = Replay::default();
    let mut text = String::from(HEADING);
    let dropped: Vec<u32> = (0..last)
        .filter(|&i| form[i] == 0)
        .map(|i| turns[i].turn)
        .collect();
    if let (Some(first), Some(end)) = (dropped.first(), dropped.last()) {
        let _ = writeln!(
            text,
            "[turns {first}–{end} are left out for length; `maestro threads` shows them]\n"
        );
    }
    report.dropped = dropped;
    for (i, t) in turns.iter().enumerate() {
        match form[i] {
            2 if i == last => {
                let room = budget.saturating_sub(size(&form) - sizes[i]);
                if sizes[i] > room {
                    report.cut = true;
                    text.push_str(&cut(t, room.max(200)));
                } else {
                    text.push_str(&whole_texts[i]);
                }
                report.whole.push(t.turn);
            }
            2 => {
                text.push_str(&whole_texts[i]);
                report.whole.push(t.turn);
            }
            1 => {
                text.push_str(&summaries[i]);
                report.summarised.push(t.turn);
            }
            _ => {}
        }
    }
    (text, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(n: u32, q: &str, a: &str) -> Turn {
        Turn {
            id: format!("c-{n}"),
            thread_id: "th".into(),
            turn: n,
            run_id: None,
            provider: "codex".into(),
            model: "m".into(),
            role: None,
            question: q.into(),
            packed: None,
            answer: a.into(),
            session: None,
            warnings: Vec::new(),
            at: 0,
        }
    }

    #[test]
    fn turns_that_fit_are_replayed_whole_in_order() {
        let turns = [turn(1, "Q1", "A1"), turn(2, "Q2", "A2")];
        let (text, r) = replay(&turns, 10_000);
        assert!(text.find("Q1").unwrap() < text.find("A1").unwrap());
        assert!(text.find("A1").unwrap() < text.find("Q2").unwrap());
        assert_eq!(r.whole, [1, 2]);
        assert!(r.summarised.is_empty() && r.dropped.is_empty() && !r.cut);
    }

    #[test]
    fn past_the_budget_the_oldest_is_summarised_first_then_dropped() {
        let big = "x".repeat(5_000);
        let turns = [
            turn(1, "first question", &format!("OLDEST {big}")),
            turn(2, "second question", &format!("MIDDLE {big}")),
            turn(3, "third question", &format!("NEWEST {big}")),
        ];
        let (text, r) = replay(&turns, 12_000);
        assert_eq!(r.summarised, [1], "{r:?}");
        assert_eq!(r.whole, [2, 3]);
        assert!(text.contains("maestro://consults/c-1"));
        assert!(text.chars().count() <= 12_000, "{}", text.chars().count());
        assert!(
            text.contains(&format!("NEWEST {big}")),
            "the newest stays whole"
        );

        let (text, r) = replay(&turns, 7_000);
        assert_eq!(r.summarised.len() + r.dropped.len(), 2, "{r:?}");
        assert!(text.contains(&format!("NEWEST {big}")));
        assert!(text.chars().count() <= 7_000);

        let (text, r) = replay(&turns, 2_000);
        assert!(r.cut && r.dropped == [1, 2], "{r:?}");
        assert!(text.contains("characters cut to fit"));
        assert!(text.chars().count() <= 2_200, "{}", text.chars().count());
    }
}
