//! pg_stat_statements column names across server versions, mapped onto
//! [`StatementStat`]. Every pg_stat_statements source (CSV export, JSON
//! export, the live view read as JSON) goes through [`PgssRow::from_map`],
//! so PostgreSQL 12's `total_time`, 13–16's `blk_read_time` and 17's
//! `shared_blk_read_time` are handled in exactly one place.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::StatementStat;

/// One pg_stat_statements row: the statistics plus the keys that identify
/// the entry on its server (what a snapshot delta joins on).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PgssRow {
    pub userid: Option<i64>,
    pub dbid: Option<i64>,
    /// PostgreSQL 14+: false for statements run inside functions
    /// (`pg_stat_statements.track = all`).
    pub toplevel: Option<bool>,
    /// PostgreSQL 17+: when this entry's statistics started.
    pub stats_since: Option<String>,
    #[serde(flatten)]
    pub stat: StatementStat,
}

/// Columns whose sum is `io_time`: ≤16 names, 17+ names, and the temp
/// file timings of 15+.
const IO_TIME_COLUMNS: &[&str] = &[
    "blk_read_time",
    "blk_write_time",
    "shared_blk_read_time",
    "shared_blk_write_time",
    "local_blk_read_time",
    "local_blk_write_time",
    "temp_blk_read_time",
    "temp_blk_write_time",
];

impl PgssRow {
    /// Build a row from column name → value (numbers may arrive as JSON
    /// numbers or as text, as CSV and `json_agg` of oids give them; empty
    /// text and null mean "absent"). The error names the column.
    pub fn from_map(map: &Map<String, Value>) -> Result<PgssRow, String> {
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| map.get(*n))
                .filter(|v| !is_absent(v))
        };
        let int = |names: &[&str]| -> Result<i64, String> {
            match get(names) {
                None => Ok(0),
                Some(v) => as_i64(v).ok_or_else(|| bad(names[0], v)),
            }
        };
        let float = |names: &[&str]| -> Result<f64, String> {
            match get(names) {
                None => Ok(0.0),
                Some(v) => as_f64(v).ok_or_else(|| bad(names[0], v)),
            }
        };
        let opt_int = |names: &[&str]| -> Result<Option<i64>, String> {
            get(names)
                .map(|v| as_i64(v).ok_or_else(|| bad(names[0], v)))
                .transpose()
        };
        let text = |names: &[&str]| get(names).map(value_text);

        let Some(query) = text(&["query"]) else {
            return Err("has no `query` column value".into());
        };
        if !map.contains_key("calls") {
            return Err("has no `calls` column".into());
        }
        let calls = int(&["calls"])?;
        let total_exec_time = float(&["total_exec_time", "total_time"])?;
        let mut io_time = 0.0;
        for col in IO_TIME_COLUMNS {
            io_time += float(&[col])?;
        }
        let toplevel = match get(&["toplevel"]) {
            None => None,
            Some(v) => Some(as_bool(v).ok_or_else(|| bad("toplevel", v))?),
        };
        let userid = opt_int(&["userid"])?;
        let dbid = opt_int(&["dbid"])?;
        let user = text(&["username", "usename", "rolname", "user"])
            .or_else(|| userid.map(|u| u.to_string()));
        let database =
            text(&["datname", "database", "dbname"]).or_else(|| dbid.map(|d| d.to_string()));
        let mean = match get(&["mean_exec_time", "mean_time"]) {
            Some(v) => as_f64(v).ok_or_else(|| bad("mean_exec_time", v))?,
            None if calls > 0 => total_exec_time / calls as f64,
            None => 0.0,
        };
        let stat = StatementStat {
            queryid: opt_int(&["queryid"])?,
            user,
            database,
            query,
            calls,
            total_exec_time,
            min_exec_time: float(&["min_exec_time", "min_time"])?,
            max_exec_time: float(&["max_exec_time", "max_time"])?,
            mean_exec_time: mean,
            stddev_exec_time: float(&["stddev_exec_time", "stddev_time"])?,
            total_plan_time: float(&["total_plan_time"])?,
            rows: int(&["rows"])?,
            shared_blks_hit: int(&["shared_blks_hit"])?,
            shared_blks_read: int(&["shared_blks_read"])?,
            shared_blks_dirtied: int(&["shared_blks_dirtied"])?,
            shared_blks_written: int(&["shared_blks_written"])?,
            local_blks_hit: int(&["local_blks_hit"])?,
            local_blks_read: int(&["local_blks_read"])?,
            temp_blks_read: int(&["temp_blks_read"])?,
            temp_blks_written: int(&["temp_blks_written"])?,
            io_time,
            wal_bytes: int(&["wal_bytes"])?,
        };
        Ok(PgssRow {
            userid,
            dbid,
            toplevel,
            stats_since: text(&["stats_since"]),
            stat,
        })
    }
}

fn is_absent(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn bad(column: &str, v: &Value) -> String {
    format!("has a value that is not a number in column `{column}`: {v}")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Integers; `wal_bytes` is `numeric` and may carry a fraction-free decimal.
fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "t" | "true" | "TRUE" | "True" => Some(true),
            "f" | "false" | "FALSE" | "False" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Result<PgssRow, String> {
        match v {
            Value::Object(m) => PgssRow::from_map(&m),
            _ => Err("not an object".into()),
        }
    }

    #[test]
    fn pg12_names_map_to_exec_time() {
        let r = row(
            json!({"userid": "10", "dbid": "5", "queryid": "-42", "query": "SELECT $1",
            "calls": "4", "total_time": "8.5", "min_time": "1", "max_time": "3",
            "blk_read_time": "1.5", "blk_write_time": "0.5"}),
        )
        .unwrap();
        assert_eq!(r.stat.total_exec_time, 8.5);
        assert_eq!(r.stat.mean_exec_time, 2.125);
        assert_eq!(r.stat.max_exec_time, 3.0);
        assert_eq!(r.stat.io_time, 2.0);
        assert_eq!(r.stat.queryid, Some(-42));
        assert_eq!((r.userid, r.dbid), (Some(10), Some(5)));
        assert_eq!(r.stat.user.as_deref(), Some("10"));
        assert_eq!(r.toplevel, None);
    }

    #[test]
    fn pg17_io_columns_are_summed() {
        let r = row(
            json!({"query": "SELECT 1", "calls": 2, "total_exec_time": 3.0,
            "shared_blk_read_time": 1.0, "shared_blk_write_time": 0.25,
            "local_blk_read_time": 0.5, "temp_blk_write_time": 0.25, "toplevel": true,
            "stats_since": "2026-01-01 00:00:00+00", "wal_bytes": 1234.0}),
        )
        .unwrap();
        assert_eq!(r.stat.io_time, 2.0);
        assert_eq!(r.toplevel, Some(true));
        assert_eq!(r.stat.wal_bytes, 1234);
        assert_eq!(r.stats_since.as_deref(), Some("2026-01-01 00:00:00+00"));
    }

    #[test]
    fn garbage_numbers_name_the_column() {
        let err = row(json!({"query": "SELECT 1", "calls": "many"})).unwrap_err();
        assert!(err.contains("`calls`"), "{err}");
        let err = row(json!({"calls": 1})).unwrap_err();
        assert!(err.contains("query"), "{err}");
    }
}
