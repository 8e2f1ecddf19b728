//! Error correction and coordination: MAKER's red flags, first-to-ahead-by-k voting and
//! calibration; selection among candidates; Kim et al.'s coordination rules.
//! Pure logic over plain inputs: providers and the store are reached through closures and
//! slices the callers pass in.

pub mod calibrate;
pub mod coordinate;
pub mod redflag;
pub mod select;
pub mod steps;
pub mod vote;
