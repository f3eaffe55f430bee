//! A hand-written PostgreSQL lexer: it cuts SQL text into tokens the way
//! the server's scanner does (strings with their escape rules, nested
//! block comments, dollar quotes, `$n` parameters, operators), without
//! building anything. It never fails: unterminated strings, comments and
//! dollar quotes run to the end of the input. The statement splitter and
//! the lexical normalizer both walk its tokens.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unquoted identifier or keyword.
    Word,
    /// `"ident"` or `U&"ident"`.
    QuotedIdent,
    /// `'…'`, `E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`.
    String,
    /// `$tag$…$tag$`.
    DollarString,
    /// Integer or decimal constant (`42`, `1.5e3`, `0x1F`, `.5`).
    Number,
    /// `$1`.
    Param,
    /// An operator: `=`, `<>`, `->>`, `@>`, `-` …
    Operator,
    /// `::`.
    Cast,
    /// One of `( ) [ ] { } , ; . :` or any other single character.
    Punct,
    /// `-- …` up to (not including) the end of the line.
    LineComment,
    /// `/* … */`, nesting as PostgreSQL does.
    BlockComment,
}

/// One token: its kind, its text and its byte offset in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    pub start: usize,
}

impl Token<'_> {
    pub fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }

    /// The single punctuation byte of a `Punct` token (0 for anything else).
    pub fn punct(&self) -> u8 {
        if self.kind == Kind::Punct && self.text.len() == 1 {
            self.text.as_bytes()[0]
        } else {
            0
        }
    }
}

/// Iterator over the tokens of `src`; whitespace is skipped, comments are
/// returned (the caller decides whether they matter).
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    skip_meta: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer {
            src,
            pos: 0,
            skip_meta: false,
        }
    }

    /// A lexer that drops psql/pgbench backslash meta-commands (`\set x 1`,
    /// `\bind 1 2`, `\gset`): from the backslash to the end of its line,
    /// nothing is SQL. (A backslash is never SQL outside strings.)
    pub fn skipping_meta_commands(src: &'a str) -> Self {
        Lexer {
            src,
            pos: 0,
            skip_meta: true,
        }
    }

    /// Continue lexing at byte `pos` (clamped to the input; moved forward
    /// to a char boundary), skipping what lies between.
    pub fn skip_to(&mut self, pos: usize) {
        let mut pos = pos.min(self.src.len());
        while !self.src.is_char_boundary(pos) {
            pos += 1;
        }
        self.pos = self.pos.max(pos);
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_op_char(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

/// PostgreSQL's whitespace: space, tab, newline, carriage return, form feed, vertical tab.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let tok = self.next_raw()?;
            if self.skip_meta && tok.kind == Kind::Punct && tok.text == "\\" {
                self.skip_to(memchr_nl(self.src.as_bytes(), tok.start));
                continue;
            }
            return Some(tok);
        }
    }
}

