//! `cache warm`: run each spec entry's query in PostgreSQL and write one
//! key per row to Redis. Rows are fetched through a portal a batch at a
//! time (never the whole result); each batch becomes one packed pipeline per
//! node (keys grouped by hash slot owner on a cluster) written on a blocking
//! connection (see `batch`), with up to `concurrency` pipelines in flight
//! per node while PostgreSQL produces the next batch. Values are assembled
//! from cheaply fetched columns (see `row`). A PostgreSQL error stops its
//! entry; Redis going away is retried with backoff, then the run stops and
//! reports the keys confirmed written — nothing unconfirmed is counted.

mod batch;
mod row;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use tokio_postgres::types::{ToSql, Type};

use self::batch::{Batch, NodeWriter, Written};
use self::row::RowPlan;
use super::cluster::Topology;
use super::limiter::Limiter;
use super::spec::{Encoding, Entry, Param, Spec, ttl_for};

const ROWS_SQL: &str = include_str!("../../../sql/cache_warm_rows.sql");

#[derive(Debug, Clone)]
pub struct Options {
    pub concurrency: usize,
    /// Keys (= rows) per second, both sides.
    pub max_rate: Option<u64>,
    pub dry_run: bool,
    /// Seed of the TTL jitter.
    pub seed: u64,
    /// Attempts after a Redis connection loss before giving up.
    pub retries: u32,
    /// Sample keys and values kept for `--dry-run`.
    pub samples: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sample {
    pub key: String,
    pub value: String,
    pub ttl_ms: Option<u64>,
}

/// What happened to one entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntrySummary {
    pub name: String,
    /// `ok`, `dry-run`, `failed`, or `not-run` (an earlier entry lost Redis).
    pub status: &'static str,
    pub rows_read: u64,
    /// Keys Redis confirmed (in a dry run: keys that would be written).
    pub keys_written: u64,
    /// Rows with a NULL key column (or, for hashes, no non-NULL column).
    pub rows_skipped: u64,
    /// Keys sent in batches whose outcome is unknown (the connection broke).
    pub keys_unconfirmed: u64,
    /// Key + value bytes of the keys counted in `keys_written`.
    pub bytes: u64,
    pub duration_ms: f64,
    pub keys_per_sec: f64,
    pub error: Option<String>,
    pub samples: Vec<Sample>,
}

impl EntrySummary {
    fn new(name: &str) -> Self {
        EntrySummary {
            name: name.to_string(),
            status: "ok",
            rows_read: 0,
            keys_written: 0,
            rows_skipped: 0,
            keys_unconfirmed: 0,
            bytes: 0,
            duration_ms: 0.0,
            keys_per_sec: 0.0,
            error: None,
            samples: Vec::new(),
        }
    }
}

type BoxedParam = Box<dyn ToSql + Sync + Send>;

