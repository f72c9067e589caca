//! Layout files: the YAML format, its validation into a typed model, and diagnostics.
pub mod model;
pub use model::*;
