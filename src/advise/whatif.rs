//! What-if planning with HypoPG: the plan and cost of a query under a set
//! of hypothetical indexes, without building any. Queries with `$n`
//! placeholders are planned as generic plans (`EXPLAIN (GENERIC_PLAN)` on
//! PostgreSQL 16+, a prepared statement under
//! `plan_cache_mode = force_generic_plan` before that), the way they run
//! when an application prepares them.
//!
//! Only statements that parsed as exactly one statement reach this module,
//! so wrapping a workload text in PREPARE/EXPLAIN can never run a second
//! command. Nothing here executes a query: EXPLAIN without ANALYZE.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

const CREATE_SQL: &str = include_str!("../../sql/hypopg_create_index.sql");
const SIZE_SQL: &str = include_str!("../../sql/hypopg_relation_size.sql");
const RESET_SQL: &str = include_str!("../../sql/hypopg_reset.sql");
const SESSION_SQL: &str = include_str!("../../sql/whatif_session.sql");
const PARAM_COUNT_SQL: &str = include_str!("../../sql/prepared_param_count.sql");

/// HypoPG keeps hypothetical indexes in backend memory; stay well below its
/// practical limit by resetting between batches.
pub const MAX_HYPOTHETICAL_PER_BATCH: usize = 2000;

/// What the planner said about one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Estimated total cost of the top plan node.
    pub total_cost: f64,
    /// Every index the plan uses (`Index Name` of scan nodes).
    pub indexes_used: Vec<String>,
    /// Node types, for evidence (`Seq Scan on bookings`, …).
    pub nodes: Vec<String>,
}

/// A hypothetical index as HypoPG created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hypothetical {
    pub oid: i64,
    /// The name HypoPG gives it (`<oid>btree_table_col`), as plans show it.
    pub name: String,
}

/// One what-if session on a dedicated connection.
pub struct WhatIf<'c> {
    client: &'c Client,
    generic_plan_option: bool,
    /// Parameter types that made PREPARE work for a query text (cached).
    param_types: HashMap<String, Vec<Option<&'static str>>>,
    /// Hypothetical indexes alive in this session: (definition, name).
    alive: Vec<(String, String)>,
    /// Plans already asked, by statement and the set of hypothetical index
    /// definitions alive (names inside are stored as their definitions, so
    /// a plan stays valid when the same index is created again under a new name).
    cache: HashMap<String, PlanSummary>,
    /// How many plans were asked of the server.
    pub plans: usize,
    /// How many plans came from the cache instead.
    pub cached: usize,
    /// How many hypothetical indexes were created.
    pub created: usize,
}