/// Bind a spec parameter as the type PostgreSQL inferred for it.
fn bind(p: &Param, ty: &Type, entry: &str, n: usize) -> Result<BoxedParam> {
    let mismatch = || {
        anyhow!(
            "entry {entry:?}: parameter ${n} is {p:?} but PostgreSQL expects {ty}; change the value, or cast in the query (${n}::text::{ty}) to bind it as text",
        )
        .context(format!("binding parameters of entry {entry:?}"))
    };
    let int = |p: &Param| match p {
        Param::Int(i) => Some(*i),
        Param::Text(s) => s.trim().parse().ok(),
        _ => None,
    };
    let float = |p: &Param| match p {
        Param::Int(i) => Some(*i as f64),
        Param::Float(f) => Some(*f),
        Param::Text(s) => s.trim().parse().ok(),
        _ => None,
    };
    if matches!(p, Param::Null) {
        // NULL of any type: an Option<T> whose T accepts the type.
        return Ok(match *ty {
            Type::BOOL => Box::new(None::<bool>),
            Type::INT2 => Box::new(None::<i16>),
            Type::INT4 => Box::new(None::<i32>),
            Type::INT8 => Box::new(None::<i64>),
            Type::FLOAT4 => Box::new(None::<f32>),
            Type::FLOAT8 => Box::new(None::<f64>),
            Type::OID => Box::new(None::<u32>),
            Type::JSON | Type::JSONB => Box::new(None::<serde_json::Value>),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Box::new(None::<String>)
            }
            _ => return Err(mismatch()),
        });
    }
    Ok(match *ty {
        Type::BOOL => match p {
            Param::Bool(b) => Box::new(*b),
            Param::Text(s) if s == "true" || s == "false" => Box::new(s == "true"),
            _ => return Err(mismatch()),
        },
        Type::INT2 => Box::new(
            int(p)
                .and_then(|i| i16::try_from(i).ok())
                .ok_or_else(mismatch)?,
        ),
        Type::INT4 => Box::new(
            int(p)
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(mismatch)?,
        ),
        Type::INT8 => Box::new(int(p).ok_or_else(mismatch)?),
        Type::OID => Box::new(
            int(p)
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(mismatch)?,
        ),
        Type::FLOAT4 => Box::new(float(p).ok_or_else(mismatch)? as f32),
        Type::FLOAT8 => Box::new(float(p).ok_or_else(mismatch)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            Box::new(match p {
                Param::Text(s) => s.clone(),
                Param::Int(i) => i.to_string(),
                Param::Float(f) => f.to_string(),
                Param::Bool(b) => b.to_string(),
                Param::Null => String::new(),
            })
        }
        Type::JSON | Type::JSONB => Box::new(match p {
            Param::Text(s) => {
                serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.clone()))
            }
            Param::Int(i) => serde_json::Value::from(*i),
            Param::Float(f) => serde_json::Value::from(*f),
            Param::Bool(b) => serde_json::Value::from(*b),
            Param::Null => serde_json::Value::Null,
        }),
        _ => return Err(mismatch()),
    })
}

/// The prepared, validated plan of one entry.
struct Prepared {
    stmt: tokio_postgres::Statement,
    params: Vec<BoxedParam>,
    plan: RowPlan,
}

