//! Search text for Chinese names. SQLite's FTS5 tokenizers do not segment
//! Chinese, and its trigram tokenizer cannot find terms shorter than three
//! characters. So every CJK character is indexed as a token of its own (spaces
//! are put around it) and a query term becomes a phrase of consecutive tokens:
//! "语文" matches exactly the titles containing 语 immediately followed by 文.
//! Latin words and numbers stay whole and match by prefix.
//!
//! Terms of three characters or more go to a second index with SQLite's
//! trigram tokenizer instead, which finds any substring (Latin infixes such as
//! `nit` in `Unit3`, digits inside `2008年`, Chinese phrases).

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

/// How a query runs: a MATCH expression for the one-character index and one
/// for the trigram index; every term must occur (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPlan {
    pub unigram: Option<String>,
    pub trigram: Option<String>,
}

impl SearchPlan {
    pub fn is_empty(&self) -> bool {
        self.unigram.is_none() && self.trigram.is_none()
    }
}

/// Chooses the index for a query. When every term has three characters or
/// more, the trigram index finds each as a substring; otherwise the
/// one-character index runs the whole query (CJK terms as exact phrases, Latin
/// terms as word prefixes). Joining the two indexes in one query is far slower
/// in SQLite than either alone, so a query uses one.
pub fn plan(q: &str) -> SearchPlan {
    let terms: Vec<&str> = q.split_whitespace().collect();
    if !terms.is_empty() && terms.iter().all(|t| t.chars().count() >= 3) {
        let expr = terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND ");
        SearchPlan {
            unigram: None,
            trigram: Some(expr),
        }
    } else {
        SearchPlan {
            unigram: match_expr(q),
            trigram: None,
        }
    }
}

/// Builds an FTS5 MATCH expression for the one-character index: every
/// whitespace-separated term must occur (AND). `None` when nothing is searchable.
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

    #[test]
    fn plans_split_by_length() {
        let p = plan("鸡 秋天的雨 nit");
        assert_eq!(
            p.unigram.as_deref(),
            Some("\"鸡\" AND \"秋 天 的 雨\" AND \"nit\"*")
        );
        assert_eq!(p.trigram, None);
        let p = plan("秋天的雨 nit");
        assert_eq!(p.trigram.as_deref(), Some("\"秋天的雨\" AND \"nit\""));
        assert_eq!(plan("a\"\"b").trigram.as_deref(), Some("\"a\"\"\"\"b\""));
        assert!(plan("  ").is_empty());
    }
}
