//! The panel's views. Each takes the `App` and reads its signals; none holds state of its own beyond
//! DOM references.

pub mod composer;
pub mod continue_on;
pub mod header;
pub mod message;
pub mod status;
pub mod thread;
