//! MAKER's calibration (Meyerson et al. 2025, eq. 9–19): the vote margin k a target success
//! rate needs, and what it costs. Formulas are computed in log space (`exp_m1`, `ln_1p`) so
//! they stay accurate for millions of steps.

use serde::Serialize;

/// Why a calibration cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CalibrationError {
    #[error(
        "p = {0} is not above 0.5: a vote never converges when a wrong answer is as likely as the right one; decompose the step until p > 0.5"
    )]
    Diverges(String),
    #[error("target = {0} must be strictly between 0 and 1")]
    Target(String),
    #[error("{0}")]
    Input(String),
}

/// P(the vote is correct) with margin k, per-step success p (eq. 9–12; m cancels).
#[must_use]
pub(crate) fn p_sub(p: f64, k: u32) -> f64 {
    1.0 / (1.0 + ((1.0 - p) / p).powi(i32::try_from(k).unwrap_or(i32::MAX)))
}

/// P(the whole task succeeds): `p_sub^(s/m)` (eq. 13), via `ln_1p`.
#[must_use]
pub(crate) fn p_full(p: f64, k: u32, s: f64, m: f64) -> f64 {
    let r = ((1.0 - p) / p).powi(i32::try_from(k).unwrap_or(i32::MAX));
    (-(s / m) * r.ln_1p()).exp()
}

/// The smallest k reaching `target` over `s` steps of `m` (eq. 14).
///
/// # Errors
/// p ≤ 0.5 (no k converges), or a target outside (0, 1).
pub(crate) fn k_min(p: f64, target: f64, s: f64, m: f64) -> Result<u32, CalibrationError> {
    check(p, target)?;
    if s < 1.0 || m < 1.0 {
        return Err(CalibrationError::Input(
            "steps and steps-per-agent must be at least 1".into(),
        ));
    }
    if p >= 1.0 {
        return Ok(1);
    }
    // t^(-m/s) - 1, computed without cancellation for large s.
    let x = (-(m / s) * target.ln()).exp_m1();
    let k = (x.ln() / ((1.0 - p) / p).ln()).ceil();
    Ok(if k < 1.0 { 1 } else { k as u32 })
}

fn check(p: f64, target: f64) -> Result<(), CalibrationError> {
    if !(p > 0.5 && p <= 1.0) {
        return Err(CalibrationError::Diverges(p.to_string()));
    }
    if !(target > 0.0 && target < 1.0) {
        return Err(CalibrationError::Target(target.to_string()));
    }
    Ok(())
}

/// Expected samples per step for a vote with margin k (eq. 16, m = 1): `(2·k·p_sub − k)/(2p − 1)`.
#[must_use]
pub fn expected_samples(p: f64, k: u32) -> f64 {
    let k = f64::from(k);
    (2.0 * k * p_sub(p, k as u32) - k) / (2.0 * p - 1.0)
}

/// A calibration, as the `calibrate` tool reports it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Calibration {
    pub p: f64,
    pub target: f64,
    pub steps: f64,
    pub k_min: u32,
    /// P(one voted step is right).
    pub p_sub: f64,
    /// P(every step is right).
    pub p_full: f64,
    /// Expected valid samples per step (eq. 16).
    pub expected_samples_per_step: f64,
    /// Including red-flag discards (eq. 19): samples / v.
    pub expected_samples_total: f64,
    /// With `cost_per_sample`: the expected cost of the whole task.
    pub expected_cost: Option<f64>,
    /// The red-flag pass rate used (1 when not estimated).
    pub v: f64,
}

