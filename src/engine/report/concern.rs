//! Whether a person's answer to a critical question points at a problem, so that the report
//! flags it for whoever reads the approval later.
//!
//! The rule is the seed's: a critical answer that says no, error or issue (and their kin, in
//! English and Korean) is a concern. It is judged against its question, so that the all-clear
//! answers stay quiet:
//!
//! - an answer that is one of the question's options is that option: the first option is the
//!   all-clear (the convention every shipped workflow follows: "All correct", "Yes", "Ready")
//!   and is never flagged; another option is judged by its words;
//! - a problem word that is negated is no problem: "nothing missing", "no issues",
//!   "none are wrong", "문제 없음", "빠진 것 없음";
//! - a question that asks what is missing or wrong ("What did the analysis leave out?", "Is
//!   there a cause the hypotheses do not consider?") is answered with the all-clear by a plain
//!   "No" / "아니요": only what follows it is judged.
//!
//! Words, not meaning: "the fix is incomplete" goes unflagged and "only the empty input fails"
//! is flagged. A flag asks a reader to look; it never refuses a decision.

use std::sync::LazyLock;

use regex::Regex;

use crate::engine::model::QuestionView;
use crate::workflow::Priority;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the pattern is valid")
}

/// Words that point at a problem.
static PROBLEM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(no|not|error|errors|issue|issues|problem|problems|wrong|incorrect|fail|fails|failed|failing|failure|failures|broken|missing|bug|bugs)\b|아니|오류|에러|문제|실패|틀|누락|잘못|빠[진졌져]",
    )
});

/// Problem words said not to be there; removed before [`PROBLEM`] looks.
static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        // no problems, no known issues, without any errors, zero failures
        r"(?i)\b(no|not\s+any|without(\s+any)?|zero)\s+(\w+\s+){0,2}?(errors?|issues?|problems?|bugs?|failures?)\b",
        // nothing missing, nothing is wrong, none are broken, nothing seems obviously wrong
        r"|\b(nothing|none|nobody)('s)?\s+((is|was|are|were|seems|looks|appears|got)\s+)?(\w+\s+)?(missing|wrong|broken|incorrect|failing|failed|left\s+out)\b",
        // not wrong, not a problem
        r"|\bnot\s+(missing|wrong|broken|incorrect|failing|an?\s+(issue|problem|error|bug))\b",
        // missing: none
        r"|\b(missing|wrong|errors?|issues?|problems?)\s*:\s*(nothing|none)\b",
        // 문제 없음, 오류가 없습니다, 빠진 것 없음, 틀린 부분은 전혀 없어요, 문제 아님
        r"|(문제|오류|에러|이상|누락|실패|버그|(틀린|잘못된|빠진|빠뜨린|놓친)\s*(것|점|부분|곳|파일|내용)?)\s*(은|는|이|가|도)?\s*(전혀\s*|특별히\s*|딱히\s*)?(없|아님|아닙)",
    ))
});

/// A question that asks after something missing or wrong: "no" is its all-clear.
static ASKS_AFTER_TROUBLE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)\b(leave|leaves|left)\s+out\b|\bmiss(ing|ed)?\b|\boverlook|\bforg[eo]t",
        r"|\b(do|does|did)\s+not\s+(consider|cover|mention|include|address|account)|n't\s+(consider|cover|mention|include|address|account)",
        r"|\b(anything|something|what)\s+else\b|\b(anything|something)\s+(wrong|missing|off)\b",
        r"|\bany\s+(other\s+)?(problems?|issues?|concerns?|risks?|errors?|bugs?)\b",
        r"|빠진|빠뜨|놓친|누락|않은|그\s*밖에|그\s*외|다른\s*(원인|문제)",
    ))
});

/// A plain "no" opening an answer.
static PLAIN_NO: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^\W*(no|nope|not\s+that\s+i\s+know\s+of|not\s+really|not\s+at\s+all|아니요|아니오|아뇨|아니)(\b|$)",
    )
});

