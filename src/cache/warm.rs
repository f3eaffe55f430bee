//! `cache warm`: run each spec entry's query in PostgreSQL and write one
//! key per row to Redis. Rows are fetched through a portal a batch at a
//! time (never the whole result), each batch becomes one pipeline per node
//! (keys grouped by hash slot owner on a cluster) and up to `concurrency`
//! pipelines are in flight. A PostgreSQL error stops its entry; Redis going
//! away is retried with backoff, then the run stops and reports the keys
//! confirmed written — nothing unconfirmed is counted.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use redis::Value;
use redis::aio::MultiplexedConnection;
use serde::Serialize;
use tokio::sync::Mutex;
use tokio_postgres::types::{FromSql, ToSql, Type};

use super::cluster::Topology;
use super::limiter::Limiter;
use super::redis_conn;
use super::spec::{Encoding, Entry, Param, Spec, ttl_for};
use crate::ident::quote_ident;

const JSON_SQL: &str = include_str!("../../sql/cache_warm_json.sql");
const HASH_SQL: &str = include_str!("../../sql/cache_warm_hash.sql");

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

/// A column value in PostgreSQL's binary format of `text` (we cast every
/// column we read to text): the UTF-8 bytes themselves.
struct RawText<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawText<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawText(raw))
    }
    fn accepts(_: &Type) -> bool {
        true
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
    /// For each key template column, its index in the wrapper's row.
    key_cols: Vec<(String, usize)>,
    /// Hash encoding: field names, in row order.
    fields: Vec<String>,
}

async fn prepare(tx: &tokio_postgres::Transaction<'_>, e: &Entry) -> Result<Prepared> {
    let user = tx
        .prepare(&e.query)
        .await
        .map_err(|err| pg_error(&err))
        .with_context(|| format!("entry {:?}: preparing its query", e.name))?;
    let columns: Vec<String> = user
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    if user.params().len() != e.params.len() {
        bail!(
            "entry {:?}: the query has {} parameter(s) ($1…) but the spec gives {}",
            e.name,
            user.params().len(),
            e.params.len()
        );
    }
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].contains(c) {
            bail!(
                "entry {:?}: the query returns column {c:?} twice; give columns unique names (AS …)",
                e.name
            );
        }
    }
    for c in e.key.columns() {
        if !columns.iter().any(|x| x == c) {
            bail!(
                "entry {:?}: the key template uses {{{c}}} but the query returns no such column (columns: {})",
                e.name,
                columns.join(", ")
            );
        }
    }
    let (sql, key_cols, fields) = match e.encoding {
        Encoding::Json => {
            let keys: Vec<&str> = e.key.columns();
            let list: String = keys
                .iter()
                .map(|c| format!(", q.{}::text", quote_ident(c)))
                .collect();
            let key_cols = keys
                .iter()
                .enumerate()
                .map(|(i, c)| (c.to_string(), i + 1))
                .collect();
            (
                JSON_SQL.replace("{key_columns}", &list),
                key_cols,
                Vec::new(),
            )
        }
        Encoding::Hash => {
            let list = columns
                .iter()
                .map(|c| format!("q.{}::text", quote_ident(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let key_cols = e
                .key
                .columns()
                .iter()
                .filter_map(|c| {
                    columns
                        .iter()
                        .position(|x| x == c)
                        .map(|i| (c.to_string(), i))
                })
                .collect();
            (
                HASH_SQL.replace("{columns}", &list),
                key_cols,
                columns.clone(),
            )
        }
    };
    let sql = strip_comments(&sql).replace("{query}", &e.query);
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
    Ok(Prepared {
        stmt,
        params,
        key_cols,
        fields,
    })
}

/// Drop the `--` comment lines of our SQL templates.
fn strip_comments(sql: &str) -> String {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A PostgreSQL error with its server message, detail and hint.
fn pg_error(e: &tokio_postgres::Error) -> anyhow::Error {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("PostgreSQL: {} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; detail: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            anyhow!(s)
        }
        None => anyhow!("PostgreSQL: {e}"),
    }
}

/// One key to write.
struct Item {
    key: Vec<u8>,
    /// JSON text, or (field, value) pairs.
    value: Value2,
    ttl_ms: Option<u64>,
}

enum Value2 {
    Json(Vec<u8>),
    Hash(Vec<(String, Vec<u8>)>),
}

impl Item {
    fn bytes(&self) -> u64 {
        self.key.len() as u64
            + match &self.value {
                Value2::Json(v) => v.len() as u64,
                Value2::Hash(f) => f.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum(),
            }
    }
}

/// Turn one batch of rows into items; rows without a key are skipped.
fn items_of(
    rows: &[tokio_postgres::Row],
    e: &Entry,
    p: &Prepared,
    seed: u64,
    skipped: &mut u64,
) -> Result<Vec<Item>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let get = |i: usize| -> Result<Option<&[u8]>> {
            Ok(row
                .try_get::<_, Option<RawText<'_>>>(i)
                .context("decoding a row")?
                .map(|r| r.0))
        };
        let mut key_vals: Vec<(&str, Option<&[u8]>)> = Vec::with_capacity(p.key_cols.len());
        for (c, i) in &p.key_cols {
            key_vals.push((c.as_str(), get(*i)?));
        }
        let key = e
            .key
            .render(|c| key_vals.iter().find(|(n, _)| *n == c).and_then(|(_, v)| *v));
        let Some(key) = key else {
            *skipped += 1;
            continue;
        };
        let value = match e.encoding {
            Encoding::Json => match get(0)? {
                Some(v) => Value2::Json(v.to_vec()),
                None => {
                    *skipped += 1;
                    continue;
                }
            },
            Encoding::Hash => {
                let mut fields = Vec::with_capacity(p.fields.len());
                for (i, f) in p.fields.iter().enumerate() {
                    if let Some(v) = get(i)? {
                        fields.push((f.clone(), v.to_vec()));
                    }
                }
                if fields.is_empty() {
                    *skipped += 1;
                    continue;
                }
                Value2::Hash(fields)
            }
        };
        let ttl_ms = e.ttl.map(|t| ttl_for(&key, t, e.ttl_jitter, seed));
        out.push(Item { key, value, ttl_ms });
    }
    Ok(out)
}

