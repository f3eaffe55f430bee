//! pg_stat_statements read from a live server. Before reading, one
//! diagnostic query (sql/check_pg_stat_statements.sql) tells apart the
//! reasons it cannot be read (module not installed, not preloaded,
//! extension not created in this database) so the error says exactly what
//! to do. Rows are fetched as JSON objects and mapped like an export.

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{PgssRow, PgssSet, Source};
use crate::conn::ConnArgs;

const CHECK_SQL: &str = include_str!("../../sql/check_pg_stat_statements.sql");
const STATS_SQL: &str = include_str!("../../sql/pg_stat_statements.sql");

/// The text pg_stat_statements shows instead of other roles' queries.
pub const HIDDEN_TEXT: &str = "<insufficient privilege>";

/// What the diagnostic query found.
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    pub server_version_num: i32,
    pub database: String,
    pub installed: bool,
    pub available: bool,
    /// `shared_preload_libraries`, when this role may see it.
    pub preload: Option<String>,
    pub read_all_stats: bool,
    pub role: String,
    pub captured_at: String,
}

impl Readiness {
    fn preloaded(&self) -> Option<bool> {
        self.preload.as_ref().map(|p| {
            p.split(',')
                .any(|lib| lib.trim().trim_matches('"') == "pg_stat_statements")
        })
    }

    /// The error to give when pg_stat_statements cannot be read, if any.
    pub fn problem(&self, target: &str) -> Option<String> {
        let preload_fix = "add it to shared_preload_libraries in postgresql.conf \
             (shared_preload_libraries = 'pg_stat_statements', keeping any libraries already \
             listed; or ALTER SYSTEM SET shared_preload_libraries = '…,pg_stat_statements'), \
             restart PostgreSQL";
        let create = format!(
            "run CREATE EXTENSION pg_stat_statements; in database {} (as a superuser or the \
             database owner)",
            crate::ident::quote_ident(&self.database)
        );
        let alt = "Or give pgadvisor an export instead (--stats f.csv, from \
             `\\copy (SELECT * FROM pg_stat_statements) TO 'f.csv' CSV HEADER`) or a server log \
             (--log FILE).";
        if !self.available {
            return Some(format!(
                "pg_stat_statements is not available on {target}: the server has no \
                 pg_stat_statements module installed. Install PostgreSQL's contrib modules on \
                 the server (Debian/Ubuntu: they ship with postgresql-{major}; RHEL: \
                 postgresql{major}-contrib), then {preload_fix}, and {create}. {alt}",
                major = self.server_version_num / 10000
            ));
        }
        match (self.installed, self.preloaded()) {
            (false, Some(false)) => Some(format!(
                "pg_stat_statements is not enabled on {target}: the module is not loaded and the \
                 extension does not exist in database {db}. To enable it, {preload_fix}, then \
                 {create}. {alt}",
                db = self.database
            )),
            (false, Some(true)) => Some(format!(
                "pg_stat_statements is loaded on {target} but the extension does not exist in \
                 database {db}: {create}, or connect to a database where it exists \
                 (--dsn …/dbname). {alt}",
                db = self.database
            )),
            (false, None) => Some(format!(
                "the pg_stat_statements extension does not exist in database {db} on {target}: \
                 {create}. If that fails with \"must be loaded via shared_preload_libraries\", \
                 {preload_fix} first. {alt}",
                db = self.database
            )),
            (true, Some(false)) => Some(format!(
                "pg_stat_statements is installed in database {db} on {target} but not loaded: \
                 {preload_fix}; it collects statistics from then on. {alt}",
                db = self.database
            )),
            _ => None,
        }
    }
}

