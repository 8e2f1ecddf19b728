//! The workspace: what maestro hands to providers and keeps, kept free of secrets.
//! (Context packing, patches, verification and evidence come with the workspace issue.)

pub mod backup;
pub mod context;
pub mod diff;
pub mod mask;
pub mod patch;
pub mod verify;
