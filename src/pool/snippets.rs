//! Ready-to-paste pool configuration from a proposal: deadpool-postgres
//! (Rust), SQLAlchemy (Python), HikariCP (Java) per application group, and
//! a PgBouncer `[pgbouncer]` section. Each snippet carries the same
//! numbers as the proposal table, and a comment with where they came from.
//!
//! How the proposal maps onto each library:
//! - deadpool-postgres has one size and no overflow: `max_size = pool + overflow`.
//! - SQLAlchemy's QueuePool: `pool_size` steady connections plus `max_overflow`.
//! - HikariCP recommends a fixed pool; `minimumIdle = pool` keeps the steady
//!   connections open, `maximumPoolSize = pool + overflow` allows the burst.
//! - PgBouncer: `default_pool_size` server connections per (database, role).

use serde::Serialize;

use super::sizing::{AppProposal, PgBouncerLayout, Proposal};

/// The snippets for one application group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppSnippets {
    pub deadpool_postgres: String,
    pub sqlalchemy: String,
    pub hikaricp: String,
}

fn origin(a: &AppProposal) -> String {
    format!(
        "pgadvisor pool: {} — {} instance{}, pool {} + overflow {} per instance",
        a.key.label(),
        a.instances,
        if a.instances == 1 { "" } else { "s" },
        a.pool_size,
        a.overflow
    )
}

pub fn deadpool_postgres(a: &AppProposal) -> String {
    format!(
        "// {}\n\
         // deadpool has a single size: max_size = pool + overflow = {} + {} = {}\n\
         let mut cfg = deadpool_postgres::Config::new();\n\
         cfg.url = Some(std::env::var(\"DATABASE_URL\")?);\n\
         cfg.pool = Some(deadpool_postgres::PoolConfig::new({}));\n\
         let pool = cfg.create_pool(Some(deadpool_postgres::Runtime::Tokio1), tokio_postgres::NoTls)?;\n",
        origin(a),
        a.pool_size,
        a.overflow,
        a.max_size,
        a.max_size
    )
}

pub fn sqlalchemy(a: &AppProposal) -> String {
    format!(
        "# {}\n\
         engine = create_engine(\n    DATABASE_URL,\n    pool_size={},\n    max_overflow={},\n    \
         pool_pre_ping=True,\n)\n",
        origin(a),
        a.pool_size,
        a.overflow
    )
}

pub fn hikaricp(a: &AppProposal) -> String {
    format!(
        "# {}\n\
         # HikariCP favours a fixed pool: minimumIdle keeps the steady connections,\n\
         # maximumPoolSize = pool + overflow = {} + {} allows the burst.\n\
         minimumIdle={}\n\
         maximumPoolSize={}\n",
        origin(a),
        a.pool_size,
        a.overflow,
        a.pool_size,
        a.max_size
    )
}

pub fn for_app(a: &AppProposal) -> AppSnippets {
    AppSnippets {
        deadpool_postgres: deadpool_postgres(a),
        sqlalchemy: sqlalchemy(a),
        hikaricp: hikaricp(a),
    }
}

/// The `[pgbouncer]` section for the proposed layout.
pub fn pgbouncer(b: &PgBouncerLayout, p: &Proposal) -> String {
    format!(
        ";; pgadvisor pool: target of active server connections {},\n\
         ;; split over (database, role) pairs: default_pool_size {}\n\
         [pgbouncer]\n\
         pool_mode = {}\n\
         default_pool_size = {}\n\
         reserve_pool_size = {}\n\
         max_client_conn = {}\n",
        p.target_active.expression,
        b.default_pool_size.expression,
        b.pool_mode,
        b.default_pool_size.value,
        b.reserve_pool_size.value,
        b.max_client_conn.value
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use crate::pool::sizing::{AppInput, Inputs, propose};
    use crate::pool::stats::GroupKey;

    fn proposal() -> Proposal {
        propose(&Inputs {
            cores: Some(4),
            effective_spindles: 1,
            busy_p95: 6,
            littles_pgss: Some(5.5),
            littles_pgbouncer: None,
            max_connections: 100,
            superuser_reserved_connections: 3,
            reserved_connections: 0,
            connections_max: 40,
            apps: vec![AppInput {
                key: GroupKey {
                    application_name: "api".into(),
                    user: "app".into(),
                    database: "shop".into(),
                },
                instances: 2,
                busy_p95: 6,
                busy_max: 9,
            }],
        })
    }

    /// The first integer after `key` in `text`.
    fn number_after(text: &str, key: &str) -> u32 {
        let rest = &text[text.find(key).unwrap() + key.len()..];
        let digits: String = rest
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    }

    #[test]
    fn snippets_carry_the_proposed_numbers() {
        let p = proposal();
        let a = &p.applications[0];
        // limit 9, demand 6, target 6, spare 3; ⌈6 / 2⌉ = 3 per instance;
        // overflow min(⌊3 / 2⌋, max(⌈3 / 2⌉, ⌈3 / 2⌉)) = 1.
        assert_eq!((a.pool_size, a.overflow, a.max_size), (3, 1, 4));
        let s = for_app(a);
        assert_eq!(number_after(&s.deadpool_postgres, "PoolConfig::new("), 4);
        assert_eq!(number_after(&s.sqlalchemy, "pool_size="), 3);
        assert_eq!(number_after(&s.sqlalchemy, "max_overflow="), 1);
        assert_eq!(number_after(&s.hikaricp, "minimumIdle="), 3);
        assert_eq!(number_after(&s.hikaricp, "maximumPoolSize="), 4);
        assert!(
            s.sqlalchemy
                .contains("api (user app, database shop) — 2 instances")
        );
        let b = pgbouncer(&p.pgbouncer, &p);
        assert_eq!(number_after(&b, "default_pool_size ="), 6);
        assert_eq!(number_after(&b, "max_client_conn ="), 100);
        assert!(b.contains("pool_mode = transaction"));
        insta::assert_snapshot!(
            "snippets_api",
            format!(
                "{}\n{}\n{}\n{}",
                s.deadpool_postgres, s.sqlalchemy, s.hikaricp, b
            )
        );
    }

    /// The deadpool snippet's calls exist with these types in the
    /// deadpool-postgres this crate builds with (creating a pool does not connect).
    #[test]
    fn deadpool_snippet_calls_compile_and_size_the_pool() {
        let mut cfg = deadpool_postgres::Config::new();
        cfg.url = Some("postgres://u@localhost/db".into());
        cfg.pool = Some(deadpool_postgres::PoolConfig::new(4));
        let pool = cfg
            .create_pool(
                Some(deadpool_postgres::Runtime::Tokio1),
                tokio_postgres::NoTls,
            )
            .unwrap();
        assert_eq!(pool.status().max_size, 4);
    }
}
