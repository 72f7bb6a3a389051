//! Archive integrity: a .zip that lists fine can still be truncated, so every
//! entry is read to its end, which makes the zip reader check its CRC-32.

use std::io::Read;
use std::path::Path;

/// Whether a file name is an archive we can test.
pub fn is_testable(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".zip")
}

/// Tests a zip archive: the central directory and every entry's CRC.
/// The error says what is wrong, for the technician.
pub fn test_zip(path: &Path) -> Result<u64, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| format!("zip directory unreadable (truncated?): {e}"))?;
    let mut sink = vec![0u8; 1 << 16];
    let mut total = 0u64;
    for i in 0..z.len() {
        let mut entry = z.by_index(i).map_err(|e| format!("zip entry {i}: {e}"))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| format!("#{i}"));
        loop {
            match entry.read(&mut sink) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(e) => return Err(format!("zip entry {name:?} is damaged: {e}")),
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn make_zip(p: &Path) {
        let f = std::fs::File::create(p).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("课件/a.txt", opts).unwrap();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 13) as u8).collect();
        z.write_all(&body).unwrap();
        z.start_file("b.txt", opts).unwrap();
        z.write_all(b"hello").unwrap();
        z.finish().unwrap();
    }

    #[test]
    fn good_truncated_and_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.zip");
        make_zip(&p);
        assert!(test_zip(&p).is_ok());
        let bytes = std::fs::read(&p).unwrap();
        // truncated: no central directory
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        assert!(test_zip(&p).is_err());
        // corrupt: a flipped byte inside the first entry's data
        let mut c = bytes.clone();
        c[200] ^= 0x55;
        std::fs::write(&p, &c).unwrap();
        let e = test_zip(&p).unwrap_err();
        assert!(e.contains("damaged") || e.contains("entry"), "{e}");
    }
}
