//! Reusable parts of the pages.

mod actions;
mod problems;
mod tokens;

pub use actions::ActionsPanel;
pub use problems::Problems;
pub use tokens::TokenPanel;
