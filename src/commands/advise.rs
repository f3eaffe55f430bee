//! `pgadvisor advise`: index proposals for a workload, validated by the
//! planner when the server has HypoPG, with hygiene (drops, unindexed
//! foreign keys) and an optional plan file for `apply`.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::advise::report::{
    self, AdviceReport, IndexProposal, Mode, QueryEvidence, RejectedCandidate, Summary, WhatIfStats,
};
use crate::advise::select::{self, AdviseQuery, Settings};
use crate::advise::workload::{self, NotAnalyzed, ShapeFilter};
use crate::advise::{hygiene, offline, whatif};
use crate::catalog::{self, Catalog};
use crate::exit::ExitStatus;
use crate::intake::{self, QuerySample, SourceArgs};
use crate::output::{self, Format};
use crate::plan::{Action, ActionKind, Definition, Evidence, PLAN_VERSION, Plan};
use crate::shapes::{self, GroupOptions, QueryShape};

const ACTIVITY_SQL: &str = include_str!("../../sql/activity_samples.sql");

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    /// A SQL file as the workload: `;`-separated statements, literal or `$n`
    /// form, each weighing 1 unless preceded by a `-- weight: N` comment.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["stats", "log", "since"])]
    pub queries: Option<PathBuf>,
    /// Offline: a `pg_dump --schema-only` file instead of a live catalog.
    /// Proposals are then unvalidated.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// With --schema: the column statistics and row estimates of the real
    /// database (`psql -XAtq -f sql/export_column_stats.sql`), so skewed
    /// lookups are judged as on a live server.
    #[arg(long, value_name = "FILE", requires = "schema")]
    pub column_stats: Option<PathBuf>,
    /// Literal samples joined to the workload by fingerprint: server logs or SQL files.
    #[arg(long, value_name = "FILE")]
    pub samples: Vec<PathBuf>,
    /// Also sample pg_stat_activity for this long (e.g. 10s) to catch literal values.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub sample_activity: Option<Duration>,
    /// Only query shapes with at least this many calls.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub min_calls: i64,
    /// Only query shapes with at least this much total execution time (ms).
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub min_time: f64,
    /// Only the N query shapes with the most total execution time.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Only statements of this database (name, or dbid as exports show it).
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
    /// At most this many new indexes (default from the rules file: 10).
    #[arg(long, value_name = "N")]
    pub max_indexes: Option<usize>,
    /// At most this much new index size in total (e.g. 500MB, 2GB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<i64>,
    /// Thresholds file (default: the shipped rules/advise.yaml).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write a plan file for `pgadvisor apply`.
    #[arg(long, value_name = "FILE")]
    pub plan_out: Option<PathBuf>,
    /// Show the evidence per proposal and the candidates rejected, with why.
    #[arg(long)]
    pub explain_why: bool,
    /// Run each read-only query that has a literal sample once under
    /// EXPLAIN (ANALYZE, BUFFERS), in a read-only transaction that is rolled
    /// back: the shared buffers it really touches weigh in the selection, and
    /// misestimates and wasted scans are reported.
    #[arg(long)]
    pub analyze: bool,
    /// Statement timeout for each --analyze run.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub analyze_timeout: Duration,
}