/// Read all pg_stat_statements rows of the server `conn` resolves to.
pub async fn read(conn: &ConnArgs) -> Result<PgssSet> {
    let target = conn.resolve()?;
    let client = target.connect().await?;
    let row = client
        .query_one(CHECK_SQL, &[])
        .await
        .with_context(|| format!("cannot inspect pg_stat_statements on {}", target.display))?;
    let ready = Readiness {
        server_version_num: row.try_get("server_version_num")?,
        database: row.try_get("database")?,
        installed: row.try_get("installed")?,
        available: row.try_get("available")?,
        preload: row.try_get("preload")?,
        read_all_stats: row.try_get("read_all_stats")?,
        role: row.try_get("role")?,
        captured_at: row.try_get("captured_at")?,
    };
    if let Some(problem) = ready.problem(&target.display) {
        bail!(problem);
    }
    let rows = match client.query(STATS_SQL, &[]).await {
        Ok(rows) => rows,
        Err(e) => {
            let text = e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string());
            if text.contains("shared_preload_libraries") {
                let ready = Readiness {
                    preload: Some(String::new()),
                    ..ready
                };
                if let Some(problem) = ready.problem(&target.display) {
                    bail!(problem);
                }
            }
            return Err(anyhow::Error::new(e).context(format!(
                "cannot read pg_stat_statements on {}",
                target.display
            )));
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut hidden = 0usize;
    for row in rows {
        let Value::Object(mut map) = row.try_get::<_, Value>("stat")? else {
            bail!(
                "pg_stat_statements on {} returned a row that is not an object",
                target.display
            );
        };
        if let Some(u) = row.try_get::<_, Option<String>>("username")? {
            map.insert("username".into(), Value::String(u));
        }
        if let Some(d) = row.try_get::<_, Option<String>>("datname")? {
            map.insert("datname".into(), Value::String(d));
        }
        if map.get("query").and_then(Value::as_str) == Some(HIDDEN_TEXT) {
            hidden += 1;
            continue;
        }
        let parsed = PgssRow::from_map(&map)
            .map_err(|e| anyhow::anyhow!("a pg_stat_statements row on {} {e}", target.display))?;
        out.push(parsed);
    }
    if hidden > 0 {
        let note = format!(
            "{hidden} pg_stat_statements entries on {} belong to other roles and show \
             {HIDDEN_TEXT} to role {}: grant it the statistics of every role with \
             `GRANT pg_read_all_stats TO {};` (PostgreSQL 10+), or connect as a role that has it.",
            target.display,
            ready.role,
            crate::ident::quote_ident(&ready.role)
        );
        if out.is_empty() {
            bail!("no query texts are visible: {note}");
        }
        eprintln!("note: skipped {note}");
    }
    Ok(PgssSet {
        source: Source {
            kind: "live".into(),
            location: target.display.clone(),
        },
        captured_at: Some(ready.captured_at),
        server_version_num: Some(ready.server_version_num),
        rows: out,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn ready() -> Readiness {
        Readiness {
            server_version_num: 170002,
            database: "app".into(),
            installed: true,
            available: true,
            preload: Some("pg_stat_statements".into()),
            read_all_stats: true,
            role: "postgres".into(),
            captured_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn ready_server_has_no_problem() {
        assert_eq!(ready().problem("db"), None);
        let unknown = Readiness {
            preload: None,
            ..ready()
        };
        assert_eq!(unknown.problem("db"), None);
    }

    #[test]
    fn each_missing_piece_names_its_fix() {
        let not_loaded = Readiness {
            preload: Some("auto_explain".into()),
            ..ready()
        };
        let msg = not_loaded.problem("db").unwrap();
        assert!(
            msg.contains("shared_preload_libraries") && msg.contains("restart"),
            "{msg}"
        );
        let no_ext = Readiness {
            installed: false,
            ..ready()
        };
        let msg = no_ext.problem("db").unwrap();
        assert!(
            msg.contains("CREATE EXTENSION pg_stat_statements; in database app"),
            "{msg}"
        );
        assert!(!msg.contains("restart"), "{msg}");
        let neither = Readiness {
            installed: false,
            preload: Some(String::new()),
            ..ready()
        };
        let msg = neither.problem("db").unwrap();
        assert!(
            msg.contains("restart") && msg.contains("CREATE EXTENSION"),
            "{msg}"
        );
        let no_module = Readiness {
            available: false,
            installed: false,
            ..ready()
        };
        assert!(
            no_module
                .problem("db")
                .unwrap()
                .contains("postgresql17-contrib")
        );
    }
}
