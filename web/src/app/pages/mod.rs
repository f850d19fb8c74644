//! The pages: home (sign-in, or the signed-in view) and the sign-in callback.

mod callback;
mod home;

pub use callback::Callback;
pub use home::Home;
