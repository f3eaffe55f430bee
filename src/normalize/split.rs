//! Cutting a text of `;`-terminated SQL statements into statements. A `;`
//! ends a statement only outside strings, quoted identifiers, dollar
//! quotes and comments (the lexer knows those). psql and pgbench scripts
//! work too: a backslash meta-command (`\set x random(1, 10)`, `\bind 1 2`,
//! `\gset`) runs to the end of its line and is not SQL; `\g…` and
//! `\watch` end the statement before them, as psql sends the buffer then.
//! Intake reuses this for SQL files and for multi-statement log entries.

use super::lexer::{Kind, Lexer};

/// One statement of a SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// From the statement's first token (leading comments excluded) to its
    /// last token or comment before the `;` (the `;` excluded).
    pub text: &'a str,
    /// 1-based line of the statement's first token.
    pub line: usize,
    /// Byte offset of `text` in the input.
    pub offset: usize,
}

/// Split `src` into statements. Pieces holding only comments and
/// whitespace are not statements; a last statement without `;` is one.
pub fn split_statements(src: &str) -> Vec<Statement<'_>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut counted = 0usize;
    // (start offset, end offset) of the statement being read.
    let mut current: Option<(usize, usize)> = None;
    let mut lexer = Lexer::new(src);
    while let Some(tok) = lexer.next() {
        let end = tok.start + tok.text.len();
        let meta_command = tok.kind == Kind::Punct && tok.text == "\\";
        if meta_command {
            let eol = bytes[tok.start..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(src.len(), |i| tok.start + i);
            lexer.skip_to(eol);
            let name: String = src[end..eol]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            if !(name.starts_with('g') || name == "watch" || name == "crosstabview") {
                continue;
            }
        }
        if meta_command || (tok.kind == Kind::Punct && tok.text == ";") {
            if let Some((start, stop)) = current.take() {
                line += count_newlines(&bytes[counted..start]);
                counted = start;
                out.push(Statement {
                    text: &src[start..stop],
                    line,
                    offset: start,
                });
            }
            continue;
        }
        match &mut current {
            Some((_, stop)) => *stop = end,
            None if tok.is_comment() => {}
            None => current = Some((tok.start, end)),
        }
    }
    if let Some((start, stop)) = current {
        line += count_newlines(&bytes[counted..start]);
        out.push(Statement {
            text: &src[start..stop],
            line,
            offset: start,
        });
    }
    out
}

fn count_newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(src: &str) -> Vec<(usize, &str)> {
        split_statements(src)
            .into_iter()
            .map(|s| (s.line, s.text))
            .collect()
    }

    #[test]
    fn semicolons_inside_anything_do_not_split() {
        let src = "-- header; comment\nSELECT 'a;b', \"c;d\", E'\\';' /* x; /* y; */ */;\n\
                   CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
                   SELECT $$;$$ -- trailing; comment\n;";
        assert_eq!(
            split(src),
            vec![
                (2, "SELECT 'a;b', \"c;d\", E'\\';' /* x; /* y; */ */"),
                (
                    3,
                    "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql"
                ),
                (4, "SELECT $$;$$ -- trailing; comment"),
            ]
        );
    }

    #[test]
    fn lines_count_from_the_first_token() {
        let src = "\n\n  /* lead */\n  SELECT 1\n  FROM t;;\n\nUPDATE t\nSET a = 1";
        assert_eq!(
            split(src),
            vec![(4, "SELECT 1\n  FROM t"), (7, "UPDATE t\nSET a = 1")]
        );
    }

    #[test]
    fn psql_and_pgbench_meta_commands_are_not_sql() {
        let src = "\\set cid random(1, :ncust)\n\\echo it's\nSELECT * FROM t\n WHERE id = :cid;\n\
                   SELECT 1 AS one \\gset\n\
                   SELECT * FROM t WHERE id IN ($1, $2) \\bind 1 2\n;\n";
        assert_eq!(
            split(src),
            vec![
                (3, "SELECT * FROM t\n WHERE id = :cid"),
                (5, "SELECT 1 AS one"),
                (6, "SELECT * FROM t WHERE id IN ($1, $2)"),
            ]
        );
    }

    #[test]
    fn only_comments_is_no_statement() {
        assert!(split("-- nothing\n/* here */ ; ;").is_empty());
        assert!(split("").is_empty());
    }

    #[test]
    fn offsets_point_into_the_input() {
        let src = "SELECT 1; SELECT 2";
        let stmts = split_statements(src);
        assert_eq!(stmts[1].offset, 10);
        assert_eq!(&src[stmts[1].offset..], "SELECT 2");
    }
}
