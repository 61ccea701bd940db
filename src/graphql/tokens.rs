//! Counting the lexical tokens of a GraphQL document in one pass over its bytes, before it is
//! parsed, so an oversized document costs no parse at all (docs/security.md).

/// The number of tokens in `source` as the GraphQL lexer sees them: names, numbers, strings and
/// punctuators (`...` is one). Whitespace, commas, comments and a byte-order mark are not
/// tokens. A byte that starts no token counts as one, so a malformed document never counts
/// less than it holds. Linear in the length of `source`.
pub fn count(source: &str) -> usize {
    let bytes = source.as_bytes();
    let mut tokens = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at = match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => at + 1,
            b'#' => skip_line(bytes, at),
            _ if bytes[at..].starts_with("\u{feff}".as_bytes()) => at + 3,
            _ => {
                tokens += 1;
                token_end(bytes, at)
            }
        };
    }
    tokens
}

/// Where the token starting at `at` ends (exclusive).
fn token_end(bytes: &[u8], at: usize) -> usize {
    let rest = &bytes[at..];
    if rest.starts_with(b"\"\"\"") {
        block_string_end(bytes, at + 3)
    } else if rest.starts_with(b"...") {
        at + 3
    } else {
        match rest[0] {
            b'"' => string_end(bytes, at + 1),
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                skip_while(bytes, at + 1, |b| b == b'_' || b.is_ascii_alphanumeric())
            }
            b'-' | b'0'..=b'9' => number_end(bytes, at),
            _ => at + 1,
        }
    }
}

fn skip_while(bytes: &[u8], mut at: usize, keep: impl Fn(u8) -> bool) -> usize {
    while bytes.get(at).is_some_and(|&b| keep(b)) {
        at += 1;
    }
    at
}

fn skip_line(bytes: &[u8], at: usize) -> usize {
    skip_while(bytes, at, |b| b != b'\n' && b != b'\r')
}

/// `-? digits (. digits)? ([eE] [+-]? digits)?`
fn number_end(bytes: &[u8], at: usize) -> usize {
    let digits = |at| skip_while(bytes, at, |b| b.is_ascii_digit());
    let mut end = digits(at + usize::from(bytes[at] == b'-'));
    if bytes.get(end) == Some(&b'.') {
        end = digits(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        end += 1;
        if matches!(bytes.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        end = digits(end);
    }
    end
}

/// After the opening quote: up to the closing quote, past escapes; an unterminated string ends
/// at the line's end, where the parser will refuse it.
fn string_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => return at + 1,
            b'\\' => at += 2,
            b'\n' | b'\r' => return at,
            _ => at += 1,
        }
    }
    at
}

/// After the opening `"""`: past the closing `"""`; `\"""` does not close.
fn block_string_end(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() {
        if bytes[at..].starts_with(b"\\\"\"\"") {
            at += 4;
        } else if bytes[at..].starts_with(b"\"\"\"") {
            return at + 3;
        } else {
            at += 1;
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn names_punctuators_and_values_are_tokens() {
        assert_eq!(count("{ me { id } }"), 6);
        assert_eq!(count("query Run { __typename }"), 5);
        assert_eq!(count("{ ...F } fragment F on Query { me { id } }"), 14);
        assert_eq!(
            count("mutation($t: String!) { logout(refreshToken: $t) }"),
            17
        );
        assert_eq!(count("{ a(n: -1.5e+3, m: 42, s: \"x y\", b: true) }"), 17);
    }

    #[test]
    fn whitespace_commas_comments_and_a_byte_order_mark_are_not() {
        assert_eq!(
            count("\u{feff} ,,, # { me { id } }\n\t{ me,, { id } }\r\n"),
            6
        );
        assert_eq!(count(""), 0);
        assert_eq!(count("# only a comment"), 0);
    }

    #[test]
    fn a_string_is_one_token_whatever_it_holds() {
        assert_eq!(count(r#"{ a(s: "{ \" } ... # x") }"#), 8);
        assert_eq!(count("{ a(s: \"\"\" { \\\"\"\" }\n \"\" ... \"\"\") }"), 8);
        assert_eq!(count("{ a(s: \"ünïcödé ✓\") }"), 8);
    }

    #[test]
    fn malformed_input_never_counts_less_than_it_holds() {
        // Unterminated strings end at the line, stray bytes count one each.
        assert_eq!(count("\"open\n{ }"), 3);
        assert_eq!(count("\"\"\"open { }"), 1);
        assert_eq!(count("%%%"), 3);
        assert_eq!(count(". .. ...."), 5);
        assert_eq!(count("é"), 2);
        assert_eq!(count("\"\\"), 1);
    }
}
