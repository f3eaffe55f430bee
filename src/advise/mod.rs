//! Index advice. For now only the shared index-candidate model, used by
//! `explain` (from plan filters) and, later, by `advise` (from workload
//! statements), so the two never disagree about which index fixes a query.

pub mod candidate;
