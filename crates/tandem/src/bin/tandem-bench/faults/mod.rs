//! The fault suite: correctness under failure, each check a row that fails the run.

pub mod check;
pub mod flapping;
pub mod hostile;
pub mod kill;
pub mod load;
pub mod outage;