impl<'c> WhatIf<'c> {
    /// Prepare the session. Fails with the fix when HypoPG is missing.
    pub async fn new(client: &'c Client, server_version_num: i32) -> Result<Self> {
        let has: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg')",
                &[],
            )
            .await
            .context("checking for the hypopg extension")?
            .get(0);
        if !has {
            bail!(
                "the hypopg extension is not installed in this database, so proposals cannot be validated by the planner; \
                 install it (Debian/Ubuntu: apt install postgresql-<major>-hypopg) and run `CREATE EXTENSION hypopg;`"
            );
        }
        let w = Self::planner(client, server_version_num).await?;
        client
            .query_one(RESET_SQL, &[])
            .await
            .context("hypopg_reset()")?;
        Ok(w)
    }

    /// A session that only plans (no hypothetical indexes, no HypoPG
    /// needed): `apply` re-plans a plan's `$n` evidence queries with it on
    /// servers without `EXPLAIN (GENERIC_PLAN)`. It changes session settings
    /// (sql/whatif_session.sql), so it wants a connection of its own.
    pub async fn planner(client: &'c Client, server_version_num: i32) -> Result<Self> {
        client
            .batch_execute(SESSION_SQL)
            .await
            .context("setting up the what-if session (sql/whatif_session.sql)")?;
        Ok(WhatIf {
            client,
            generic_plan_option: server_version_num >= 160000,
            param_types: HashMap::new(),
            alive: Vec::new(),
            cache: HashMap::new(),
            plans: 0,
            cached: 0,
            created: 0,
        })
    }

    /// Create one hypothetical index from a plain `CREATE INDEX … ON … (…)`
    /// (no CONCURRENTLY, no IF NOT EXISTS).
    pub async fn create(&mut self, create_index_sql: &str) -> Result<Hypothetical> {
        if self.alive.len() >= MAX_HYPOTHETICAL_PER_BATCH {
            self.reset().await?;
        }
        let row = self
            .client
            .query_one(CREATE_SQL, &[&create_index_sql])
            .await
            .with_context(|| {
                format!("HypoPG could not create the hypothetical index `{create_index_sql}`")
            })?;
        let h = Hypothetical {
            oid: row.get(0),
            name: row.get(1),
        };
        self.alive
            .push((create_index_sql.to_string(), h.name.clone()));
        self.created += 1;
        Ok(h)
    }

    /// Estimated size in bytes of a hypothetical index.
    pub async fn size(&self, h: &Hypothetical) -> Result<i64> {
        let oid = u32::try_from(h.oid).context("hypothetical index oid out of range")?;
        let row = self
            .client
            .query_one(SIZE_SQL, &[&tokio_postgres::types::Oid::from(oid)])
            .await
            .context("hypopg_relation_size()")?;
        Ok(row.get(0))
    }

    /// Drop every hypothetical index of the session.
    pub async fn reset(&mut self) -> Result<()> {
        self.client
            .query_one(RESET_SQL, &[])
            .await
            .context("hypopg_reset()")?;
        self.alive.clear();
        Ok(())
    }

    /// Plan one statement under the hypothetical indexes alive now; a plan
    /// asked before under the same set of definitions comes from the cache.
    pub async fn plan(&mut self, sql: &str) -> Result<PlanSummary> {
        self.plan_on(sql, None).await
    }

    /// Like [`WhatIf::plan`], for a statement that reads only `tables`
    /// (quoted `schema.table` as in the DDL): hypothetical indexes on other
    /// tables cannot change its plan, so they do not split the cache.
    pub async fn plan_on(&mut self, sql: &str, tables: Option<&[String]>) -> Result<PlanSummary> {
        let relevant =
            |d: &str| tables.is_none_or(|ts| ts.iter().any(|t| d.contains(&format!(" ON {t} ("))));
        let mut defs: Vec<&str> = self
            .alive
            .iter()
            .map(|(d, _)| d.as_str())
            .filter(|d| relevant(d))
            .collect();
        defs.sort_unstable();
        let key = format!("{sql}\n{}", defs.join("\n"));
        if let Some(hit) = self.cache.get(&key) {
            self.cached += 1;
            return Ok(rename(hit, &self.alive, false));
        }
        let summary = self.plan_uncached(sql).await?;
        self.cache.insert(key, rename(&summary, &self.alive, true));
        Ok(summary)
    }

    async fn plan_uncached(&mut self, sql: &str) -> Result<PlanSummary> {
        self.plans += 1;
        let repaired = repair_typed_placeholders(sql);
        let sql = repaired.as_str();
        let n_params = max_placeholder(sql);
        let json = if n_params == 0 {
            self.explain_json(&format!("EXPLAIN (FORMAT JSON) {sql}"))
                .await?
        } else if self.generic_plan_option {
            match self
                .explain_json(&format!("EXPLAIN (GENERIC_PLAN, FORMAT JSON) {sql}"))
                .await
            {
                Ok(j) => j,
                Err(_) => self.explain_prepared(sql, n_params).await?,
            }
        } else {
            self.explain_prepared(sql, n_params).await?
        };
        summarize(&json)
    }

    async fn explain_json(&self, explain: &str) -> Result<serde_json::Value> {
        explain_json(self.client, explain).await
    }

    /// PREPARE with inferred parameter types. Where PostgreSQL cannot infer
    /// one (`$1 || $2`, `date $1 + $2`), declare one parameter at a time
    /// with each plausible type, keeping a guess when it moves the error
    /// on, until the statement prepares (bounded number of attempts).
    async fn explain_prepared(&mut self, sql: &str, n_params: usize) -> Result<serde_json::Value> {
        const GUESSES: [&str; 9] = [
            "text",
            "int4",
            "int8",
            "numeric",
            "interval",
            "timestamptz",
            "date",
            "bool",
            "float8",
        ];
        const MAX_ATTEMPTS: usize = 80;
        let mut types: Vec<Option<&'static str>> = self
            .param_types
            .get(sql)
            .cloned()
            .unwrap_or_else(|| vec![None; n_params]);
        let mut attempts = 0;
        let mut err = match self.try_prepare(sql, &types).await {
            Ok(n) => return self.explain_prepared_statement(sql, &types, n).await,
            Err(e) => e,
        };
        'search: while attempts < MAX_ATTEMPTS {
            // A parameter the server names is the first to fix.
            let mut order: Vec<usize> = (0..types.len()).filter(|&k| types[k].is_none()).collect();
            if let Some(k) = undetermined_param(&err).filter(|k| *k >= 1 && *k <= types.len()) {
                order.retain(|&x| x != k - 1);
                order.insert(0, k - 1);
            }
            for k in order {
                for t in GUESSES {
                    attempts += 1;
                    let mut trial = types.clone();
                    trial[k] = Some(t);
                    match self.try_prepare(sql, &trial).await {
                        Ok(n) => return self.explain_prepared_statement(sql, &trial, n).await,
                        // Progress means: that ambiguity is gone and another untyped one remains.
                        Err(e)
                            if e != err
                                && (e.contains("unknown") || e.contains("could not determine")) =>
                        {
                            // Progress: this guess resolved one ambiguity.
                            types = trial;
                            err = e;
                            continue 'search;
                        }
                        Err(_) => {}
                    }
                }
            }
            break;
        }
        Err(anyhow::anyhow!("{err}"))
            .context("PostgreSQL could not plan the statement as a generic plan")
    }

    /// PREPARE the statement with the declared types; the parameter count on success.
    async fn try_prepare(
        &self,
        sql: &str,
        types: &[Option<&'static str>],
    ) -> std::result::Result<i32, String> {
        let decl = if types.iter().all(Option::is_none) {
            String::new()
        } else {
            format!(
                "({})",
                types
                    .iter()
                    .map(|t| t.unwrap_or("unknown"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = self
            .client
            .simple_query("DEALLOCATE pgadvisor_whatif")
            .await;
        match self
            .client
            .simple_query(&format!("PREPARE pgadvisor_whatif{decl} AS {sql}"))
            .await
        {
            Ok(_) => Ok(self
                .client
                .query_opt(PARAM_COUNT_SQL, &[&"pgadvisor_whatif"])
                .await
                .map_err(|e| e.to_string())?
                .map(|r| r.get(0))
                .unwrap_or(types.len() as i32)),
            Err(e) => Err(e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string())),
        }
    }

    /// EXPLAIN the prepared statement's generic plan, then forget it.
    async fn explain_prepared_statement(
        &mut self,
        sql: &str,
        types: &[Option<&'static str>],
        n: i32,
    ) -> Result<serde_json::Value> {
        self.param_types.insert(sql.to_string(), types.to_vec());
        let exec = if n > 0 {
            format!(
                "EXECUTE pgadvisor_whatif({})",
                vec!["NULL"; n as usize].join(", ")
            )
        } else {
            "EXECUTE pgadvisor_whatif".to_string()
        };
        let out = self
            .explain_json(&format!("EXPLAIN (FORMAT JSON) {exec}"))
            .await;
        let _ = self
            .client
            .simple_query("DEALLOCATE pgadvisor_whatif")
            .await;
        out
    }
}

/// Run one `EXPLAIN (… FORMAT JSON) …` statement and parse its output.
/// Simple protocol: callers pass a single statement they parsed themselves.
pub async fn explain_json(client: &Client, explain: &str) -> Result<serde_json::Value> {
    let msgs = client.simple_query(explain).await?;
    let mut text = String::new();
    for m in msgs {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            text.push_str(r.get(0).unwrap_or_default());
        }
    }
    serde_json::from_str(&text).context("the server's EXPLAIN (FORMAT JSON) output did not parse")
}

/// A plan's hypothetical index names as definitions (`to_defs`), or back
/// to the names the alive indexes have now.
fn rename(p: &PlanSummary, alive: &[(String, String)], to_defs: bool) -> PlanSummary {
    let swap = |s: &str| {
        let mut out = s.to_string();
        for (def, name) in alive {
            let tag = format!("[hypothetical: {def}]");
            out = if to_defs {
                out.replace(name.as_str(), &tag)
            } else {
                out.replace(&tag, name)
            };
        }
        out
    };
    PlanSummary {
        total_cost: p.total_cost,
        indexes_used: p.indexes_used.iter().map(|s| swap(s)).collect(),
        nodes: p.nodes.iter().map(|s| swap(s)).collect(),
    }
}

/// pg_stat_statements turns a typed literal `date '2024-01-01'` into
/// `date $1`, which is not valid SQL; `$1::date` is what it meant.
pub fn repair_typed_placeholders(sql: &str) -> String {
    use sqlparser::tokenizer::{Token, Tokenizer};
    const TYPES: &[&str] = &[
        "date",
        "time",
        "timetz",
        "timestamp",
        "timestamptz",
        "interval",
        "uuid",
        "json",
        "jsonb",
        "numeric",
        "inet",
        "cidr",
        "bool",
        "boolean",
        "text",
        "int",
        "int2",
        "int4",
        "int8",
        "bigint",
        "integer",
        "smallint",
        "float4",
        "float8",
        "real",
        "bytea",
        "money",
        "point",
        "macaddr",
    ];
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return sql.to_string();
    };
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    while i < tokens.len() {
        if let Token::Word(w) = &tokens[i]
            && w.quote_style.is_none()
            && TYPES.contains(&w.value.to_ascii_lowercase().as_str())
            && matches!(tokens.get(i + 1), Some(Token::Whitespace(_)))
            && let Some(Token::Placeholder(p)) = tokens.get(i + 2)
            // `x::date $1` is not a typed literal; neither is `AS date`.
            && !matches!(prev_significant(&tokens, i), Some(Token::DoubleColon) | Some(Token::Word(_)))
        {
            out.push_str(&format!("{p}::{}", w.value.to_ascii_lowercase()));
            i += 3;
            continue;
        }
        out.push_str(&tokens[i].to_string());
        i += 1;
    }
    out
}

fn prev_significant(
    tokens: &[sqlparser::tokenizer::Token],
    i: usize,
) -> Option<&sqlparser::tokenizer::Token> {
    tokens[..i]
        .iter()
        .rev()
        .find(|t| !matches!(t, sqlparser::tokenizer::Token::Whitespace(_)))
}

/// `could not determine data type of parameter $3` → 3.
fn undetermined_param(msg: &str) -> Option<usize> {
    let rest = msg.split("data type of parameter $").nth(1)?;
    rest.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// Highest `$n` placeholder in the text, outside quotes and comments.
pub fn max_placeholder(sql: &str) -> usize {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    Tokenizer::new(&dialect, sql)
        .tokenize()
        .map(|tokens| {
            tokens
                .iter()
                .filter_map(|t| match t {
                    Token::Placeholder(p) => {
                        p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
                    }
                    _ => None,
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Cost, indexes used and node list of an `EXPLAIN (FORMAT JSON)` result.
pub fn summarize(json: &serde_json::Value) -> Result<PlanSummary> {
    let plan = json
        .get(0)
        .and_then(|p| p.get("Plan"))
        .context("EXPLAIN JSON without a Plan")?;
    let total_cost = plan
        .get("Total Cost")
        .and_then(|c| c.as_f64())
        .context("plan without a Total Cost")?;
    let mut indexes_used = Vec::new();
    let mut nodes = Vec::new();
    let mut stack = vec![plan];
    while let Some(node) = stack.pop() {
        let kind = node
            .get("Node Type")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        let rel = node.get("Relation Name").and_then(|v| v.as_str());
        if let Some(ix) = node.get("Index Name").and_then(|v| v.as_str()) {
            indexes_used.push(ix.to_string());
            nodes.push(format!(
                "{kind} using {ix}{}",
                rel.map(|r| format!(" on {r}")).unwrap_or_default()
            ));
        } else if let Some(r) = rel {
            nodes.push(format!("{kind} on {r}"));
        } else {
            nodes.push(kind.to_string());
        }
        if let Some(children) = node.get("Plans").and_then(|p| p.as_array()) {
            stack.extend(children.iter().rev());
        }
    }
    Ok(PlanSummary {
        total_cost,
        indexes_used,
        nodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_outside_quotes() {
        assert_eq!(
            max_placeholder("SELECT * FROM t WHERE a = $1 AND b = $12"),
            12
        );
        assert_eq!(
            max_placeholder("SELECT '$5' FROM t -- $7\n WHERE a = $2"),
            2
        );
        assert_eq!(max_placeholder("SELECT 1"), 0);
    }

    #[test]
    fn typed_placeholders_become_casts() {
        assert_eq!(
            repair_typed_placeholders(
                "SELECT 1 FROM t WHERE d < date $1 + $2 AND ts > timestamptz $3 + make_interval(days => $4)"
            ),
            "SELECT 1 FROM t WHERE d < $1::date + $2 AND ts > $3::timestamptz + make_interval(days => $4)"
        );
        assert_eq!(
            repair_typed_placeholders("SELECT 'date $1', x::date FROM t"),
            "SELECT 'date $1', x::date FROM t"
        );
    }

    #[test]
    fn undetermined_parameter_numbers() {
        assert_eq!(
            undetermined_param("could not determine data type of parameter $3"),
            Some(3)
        );
        assert_eq!(
            undetermined_param("operator is not unique: unknown || unknown"),
            None
        );
    }

    #[test]
    fn cached_plans_follow_the_current_names() {
        let p = PlanSummary {
            total_cost: 8.0,
            indexes_used: vec!["<13>btree_t_a".into()],
            nodes: vec!["Index Scan using <13>btree_t_a on t".into()],
        };
        let then = vec![(
            "CREATE INDEX ON t (a)".to_string(),
            "<13>btree_t_a".to_string(),
        )];
        let stored = rename(&p, &then, true);
        assert_eq!(
            stored.indexes_used,
            ["[hypothetical: CREATE INDEX ON t (a)]"]
        );
        let now = vec![(
            "CREATE INDEX ON t (a)".to_string(),
            "<99>btree_t_a".to_string(),
        )];
        let back = rename(&stored, &now, false);
        assert_eq!(back.indexes_used, ["<99>btree_t_a"]);
        assert_eq!(back.nodes, ["Index Scan using <99>btree_t_a on t"]);
    }

    #[test]
    fn plan_summary_walks_the_tree() {
        let json: serde_json::Value = serde_json::from_str(
            r#"[{"Plan": {"Node Type": "Limit", "Total Cost": 8.3, "Plans": [
                {"Node Type": "Index Scan", "Index Name": "<13>btree_bookings_customer_id", "Relation Name": "bookings", "Total Cost": 8.2},
                {"Node Type": "Seq Scan", "Relation Name": "customers", "Total Cost": 1.0}]}}]"#,
        )
        .expect("json");
        let s = summarize(&json).expect("summary");
        assert_eq!(s.total_cost, 8.3);
        assert_eq!(s.indexes_used, vec!["<13>btree_bookings_customer_id"]);
        assert_eq!(
            s.nodes[1],
            "Index Scan using <13>btree_bookings_customer_id on bookings"
        );
        assert!(summarize(&serde_json::json!([{}])).is_err());
    }
}
