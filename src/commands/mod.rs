//! One file per subcommand: each holds the command's clap `Args` and its
//! `run`, which resolves arguments, calls the library and renders output.
//! Logic that is worth a unit test lives in the domain modules, not here.

pub mod advise;
pub mod apply;
pub mod cache;
pub mod check;
pub mod explain;
pub mod fingerprint;
pub mod ping;
pub mod pool;
pub mod rule;
pub mod snapshot;
pub mod top;
