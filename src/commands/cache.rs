//! `pgadvisor cache inspect|warm|invalidate`: the Redis cache in front of
//! PostgreSQL. Flags are resolved here; the work is in `crate::cache`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use comfy_table::Cell;

use crate::cache::checkpoint;
use crate::cache::cluster::{Options as TopoOptions, Topology};
use crate::cache::findings::Thresholds;
use crate::cache::inspect::{self, InspectReport};
use crate::cache::invalidate::{self, InvalidateReport};
use crate::cache::redis_conn::RedisArgs;
use crate::cache::spec::Spec;
use crate::cache::stats::TtlBuckets;
use crate::cache::warm::{self, EntrySummary};
use crate::conn::ConnArgs;
use crate::exit::ExitStatus;
use crate::output::{self, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CacheCommand {
    /// Scan the keyspace: key patterns, memory, TTLs, biggest keys, server facts, findings.
    Inspect(InspectArgs),
    /// Fill Redis from PostgreSQL queries described in a YAML spec.
    Warm(WarmArgs),
    /// Delete the keys matching a pattern (counts only, unless --yes).
    Invalidate(InvalidateArgs),
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Database number (standalone servers; a cluster has only 0).
    #[arg(long)]
    pub db: Option<i64>,
    /// Only keys matching this Redis glob (SCAN MATCH), e.g. 'customer:*'.
    #[arg(long = "match", value_name = "PATTERN")]
    pub match_glob: Option<String>,
    /// Measure about N keys (all nodes together) and extrapolate counts and memory.
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// Cap on Redis commands per second across all nodes (SCAN, TYPE, PTTL, MEMORY USAGE, counts).
    #[arg(long, value_name = "N")]
    pub max_ops_per_sec: Option<u64>,
    /// Resume an interrupted scan from the cursor it printed.
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
    /// Scan each master's replica (READONLY) instead of the master, where one exists.
    #[arg(long)]
    pub replicas: bool,
    /// SCAN COUNT hint per call.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub scan_count: usize,
    /// Biggest keys to list (by memory and by element count).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Patterns shown in the table (JSON lists them all).
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub limit: usize,
    /// Distinct patterns tracked before the rest is counted as {other}.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_patterns: usize,
    /// MEMORY USAGE SAMPLES for nested values (0 = exact, slow on big keys).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub memory_samples: u32,
    /// `big-keys` finding at or above this many bytes.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub big_key_bytes: u64,
    /// `low-hit-ratio` finding below this ratio (0..1).
    #[arg(long, default_value_t = 0.8, value_name = "RATIO")]
    pub min_hit_ratio: f64,
    /// `pattern-dominates-memory` finding at or above this share of memory (0..1).
    #[arg(long, default_value_t = 0.5, value_name = "SHARE")]
    pub dominant_share: f64,
    /// Exit 1 when there are findings.
    #[arg(long)]
    pub fail_on_findings: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct WarmArgs {
    /// The warm spec (YAML; see docs/cache.md).
    pub spec: std::path::PathBuf,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub pg: ConnArgs,
    /// Database number (standalone servers).
    #[arg(long)]
    pub db: Option<i64>,
    /// Only the entries with these names (repeatable).
    #[arg(long = "entry", value_name = "NAME")]
    pub entries: Vec<String>,
    /// Read and render everything, write nothing: counts plus sample keys and values.
    #[arg(long)]
    pub dry_run: bool,
    /// Cap on rows read and keys written per second.
    #[arg(long, value_name = "KEYS_PER_SEC")]
    pub max_rate: Option<u64>,
    /// Pipelines in flight per node.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
    /// Reconnect attempts (with backoff) when Redis goes away mid-run.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub retries: u32,
    /// Seed of the TTL jitter (same seed, same TTL per key).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct InvalidateArgs {
    /// Redis glob ('customer:*') or an inspect pattern ('customer:{id}': exact pattern match).
    pub pattern: String,
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Database number (standalone servers).
    #[arg(long)]
    pub db: Option<i64>,
    /// Really delete (UNLINK). Without it the keys are only counted.
    #[arg(long)]
    pub yes: bool,
    /// Cap on Redis commands per second across all nodes.
    #[arg(long, value_name = "N")]
    pub max_ops_per_sec: Option<u64>,
    /// SCAN COUNT hint per call.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub scan_count: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub async fn run(args: Args) -> Result<ExitStatus> {
    match args.command {
        CacheCommand::Inspect(a) => run_inspect(a).await,
        CacheCommand::Warm(a) => run_warm(a).await,
        CacheCommand::Invalidate(a) => run_invalidate(a).await,
    }
}

async fn open(redis: &RedisArgs, db: Option<i64>, replicas: bool) -> Result<Topology> {
    if db.is_some_and(|d| d < 0) {
        bail!("--db must be 0 or more");
    }
    let target = redis.resolve(db)?;
    Topology::open(
        &target,
        TopoOptions {
            replicas,
            db_requested: db.is_some() || target.seeds.iter().any(|s| s.redis_settings().db() != 0),
        },
    )
    .await
}

/// Ctrl-C sets the flag; the scans stop at the next batch.
fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            f.store(true, Ordering::SeqCst);
        }
    });
    flag
}