/// Whether `answer` to `q` is a concern the report flags: `q` is critical, and the answer
/// points at a problem (see the module's rules).
#[must_use]
pub(crate) fn concern(q: &QuestionView, answer: &str) -> bool {
    if q.priority != Priority::Critical {
        return false;
    }
    let answer = answer.trim();
    let chosen = q
        .options
        .iter()
        .position(|o| o.trim().eq_ignore_ascii_case(answer));
    if chosen == Some(0) {
        return false;
    }
    let said = NEGATED.replace_all(answer, " ");
    let said = if ASKS_AFTER_TROUBLE.is_match(&q.text) {
        PLAIN_NO.replace(&said, " ").into_owned()
    } else {
        said.into_owned()
    };
    PROBLEM.is_match(&said)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str, options: &[&str]) -> QuestionView {
        QuestionView {
            id: "q".into(),
            priority: Priority::Critical,
            text: text.into(),
            options: options.iter().map(|o| (*o).to_string()).collect(),
        }
    }

    // The shipped workflows' critical questions (workflows/default.kdl), in both languages.
    const LEFT_OUT: &str = "What did the analysis leave out that you know about?";
    const LEFT_OUT_KO: &str = "분석에서 빠진 것 중 알고 계신 것이 있나요?";
    const ACCURATE: &str = "Are the recorded observations correct?";
    const ACCURATE_KO: &str = "기록된 관찰 내용이 정확한가요?";
    const OTHER_CAUSE: &str = "Is there a cause the hypotheses do not consider?";
    const OTHER_CAUSE_KO: &str = "가설들이 고려하지 않은 원인이 있나요?";
    const AFFECTS: &str = "What else could this change affect?";
    const SMALL: &str = "Is the change as small as it can be?";
    const APPROACH: &str = "Is this the right way to make the change?";
    const MERGE: &str = "Is it ready to merge?";

    fn accuracy() -> QuestionView {
        q(ACCURATE, &["All correct", "Some are wrong", "Badly wrong"])
    }

    fn accuracy_ko() -> QuestionView {
        q(ACCURATE_KO, &["모두 정확함", "일부 틀림", "크게 틀림"])
    }

    #[test]
    fn all_clear_answers_are_not_flagged() {
        let free = |t: &str| q(t, &[]);
        for (question, answer) in [
            // The reported case: "nothing missing" to "what was left out?".
            (free(LEFT_OUT), "Nothing missing"),
            (free(LEFT_OUT), "nothing is missing"),
            (free(LEFT_OUT), "None"),
            (free(LEFT_OUT), "No"),
            (free(LEFT_OUT), "No, nothing."),
            (free(LEFT_OUT), "Nothing to add"),
            (free(LEFT_OUT), "missing: none"),
            (free(LEFT_OUT_KO), "없음"),
            (free(LEFT_OUT_KO), "빠진 것 없음"),
            (free(LEFT_OUT_KO), "아니요, 없습니다"),
            (free(OTHER_CAUSE), "No"),
            (free(OTHER_CAUSE), "Not that I know of"),
            (free(OTHER_CAUSE_KO), "아니요"),
            (free(AFFECTS), "Nothing else; no problems expected"),
            (free(AFFECTS), "the search ranking, no issues there"),
            (free(AFFECTS), "문제 없음"),
            (free(AFFECTS), "오류가 전혀 없습니다"),
            (free(SMALL), "Yes"),
            (free(SMALL), "know it well"),
            (free(SMALL), "note taken"),
            (accuracy(), "All correct"),
            (accuracy(), "all correct"),
            (accuracy(), "Not wrong, just terse"),
            (accuracy_ko(), "모두 정확함"),
            (accuracy_ko(), "네, 맞습니다"),
            (
                q(
                    APPROACH,
                    &["Yes", "Close, adjust it", "No, take another approach"],
                ),
                "Yes",
            ),
            (
                q(MERGE, &["Ready", "Minor changes first", "Not ready"]),
                "Ready",
            ),
            // The first option is the all-clear even where its words would say no.
            (
                q("Is anything missing?", &["No", "Yes, and I say what below"]),
                "No",
            ),
        ] {
            assert!(!concern(&question, answer), "{}: {answer}", question.text);
        }
    }

    #[test]
    fn answers_that_point_at_a_problem_are_flagged() {
        let free = |t: &str| q(t, &[]);
        for (question, answer) in [
            (free(LEFT_OUT), "The cache layer is missing"),
            (free(LEFT_OUT), "No, the cache is missing"),
            (
                free(LEFT_OUT),
                "No issues in parsing, but the cache is missing",
            ),
            (free(LEFT_OUT_KO), "캐시 계층이 빠졌습니다"),
            (free(LEFT_OUT_KO), "누락된 파일이 있음"),
            (free(OTHER_CAUSE), "Yes: the importer fails on new products"),
            (free(ACCURATE), "No"),
            (free(ACCURATE), "No, badly wrong"),
            (free(ACCURATE), "there is an error in step 2"),
            (free(ACCURATE), "one issue remains"),
            (free(ACCURATE_KO), "아니요"),
            (free(ACCURATE_KO), "오류가 있습니다"),
            (free(SMALL), "No"),
            (free(SMALL), "Not at all"),
            (accuracy(), "Some are wrong"),
            (accuracy(), "Badly wrong"),
            (accuracy_ko(), "크게 틀림"),
            (
                q(
                    APPROACH,
                    &["Yes", "Close, adjust it", "No, take another approach"],
                ),
                "No, take another approach",
            ),
            (
                q(MERGE, &["Ready", "Minor changes first", "Not ready"]),
                "Not ready",
            ),
        ] {
            assert!(concern(&question, answer), "{}: {answer}", question.text);
        }
    }

    #[test]
    fn only_critical_questions_are_judged() {
        let mut high = q(ACCURATE, &[]);
        high.priority = Priority::High;
        assert!(!concern(&high, "No, badly wrong"));
    }
}
