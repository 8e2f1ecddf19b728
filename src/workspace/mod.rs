//! The workspace: what maestro hands to providers and keeps, kept free of secrets.
//!
//! Every path a tool writes (patch, restore) or context packing reads is decided in one
//! place, `confine.rs`; every text that leaves maestro or is stored goes through `mask.rs`.
//! `diff.rs` parses, `patch.rs` plans (writes nothing), `backup.rs` backs up, writes and
//! restores, `context.rs` packs (with `gitdiff/`, a git diff and its surroundings), `verify.rs` runs the
//! configured checks and `signature.rs` names what a failing one failed with.

pub(crate) mod backup;
pub(crate) mod confine;
pub(crate) mod context;
pub(crate) mod diff;
pub(crate) mod gitdiff;
pub(crate) mod mask;
pub(crate) mod patch;
mod secret_rules;
pub(crate) mod signature;
pub(crate) mod verify;