async fn run_inspect(a: InspectArgs) -> Result<ExitStatus> {
    if a.scan_count == 0 {
        bail!("--scan-count must be at least 1");
    }
    let topo = open(&a.redis, a.db, a.replicas).await?;
    let resume = a
        .cursor
        .as_deref()
        .map(|c| inspect::parse_cursor(c, &topo))
        .transpose()?;
    let mut opts = inspect::Options {
        match_glob: a.match_glob.clone(),
        scan_count: a.scan_count,
        sample: a.sample,
        max_ops_per_sec: a.max_ops_per_sec,
        top: a.top,
        max_patterns: a.max_patterns,
        thresholds: Thresholds {
            min_hit_ratio: a.min_hit_ratio,
            big_key_bytes: a.big_key_bytes,
            dominant_share: a.dominant_share,
            ..Thresholds::default()
        },
        memory_samples: a.memory_samples,
        resume,
        continues: None,
        db: topo
            .nodes
            .first()
            .map(|n| n.info.redis_settings().db())
            .unwrap_or(0),
    };
    // The saved partial results of the scan this one continues, if any.
    let target = inspect::scan_target(&topo, &opts);
    let state = checkpoint::path_for(&checkpoint::state_dir(), &target);
    match a.cursor.as_deref() {
        None => {}
        Some(_) if a.sample.is_some() => eprintln!(
            "note: --sample with --cursor: the report covers the keys from the cursor on \
             (saved partial results are only merged into full scans)"
        ),
        Some(cursor) => match checkpoint::load(&state)? {
            Some(cp) => match cp.mismatch(&target, cursor) {
                None => opts.continues = Some(cp),
                Some(why) => eprintln!(
                    "note: the saved partial results in {} are not merged: {why}; the report covers the keys from the cursor on",
                    state.display()
                ),
            },
            None => eprintln!(
                "note: no saved partial results for this scan in {}; the report covers the keys from the cursor on",
                state.display()
            ),
        },
    }
    let facts = inspect::server_facts(&topo).await?;
    let cancel = cancel_on_ctrl_c();
    let bar = if output::stderr_is_terminal() {
        let total: u64 = facts.iter().map(|f| f.dbsize).sum();
        let pb = indicatif::ProgressBar::new(a.sample.map_or(total, |s| s.min(total)));
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning {pos}/{len} keys ({per_sec}, eta {eta}) {wide_bar}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };
    let progress: Option<inspect::Progress> = bar
        .clone()
        .map(|pb| Arc::new(move |n: u64| pb.inc(n)) as inspect::Progress);
    let inspect::Inspected { report, checkpoint } =
        inspect::inspect(&topo, facts, &opts, cancel, progress).await?;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => output::write_json(&mut out, &report)?,
        Format::Table => render_inspect(&mut out, &report, a.limit)?,
    }
    if report.scan.interrupted {
        let cursor = report
            .scan
            .resume_cursor
            .clone()
            .unwrap_or_else(|| "0".into());
        let saved = match &checkpoint {
            Some(cp) => match checkpoint::save(&state, cp) {
                Ok(()) => format!(
                    "; the {} keys measured so far are saved in {} and merged into the resumed report",
                    cp.keys_scanned,
                    state.display()
                ),
                Err(e) => format!(
                    "; the keys measured so far could not be saved ({e:#}), so the resumed report will cover only the rest"
                ),
            },
            None => String::new(),
        };
        eprintln!(
            "interrupted: the report covers the keys scanned so far; resume with --cursor '{cursor}'{saved}"
        );
        return Ok(ExitStatus::Error);
    }
    if report.scan.complete
        && let Err(e) = checkpoint::remove(&state)
    {
        // The report stands; a stale checkpoint only ever merges into a
        // run given its exact cursor.
        eprintln!("warning: {e:#}");
    }
    if a.fail_on_findings && !report.findings.is_empty() {
        return Ok(ExitStatus::Findings);
    }
    Ok(ExitStatus::Success)
}

