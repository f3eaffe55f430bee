//! Blocking connections to one node, pooled: a packed pipeline goes out in
//! one write and its replies come back through one buffered reader, on a
//! thread of tokio's blocking pool — far less work per command than the
//! multiplexed async connection (no per-command objects, futures or
//! channels). `warm` writes through them, `inspect` measures keys with them.

use std::sync::Mutex;
use std::time::Duration;

use redis::{ConnectionInfo, ConnectionLike, Value};

use super::redis_conn;
use super::resp::Packed;

pub struct NodePool {
    /// `host:port`.
    pub name: String,
    info: ConnectionInfo,
    timeout: Duration,
    /// A cluster replica: reads need `READONLY` on each connection.
    readonly: bool,
    idle: Mutex<Vec<redis::Connection>>,
}

impl NodePool {
    pub fn new(name: String, info: ConnectionInfo, timeout: Duration, readonly: bool) -> NodePool {
        NodePool {
            name,
            info,
            timeout,
            readonly,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn checkout(&self) -> redis::RedisResult<redis::Connection> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        if let Some(c) = pooled {
            return Ok(c);
        }
        let mut c = redis_conn::connect_blocking(&self.info, self.timeout)?;
        if self.readonly {
            redis::cmd("READONLY").query::<()>(&mut c)?;
        }
        Ok(c)
    }

    /// Send the pipeline and read all its replies (blocking). A connection
    /// that failed is dropped, not pooled again. Server errors are replies
    /// (`Value::ServerError`), not failures.
    pub fn send(&self, p: &Packed) -> redis::RedisResult<Vec<Value>> {
        let mut conn = self.checkout()?;
        let replies = conn.req_packed_commands(p.bytes(), 0, p.commands())?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        Ok(replies)
    }
}