fn add_commands(pipe: &mut redis::Pipeline, it: &Item) -> usize {
    match &it.value {
        Value2::Json(v) => {
            let c = pipe.cmd("SET").arg(&it.key).arg(v);
            if let Some(t) = it.ttl_ms {
                c.arg("PX").arg(t);
            }
            1
        }
        Value2::Hash(fields) => {
            pipe.cmd("MULTI");
            pipe.cmd("DEL").arg(&it.key);
            let c = pipe.cmd("HSET").arg(&it.key);
            for (f, v) in fields {
                c.arg(f).arg(v);
            }
            let mut n = 4;
            if let Some(t) = it.ttl_ms {
                pipe.cmd("PEXPIRE").arg(&it.key).arg(t);
                n += 1;
            }
            pipe.cmd("EXEC");
            n
        }
    }
}

/// A node connection that write tasks share and replace after a drop.
struct NodeSlot {
    name: String,
    info: redis::ConnectionInfo,
    timeout: Duration,
    conn: Mutex<(u64, MultiplexedConnection)>,
}

/// Outcome of one node's part of a batch.
struct Written {
    keys: u64,
    bytes: u64,
    /// First per-key server error (e.g. OOM, MOVED).
    error: Option<String>,
}

/// Send one pipeline, reconnecting and retrying on connection loss.
async fn send(slot: Arc<NodeSlot>, items: Vec<Item>, retries: u32) -> Result<Written> {
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    let mut ends = Vec::with_capacity(items.len());
    let mut n = 0;
    for it in &items {
        n += add_commands(&mut pipe, it);
        ends.push(n - 1);
    }
    let mut attempt = 0;
    loop {
        let (generation, mut conn) = {
            let g = slot.conn.lock().await;
            (g.0, g.1.clone())
        };
        match pipe
            .query_async::<Vec<redis::RedisResult<Value>>>(&mut conn)
            .await
        {
            Ok(replies) => {
                let mut w = Written {
                    keys: 0,
                    bytes: 0,
                    error: None,
                };
                for (it, end) in items.iter().zip(&ends) {
                    match replies.get(*end) {
                        Some(Ok(v)) if reply_ok(v) => {
                            w.keys += 1;
                            w.bytes += it.bytes();
                        }
                        Some(Ok(v)) => {
                            w.error.get_or_insert_with(|| {
                                format!(
                                    "{} on {}: {v:?}",
                                    String::from_utf8_lossy(&it.key),
                                    slot.name
                                )
                            });
                        }
                        Some(Err(e)) => {
                            w.error.get_or_insert_with(|| {
                                format!(
                                    "{} on {}: {e}",
                                    String::from_utf8_lossy(&it.key),
                                    slot.name
                                )
                            });
                        }
                        None => {
                            w.error.get_or_insert_with(|| {
                                format!("short pipeline reply from {}", slot.name)
                            });
                        }
                    }
                }
                return Ok(w);
            }
            Err(e) if redis_conn::is_connection_lost(&e) && attempt < retries => {
                attempt += 1;
                let backoff =
                    Duration::from_millis(200u64 << attempt.min(5)).min(Duration::from_secs(5));
                tokio::time::sleep(backoff).await;
                let mut g = slot.conn.lock().await;
                if g.0 == generation
                    && let Ok(c) = redis_conn::connect(&slot.info, slot.timeout).await
                {
                    *g = (generation + 1, c);
                }
            }
            Err(e) => {
                return Err(anyhow!(
                    "Redis at {} failed after {attempt} retr{}: {e}",
                    slot.name,
                    if attempt == 1 { "y" } else { "ies" }
                ));
            }
        }
    }
}