/// `output::table`, except that unit tests always get the pipe style so
/// snapshots do not depend on whether `cargo test` runs in a terminal.
fn table(header: &[&str]) -> comfy_table::Table {
    #[allow(unused_mut)]
    let mut t = output::table(header);
    #[cfg(test)]
    {
        t.load_style(comfy_table::presets::ASCII_MARKDOWN);
        t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        t.force_no_tty();
    }
    t
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn ttl_cell(t: &TtlBuckets) -> String {
    format!(
        "{}/{}/{}/{}/{}",
        t.none, t.lt_1m, t.lt_1h, t.lt_1d, t.longer
    )
}

/// Bytes in at most ~5 characters for dense cells: `88B`, `1.4k`, `23M`.
fn short_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "k", "M", "G", "T"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else if v < 10.0 {
        format!("{v:.1}{}", UNITS[i])
    } else {
        format!("{v:.0}{}", UNITS[i])
    }
}

fn ms_text(ms: Option<i64>) -> String {
    ms.map_or_else(|| "none".into(), |m| output::duration_ms(m as f64))
}

fn render_inspect<W: Write>(out: &mut W, r: &InspectReport, limit: usize) -> Result<()> {
    let s = &r.server;
    writeln!(
        out,
        "Redis {} ({}, {} node{}) at {}, db {}",
        s.redis_version,
        r.mode,
        r.nodes.len(),
        if r.nodes.len() == 1 { "" } else { "s" },
        r.target,
        r.db
    )?;
    writeln!(
        out,
        "memory {} (peak {}), maxmemory {} ({}), evicted {}, expired {}, hit ratio {} ({} hits / {} misses), {} clients",
        output::bytes(s.used_memory),
        output::bytes(s.used_memory_peak),
        if s.maxmemory == 0 {
            "unset".to_string()
        } else {
            output::bytes(s.maxmemory)
        },
        s.maxmemory_policy,
        s.evicted_keys,
        s.expired_keys,
        s.hit_ratio.map_or_else(|| "n/a".into(), pct),
        s.keyspace_hits,
        s.keyspace_misses,
        s.connected_clients
    )?;
    let o = &r.overall;
    writeln!(
        out,
        "scanned {} keys in {}{}: {}{} keys, {} in {} patterns; key size p50 {} p90 {} p99 {} max {}",
        r.scan.keys_scanned,
        output::duration_ms(r.scan.duration_ms),
        r.scan
            .match_glob
            .as_ref()
            .map(|m| format!(" matching '{m}'"))
            .unwrap_or_default(),
        if r.scan.extrapolation.is_some() {
            "an estimated "
        } else {
            ""
        },
        o.keys,
        output::bytes(o.memory_bytes),
        o.patterns,
        output::bytes(o.size.p50),
        output::bytes(o.size.p90),
        output::bytes(o.size.p99),
        output::bytes(o.size.max)
    )?;
    if let Some(x) = &r.scan.extrapolation {
        writeln!(out, "note: {x}")?;
    }
    writeln!(out)?;
    let mut t = table(&[
        "pattern",
        "keys (share)",
        "memory (share)",
        "mean",
        "size p50/p90/p99/max",
        "types",
        "TTL none/<1m/<1h/<1d/more",
    ]);
    for p in r.patterns.iter().take(limit) {
        let types = p
            .types
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(" ");
        t.add_row(vec![
            Cell::new(&p.pattern),
            Cell::new(format!("{} ({})", p.keys, pct(p.share_keys))),
            Cell::new(format!(
                "{} ({})",
                output::bytes(p.memory_bytes),
                pct(p.share_memory)
            )),
            Cell::new(output::bytes(p.mean_bytes)),
            Cell::new(format!(
                "{}/{}/{}/{}",
                short_bytes(p.size.p50),
                short_bytes(p.size.p90),
                short_bytes(p.size.p99),
                short_bytes(p.size.max)
            )),
            Cell::new(types),
            Cell::new(ttl_cell(&p.ttl)),
        ]);
    }
    writeln!(out, "{t}")?;
    if r.patterns.len() > limit {
        writeln!(
            out,
            "({} more patterns; --limit N or --format json)",
            r.patterns.len() - limit
        )?;
    }
    for (title, keys) in [
        ("Biggest keys by memory", &r.biggest_keys.by_memory),
        (
            "Biggest collections by elements",
            &r.biggest_keys.by_elements,
        ),
    ] {
        if keys.is_empty() {
            continue;
        }
        writeln!(out, "\n{title}")?;
        let mut t = table(&["key", "type", "memory", "elements", "TTL", "node"]);
        for k in keys {
            t.add_row(vec![
                output::shorten(&k.key, 60),
                k.key_type.clone(),
                k.memory_bytes.map_or_else(|| "?".into(), output::bytes),
                k.elements.map_or_else(|| "-".into(), |e| e.to_string()),
                ms_text(k.ttl_ms),
                k.node.clone(),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if r.nodes.len() > 1 {
        writeln!(out, "\nNodes")?;
        let mut t = table(&[
            "node",
            "keys scanned",
            "memory scanned",
            "DBSIZE",
            "used memory",
            "hit ratio",
        ]);
        for (n, f) in r.nodes.iter().zip(&r.server.nodes) {
            let name = match &n.replica_of {
                Some(m) => format!("{} (replica of {m})", n.node),
                None => n.node.clone(),
            };
            t.add_row(vec![
                name,
                n.keys.to_string(),
                output::bytes(n.memory_bytes),
                n.dbsize.to_string(),
                output::bytes(f.used_memory),
                f.hit_ratio.map_or_else(|| "n/a".into(), pct),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if r.findings.is_empty() {
        writeln!(out, "\nNo findings.")?;
    } else {
        writeln!(out, "\nFindings")?;
        for f in &r.findings {
            let sev = match f.severity {
                crate::cache::findings::Severity::Warning => "warning",
                crate::cache::findings::Severity::Info => "info",
            };
            writeln!(
                out,
                "- {sev}[{}]: {}\n  help: {}",
                f.rule, f.message, f.help
            )?;
        }
    }
    Ok(())
}

async fn run_warm(a: WarmArgs) -> Result<ExitStatus> {
    let text = std::fs::read_to_string(&a.spec)
        .with_context(|| format!("cannot read the warm spec {}", a.spec.display()))?;
    let mut spec = Spec::parse(&text).with_context(|| format!("in {}", a.spec.display()))?;
    if !a.entries.is_empty() {
        for name in &a.entries {
            if !spec.entries.iter().any(|e| &e.name == name) {
                bail!("--entry {name:?}: no such entry in {}", a.spec.display());
            }
        }
        spec.entries.retain(|e| a.entries.contains(&e.name));
    }
    let topo = if a.dry_run {
        None
    } else {
        Some(open(&a.redis, a.db, false).await?)
    };
    let mut pg = a.pg.resolve()?.connect().await?;
    let opts = warm::Options {
        concurrency: a.concurrency,
        max_rate: a.max_rate,
        dry_run: a.dry_run,
        seed: a.seed,
        retries: a.retries,
        samples: if a.dry_run { 3 } else { 0 },
    };
    let bar = output::stderr_is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} rows ({per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb
    });
    let cb = bar.clone().map(|pb| {
        move |name: &str, n: u64| {
            pb.set_message(name.to_string());
            pb.inc(n);
        }
    });
    let summaries = warm::warm(
        &mut pg,
        topo.as_ref(),
        &spec,
        &opts,
        cb.as_ref().map(|f| f as &(dyn Fn(&str, u64) + Sync)),
    )
    .await;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => output::write_json(
            &mut out,
            &serde_json::json!({ "dry_run": a.dry_run, "entries": summaries }),
        )?,
        Format::Table => render_warm(&mut out, &summaries, a.dry_run)?,
    }
    let failed: Vec<&EntrySummary> = summaries
        .iter()
        .filter(|s| s.status == "failed" || s.status == "not-run")
        .collect();
    if failed.is_empty() {
        Ok(ExitStatus::Success)
    } else {
        let mut err = std::io::stderr().lock();
        for f in failed {
            // Summary errors already name their entry.
            match &f.error {
                Some(e) => writeln!(err, "error: {e}")?,
                None => writeln!(err, "error: entry {:?} failed", f.name)?,
            }
        }
        Ok(ExitStatus::Error)
    }
}

fn render_warm<W: Write>(out: &mut W, summaries: &[EntrySummary], dry_run: bool) -> Result<()> {
    let written = if dry_run {
        "keys (would write)"
    } else {
        "keys written"
    };
    let mut t = table(&[
        "entry",
        "status",
        "rows read",
        written,
        "skipped",
        "bytes",
        "duration",
        "keys/s",
    ]);
    for s in summaries {
        t.add_row(vec![
            s.name.clone(),
            s.status.to_string(),
            s.rows_read.to_string(),
            s.keys_written.to_string(),
            s.rows_skipped.to_string(),
            output::bytes(s.bytes),
            output::duration_ms(s.duration_ms),
            format!("{:.0}", s.keys_per_sec),
        ]);
    }
    writeln!(out, "{t}")?;
    for s in summaries {
        for x in &s.samples {
            let ttl = x.ttl_ms.map_or_else(
                || "no TTL".to_string(),
                |m| format!("TTL {}", output::duration_ms(m as f64)),
            );
            writeln!(
                out,
                "{}: {} = {} ({ttl})",
                s.name,
                x.key,
                output::shorten(&x.value, 120)
            )?;
        }
        if s.keys_unconfirmed > 0 {
            writeln!(
                out,
                "{}: {} keys were in batches whose outcome is unknown (connection lost)",
                s.name, s.keys_unconfirmed
            )?;
        }
    }
    Ok(())
}

async fn run_invalidate(a: InvalidateArgs) -> Result<ExitStatus> {
    if a.pattern.is_empty() {
        bail!(
            "the pattern is empty; give a glob like 'customer:*' or a pattern like 'customer:{{id}}'"
        );
    }
    let topo = open(&a.redis, a.db, false).await?;
    let opts = invalidate::Options {
        pattern: a.pattern.clone(),
        yes: a.yes,
        scan_count: a.scan_count.max(1),
        max_ops_per_sec: a.max_ops_per_sec,
        samples: 5,
    };
    let report = invalidate::invalidate(&topo, &opts, cancel_on_ctrl_c()).await?;
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => output::write_json(&mut out, &report)?,
        Format::Table => render_invalidate(&mut out, &report)?,
    }
    if report.interrupted {
        eprintln!(
            "interrupted: {} keys unlinked before the stop",
            report.unlinked
        );
        return Ok(ExitStatus::Error);
    }
    Ok(ExitStatus::Success)
}

fn render_invalidate<W: Write>(out: &mut W, r: &InvalidateReport) -> Result<()> {
    let how = if r.classified {
        format!(" (SCAN MATCH '{}', then exact pattern check)", r.glob)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{} keys match '{}'{how} on {} node{}",
        r.matched,
        r.pattern,
        r.nodes.len(),
        if r.nodes.len() == 1 { "" } else { "s" }
    )?;
    for e in &r.examples {
        writeln!(out, "  e.g. {e}")?;
    }
    if r.deleted {
        writeln!(out, "unlinked {} keys", r.unlinked)?;
    } else if r.matched > 0 {
        writeln!(out, "nothing deleted; re-run with --yes to unlink them")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::findings::Thresholds;
    use crate::cache::inspect::{NodeReport, ScanInfo};
    use crate::cache::server::{ServerFacts, ServerSummary};
    use crate::cache::stats::{Aggregate, KeyInfo, type_index};

    const INFO: &str = "redis_version:7.0.15\r\nredis_mode:standalone\r\nconnected_clients:4\r\nused_memory:2097152\r\nused_memory_peak:3145728\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\nexpired_keys:120\r\nevicted_keys:0\r\nkeyspace_hits:600\r\nkeyspace_misses:400\r\nrole:master\r\n";

    fn report() -> InspectReport {
        let mut agg = Aggregate::new(100, 3, 1, 1 << 20);
        let mut add = |key: String, t: &str, ttl: Option<i64>, mem: u64, el: Option<u64>| {
            agg.add(&KeyInfo {
                key,
                type_idx: type_index(t),
                ttl_ms: ttl,
                memory: Some(mem),
                elements: el,
                node: 0,
            })
        };
        for i in 0..40u64 {
            add(
                format!("customer:{i}"),
                "string",
                Some(3_000_000),
                180 + i % 7,
                None,
            );
        }
        for i in 0..20u64 {
            add(format!("churn:{i}"), "hash", Some(1_500_000), 120, Some(3));
        }
        for i in 0..12u64 {
            add(
                format!("session:{:08x}-1111-4222-8333-{:012x}", i, i * 31),
                "string",
                None,
                136,
                None,
            );
        }
        add("queue:jobs".into(), "list", None, 2_400_000, Some(50_000));
        let server =
            ServerSummary::from_nodes(vec![ServerFacts::from_info("127.0.0.1:6379", INFO, 73)]);
        let names = vec!["127.0.0.1:6379".to_string()];
        let inspect::Summary {
            patterns,
            overall,
            biggest_keys,
            findings,
        } = inspect::summarize(&agg, 1.0, &server, &names, &Thresholds::default());
        InspectReport {
            target: "127.0.0.1:6379/0".into(),
            mode: "standalone",
            db: 0,
            scan: ScanInfo {
                complete: true,
                interrupted: false,
                match_glob: None,
                keys_scanned: 73,
                keys_scanned_earlier: 0,
                keys_vanished: 0,
                memory_unknown: 0,
                extrapolation_factor: 1.0,
                extrapolation: None,
                resume_cursor: None,
                duration_ms: 12.5,
            },
            overall,
            patterns,
            biggest_keys,
            nodes: vec![NodeReport {
                node: names[0].clone(),
                replica_of: None,
                keys: 73,
                memory_bytes: agg.overall.memory,
                dbsize: 73,
                cursor: 0,
            }],
            server,
            findings,
        }
    }

    #[test]
    fn inspect_table_snapshot() {
        let mut out = Vec::new();
        render_inspect(&mut out, &report(), 30).expect("render");
        insta::assert_snapshot!(String::from_utf8_lossy(&out));
    }

    #[test]
    fn inspect_json_snapshot() {
        let json = serde_json::to_string_pretty(&report()).expect("serialize");
        insta::assert_snapshot!(json);
    }

    #[test]
    fn short_bytes_units() {
        assert_eq!(short_bytes(88), "88B");
        assert_eq!(short_bytes(1500), "1.5k");
        assert_eq!(short_bytes(23 << 20), "23M");
    }
}
