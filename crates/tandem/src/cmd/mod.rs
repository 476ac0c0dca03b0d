//! One module per subcommand: argument parsing, then a call into the crates.

pub mod audit;
pub mod client;
pub mod config;
pub mod context;
pub mod demo;
pub mod presets;
pub mod serve;
pub mod sim;
pub mod sync;
pub mod users;
