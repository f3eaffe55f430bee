//! The nodes a command works on. A standalone server is one node; a Redis
//! Cluster (detected from `INFO server`'s `redis_mode:cluster`, so a URL of
//! any one node is enough) is its masters, found with `CLUSTER SLOTS`, each
//! with its own connection — or, on request, one replica per master put in
//! `READONLY` mode so scans keep load off the masters. Key → hash slot →
//! node routing for writes lives here too.

use anyhow::{Context, Result, anyhow, bail};
use redis::aio::MultiplexedConnection;
use redis::{ConnectionInfo, Value};

use super::redis_conn::{self, RedisTarget, addr_name, describe, with_addr};

/// Number of hash slots in a Redis Cluster.
pub const SLOTS: usize = 16384;

/// One node a command talks to.
pub struct Node {
    /// `host:port`.
    pub name: String,
    pub info: ConnectionInfo,
    pub conn: MultiplexedConnection,
    /// For a replica scanned instead of its master: the master's name.
    pub replica_of: Option<String>,
}

/// The whole target: one node, or every master (or replica) of a cluster.
pub struct Topology {
    pub cluster: bool,
    /// What the user pointed at, without password.
    pub display: String,
    pub nodes: Vec<Node>,
    /// Hash slot → index into `nodes` (cluster only).
    slot_owner: Vec<u16>,
    pub timeout: std::time::Duration,
}

/// How to open the topology.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Scan replicas (READONLY) instead of masters where a replica exists.
    pub replicas: bool,
    /// A database other than 0 was asked for (refused on a cluster).
    pub db_requested: bool,
}