async fn prepare(tx: &tokio_postgres::Transaction<'_>, e: &Entry) -> Result<Prepared> {
    let user = tx
        .prepare(&e.query)
        .await
        .map_err(|err| pg_error(&err))
        .with_context(|| format!("entry {:?}: preparing its query", e.name))?;
    let columns: Vec<(String, Type)> = user
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.type_().clone()))
        .collect();
    if user.params().len() != e.params.len() {
        bail!(
            "entry {:?}: the query has {} parameter(s) ($1…) but the spec gives {}",
            e.name,
            user.params().len(),
            e.params.len()
        );
    }
    for (i, (c, _)) in columns.iter().enumerate() {
        if columns[..i].iter().any(|(x, _)| x == c) {
            bail!(
                "entry {:?}: the query returns column {c:?} twice; give columns unique names (AS …)",
                e.name
            );
        }
    }
    for c in e.key.columns() {
        if !columns.iter().any(|(x, _)| x == c) {
            bail!(
                "entry {:?}: the key template uses {{{c}}} but the query returns no such column (columns: {})",
                e.name,
                columns
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let plan = RowPlan::new(&columns, &e.key, e.encoding);
    let sql = strip_comments(ROWS_SQL)
        .replace("{columns}", &plan.select_list)
        .replace("{query}", &e.query);
    let stmt = tx
        .prepare(&sql)
        .await
        .map_err(|err| pg_error(&err))
        .with_context(|| format!("entry {:?}: preparing the row query", e.name))?;
    let params = e
        .params
        .iter()
        .zip(stmt.params())
        .enumerate()
        .map(|(i, (p, ty))| bind(p, ty, &e.name, i + 1))
        .collect::<Result<Vec<_>>>()?;
    Ok(Prepared { stmt, params, plan })
}

/// Drop the `--` comment lines of our SQL templates.
fn strip_comments(sql: &str) -> String {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A PostgreSQL error with its server message, code, detail and hint.
fn pg_error(e: &tokio_postgres::Error) -> anyhow::Error {
    anyhow!("PostgreSQL: {}", crate::conn::explain::server_error(e))
}

/// Where one batch of rows goes: packed per node, or (dry run) only
/// counted and sampled.
enum Sink<'a> {
    Nodes {
        topo: &'a Topology,
        batches: Vec<Batch>,
    },
    DryRun {
        keys: u64,
        bytes: u64,
        samples: &'a mut Vec<Sample>,
        want: usize,
    },
}

/// Turn one batch of rows into keys and values; rows without a key (or,
/// for hashes, without a non-NULL column) are skipped.
fn encode_rows(
    rows: &[tokio_postgres::Row],
    e: &Entry,
    plan: &RowPlan,
    seed: u64,
    skipped: &mut u64,
    sink: &mut Sink<'_>,
) -> Result<(), EntryError> {
    let decoding =
        |err: anyhow::Error| EntryError::Postgres(err.context(format!("entry {:?}", e.name)));
    let mut key = Vec::with_capacity(64);
    let mut value = Vec::with_capacity(256);
    for row in rows {
        key.clear();
        if !plan.key(row, &mut key).map_err(decoding)? {
            *skipped += 1;
            continue;
        }
        let ttl_ms = e.ttl.map(|t| ttl_for(&key, t, e.ttl_jitter, seed));
        let fields = match e.encoding {
            Encoding::Json => {
                value.clear();
                plan.json(row, &mut value).map_err(decoding)?;
                Vec::new()
            }
            Encoding::Hash => {
                let f = plan.fields(row).map_err(decoding)?;
                if f.is_empty() {
                    *skipped += 1;
                    continue;
                }
                f
            }
        };
        match sink {
            Sink::Nodes { topo, batches } => {
                let b = &mut batches[topo.node_for_key(&key).map_err(EntryError::Redis)?];
                match e.encoding {
                    Encoding::Json => b.push_set(&key, &value, ttl_ms),
                    Encoding::Hash => b.push_hash(&key, &fields, ttl_ms),
                }
            }
            Sink::DryRun {
                keys,
                bytes,
                samples,
                want,
            } => {
                *keys += 1;
                *bytes += key.len() as u64
                    + match e.encoding {
                        Encoding::Json => value.len() as u64,
                        Encoding::Hash => {
                            fields.iter().map(|(f, v)| (f.len() + v.len()) as u64).sum()
                        }
                    };
                if samples.len() < *want {
                    samples.push(Sample {
                        key: String::from_utf8_lossy(&key).into_owned(),
                        value: match e.encoding {
                            Encoding::Json => String::from_utf8_lossy(&value).into_owned(),
                            Encoding::Hash => hash_sample(&fields),
                        },
                        ttl_ms,
                    });
                }
            }
        }
    }
    Ok(())
}

/// A hash's fields as a JSON object of strings, in column order.
fn hash_sample(fields: &[(&str, &[u8])]) -> String {
    let mut out = vec![b'{'];
    for (i, (f, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        row::escape_json(&mut out, f.as_bytes());
        out.push(b':');
        row::escape_json(&mut out, v);
    }
    out.push(b'}');
    String::from_utf8_lossy(&out).into_owned()
}

/// Called with an entry name and the rows just read.
pub type WarmProgress<'a> = &'a (dyn Fn(&str, u64) + Sync);

/// Run every entry. `topo` is `None` for a dry run. Returns one summary per
/// entry; entries after a lost Redis are `not-run`.
pub async fn warm(
    pg: &mut tokio_postgres::Client,
    topo: Option<&Topology>,
    spec: &Spec,
    opts: &Options,
    progress: Option<WarmProgress<'_>>,
) -> Vec<EntrySummary> {
    let writers: Vec<Arc<NodeWriter>> = topo
        .map(|t| {
            t.nodes
                .iter()
                .map(|n| Arc::new(NodeWriter::new(n.name.clone(), n.info.clone(), t.timeout)))
                .collect()
        })
        .unwrap_or_default();
    let limiter = Limiter::new(opts.max_rate);
    let mut out = Vec::new();
    let mut redis_lost = false;
    for e in &spec.entries {
        let mut s = EntrySummary::new(&e.name);
        if redis_lost {
            s.status = "not-run";
            s.error = Some(format!(
                "entry {:?}: not run: Redis was lost during an earlier entry",
                e.name
            ));
            out.push(s);
            continue;
        }
        let started = Instant::now();
        let res = run_entry(pg, topo, &writers, e, opts, &limiter, &mut s, progress).await;
        s.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        s.keys_per_sec = if s.duration_ms > 0.0 {
            (s.keys_written as f64 / (s.duration_ms / 1000.0)).round()
        } else {
            0.0
        };
        match res {
            Ok(()) if s.error.is_none() => {
                if opts.dry_run {
                    s.status = "dry-run";
                }
            }
            Ok(()) => s.status = "failed",
            Err(EntryError::Postgres(err)) => {
                s.status = "failed";
                s.error = Some(format!("{err:#}"));
            }
            Err(EntryError::Redis(err)) => {
                s.status = "failed";
                s.error = Some(format!("{err:#}"));
                redis_lost = true;
            }
        }
        out.push(s);
    }
    out
}

enum EntryError {
    Postgres(anyhow::Error),
    Redis(anyhow::Error),
}

type InFlight = VecDeque<(u64, tokio::task::JoinHandle<Result<Written>>)>;

#[allow(clippy::too_many_arguments)]
async fn run_entry(
    pg: &mut tokio_postgres::Client,
    topo: Option<&Topology>,
    writers: &[Arc<NodeWriter>],
    e: &Entry,
    opts: &Options,
    limiter: &Limiter,
    s: &mut EntrySummary,
    progress: Option<WarmProgress<'_>>,
) -> Result<(), EntryError> {
    let tx = pg
        .build_transaction()
        .read_only(true)
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(|err| {
            EntryError::Postgres(
                pg_error(&err).context(format!("entry {:?}: starting a transaction", e.name)),
            )
        })?;
    let p = prepare(&tx, e).await.map_err(EntryError::Postgres)?;
    let portal = tx
        .bind_raw(
            &p.stmt,
            p.params.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)),
        )
        .await
        .map_err(|err| {
            EntryError::Postgres(
                pg_error(&err).context(format!("entry {:?}: running its query", e.name)),
            )
        })?;
    let mut inflight: InFlight = VecDeque::new();
    let concurrency = opts.concurrency.max(1);
    let mut failure: Option<EntryError> = None;
    let fetch_err = |err: tokio_postgres::Error| {
        EntryError::Postgres(pg_error(&err).context(format!("entry {:?}: fetching rows", e.name)))
    };
    // Fetch `batch_size` rows from the portal (one round trip).
    let fetch = || async {
        use futures_util::TryStreamExt;
        limiter.acquire(e.batch_size as u64).await;
        let stream = tx.query_portal_raw(&portal, e.batch_size as i32).await?;
        stream.try_collect::<Vec<tokio_postgres::Row>>().await
    };
    let mut rows = match fetch().await {
        Ok(r) => r,
        Err(err) => return Err(fetch_err(err)),
    };
    // Packed bytes per node in the previous batch.
    let mut packed = vec![0usize; writers.len()];
    loop {
        let done = rows.len() < e.batch_size;
        s.rows_read += rows.len() as u64;
        let mut sink = match topo {
            Some(t) => Sink::Nodes {
                topo: t,
                batches: packed
                    .iter()
                    .map(|&n| Batch::with_capacity(n + n / 8))
                    .collect(),
            },
            None => Sink::DryRun {
                keys: 0,
                bytes: 0,
                samples: &mut s.samples,
                want: opts.samples,
            },
        };
        if let Err(err) = encode_rows(&rows, e, &p.plan, opts.seed, &mut s.rows_skipped, &mut sink)
        {
            failure = Some(err);
            break;
        }
        if let Some(cb) = progress {
            cb(&e.name, rows.len() as u64);
        }
        match sink {
            Sink::DryRun { keys, bytes, .. } => {
                s.keys_written += keys;
                s.bytes += bytes;
            }
            Sink::Nodes { batches, .. } => {
                for (n, batch) in batches.into_iter().enumerate() {
                    packed[n] = batch.packed_len();
                    if batch.is_empty() {
                        continue;
                    }
                    let count = batch.len() as u64;
                    let w = writers[n].clone();
                    let retries = opts.retries;
                    inflight.push_back((
                        count,
                        tokio::task::spawn_blocking(move || w.write(&batch, retries)),
                    ));
                }
            }
        }
        // PostgreSQL produces the next batch while the pipelines are written.
        let next = async { if done { None } else { Some(fetch().await) } };
        let drain = async {
            let mut f = None;
            while inflight.len() >= concurrency * writers.len().max(1) && f.is_none() {
                f = collect_one(&mut inflight, s).await;
            }
            f
        };
        let (next, drained) = tokio::join!(next, drain);
        if let Some(f) = drained {
            failure = Some(f);
        }
        if failure.is_some() || s.error.is_some() {
            break;
        }
        match next {
            None => break,
            Some(Ok(r)) => rows = r,
            Some(Err(err)) => {
                failure = Some(fetch_err(err));
                break;
            }
        }
    }
    while !inflight.is_empty() {
        if let Some(f) = collect_one(&mut inflight, s).await {
            failure.get_or_insert(f);
        }
    }
    drop(tx);
    match failure {
        Some(EntryError::Redis(err)) => Err(EntryError::Redis(err.context(format!(
            "entry {:?}: Redis unavailable; {} keys confirmed written, {} in batches with unknown outcome",
            e.name, s.keys_written, s.keys_unconfirmed
        )))),
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// Wait for the oldest in-flight batch and account for it.
async fn collect_one(inflight: &mut InFlight, s: &mut EntrySummary) -> Option<EntryError> {
    let (count, h) = inflight.pop_front()?;
    match h.await {
        Ok(Ok(w)) => {
            s.keys_written += w.keys;
            s.bytes += w.bytes;
            if let Some(err) = w.error
                && s.error.is_none()
            {
                s.error = Some(format!(
                    "entry {:?}: Redis refused {} of {count} keys in a batch (keys confirmed written so far are counted); first: {err}",
                    s.name,
                    count - w.keys
                ));
            }
            None
        }
        Ok(Err(err)) => {
            s.keys_unconfirmed += count;
            Some(EntryError::Redis(err))
        }
        Err(join) => {
            s.keys_unconfirmed += count;
            Some(EntryError::Redis(anyhow!("write task failed: {join}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_samples_keep_column_order() {
        let s = hash_sample(&[("score", b"0.5"), ("at", b"2024-01-01 \"x\"")]);
        assert_eq!(s, r#"{"score":"0.5","at":"2024-01-01 \"x\""}"#);
    }

    #[test]
    fn sql_template_has_its_slots() {
        assert!(ROWS_SQL.contains("{columns}") && ROWS_SQL.contains("{query}"));
        assert!(!strip_comments(ROWS_SQL).contains("--"));
    }

    #[test]
    fn params_bind_by_inferred_type() {
        assert!(bind(&Param::Int(5), &Type::INT4, "e", 1).is_ok());
        assert!(bind(&Param::Text("5".into()), &Type::INT8, "e", 1).is_ok());
        assert!(bind(&Param::Int(1 << 40), &Type::INT4, "e", 1).is_err());
        assert!(bind(&Param::Bool(true), &Type::INT4, "e", 1).is_err());
        let err = bind(&Param::Text("x".into()), &Type::NUMERIC, "e", 2)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains("::text::numeric"), "{err}");
        assert!(bind(&Param::Null, &Type::INT4, "e", 1).is_ok());
    }
}