/// k_min and what it costs for `steps` steps at per-step success `p` (red-flag pass rate `v`).
///
/// # Errors
/// As [`k_min`].
pub(crate) fn calibrate(
    p: f64,
    target: f64,
    steps: f64,
    v: f64,
    cost_per_sample: Option<f64>,
) -> Result<Calibration, CalibrationError> {
    let k = k_min(p, target, steps, 1.0)?;
    let v = if v > 0.0 && v <= 1.0 { v } else { 1.0 };
    let per_step = expected_samples(p, k);
    let total = per_step * steps / v;
    Ok(Calibration {
        p,
        target,
        steps,
        k_min: k,
        p_sub: p_sub(p, k),
        p_full: p_full(p, k, steps, 1.0),
        expected_samples_per_step: per_step,
        expected_samples_total: total,
        expected_cost: cost_per_sample.map(|c| c * total),
        v,
    })
}

/// p and v estimated by sampling: `oracle` judges each valid candidate.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Estimate {
    pub samples: usize,
    pub valid: usize,
    pub correct: usize,
    pub p: f64,
    pub v: f64,
}

/// Estimates p (correct among valid) and v (valid among all) from samples.
#[must_use]
pub(crate) fn estimate(samples: &[Option<bool>]) -> Estimate {
    let valid = samples.iter().filter(|s| s.is_some()).count();
    let correct = samples.iter().filter(|s| **s == Some(true)).count();
    Estimate {
        samples: samples.len(),
        valid,
        correct,
        p: if valid == 0 {
            0.0
        } else {
            correct as f64 / valid as f64
        },
        v: if samples.is_empty() {
            0.0
        } else {
            valid as f64 / samples.len() as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANOI: f64 = 1_048_575.0;

    #[test]
    fn the_maker_table_k_min_column() {
        let one_minus_p = [
            0.3571, 0.0040, 0.0022, 0.0018, 0.1839, 0.0358, 0.2342, 0.0569, 0.0393,
        ];
        let expected = [29, 4, 3, 3, 12, 6, 15, 6, 6];
        for (q, k) in one_minus_p.iter().zip(expected) {
            assert_eq!(k_min(1.0 - q, 0.95, HANOI, 1.0).unwrap(), k, "1-p = {q}");
        }
    }

    #[test]
    fn the_other_test_vectors() {
        assert!((p_sub(0.9, 3) - 0.998_630_1).abs() < 5e-8);
        assert!((p_sub(0.99, 3) - 0.999_998_97).abs() < 5e-9);
        assert_eq!(k_min(0.99, 0.9, 1e6, 1.0).unwrap(), 4);
        assert_eq!(k_min(0.9, 0.9, 1e6, 1.0).unwrap(), 8);
        assert_eq!(k_min(0.99, 0.95, 1023.0, 1.0).unwrap(), 3);
        assert_eq!(k_min(0.85, 0.95, 1023.0, 1.0).unwrap(), 6);
        assert!((p_full(0.9978, 3, HANOI, 1.0) - 0.98882).abs() < 5e-5);
        assert!((expected_samples(0.9978, 3) - 3.01326).abs() < 5e-5);
    }

    #[test]
    fn impossible_inputs_are_errors() {
        assert!(matches!(
            k_min(0.5, 0.9, 10.0, 1.0),
            Err(CalibrationError::Diverges(_))
        ));
        assert!(matches!(
            k_min(0.4, 0.9, 10.0, 1.0),
            Err(CalibrationError::Diverges(_))
        ));
        assert!(matches!(
            k_min(0.9, 1.0, 10.0, 1.0),
            Err(CalibrationError::Target(_))
        ));
        assert!(matches!(
            k_min(0.9, 0.0, 10.0, 1.0),
            Err(CalibrationError::Target(_))
        ));
        let c = calibrate(0.9, 0.95, 100.0, 0.8, Some(0.01)).unwrap();
        assert!(
            (c.expected_samples_total - c.expected_samples_per_step * 100.0 / 0.8).abs() < 1e-9
        );
        let e = estimate(&[Some(true), Some(true), Some(false), None]);
        assert_eq!((e.valid, e.correct), (3, 2));
        assert!((e.p - 2.0 / 3.0).abs() < 1e-12 && (e.v - 0.75).abs() < 1e-12);
    }
}
