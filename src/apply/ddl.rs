//! What a plan's DDL statement actually targets, read from its tokens, so
//! a hand-edited plan whose `ddl` names another index or table than its
//! `index`/`table` fields is refused before it runs (apply checks the
//! fields; the DDL is what the server executes). Pure.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer, Word};

use super::names::QualifiedName;

/// The objects a CREATE/DROP INDEX CONCURRENTLY statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY] table …`:
    /// the index name is unqualified (it lives in the table's schema);
    /// the table's schema is None when unqualified.
    Create {
        index: Option<String>,
        table: (Option<String>, String),
    },
    /// `DROP INDEX CONCURRENTLY [IF EXISTS] name [RESTRICT]`.
    Drop { index: (Option<String>, String) },
}

fn ident(w: &Word) -> String {
    if w.quote_style.is_some() {
        w.value.clone()
    } else {
        w.value.to_lowercase()
    }
}

struct Cursor {
    tokens: Vec<Token>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn keyword(&mut self, k: Keyword) -> bool {
        match self.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() && w.keyword == k => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn word(&mut self) -> Option<Word> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Some(w)
            }
            _ => None,
        }
    }

    /// `name` or `schema.name`.
    fn qualified(&mut self) -> Option<(Option<String>, String)> {
        let first = ident(&self.word()?);
        if self.peek() == Some(&Token::Period) {
            self.pos += 1;
            let second = ident(&self.word()?);
            Some((Some(first), second))
        } else {
            Some((None, first))
        }
    }
}

/// Parse the head of a plan's DDL; None when it is not a form apply runs.
pub fn target(ddl: &str) -> Option<Target> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, ddl).tokenize().ok()?;
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut c = Cursor { tokens, pos: 0 };
    if c.keyword(Keyword::CREATE) {
        c.keyword(Keyword::UNIQUE);
        if !(c.keyword(Keyword::INDEX) && c.keyword(Keyword::CONCURRENTLY)) {
            return None;
        }
        if c.keyword(Keyword::IF) && !(c.keyword(Keyword::NOT) && c.keyword(Keyword::EXISTS)) {
            return None;
        }
        let index = if c.keyword(Keyword::ON) {
            None
        } else {
            let name = ident(&c.word()?);
            if !c.keyword(Keyword::ON) {
                return None;
            }
            Some(name)
        };
        c.keyword(Keyword::ONLY);
        let table = c.qualified()?;
        Some(Target::Create { index, table })
    } else if c.keyword(Keyword::DROP) {
        if !(c.keyword(Keyword::INDEX) && c.keyword(Keyword::CONCURRENTLY)) {
            return None;
        }
        if c.keyword(Keyword::IF) && !c.keyword(Keyword::EXISTS) {
            return None;
        }
        let index = c.qualified()?;
        c.keyword(Keyword::RESTRICT);
        // Anything else (a second name, CASCADE) is refused.
        match c.peek() {
            None | Some(Token::SemiColon) | Some(Token::EOF) => Some(Target::Drop { index }),
            _ => None,
        }
    } else {
        None
    }
}