fn reply_ok(v: &Value) -> bool {
    match v {
        Value::Okay => true,
        Value::SimpleString(s) => s == "OK",
        Value::Array(items) => !items.iter().any(|i| matches!(i, Value::ServerError(_))),
        _ => false,
    }
}

/// Render an item for a dry-run sample.
fn sample_of(it: &Item) -> Sample {
    let value = match &it.value {
        Value2::Json(v) => String::from_utf8_lossy(v).into_owned(),
        Value2::Hash(f) => {
            let m: serde_json::Map<String, serde_json::Value> = f
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::Value::String(String::from_utf8_lossy(v).into_owned()),
                    )
                })
                .collect();
            serde_json::Value::Object(m).to_string()
        }
    };
    Sample {
        key: String::from_utf8_lossy(&it.key).into_owned(),
        value,
        ttl_ms: it.ttl_ms,
    }
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
    let slots: Vec<Arc<NodeSlot>> = topo
        .map(|t| {
            t.nodes
                .iter()
                .map(|n| {
                    Arc::new(NodeSlot {
                        name: n.name.clone(),
                        info: n.info.clone(),
                        timeout: t.timeout,
                        conn: Mutex::new((0, n.conn.clone())),
                    })
                })
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
        let res = run_entry(pg, topo, &slots, e, opts, &limiter, &mut s, progress).await;
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

#[allow(clippy::too_many_arguments)]
async fn run_entry(
    pg: &mut tokio_postgres::Client,
    topo: Option<&Topology>,
    slots: &[Arc<NodeSlot>],
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
    let mut inflight: VecDeque<(u64, tokio::task::JoinHandle<Result<Written>>)> = VecDeque::new();
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
    loop {
        let done = rows.len() < e.batch_size;
        s.rows_read += rows.len() as u64;
        let items = match items_of(&rows, e, &p, opts.seed, &mut s.rows_skipped) {
            Ok(i) => i,
            Err(err) => {
                failure = Some(EntryError::Postgres(
                    err.context(format!("entry {:?}", e.name)),
                ));
                break;
            }
        };
        if let Some(cb) = progress {
            cb(&e.name, rows.len() as u64);
        }
        // PostgreSQL produces the next batch while this one is written.
        let next = async { if done { None } else { Some(fetch().await) } };
        let write = async {
            match topo {
                None => {
                    for it in &items {
                        if s.samples.len() < opts.samples {
                            s.samples.push(sample_of(it));
                        }
                        s.keys_written += 1;
                        s.bytes += it.bytes();
                    }
                }
                Some(t) => {
                    let mut per_node: Vec<Vec<Item>> =
                        (0..slots.len()).map(|_| Vec::new()).collect();
                    for it in items {
                        match t.node_for_key(&it.key) {
                            Ok(n) => per_node[n].push(it),
                            Err(err) => {
                                failure = Some(EntryError::Redis(err));
                                return;
                            }
                        }
                    }
                    for (n, group) in per_node.into_iter().enumerate() {
                        if group.is_empty() {
                            continue;
                        }
                        let count = group.len() as u64;
                        inflight.push_back((
                            count,
                            tokio::spawn(send(slots[n].clone(), group, opts.retries)),
                        ));
                    }
                    while inflight.len() >= concurrency * slots.len().max(1) && failure.is_none() {
                        if let Some(f) = collect_one(&mut inflight, s).await {
                            failure = Some(f);
                        }
                    }
                }
            }
        };
        let (next, ()) = tokio::join!(next, write);
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
async fn collect_one(
    inflight: &mut VecDeque<(u64, tokio::task::JoinHandle<Result<Written>>)>,
    s: &mut EntrySummary,
) -> Option<EntryError> {
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
    fn sql_templates_have_their_slots() {
        assert!(JSON_SQL.contains("{key_columns}") && JSON_SQL.contains("{query}"));
        assert!(HASH_SQL.contains("{columns}") && HASH_SQL.contains("{query}"));
        assert!(!strip_comments(JSON_SQL).contains("--"));
    }

    #[test]
    fn hash_commands_are_atomic_per_key() {
        let it = Item {
            key: b"k:1".to_vec(),
            value: Value2::Hash(vec![("a".into(), b"1".to_vec())]),
            ttl_ms: Some(1000),
        };
        let mut p = redis::pipe();
        assert_eq!(add_commands(&mut p, &it), 5);
        let names: Vec<String> = p
            .cmd_iter()
            .map(|c| {
                c.args_iter()
                    .next()
                    .map(|a| format!("{a:?}"))
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(names.len(), 5);
        assert_eq!(it.bytes(), 3 + 2);
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
