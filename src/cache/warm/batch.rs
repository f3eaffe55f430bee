//! One node's share of a batch, packed as RESP commands, and the writer that
//! sends it. The commands are encoded straight into one buffer per node (no
//! per-key command objects) and written on a blocking connection from a
//! small per-node pool, so a batch costs one `write` and one buffered read
//! of its replies.

use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Result, anyhow};
use redis::{ConnectionInfo, ConnectionLike, Value};

use super::row::push_uint;
use crate::cache::redis_conn;

/// Packed commands for one node and what each key's outcome hangs on.
#[derive(Default)]
pub(super) struct Batch {
    buf: Vec<u8>,
    keys: Vec<KeyRec>,
    commands: usize,
}

struct KeyRec {
    /// Where the key's bytes sit in `buf` (for error messages).
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
            buf: Vec::with_capacity(bytes),
            ..Batch::default()
        }
    }

    /// Bytes of packed commands.
    pub fn packed_len(&self) -> usize {
        self.buf.len()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn header(&mut self, args: usize) {
        self.buf.push(b'*');
        push_uint(&mut self.buf, args as u64);
        self.buf.extend_from_slice(b"\r\n");
        self.commands += 1;
    }

    /// Append one bulk string; returns where its bytes are.
    fn bulk(&mut self, b: &[u8]) -> Range<usize> {
        self.buf.push(b'$');
        push_uint(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b"\r\n");
        let start = self.buf.len();
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
        start..start + b.len()
    }

    fn bulk_uint(&mut self, v: u64) {
        let mut digits = Vec::with_capacity(20);
        push_uint(&mut digits, v);
        self.bulk(&digits);
    }

    /// `SET key value [PX ttl]`.
    pub fn push_set(&mut self, key: &[u8], value: &[u8], ttl_ms: Option<u64>) {
        self.header(if ttl_ms.is_some() { 5 } else { 3 });
        self.bulk(b"SET");
        let k = self.bulk(key);
        self.bulk(value);
        if let Some(t) = ttl_ms {
            self.bulk(b"PX");
            self.bulk_uint(t);
        }
        self.keys.push(KeyRec {
            key: k,
            bytes: (key.len() + value.len()) as u64,
            reply: self.commands - 1,
        });
    }

    /// `MULTI; DEL key; HSET key field value …; [PEXPIRE key ttl;] EXEC`:
    /// the hash is replaced atomically.
    pub fn push_hash(&mut self, key: &[u8], fields: &[(&str, &[u8])], ttl_ms: Option<u64>) {
        self.header(1);
        self.bulk(b"MULTI");
        self.header(2);
        self.bulk(b"DEL");
        let k = self.bulk(key);
        self.header(2 + 2 * fields.len());
        self.bulk(b"HSET");
        self.bulk(key);
        let mut bytes = key.len() as u64;
        for (f, v) in fields {
            self.bulk(f.as_bytes());
            self.bulk(v);
            bytes += (f.len() + v.len()) as u64;
        }
        if let Some(t) = ttl_ms {
            self.header(3);
            self.bulk(b"PEXPIRE");
            self.bulk(key);
            self.bulk_uint(t);
        }
        self.header(1);
        self.bulk(b"EXEC");
        self.keys.push(KeyRec {
            key: k,
            bytes,
            reply: self.commands - 1,
        });
    }

    fn key_text(&self, k: &KeyRec) -> String {
        String::from_utf8_lossy(&self.buf[k.key.clone()]).into_owned()
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

/// Writes batches to one node; connections are pooled and replaced after a
/// drop.
pub(super) struct NodeWriter {
    pub name: String,
    info: ConnectionInfo,
    timeout: Duration,
    idle: Mutex<Vec<redis::Connection>>,
}

impl NodeWriter {
    pub fn new(name: String, info: ConnectionInfo, timeout: Duration) -> NodeWriter {
        NodeWriter {
            name,
            info,
            timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn checkout(&self) -> redis::RedisResult<redis::Connection> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        match pooled {
            Some(c) => Ok(c),
            None => redis_conn::connect_blocking(&self.info, self.timeout),
        }
    }

    /// Send one batch (blocking), reconnecting and resending after a
    /// connection loss up to `retries` times (SET and the hash transaction
    /// are idempotent). Only replies count: a key is written when Redis said
    /// so.
    pub fn write(&self, batch: &Batch, retries: u32) -> Result<Written> {
        let mut attempt = 0;
        loop {
            let sent = self.checkout().and_then(|mut conn| {
                let replies = conn.req_packed_commands(&batch.buf, 0, batch.commands)?;
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push(conn);
                }
                Ok(replies)
            });
            match sent {
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
                        self.name,
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
                        format!("{} on {}: {v:?}", batch.key_text(k), self.name)
                    });
                }
                None => {
                    w.error
                        .get_or_insert_with(|| format!("short pipeline reply from {}", self.name));
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
            String::from_utf8_lossy(&b.buf),
            "*5\r\n$3\r\nSET\r\n$3\r\nk:1\r\n$2\r\n{}\r\n$2\r\nPX\r\n$4\r\n1500\r\n\
             *3\r\n$3\r\nSET\r\n$3\r\nk:2\r\n$1\r\nv\r\n"
        );
        assert_eq!((b.commands, b.len()), (2, 2));
        assert_eq!(b.key_text(&b.keys[1]), "k:2");
        assert_eq!(b.keys[0].bytes, 5);
    }

    #[test]
    fn hash_commands_are_atomic_per_key() {
        let mut b = Batch::default();
        b.push_hash(b"h:1", &[("a", b"1"), ("b", b"xy")], Some(1000));
        let text = String::from_utf8_lossy(&b.buf).into_owned();
        let names: Vec<&str> = ["MULTI", "DEL", "HSET", "PEXPIRE", "EXEC"]
            .into_iter()
            .filter(|n| text.contains(&format!("\r\n{n}\r\n")))
            .collect();
        assert_eq!(names.len(), 5, "{text}");
        // The key's outcome is EXEC's reply, the fifth.
        assert_eq!((b.commands, b.keys[0].reply), (5, 4));
        assert_eq!(b.keys[0].bytes, 3 + 2 + 3);
        let ok = Value::Array(vec![Value::Int(0), Value::Int(2), Value::Int(1)]);
        let err = redis::parse_redis_value(b"*1\r\n-OOM command not allowed\r\n").expect("RESP");
        assert!(reply_ok(&ok));
        assert!(!reply_ok(&err));
    }
}