impl Topology {
    /// Connect to the first reachable seed, detect cluster mode, discover
    /// the nodes and connect to each.
    pub async fn open(target: &RedisTarget, opts: Options) -> Result<Topology> {
        let mut last_err = None;
        let mut seed = None;
        for info in &target.seeds {
            match redis_conn::connect(info, target.timeout).await {
                Ok(c) => {
                    seed = Some((info.clone(), c));
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some((seed_info, mut seed_conn)) = seed else {
            return Err(last_err.unwrap_or_else(|| anyhow!("no Redis URL given")));
        };
        let info_text: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut seed_conn)
            .await
            .map_err(|e| redis_conn::explain(&e, &seed_info, target.timeout))
            .context("reading INFO server")?;
        let is_cluster = info_text.lines().any(|l| l.trim() == "redis_mode:cluster");
        if !is_cluster {
            return Ok(Topology {
                cluster: false,
                display: describe(&seed_info),
                nodes: vec![Node {
                    name: addr_name(&seed_info),
                    info: seed_info,
                    conn: seed_conn,
                    replica_of: None,
                }],
                slot_owner: Vec::new(),
                timeout: target.timeout,
            });
        }
        if opts.db_requested && seed_info.redis_settings().db() != 0 {
            bail!(
                "{} is a Redis Cluster node: a cluster has only database 0; drop --db / the /N in the URL",
                describe(&seed_info)
            );
        }
        let slots: Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut seed_conn)
            .await
            .map_err(|e| redis_conn::explain(&e, &seed_info, target.timeout))
            .context("discovering the cluster's nodes with CLUSTER SLOTS")?;
        let seed_host = match seed_info.addr() {
            redis::ConnectionAddr::Tcp(h, _) => h.clone(),
            redis::ConnectionAddr::TcpTls { host, .. } => host.clone(),
            _ => "127.0.0.1".to_string(),
        };
        let shards = parse_cluster_slots(&slots, &seed_host)?;
        if shards.is_empty() {
            bail!(
                "Redis Cluster at {} reports no slots assigned: is the cluster created (redis-cli --cluster create)?",
                describe(&seed_info)
            );
        }
        let mut nodes: Vec<Node> = Vec::new();
        let mut slot_owner = vec![u16::MAX; SLOTS];
        for shard in &shards {
            let idx = match nodes
                .iter()
                .position(|n| n.replica_of.as_deref().unwrap_or(&n.name) == shard.master.name())
            {
                Some(i) => i,
                None => {
                    let (endpoint, replica_of) = match (opts.replicas, shard.replicas.first()) {
                        (true, Some(r)) => (r, Some(shard.master.name())),
                        _ => (&shard.master, None),
                    };
                    let info = with_addr(&seed_info, &endpoint.host, endpoint.port);
                    let mut conn = redis_conn::connect(&info, target.timeout)
                        .await
                        .with_context(|| {
                            format!("connecting to cluster node {}", endpoint.name())
                        })?;
                    if replica_of.is_some() {
                        redis::cmd("READONLY")
                            .query_async::<()>(&mut conn)
                            .await
                            .map_err(|e| redis_conn::explain(&e, &info, target.timeout))?;
                    }
                    nodes.push(Node {
                        name: endpoint.name(),
                        info,
                        conn,
                        replica_of,
                    });
                    nodes.len() - 1
                }
            };
            for s in shard.start..=shard.end {
                if let Some(o) = slot_owner.get_mut(s as usize) {
                    *o = idx as u16;
                }
            }
        }
        Ok(Topology {
            cluster: true,
            display: describe(&seed_info),
            nodes,
            slot_owner,
            timeout: target.timeout,
        })
    }

    /// Index of the node that owns `key` (always 0 on a standalone server).
    pub fn node_for_key(&self, key: &[u8]) -> Result<usize> {
        if !self.cluster {
            return Ok(0);
        }
        let slot = key_slot(key);
        match self.slot_owner.get(slot as usize) {
            Some(&o) if o != u16::MAX => Ok(o as usize),
            _ => bail!(
                "hash slot {slot} has no node in the cluster (is the cluster healthy? redis-cli --cluster check)"
            ),
        }
    }

    /// Replace a node's connection after it dropped.
    pub async fn reconnect(&mut self, idx: usize) -> Result<()> {
        let node = self
            .nodes
            .get_mut(idx)
            .ok_or_else(|| anyhow!("no node #{idx}"))?;
        let mut conn = redis_conn::connect(&node.info, self.timeout).await?;
        if node.replica_of.is_some() {
            redis::cmd("READONLY").query_async::<()>(&mut conn).await?;
        }
        node.conn = conn;
        Ok(())
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn name(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One `CLUSTER SLOTS` entry: a slot range, its master and replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRange {
    pub start: u16,
    pub end: u16,
    pub master: Endpoint,
    pub replicas: Vec<Endpoint>,
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Parse a `CLUSTER SLOTS` reply. An empty host means "the node you
/// asked"; `?` an unknown endpoint (skipped for replicas, an error for a master).
pub fn parse_cluster_slots(v: &Value, seed_host: &str) -> Result<Vec<SlotRange>> {
    let Value::Array(ranges) = v else {
        bail!("unexpected CLUSTER SLOTS reply")
    };
    let endpoint = |v: &Value| -> Option<Endpoint> {
        let Value::Array(parts) = v else { return None };
        let host = as_text(parts.first()?)?;
        let port = u16::try_from(as_int(parts.get(1)?)?).ok()?;
        let host = if host.is_empty() {
            seed_host.to_string()
        } else {
            host
        };
        (host != "?").then_some(Endpoint { host, port })
    };
    let mut out = Vec::new();
    for r in ranges {
        let Value::Array(items) = r else {
            bail!("unexpected CLUSTER SLOTS entry")
        };
        let (Some(start), Some(end)) = (
            items.first().and_then(as_int),
            items.get(1).and_then(as_int),
        ) else {
            bail!("unexpected CLUSTER SLOTS entry (no slot range)")
        };
        let master = items.get(2).and_then(endpoint).ok_or_else(|| {
            anyhow!("CLUSTER SLOTS names no reachable master for slots {start}-{end}")
        })?;
        let replicas = items.iter().skip(3).filter_map(endpoint).collect();
        out.push(SlotRange {
            start: u16::try_from(start).context("slot out of range")?,
            end: u16::try_from(end).context("slot out of range")?,
            master,
            replicas,
        });
    }
    Ok(out)
}

/// CRC16-CCITT (XModem), the Redis Cluster key hash.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The hash slot of a key, honouring `{hash tags}`.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16(tagged) % SLOTS as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from `redis-cli CLUSTER KEYSLOT`.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"123456789"), 12739);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
    }

    #[test]
    fn parses_cluster_slots() {
        let bs = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let reply = Value::Array(vec![Value::Array(vec![
            Value::Int(0),
            Value::Int(5460),
            Value::Array(vec![bs("127.0.0.1"), Value::Int(7001), bs("id1")]),
            Value::Array(vec![bs(""), Value::Int(7004), bs("id4")]),
            Value::Array(vec![bs("?"), Value::Int(7005), bs("id5")]),
        ])]);
        let got = parse_cluster_slots(&reply, "10.1.1.1").expect("parses");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].end, 5460);
        assert_eq!(got[0].master.name(), "127.0.0.1:7001");
        assert_eq!(
            got[0].replicas,
            vec![Endpoint {
                host: "10.1.1.1".into(),
                port: 7004
            }]
        );
    }
}
