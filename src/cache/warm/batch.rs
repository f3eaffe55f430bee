//! One node's share of a batch: `SET`s (or hash transactions) packed as
//! RESP, and the writer that sends it on the node's pooled blocking
//! connections, retrying after a connection loss.

use std::ops::Range;
use std::time::Duration;

use anyhow::{Result, anyhow};
use redis::{ConnectionInfo, Value};

use crate::cache::blocking::NodePool;
use crate::cache::redis_conn;
use crate::cache::resp::Packed;

/// Packed commands for one node and what each key's outcome hangs on.
#[derive(Default)]
pub(super) struct Batch {
    packed: Packed,
    keys: Vec<KeyRec>,
}

struct KeyRec {
    /// Where the key's bytes sit in the packed buffer (for error messages).
    key: Range<usize>,
    /// Key + value bytes.
    bytes: u64,
    /// The reply that tells whether the key was written.
    reply: usize,
}

impl Batch {
    /// An empty batch with room for `bytes` of commands (the size of the
    /// previous batch for the node: no reallocation while packing).
    pub fn with_capacity(bytes: usize) -> Batch {
        Batch {
            packed: Packed::with_capacity(bytes),
            keys: Vec::new(),
        }
    }

    /// Bytes of packed commands.
    pub fn packed_len(&self) -> usize {
        self.packed.len()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `SET key value [PX ttl]`.
    pub fn push_set(&mut self, key: &[u8], value: &[u8], ttl_ms: Option<u64>) {
        let p = &mut self.packed;
        p.start(if ttl_ms.is_some() { 5 } else { 3 }).arg(b"SET");
        let k = p.arg_at(key);
        p.arg(value);
        if let Some(t) = ttl_ms {
            p.arg(b"PX").arg_uint(t);
        }
        self.keys.push(KeyRec {
            key: k,
            bytes: (key.len() + value.len()) as u64,
            reply: p.commands() - 1,
        });
    }

    /// `MULTI; DEL key; HSET key field value …; [PEXPIRE key ttl;] EXEC`:
    /// the hash is replaced atomically.
    pub fn push_hash(&mut self, key: &[u8], fields: &[(&str, &[u8])], ttl_ms: Option<u64>) {
        let p = &mut self.packed;
        p.command(&[b"MULTI"]);
        p.start(2).arg(b"DEL");
        let k = p.arg_at(key);
        p.start(2 + 2 * fields.len()).arg(b"HSET").arg(key);
        let mut bytes = key.len() as u64;
        for (f, v) in fields {
            p.arg(f.as_bytes()).arg(v);
            bytes += (f.len() + v.len()) as u64;
        }
        if let Some(t) = ttl_ms {
            p.start(3).arg(b"PEXPIRE").arg(key).arg_uint(t);
        }
        p.command(&[b"EXEC"]);
        self.keys.push(KeyRec {
            key: k,
            bytes,
            reply: p.commands() - 1,
        });
    }

    fn key_text(&self, k: &KeyRec) -> String {
        String::from_utf8_lossy(&self.packed.bytes()[k.key.clone()]).into_owned()
    }
}

/// Outcome of one node's part of a batch.
pub(super) struct Written {
    pub keys: u64,
    pub bytes: u64,
    /// First per-key server error (e.g. OOM, MOVED).
    pub error: Option<String>,
}

fn reply_ok(v: &Value) -> bool {
    match v {
        Value::Okay => true,
        Value::SimpleString(s) => s == "OK",
        Value::Array(items) => !items.iter().any(|i| matches!(i, Value::ServerError(_))),
        _ => false,
    }
}

/// Writes batches to one node.
pub(super) struct NodeWriter {
    pool: NodePool,
}

impl NodeWriter {
    pub fn new(name: String, info: ConnectionInfo, timeout: Duration) -> NodeWriter {
        NodeWriter {
            pool: NodePool::new(name, info, timeout, false),
        }
    }

    /// Send one batch (blocking), reconnecting and resending after a
    /// connection loss up to `retries` times (SET and the hash transaction
    /// are idempotent). Only replies count: a key is written when Redis said
    /// so.
    pub fn write(&self, batch: &Batch, retries: u32) -> Result<Written> {
        let mut attempt = 0;
        loop {
            match self.pool.send(&batch.packed) {
                Ok(replies) => return Ok(self.account(batch, &replies)),
                Err(e) if redis_conn::is_connection_lost(&e) && attempt < retries => {
                    attempt += 1;
                    std::thread::sleep(
                        Duration::from_millis(200u64 << attempt.min(5)).min(Duration::from_secs(5)),
                    );
                }
                Err(e) => {
                    return Err(anyhow!(
                        "Redis at {} failed after {attempt} retr{}: {e}",
                        self.pool.name,
                        if attempt == 1 { "y" } else { "ies" }
                    ));
                }
            }
        }
    }

    fn account(&self, batch: &Batch, replies: &[Value]) -> Written {
        let mut w = Written {
            keys: 0,
            bytes: 0,
            error: None,
        };
        for k in &batch.keys {
            match replies.get(k.reply) {
                Some(v) if reply_ok(v) => {
                    w.keys += 1;
                    w.bytes += k.bytes;
                }
                Some(v) => {
                    w.error.get_or_insert_with(|| {
                        format!("{} on {}: {v:?}", batch.key_text(k), self.pool.name)
                    });
                }
                None => {
                    w.error.get_or_insert_with(|| {
                        format!("short pipeline reply from {}", self.pool.name)
                    });
                }
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_with_ttl_packs_as_resp() {
        let mut b = Batch::default();
        b.push_set(b"k:1", b"{}", Some(1500));
        b.push_set(b"k:2", b"v", None);
        assert_eq!(
            String::from_utf8_lossy(b.packed.bytes()),
            "*5\r\n$3\r\nSET\r\n$3\r\nk:1\r\n$2\r\n{}\r\n$2\r\nPX\r\n$4\r\n1500\r\n\
             *3\r\n$3\r\nSET\r\n$3\r\nk:2\r\n$1\r\nv\r\n"
        );
        assert_eq!((b.packed.commands(), b.len()), (2, 2));
        assert_eq!(b.key_text(&b.keys[1]), "k:2");
        assert_eq!(b.keys[0].bytes, 5);
    }

    #[test]
    fn hash_commands_are_atomic_per_key() {
        let mut b = Batch::default();
        b.push_hash(b"h:1", &[("a", b"1"), ("b", b"xy")], Some(1000));
        let text = String::from_utf8_lossy(b.packed.bytes()).into_owned();
        let names: Vec<&str> = ["MULTI", "DEL", "HSET", "PEXPIRE", "EXEC"]
            .into_iter()
            .filter(|n| text.contains(&format!("\r\n{n}\r\n")))
            .collect();
        assert_eq!(names.len(), 5, "{text}");
        // The key's outcome is EXEC's reply, the fifth.
        assert_eq!((b.packed.commands(), b.keys[0].reply), (5, 4));
        assert_eq!(b.keys[0].bytes, 3 + 2 + 3);
        let ok = Value::Array(vec![Value::Int(0), Value::Int(2), Value::Int(1)]);
        let err = redis::parse_redis_value(b"*1\r\n-OOM command not allowed\r\n").expect("RESP");
        assert!(reply_ok(&ok));
        assert!(!reply_ok(&err));
    }
}
