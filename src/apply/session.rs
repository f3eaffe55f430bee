//! A connection apply keeps for many statements (the control connection,
//! the monitor, one per `--jobs` worker): its server pid, and its catalog
//! queries prepared once. A new backend starts with cold caches and every
//! prepare is a round trip, which on a busy server costs more than the
//! queries themselves; reusing both keeps apply's overhead per action small.

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Error, Row, Statement};

use crate::conn::PgTarget;

const BACKEND_PID_SQL: &str = include_str!("../../sql/apply_backend_pid.sql");

pub struct Session {
    client: Client,
    /// The server process serving this connection.
    pub pid: i32,
    prepared: tokio::sync::Mutex<HashMap<&'static str, Statement>>,
}

impl Session {
    pub async fn open(target: &PgTarget) -> Result<Session> {
        let client = target.connect().await?;
        let pid: i32 = client
            .query_one(BACKEND_PID_SQL, &[])
            .await
            .context("reading the connection's server pid (sql/apply_backend_pid.sql)")?
            .get(0);
        Ok(Session {
            client,
            pid,
            prepared: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// A statement that is not fixed text (DDL, ANALYZE): not cached.
    pub async fn execute(&self, sql: &str) -> Result<u64, Error> {
        self.client.execute(sql, &[]).await
    }

    /// A query that is not fixed text (EXPLAIN of a plan's query): not cached.
    pub async fn query_one_text(&self, sql: &str) -> Result<Row, Error> {
        self.client.query_one(sql, &[]).await
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    async fn statement(&self, sql: &'static str) -> Result<Statement, Error> {
        let mut cache = self.prepared.lock().await;
        if let Some(s) = cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await?;
        cache.insert(sql, s.clone());
        Ok(s)
    }

    pub async fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let s = self.statement(sql).await?;
        self.client.query(&s, params).await
    }

    pub async fn query_one(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, Error> {
        let s = self.statement(sql).await?;
        self.client.query_one(&s, params).await
    }

    pub async fn query_opt(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let s = self.statement(sql).await?;
        self.client.query_opt(&s, params).await
    }
}
