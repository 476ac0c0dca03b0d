//! One module per subcommand: argument parsing, then a call into the crates.

pub mod sim;
