//! Advice: from a workload and a catalog to index proposals (new indexes,
//! drops, foreign keys), validated by the planner where a server is at hand.

pub mod analyze;
pub mod candidate;
pub mod extract;
pub mod hygiene;
pub mod naming;
pub mod offline;
pub mod report;
pub mod select;
pub mod whatif;
pub mod workload;