/// `500MB`, `2GB`, `1.5GiB`, `1048576` (bytes).
pub fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (examples: 500MB, 2GB)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "kib" | "k" => 1024.0,
        "mb" | "mib" | "m" => 1024.0 * 1024.0,
        "gb" | "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        "tb" | "tib" | "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}` (use kB, MB, GB, TB)"
            ));
        }
    };
    Ok((n * mult) as i64)
}

pub async fn run(args: Args) -> Result<ExitStatus> {
    let mut settings = match &args.rules {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read rules file {}", p.display()))?;
            Settings::from_yaml(&text, &p.display().to_string())?
        }
        None => Settings::from_yaml(Settings::DEFAULT_YAML, "rules/advise.yaml")?,
    };
    if let Some(n) = args.max_indexes {
        settings.max_indexes = n;
    }
    if let Some(n) = args.max_size {
        settings.max_size_bytes = n;
    }

    // The workload: shapes plus literal samples.
    let (mut shapes, mut samples, workload_desc) = load_workload(&args).await?;
    if let Some(db) = &args.database {
        shapes.retain(|s| s.database.as_deref() == Some(db.as_str()));
        if shapes.is_empty() {
            bail!(
                "no statements of database `{db}` in the workload; check the name (exports show the numeric dbid)"
            );
        }
    }
    for path in &args.samples {
        samples.extend(read_samples(path)?);
    }

    let mut notes: Vec<String> = Vec::new();
    // The catalog: live, or from a schema file.
    let live_client = if args.schema.is_none() {
        Some(args.source.conn.resolve()?.connect().await?)
    } else {
        None
    };
    let (catalog, catalog_desc): (Catalog, String) = match (&args.schema, &live_client) {
        (Some(path), _) => {
            let mut catalog = catalog::schema_file::load_path(path)?;
            let mut desc = path.display().to_string();
            if let Some(stats) = &args.column_stats {
                let applied = catalog::stats_file::apply_path(&mut catalog, stats)?;
                if applied.tables == 0 {
                    bail!(
                        "column statistics {} name none of the tables in {}; export them from the database the schema belongs to",
                        stats.display(),
                        path.display()
                    );
                }
                if !applied.unknown_tables.is_empty() {
                    notes.push(format!(
                        "column statistics for tables the schema does not define were left out: {}",
                        applied.unknown_tables.join(", ")
                    ));
                }
                desc.push_str(&format!(
                    " + column statistics {} ({} tables, {} columns)",
                    stats.display(),
                    applied.tables,
                    applied.columns
                ));
            }
            (catalog, desc)
        }
        (None, Some(client)) => (
            catalog::live::load(client)
                .await
                .context("reading the catalog")?,
            args.source.conn.resolve()?.display,
        ),
        (None, None) => unreachable!("a live client exists whenever there is no schema file"),
    };
    if let (Some(client), Some(d)) = (&live_client, args.sample_activity) {
        samples.extend(sample_activity(client, d).await?);
    }

    let filter = ShapeFilter {
        min_calls: args.min_calls,
        min_total_time_ms: args.min_time,
        top: args.top,
    };
    let (mut queries, not_analyzed) = workload::build(&shapes, &samples, &catalog, &filter);
    if args.analyze {
        if live_client.is_none() {
            bail!(
                "--analyze runs queries on a server: drop --schema and give the connection (--dsn)"
            );
        }
        // A connection of its own: its transactions never touch the what-if session.
        let client = args.source.conn.resolve()?.connect().await?;
        let measured =
            crate::advise::analyze::measure(&client, &queries, args.analyze_timeout).await;
        if measured.is_empty() {
            notes.push(
                "--analyze found no read-only query with a literal sample to run; give samples with --samples, --log or --sample-activity"
                    .into(),
            );
        }
        for (fp, result) in measured {
            match result {
                Ok(m) => {
                    for n in &m.notes {
                        notes.push(format!("{fp}: {n}"));
                    }
                    if let Some(q) = queries.iter_mut().find(|q| q.fingerprint == fp) {
                        q.measured_buffers = Some(m.buffers);
                    }
                }
                Err(e) => notes.push(format!("{fp}: EXPLAIN ANALYZE did not complete: {e}")),
            }
        }
    }
    for q in &queries {
        for a in &q.facts.accesses {
            for n in &a.notes {
                notes.push(format!("{}: {n}", q.fingerprint));
            }
        }
    }

    let mode = match (&live_client, catalog.has_hypopg) {
        (Some(_), true) => Mode::Planner,
        (Some(_), false) => {
            notes.push(
                "HypoPG is not installed in this database, so nothing was validated by the planner: \
                 install postgresql-<major>-hypopg and run CREATE EXTENSION hypopg; for validated advice"
                    .into(),
            );
            Mode::Estimated
        }
        (None, _) => Mode::Offline,
    };

    let mut report = match (mode, &live_client) {
        (Mode::Planner, Some(client)) => {
            planner_report(client, &catalog, &queries, &settings, not_analyzed).await?
        }
        _ => heuristic_report(&catalog, &queries, &settings, mode, not_analyzed),
    };
    report.workload = workload_desc;
    report.catalog = catalog_desc;
    report.column_stats = args.column_stats.is_some();
    report.notes.extend(notes);
    if !args.explain_why {
        report.rejected = None;
    }

    if let Some(path) = &args.plan_out {
        plan_from(&report).write(path)?;
    }

    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => output::write_json(&mut out, &report)?,
        Format::Table => {
            out.write_all(report.render_text(args.explain_why).as_bytes())?;
            if let Some(p) = &args.plan_out {
                writeln!(
                    out,
                    "plan written to {} (review it, then: pgadvisor apply {})",
                    p.display(),
                    p.display()
                )?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

async fn load_workload(args: &Args) -> Result<(Vec<QueryShape>, Vec<QuerySample>, String)> {
    if let Some(path) = &args.queries {
        let text = intake::text::read_text(path, "a SQL file of `;`-separated statements")?;
        let (shapes, samples) = shapes_from_sql(&text, &path.display().to_string());
        if shapes.is_empty() {
            bail!(
                "{} holds no SQL statements; pass a file of `;`-separated queries",
                path.display()
            );
        }
        return Ok((shapes, samples, format!("SQL file {}", path.display())));
    }
    let w = intake::load(&args.source).await?;
    let desc = format!("{} {}", w.source.kind, w.source.location);
    let opts = GroupOptions {
        merge_users: true,
        merge_databases: args.database.is_none(),
    };
    Ok((shapes::group(&w.statements, &opts), w.samples, desc))
}

/// A SQL file as a workload: each statement one call unless a
/// `-- weight: N` comment inside or before it says otherwise.
pub fn shapes_from_sql(text: &str, origin: &str) -> (Vec<QueryShape>, Vec<QuerySample>) {
    let mut stats = Vec::new();
    let mut samples = Vec::new();
    let mut prev_end = 0;
    for st in crate::normalize::split_statements(text) {
        // The comments between the previous statement and the end of this
        // one: the splitter leaves leading comments out of `st.text`.
        let end = st.offset + st.text.len();
        let around = text.get(prev_end.min(end)..end).unwrap_or(st.text);
        prev_end = end;
        let weight = around
            .lines()
            .filter_map(|l| l.trim().strip_prefix("--").map(str::trim))
            .filter_map(|l| l.strip_prefix("weight:").map(str::trim))
            .filter_map(|n| n.parse::<i64>().ok())
            .next_back()
            .unwrap_or(1)
            .max(1);
        stats.push(intake::StatementStat {
            query: st.text.to_string(),
            calls: weight,
            total_exec_time: weight as f64,
            mean_exec_time: 1.0,
            min_exec_time: 1.0,
            max_exec_time: 1.0,
            ..Default::default()
        });
        samples.push(QuerySample {
            text: st.text.to_string(),
            origin: format!("{origin}:{}", st.line),
            ..Default::default()
        });
    }
    let opts = GroupOptions {
        merge_users: true,
        merge_databases: true,
    };
    (shapes::group(&stats, &opts), samples)
}

fn read_samples(path: &std::path::Path) -> Result<Vec<QuerySample>> {
    let text = intake::text::read_text(path, "a server log or a SQL file of samples")?;
    if intake::logs::detect(&text).is_some() {
        return Ok(intake::logs::load_files(&[path.to_path_buf()])?.samples);
    }
    Ok(shapes_from_sql(&text, &path.display().to_string()).1)
}

async fn sample_activity(client: &tokio_postgres::Client, d: Duration) -> Result<Vec<QuerySample>> {
    let deadline = tokio::time::Instant::now() + d;
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    while tokio::time::Instant::now() < deadline {
        for row in client
            .query(ACTIVITY_SQL, &[])
            .await
            .context("sampling pg_stat_activity (sql/activity_samples.sql)")?
        {
            let q: String = row.get(0);
            if seen.insert(q.clone()) {
                out.push(QuerySample {
                    text: q,
                    origin: "pg_stat_activity".into(),
                    ..Default::default()
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(out)
}

async fn planner_report(
    client: &tokio_postgres::Client,
    catalog: &Catalog,
    queries: &[AdviseQuery],
    settings: &Settings,
    mut not_analyzed: Vec<NotAnalyzed>,
) -> Result<AdviceReport> {
    let mut w = whatif::WhatIf::new(client, catalog.server_version_num.unwrap_or(0)).await?;
    let sel = select::select(&mut w, catalog, queries, settings).await?;
    for (fp, err) in &sel.unplannable {
        let query = queries
            .iter()
            .find(|q| q.fingerprint == *fp)
            .map(|q| q.text.clone())
            .unwrap_or_default();
        not_analyzed.push(NotAnalyzed {
            fingerprint: *fp,
            query,
            reason: format!("the planner refused it: {err}"),
        });
    }
    let by_fp = |fp| queries.iter().find(|q| q.fingerprint == fp);
    let indexes: Vec<IndexProposal> = sel
        .chosen
        .iter()
        .map(|c| {
            let mut p = IndexProposal::from_candidate(&c.candidate, true);
            p.size_bytes = Some(c.size_bytes);
            p.queries = c.queries.iter().map(|g| g.fingerprint).collect();
            let calls: f64 = c
                .queries
                .iter()
                .map(|g| by_fp(g.fingerprint).map(|q| q.calls).unwrap_or(0.0))
                .sum();
            if calls > 0.0 {
                let w = |f: fn(&select::QueryGain) -> f64| {
                    c.queries
                        .iter()
                        .map(|g| by_fp(g.fingerprint).map(|q| q.calls).unwrap_or(0.0) * f(g))
                        .sum::<f64>()
                        / calls
                };
                p.cost_before = Some(w(|g| g.cost_before));
                p.cost_after = Some(w(|g| g.cost_after));
            }
            p.time_saved_pct = Some(c.time_saved_pct);
            p.evidence = c
                .queries
                .iter()
                .map(|g| QueryEvidence {
                    fingerprint: g.fingerprint,
                    query: by_fp(g.fingerprint)
                        .map(|q| q.text.clone())
                        .unwrap_or_default(),
                    calls: by_fp(g.fingerprint).map(|q| q.calls).unwrap_or(0.0),
                    cost_before: Some(g.cost_before),
                    cost_after: Some(g.cost_after),
                    buffers_before: by_fp(g.fingerprint).and_then(|q| q.measured_buffers),
                })
                .collect();
            p.plan_after = c.plan_after.clone();
            p
        })
        .collect();
    let drops = hygiene::drops(catalog, &sel.existing_used);
    let fks = report::foreign_keys(&hygiene::unindexed_foreign_keys(catalog), &indexes);
    let rejected = sel
        .rejected
        .iter()
        .map(|r| RejectedCandidate {
            ddl: r.candidate.ddl(),
            reason: r.reason.clone(),
        })
        .collect();
    let total_saved: f64 = sel.chosen.iter().map(|c| c.time_saved_pct).sum();
    Ok(AdviceReport {
        version: report::REPORT_VERSION,
        mode: Mode::Planner,
        validated: true,
        workload: String::new(),
        catalog: String::new(),
        column_stats: false,
        summary: Summary {
            queries_analyzed: queries.len(),
            indexes: indexes.len(),
            index_bytes: Some(sel.chosen.iter().map(|c| c.size_bytes).sum()),
            drops: drops.len(),
            drop_bytes: drops.iter().map(|d| d.size_bytes).sum(),
            time_saved_pct: Some(total_saved.min(100.0)),
        },
        indexes,
        drops,
        foreign_keys: fks,
        not_analyzed,
        notes: Vec::new(),
        rejected: Some(rejected),
        whatif: Some(WhatIfStats {
            plans: sel.plans_asked,
            cached_plans: sel.plans_cached,
            hypothetical_indexes: sel.hypothetical_created,
            analyzed: sel.analyzed,
        }),
    })
}

fn heuristic_report(
    catalog: &Catalog,
    queries: &[AdviseQuery],
    settings: &Settings,
    mode: Mode,
    not_analyzed: Vec<NotAnalyzed>,
) -> AdviceReport {
    let (props, rejected) = offline::propose(catalog, queries, settings);
    let by_fp = |fp| queries.iter().find(|q| q.fingerprint == fp);
    let indexes: Vec<IndexProposal> = props
        .iter()
        .map(|e| {
            let mut p = IndexProposal::from_candidate(&e.candidate, false);
            p.queries = e.queries.clone();
            p.evidence = e
                .queries
                .iter()
                .map(|fp| QueryEvidence {
                    fingerprint: *fp,
                    query: by_fp(*fp).map(|q| q.text.clone()).unwrap_or_default(),
                    calls: by_fp(*fp).map(|q| q.calls).unwrap_or(0.0),
                    cost_before: None,
                    cost_after: None,
                    buffers_before: by_fp(*fp).and_then(|q| q.measured_buffers),
                })
                .collect();
            p
        })
        .collect();
    let mut drops = hygiene::drops(catalog, &HashSet::new());
    if catalog.stats_age_seconds.is_none() {
        let accesses: Vec<&crate::advise::extract::TableAccess> = queries
            .iter()
            .flat_map(|q| q.facts.accesses.iter())
            .collect();
        let extra = hygiene::unused_by_workload(catalog, &accesses, &drops);
        drops.extend(extra);
    }
    let fks = report::foreign_keys(&hygiene::unindexed_foreign_keys(catalog), &indexes);
    AdviceReport {
        version: report::REPORT_VERSION,
        mode,
        validated: false,
        workload: String::new(),
        catalog: String::new(),
        column_stats: false,
        summary: Summary {
            queries_analyzed: queries.len(),
            indexes: indexes.len(),
            index_bytes: None,
            drops: drops.len(),
            drop_bytes: drops.iter().map(|d| d.size_bytes).sum(),
            time_saved_pct: None,
        },
        indexes,
        drops,
        foreign_keys: fks,
        not_analyzed,
        notes: Vec::new(),
        rejected: Some(
            rejected
                .into_iter()
                .map(|r| RejectedCandidate {
                    ddl: r.candidate.ddl(),
                    reason: r.reason,
                })
                .collect(),
        ),
        whatif: None,
    }
}

/// The plan file for a report: creates (including foreign-key indexes no
/// proposal covers), then drops.
pub fn plan_from(report: &AdviceReport) -> Plan {
    let mut actions = Vec::new();
    for p in &report.indexes {
        let schema = p.table.split('.').next().unwrap_or("public");
        actions.push(Action {
            id: format!("create:{schema}.{}", p.name),
            kind: ActionKind::CreateIndex,
            table: p.table.clone(),
            index: format!("{schema}.{}", p.name),
            ddl: p.ddl.clone(),
            definition: Some(Definition {
                method: "btree".into(),
                columns: p.columns.clone(),
                include: p.include.clone(),
                predicate: p.predicate.clone(),
            }),
            reason: format!("new {} index", p.kind),
            evidence: Evidence {
                queries: p.queries.iter().map(|f| f.to_string()).collect(),
                cost_before: p.cost_before,
                cost_after: p.cost_after,
                size_bytes: p.size_bytes,
                time_saved_pct: p.time_saved_pct,
                // The texts apply re-plans to show cost before -> after.
                sql: p.evidence.iter().map(|e| e.query.clone()).collect(),
                notes: if p.validated {
                    Vec::new()
                } else {
                    vec!["unvalidated: not costed by the planner".into()]
                },
            },
        });
    }
    for f in &report.foreign_keys {
        let Some(ddl) = &f.ddl else { continue };
        // An index only the foreign key's checks would use earns its writes
        // when rows of the referenced table are deleted or their key updated.
        if !report::fk_index_in_plan(f) {
            continue;
        }
        let schema = f.table.split('.').next().unwrap_or("public");
        actions.push(Action {
            id: format!("create:{schema}.{}", f.index_name),
            kind: ActionKind::CreateIndex,
            table: f.table.clone(),
            index: format!("{schema}.{}", f.index_name),
            ddl: ddl.clone(),
            definition: Some(Definition {
                method: "btree".into(),
                columns: f.columns.clone(),
                include: Vec::new(),
                predicate: None,
            }),
            reason: format!("index for foreign key {}", f.constraint),
            evidence: Evidence {
                notes: vec![format!(
                    "deletes and key updates on {} scan {} ({:.0} rows) without it",
                    f.references, f.table, f.table_rows
                )],
                ..Evidence::default()
            },
        });
    }
    for d in &report.drops {
        actions.push(Action {
            id: format!("drop:{}", d.index),
            kind: ActionKind::DropIndex,
            table: d.table.clone(),
            index: d.index.clone(),
            ddl: d.ddl.clone(),
            definition: None,
            reason: d.reason.as_str().to_string(),
            evidence: Evidence {
                size_bytes: Some(d.size_bytes),
                notes: std::iter::once(d.evidence.clone())
                    .chain(d.warnings.iter().cloned())
                    .collect(),
                ..Evidence::default()
            },
        });
    }
    Plan {
        version: PLAN_VERSION,
        generated_by: format!("pgadvisor {}", env!("CARGO_PKG_VERSION")),
        generated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        source: report.catalog.clone(),
        validated: report.validated,
        actions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("500MB"), Ok(500 * 1024 * 1024));
        assert_eq!(parse_size("1.5 GB"), Ok(1_610_612_736));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
