//! File names as the receiver wrote them. On Linux a name is bytes; many receivers
//! write GBK. The bytes are kept for I/O (never converted), and a decoded string
//! is made for display and search: UTF-8 when valid, else GB18030 (a superset of
//! GBK), else a lossy UTF-8 rendering.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The raw bytes of a path, for storage.
pub fn to_bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().as_bytes().to_vec()
}

/// A path from stored bytes, exactly as it was.
pub fn from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

/// Decodes raw name bytes for display.
pub fn display_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => {
            let (text, _, had_errors) = encoding_rs::GB18030.decode(b);
            if had_errors {
                String::from_utf8_lossy(b).into_owned()
            } else {
                text.into_owned()
            }
        }
    }
}

/// Whether raw path `path` is `dir` itself or lies below it.
pub fn is_within(path: &[u8], dir: &[u8]) -> bool {
    path == dir || (path.starts_with(dir) && path.get(dir.len()) == Some(&b'/'))
}

/// Decodes a path for display.
pub fn display(p: &Path) -> String {
    display_bytes(p.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_name_round_trips_and_decodes() {
        let (gbk, _, _) = encoding_rs::GBK.encode("三年级语文.rmvb");
        let p = from_bytes(&gbk);
        assert_eq!(to_bytes(&p), gbk.to_vec());
        assert_eq!(display(&p), "三年级语文.rmvb");
    }

    #[test]
    fn within_means_below_a_separator() {
        assert!(is_within(b"/in/a/b.mp4", b"/in/a"));
        assert!(is_within(b"/in/a", b"/in/a"));
        assert!(!is_within(b"/in/ab.mp4", b"/in/a"));
    }

    #[test]
    fn utf8_is_kept() {
        assert_eq!(display(Path::new("农业/种植.mp4")), "农业/种植.mp4");
    }

    #[test]
    fn garbage_is_lossy_for_display_only() {
        let b = [0xff, 0xfe, b'a'];
        assert!(display_bytes(&b).contains('a'));
        assert_eq!(to_bytes(&from_bytes(&b)), b.to_vec());
    }
}
