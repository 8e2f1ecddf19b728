//! Error correction and coordination: MAKER's red flags, first-to-ahead-by-k voting and
//! calibration; selection among candidates; Kim et al.'s coordination rules.
//! Pure logic over plain inputs: providers and the store are reached through closures and
//! slices the callers pass in.

pub(crate) mod calibrate;
pub(crate) mod coordinate;
pub(crate) mod degradation;
pub(crate) mod redflag;
pub(crate) mod select;
pub(crate) mod steps;
pub(crate) mod vote;