impl<'a> Lexer<'a> {
    fn next_raw(&mut self) -> Option<Token<'a>> {
        let b = self.src.as_bytes();
        let len = b.len();
        let mut pos = self.pos;
        while pos < len && is_space(b[pos]) {
            pos += 1;
        }
        if pos >= len {
            self.pos = pos;
            return None;
        }
        let start = pos;
        let c = b[pos];
        let next = if pos + 1 < len { b[pos + 1] } else { 0 };
        let (kind, end) = match c {
            b'-' if next == b'-' => {
                let end = memchr_nl(b, pos);
                (Kind::LineComment, end)
            }
            b'/' if next == b'*' => (Kind::BlockComment, block_comment_end(b, pos)),
            b'\'' => (Kind::String, quoted_end(b, pos + 1, b'\'', false)),
            b'"' => (Kind::QuotedIdent, quoted_end(b, pos + 1, b'"', false)),
            b'e' | b'E' if next == b'\'' => (Kind::String, quoted_end(b, pos + 2, b'\'', true)),
            b'b' | b'B' | b'x' | b'X' | b'n' | b'N' if next == b'\'' => {
                (Kind::String, quoted_end(b, pos + 2, b'\'', false))
            }
            b'u' | b'U' if next == b'&' && pos + 2 < len && b[pos + 2] == b'\'' => {
                (Kind::String, quoted_end(b, pos + 3, b'\'', false))
            }
            b'u' | b'U' if next == b'&' && pos + 2 < len && b[pos + 2] == b'"' => {
                (Kind::QuotedIdent, quoted_end(b, pos + 3, b'"', false))
            }
            b'$' if next.is_ascii_digit() => {
                let mut end = pos + 1;
                while end < len && b[end].is_ascii_digit() {
                    end += 1;
                }
                (Kind::Param, end)
            }
            b'$' => match dollar_tag_end(b, pos) {
                Some(tag_end) => {
                    let tag = &self.src[pos..tag_end];
                    let end = match self.src[tag_end..].find(tag) {
                        Some(i) => tag_end + i + tag.len(),
                        None => len,
                    };
                    (Kind::DollarString, end)
                }
                None => (Kind::Punct, pos + 1),
            },
            b'0'..=b'9' => (Kind::Number, number_end(b, pos)),
            b'.' if next.is_ascii_digit() => (Kind::Number, number_end(b, pos)),
            b':' if next == b':' => (Kind::Cast, pos + 2),
            _ if is_ident_start(c) => {
                let mut end = pos + 1;
                while end < len && is_ident_cont(b[end]) {
                    end += 1;
                }
                (Kind::Word, end)
            }
            _ if is_op_char(c) => (Kind::Operator, operator_end(b, pos)),
            _ => (Kind::Punct, pos + 1),
        };
        // Every end computed above stops at an ASCII byte or the end of
        // input, so it is a char boundary; `get` keeps that a checked fact.
        let end = end.min(len);
        let text = self.src.get(start..end).unwrap_or("");
        self.pos = end.max(start + 1);
        Some(Token { kind, text, start })
    }
}

fn memchr_nl(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| from + i)
}

