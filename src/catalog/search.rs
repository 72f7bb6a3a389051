//! Search text for Chinese names. SQLite's FTS5 tokenizers do not segment
//! Chinese, and its trigram tokenizer cannot find terms shorter than three
//! characters. So every CJK character is indexed as a token of its own (spaces
//! are put around it) and a query term becomes a phrase of consecutive tokens:
//! "语文" matches exactly the titles containing 语 immediately followed by 文.
//! Latin words and numbers stay whole and match by prefix.

/// True for characters indexed one by one (Han, kana, CJK symbols excluded).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // kana
        | 0x3400..=0x4DBF    // CJK ext A
        | 0x4E00..=0x9FFF    // CJK unified
        | 0xF900..=0xFAFF    // compatibility
        | 0x20000..=0x3134F) // ext B..G
}

/// The text as stored in the index: CJK characters separated by spaces.
pub fn index_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits text into the tokens the index holds (letters/digits runs, single CJK).
fn tokens(s: &str) -> Vec<String> {
    index_text(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| t.to_lowercase())
        .collect()
}

/// Builds an FTS5 MATCH expression from a user's query: every whitespace-separated
/// term must occur (AND). `None` when the query has nothing searchable.
pub fn match_expr(q: &str) -> Option<String> {
    let mut phrases = Vec::new();
    for term in q.split_whitespace() {
        let toks = tokens(term);
        let Some(last) = toks.last() else { continue };
        let prefix = !last.chars().any(is_cjk);
        let phrase = format!("\"{}\"{}", toks.join(" "), if prefix { "*" } else { "" });
        phrases.push(phrase);
    }
    if phrases.is_empty() {
        None
    } else {
        Some(phrases.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_cjk() {
        assert_eq!(
            tokens("第3课 秋天.rmvb"),
            ["第", "3", "课", "秋", "天", "rmvb"]
        );
    }

    #[test]
    fn expressions() {
        assert_eq!(match_expr("语文").unwrap(), "\"语 文\"");
        assert_eq!(match_expr("鸡 unit").unwrap(), "\"鸡\" AND \"unit\"*");
        assert_eq!(match_expr("  \"*() "), None);
        // quotes and operators in the input cannot escape the phrase
        assert_eq!(match_expr("a\"b OR").unwrap(), "\"a b\"* AND \"or\"*");
    }
}
