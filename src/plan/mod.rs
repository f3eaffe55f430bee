//! The plan file: what `advise --plan-out` writes and `apply` executes.
//! A versioned YAML document (docs/plan-file.md) a human can review and
//! edit: removing an action leaves a plan that still applies. Each action
//! carries its exact DDL, the definition `apply` checks the catalog
//! against, and the evidence it was proposed on.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The only plan format version this build reads and writes.
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Format version; a newer file is refused rather than misread.
    pub version: u32,
    /// `pgadvisor <version>`.
    pub generated_by: String,
    /// RFC 3339 time of generation.
    pub generated_at: String,
    /// The database advised (`user@host:port/db`, never a password), or the schema file.
    pub source: String,
    /// True when every create action was validated by the planner (HypoPG);
    /// false for offline or estimated advice.
    pub validated: bool,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    CreateIndex,
    DropIndex,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Stable id for `apply --only/--skip`: `create:<schema>.<index>` or `drop:<schema>.<index>`.
    pub id: String,
    pub kind: ActionKind,
    /// `schema.table`, raw identifiers.
    pub table: String,
    /// `schema.index`, raw identifiers.
    pub index: String,
    /// The exact statement `apply` runs.
    pub ddl: String,
    /// For creates: what the index must look like, so `apply` can tell an
    /// identical existing index (done) from a conflicting one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Definition>,
    /// Why: `new index`, or a drop reason (`duplicate`, `redundant`, `unused`, `invalid`).
    pub reason: String,
    /// Evidence the proposal stands on, for the reviewer.
    #[serde(default)]
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub method: String,
    /// Keys in order: a column name, `name DESC`, or an expression.
    pub columns: Vec<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(rename = "where", default)]
    pub predicate: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Fingerprints of the workload queries it serves (creates) or that used it (drops).
    #[serde(default)]
    pub queries: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_before: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_after: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Estimated share of workload execution time saved (creates), in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_saved_pct: Option<f64>,
    /// Free-text evidence (drop reasons, caveats).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Literal texts of those queries (one statement each, constants filled
    /// in), which `apply` re-plans before and after the build to report
    /// cost before → after and whether the planner uses the index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql: Vec<String>,
}

impl Plan {
    /// Parse and validate a plan file's text.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Plan> {
        let plan: Plan = serde_norway::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "{origin} is not a valid pgadvisor plan file: {e}; regenerate it with `pgadvisor advise --plan-out {origin}` \
                 or see docs/plan-file.md for the format"
            )
        })?;
        if plan.version != PLAN_VERSION {
            bail!(
                "{origin} is plan format version {}, this pgadvisor reads version {PLAN_VERSION}; use the pgadvisor release that wrote it",
                plan.version
            );
        }
        let mut seen = std::collections::HashSet::new();
        for a in &plan.actions {
            if !seen.insert(a.id.as_str()) {
                bail!(
                    "{origin}: action id `{}` appears twice; ids must be unique",
                    a.id
                );
            }
            let ddl = a.ddl.trim_start().to_ascii_uppercase();
            let ok = match a.kind {
                ActionKind::CreateIndex => {
                    ddl.starts_with("CREATE INDEX CONCURRENTLY")
                        || ddl.starts_with("CREATE UNIQUE INDEX CONCURRENTLY")
                }
                ActionKind::DropIndex => ddl.starts_with("DROP INDEX CONCURRENTLY"),
            };
            if !ok {
                bail!(
                    "{origin}: action `{}` must be a CREATE/DROP INDEX CONCURRENTLY statement, found: {}",
                    a.id,
                    a.ddl
                );
            }
            if statement_count(&a.ddl) != 1 {
                bail!(
                    "{origin}: action `{}` must hold exactly one statement: {}",
                    a.id,
                    a.ddl
                );
            }
        }
        Ok(plan)
    }

    pub fn read(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read plan file {}", path.display()))?;
        Plan::from_yaml(&text, &path.display().to_string())
    }

    pub fn to_yaml(&self) -> Result<String> {
        let body = serde_norway::to_string(self).context("serializing the plan")?;
        Ok(format!(
            "# pgadvisor plan file (format version {PLAN_VERSION}; docs/plan-file.md).\n\
             # Review it; delete any action you do not want. Apply with: pgadvisor apply <this file>\n{body}"
        ))
    }

    /// Write atomically (temp file + rename) so a failed run never leaves half a plan.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = self.to_yaml()?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("plan"),
            std::process::id()
        ));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move the plan into place at {}", path.display()))?;
        Ok(())
    }
}

