//! The benchmarks: each measures against a bound or a peer within one run.

pub mod live;
pub mod memory;
pub mod reaction;
pub mod scan;
pub mod store;
pub mod wire;
pub mod write;

/// What every part returns: its rows of the table.
pub type PartFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<Vec<crate::report::Row>>>>>;