/// Why the DDL does not match the action's `table`/`index`, if it does not.
pub fn mismatch(
    ddl: &str,
    table: &QualifiedName,
    index: &QualifiedName,
    create: bool,
) -> Option<String> {
    let same = |(schema, name): &(Option<String>, String), q: &QualifiedName| {
        *name == q.name && schema.as_ref().is_none_or(|s| *s == q.schema)
    };
    match (target(ddl), create) {
        (Some(Target::Create { index: i, table: t }), true) => {
            if !same(&t, table) {
                return Some(format!(
                    "the DDL builds on table {}, the action says {table}",
                    show(&t)
                ));
            }
            if t.0.is_none() {
                return Some(format!(
                    "the DDL names table {} without its schema; write {table} so the search_path cannot change its meaning",
                    t.1
                ));
            }
            match i {
                Some(i) if i == index.name && table.schema == index.schema => None,
                Some(i) => Some(format!(
                    "the DDL creates index {}, the action says {index}",
                    QualifiedName {
                        schema: table.schema.clone(),
                        name: i
                    }
                )),
                None => Some(format!(
                    "the DDL does not name its index; name it {} so apply can check and resume it",
                    crate::ident::quote_ident(&index.name)
                )),
            }
        }
        (Some(Target::Drop { index: i }), false) => {
            if i.0.is_none() {
                return Some(format!(
                    "the DDL drops {} without its schema; write {index} so the search_path cannot change its meaning",
                    i.1
                ));
            }
            (!same(&i, index))
                .then(|| format!("the DDL drops {}, the action says {index}", show(&i)))
        }
        _ => Some(format!(
            "the DDL is not a plain {} INDEX CONCURRENTLY statement apply can check (CASCADE and lists of names are refused)",
            if create { "CREATE" } else { "DROP" }
        )),
    }
}

fn show((schema, name): &(Option<String>, String)) -> String {
    match schema {
        Some(s) => crate::ident::quote_qualified(s, name),
        None => crate::ident::quote_ident(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qn(s: &str, n: &str) -> QualifiedName {
        QualifiedName {
            schema: s.into(),
            name: n.into(),
        }
    }

    #[test]
    fn matching_ddl_ok() {
        let (t, i) = (qn("app", "bookings"), qn("app", "bookings_x_idx"));
        for ddl in [
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_x_idx ON app.bookings USING btree (x)",
            "create unique index concurrently bookings_x_idx on only APP.Bookings (x)",
            "CREATE INDEX CONCURRENTLY \"bookings_x_idx\" ON \"app\".\"bookings\" (x) WHERE a = 'b;c'",
        ] {
            assert_eq!(mismatch(ddl, &t, &i, true), None, "{ddl}");
        }
        for ddl in [
            "DROP INDEX CONCURRENTLY IF EXISTS app.bookings_x_idx",
            "drop index concurrently \"app\".bookings_x_idx restrict;",
        ] {
            assert_eq!(mismatch(ddl, &t, &i, false), None, "{ddl}");
        }
        let (t, i) = (
            qn("My Schema", "Order \"Items\""),
            qn("My Schema", "Slow \"Idx\""),
        );
        let ddl =
            r#"CREATE INDEX CONCURRENTLY "Slow ""Idx""" ON "My Schema"."Order ""Items""" (a)"#;
        assert_eq!(mismatch(ddl, &t, &i, true), None);
    }

    #[test]
    fn mismatched_ddl_err() {
        let (t, i) = (qn("app", "bookings"), qn("app", "bookings_x_idx"));
        let bad = [
            (
                "CREATE INDEX CONCURRENTLY other_idx ON app.bookings (x)",
                true,
                "creates index app.other_idx",
            ),
            (
                "CREATE INDEX CONCURRENTLY bookings_x_idx ON app.customers (x)",
                true,
                "builds on table app.customers",
            ),
            (
                "CREATE INDEX CONCURRENTLY bookings_x_idx ON bookings (x)",
                true,
                "without its schema",
            ),
            (
                "CREATE INDEX CONCURRENTLY ON app.bookings (x)",
                true,
                "does not name its index",
            ),
            (
                "DROP INDEX CONCURRENTLY app.customers_pkey",
                false,
                "drops app.customers_pkey",
            ),
            (
                "DROP INDEX CONCURRENTLY app.bookings_x_idx CASCADE",
                false,
                "CASCADE",
            ),
            (
                "DROP INDEX CONCURRENTLY app.bookings_x_idx, app.y",
                false,
                "lists of names",
            ),
            (
                "DROP INDEX CONCURRENTLY bookings_x_idx",
                false,
                "without its schema",
            ),
        ];
        for (ddl, create, want) in bad {
            let m = mismatch(ddl, &t, &i, create).unwrap_or_default();
            assert!(m.contains(want), "{ddl}: {m}");
        }
    }
}
