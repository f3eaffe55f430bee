//! Redis in front of PostgreSQL: what is in the cache (`inspect`), how to
//! fill it from the database (`warm`) and how to empty part of it
//! (`invalidate`), on a single node or a whole Redis Cluster.
//!
//! Pure logic — key patterns, streaming statistics, findings, the warm
//! spec, key templates — is unit-tested here; the Redis and PostgreSQL I/O
//! sits in `inspect`, `warm`, `invalidate`, `cluster` and `redis_conn`.

pub mod blocking;
pub mod checkpoint;
pub mod cluster;
pub mod findings;
pub mod inspect;
pub mod invalidate;
pub mod limiter;
pub mod pattern;
pub mod redis_conn;
pub mod resp;
pub mod server;
pub mod spec;
pub mod stats;
pub mod warm;