fn block_comment_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// End (exclusive) of a quoted string or identifier whose body starts at
/// `from`; a doubled quote is an escaped quote, and with `backslash`
/// (`E'…'`) a backslash escapes the next byte.
fn quoted_end(b: &[u8], from: usize, quote: u8, backslash: bool) -> usize {
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        if backslash && c == b'\\' {
            i += 2;
            continue;
        }
        if c == quote {
            if i + 1 < b.len() && b[i + 1] == quote {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// If a dollar-quote opening tag (`$$` or `$tag$`) starts at `pos`, the end of the tag.
fn dollar_tag_end(b: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + 1;
    if i < b.len() && b[i] == b'$' {
        return Some(i + 1);
    }
    if i < b.len() && is_ident_start(b[i]) {
        i += 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
            i += 1;
        }
        if i < b.len() && b[i] == b'$' {
            return Some(i + 1);
        }
    }
    None
}

fn number_end(b: &[u8], pos: usize) -> usize {
    let len = b.len();
    let mut i = pos;
    if b[i] == b'0' && i + 1 < len && matches!(b[i + 1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B') {
        i += 2;
        while i < len && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
            i += 1;
        }
        return i;
    }
    while i < len && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    // A `..` is not part of a number (`1..2` is two tokens in PostgreSQL too).
    if i < len && b[i] == b'.' && !(i + 1 < len && b[i + 1] == b'.') {
        i += 1;
        while i < len && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    if i < len && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < len && matches!(b[j], b'+' | b'-') {
            j += 1;
        }
        if j < len && b[j].is_ascii_digit() {
            while j < len && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}

/// PostgreSQL's operator rule: the longest run of operator characters,
/// cut before `--` or `/*`; a multi-character operator may end in `+` or
/// `-` only if it contains one of `~ ! @ # % ^ & | \` ?`.
fn operator_end(b: &[u8], pos: usize) -> usize {
    let mut end = pos;
    while end < b.len() && is_op_char(b[end]) {
        if end > pos
            && ((b[end] == b'-' && b[end - 1] == b'-') || (b[end] == b'*' && b[end - 1] == b'/'))
        {
            end -= 1;
            break;
        }
        end += 1;
    }
    let op = &b[pos..end];
    if op.len() > 1 && !op.iter().any(|c| b"~!@#%^&|`?".contains(c)) {
        while end > pos + 1 && matches!(b[end - 1], b'+' | b'-') {
            end -= 1;
        }
    }
    end.max(pos + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, &str)> {
        Lexer::new(sql).map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            kinds("'it''s; ok' E'a\\'b;' x'1F' U&'d\\0061'"),
            vec![
                (Kind::String, "'it''s; ok'"),
                (Kind::String, "E'a\\'b;'"),
                (Kind::String, "x'1F'"),
                (Kind::String, "U&'d\\0061'"),
            ]
        );
    }

    #[test]
    fn comments_nest_and_stop_at_newline() {
        assert_eq!(
            kinds("a /* x /* y */ ; */ b -- c; d\ne"),
            vec![
                (Kind::Word, "a"),
                (Kind::BlockComment, "/* x /* y */ ; */"),
                (Kind::Word, "b"),
                (Kind::LineComment, "-- c; d"),
                (Kind::Word, "e"),
            ]
        );
    }

    #[test]
    fn dollar_quotes_and_params() {
        assert_eq!(
            kinds("$1 $$a;b$$ $fn$ x $$ y $fn$ $a"),
            vec![
                (Kind::Param, "$1"),
                (Kind::DollarString, "$$a;b$$"),
                (Kind::DollarString, "$fn$ x $$ y $fn$"),
                (Kind::Punct, "$"),
                (Kind::Word, "a"),
            ]
        );
    }

    #[test]
    fn numbers_casts_and_operators() {
        assert_eq!(
            kinds("x>=-1.5e3::numeric||.5 j->>'k' a<>0x1F"),
            vec![
                (Kind::Word, "x"),
                (Kind::Operator, ">="),
                (Kind::Operator, "-"),
                (Kind::Number, "1.5e3"),
                (Kind::Cast, "::"),
                (Kind::Word, "numeric"),
                (Kind::Operator, "||"),
                (Kind::Number, ".5"),
                (Kind::Word, "j"),
                (Kind::Operator, "->>"),
                (Kind::String, "'k'"),
                (Kind::Word, "a"),
                (Kind::Operator, "<>"),
                (Kind::Number, "0x1F"),
            ]
        );
    }

    #[test]
    fn operator_stops_before_comment() {
        assert_eq!(
            kinds("a=--c\n1"),
            vec![
                (Kind::Word, "a"),
                (Kind::Operator, "="),
                (Kind::LineComment, "--c"),
                (Kind::Number, "1"),
            ]
        );
    }

    #[test]
    fn meta_commands_skipped_on_request() {
        let src = "SELECT a \\set x 'it''s\nFROM t";
        let kept: Vec<&str> = Lexer::skipping_meta_commands(src).map(|t| t.text).collect();
        assert_eq!(kept, vec!["SELECT", "a", "FROM", "t"]);
        assert!(Lexer::new(src).any(|t| t.text == "\\"));
    }

    #[test]
    fn unterminated_runs_to_end() {
        assert_eq!(kinds("'abc"), vec![(Kind::String, "'abc")]);
        assert_eq!(kinds("/* abc"), vec![(Kind::BlockComment, "/* abc")]);
        assert_eq!(kinds("$q$ abc"), vec![(Kind::DollarString, "$q$ abc")]);
        assert_eq!(kinds("\"abc"), vec![(Kind::QuotedIdent, "\"abc")]);
        assert_eq!(kinds("E'\\"), vec![(Kind::String, "E'\\")]);
    }

    #[test]
    fn quoted_identifiers_and_unicode_words() {
        assert_eq!(
            kinds("\"Us\"\"ers\".größe"),
            vec![
                (Kind::QuotedIdent, "\"Us\"\"ers\""),
                (Kind::Punct, "."),
                (Kind::Word, "größe"),
            ]
        );
    }
}
