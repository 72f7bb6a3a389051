//! Content identity: the BLAKE3 hash of a file's bytes, read in large chunks.

use std::io::Read;
use std::path::Path;

/// Hashes a file; returns the hex digest and the number of bytes read.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((h.finalize().to_hex().to_string(), n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_one_shot_hash() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let (h, n) = super::hash_file(&p).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(h, blake3::hash(&data).to_hex().to_string());
    }
}