/// Statements in a text: `;` outside quotes and comments separate them.
fn statement_count(sql: &str) -> usize {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, sql).tokenize()
    else {
        return 0;
    };
    tokens
        .split(|t| *t == Token::SemiColon)
        .filter(|part| part.iter().any(|t| !matches!(t, Token::Whitespace(_))))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        Plan {
            version: PLAN_VERSION,
            generated_by: "pgadvisor 0.1.0".into(),
            generated_at: "2026-11-22T01:00:00Z".into(),
            source: "postgres@127.0.0.1:5432/app".into(),
            validated: true,
            actions: vec![
                Action {
                    id: "create:app.bookings_customer_id_event_date_idx".into(),
                    kind: ActionKind::CreateIndex,
                    table: "app.bookings".into(),
                    index: "app.bookings_customer_id_event_date_idx".into(),
                    ddl: "CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_customer_id_event_date_idx ON app.bookings (customer_id, event_date)".into(),
                    definition: Some(Definition {
                        method: "btree".into(),
                        columns: vec!["customer_id".into(), "event_date".into()],
                        include: vec![],
                        predicate: None,
                    }),
                    reason: "new index".into(),
                    evidence: Evidence {
                        queries: vec!["0123456789abcdef".into()],
                        cost_before: Some(226.0),
                        cost_after: Some(11.25),
                        size_bytes: Some(466944),
                        time_saved_pct: Some(6.0),
                        notes: vec![],
                        sql: vec!["SELECT * FROM app.bookings WHERE customer_id = 42 ORDER BY event_date".into()],
                    },
                },
                Action {
                    id: "drop:app.bookings_status_dup_idx".into(),
                    kind: ActionKind::DropIndex,
                    table: "app.bookings".into(),
                    index: "app.bookings_status_dup_idx".into(),
                    ddl: "DROP INDEX CONCURRENTLY IF EXISTS app.bookings_status_dup_idx".into(),
                    definition: None,
                    reason: "duplicate".into(),
                    evidence: Evidence::default(),
                },
            ],
        }
    }

    #[test]
    fn round_trips_and_survives_a_removed_action() {
        let p = sample();
        let yaml = p.to_yaml().expect("yaml");
        assert_eq!(Plan::from_yaml(&yaml, "plan.yaml").expect("reads"), p);
        // A reviewer deletes the drop action by hand.
        let cut = yaml
            .split("- id: drop:")
            .next()
            .expect("first part")
            .to_string();
        let edited = Plan::from_yaml(&cut, "plan.yaml").expect("edited plan still reads");
        assert_eq!(edited.actions.len(), 1);
    }

    #[test]
    fn refuses_what_it_should_not_run() {
        let mut p = sample();
        p.actions[0].ddl = "CREATE INDEX x ON t (a)".into();
        let e = Plan::from_yaml(&p.to_yaml().expect("yaml"), "plan.yaml")
            .expect_err("non-concurrent refused");
        assert!(e.to_string().contains("CONCURRENTLY"), "{e}");
        let mut p = sample();
        p.actions[1].ddl = "DROP INDEX CONCURRENTLY IF EXISTS a; DROP TABLE t".into();
        assert!(Plan::from_yaml(&p.to_yaml().expect("yaml"), "plan.yaml").is_err());
        let mut p = sample();
        p.actions[0].ddl.push_str(" WHERE note = 'a;b';");
        Plan::from_yaml(&p.to_yaml().expect("yaml"), "plan.yaml")
            .expect("a ; inside a literal is fine");
        let mut p = sample();
        p.version = 99;
        let e = Plan::from_yaml(&p.to_yaml().expect("yaml"), "plan.yaml").expect_err("version");
        assert!(e.to_string().contains("version 99"), "{e}");
        let e = Plan::from_yaml("version: 1\nactions: [}", "bad.yaml").expect_err("garbage");
        assert!(e.to_string().contains("bad.yaml"), "{e}");
    }
}
