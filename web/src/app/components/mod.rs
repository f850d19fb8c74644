//! Reusable parts of the pages.

mod actions;
mod decisions;
mod permitted;
mod problems;
mod staged;
mod tokens;
mod what_if;

pub use actions::ActionsPanel;
pub use problems::Problems;
pub use tokens::TokenPanel;
