//! The typed configuration: embedded defaults, then a TOML file, then environment
//! variables, then command-line flags, each layer overriding the one before.
//!
//! Every field has a default and a doc; unknown keys are an error that names the
//! line. `config/xingzhan.toml` is the commented example and must parse to exactly
//! [`Config::default`] (a test holds it to that).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::classify::ClassifyConfig;
use crate::equipment::EquipmentConfig;
use crate::vcd::VcdConfig;

/// The commented example configuration, shipped in the binary.
pub const EXAMPLE: &str = include_str!("../config/xingzhan.toml");

/// Errors reading or checking the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "config file {path} is not valid: {message}\n(see `xingzhan config print-default` for every key and its default)"
    )]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}={value:?} is not valid: {message}")]
    Env {
        name: &'static str,
        value: String,
        message: String,
    },
    #[error("config value {key} = {value:?} is not valid: {message}")]
    Invalid {
        key: &'static str,
        value: String,
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub paths: PathsConfig,
    pub web: WebConfig,
    pub station: StationConfig,
    pub inbox: InboxConfig,
    pub probe: ProbeConfig,
    pub library: LibraryConfig,
    pub disk: DiskConfig,
    pub classify: ClassifyConfig,
    pub equipment: EquipmentConfig,
    pub vcd: VcdConfig,
}

/// `[paths]`: where things live on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    /// Data directory: database, library, work folders, lock file.
    pub data: PathBuf,
    /// The satellite receiver's drop folder. Empty = `<data>/inbox`.
    pub inbox: PathBuf,
    /// The school resource library (校本资源库). Empty = `<data>/library`.
    pub library: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            data: PathBuf::from("./xingzhan-data"),
            inbox: PathBuf::new(),
            library: PathBuf::new(),
        }
    }
}

impl PathsConfig {
    pub fn inbox(&self) -> PathBuf {
        if self.inbox.as_os_str().is_empty() {
            self.data.join("inbox")
        } else {
            self.inbox.clone()
        }
    }
    pub fn library(&self) -> PathBuf {
        if self.library.as_os_str().is_empty() {
            self.data.join("library")
        } else {
            self.library.clone()
        }
    }
    pub fn database(&self) -> PathBuf {
        self.data.join("xingzhan.sqlite3")
    }
    pub fn work(&self) -> PathBuf {
        self.data.join("work")
    }
}

/// `[web]`: the local web page and the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

/// `[station]`: facts about this school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StationConfig {
    /// School name shown on the page and in exports.
    pub school: String,
    /// Local time zone as a UTC offset, used for display and exports.
    pub utc_offset: String,
    /// Wall-clock times before this date are not trusted (dead CMOS battery).
    pub clock_floor: String,
}

impl Default for StationConfig {
    fn default() -> Self {
        StationConfig {
            school: String::new(),
            utc_offset: "+08:00".into(),
            clock_floor: "2026-01-01".into(),
        }
    }
}

impl StationConfig {
    pub fn offset(&self) -> Result<chrono::FixedOffset, ConfigError> {
        self.utc_offset
            .parse::<chrono::FixedOffset>()
            .map_err(|e| ConfigError::Invalid {
                key: "station.utc_offset",
                value: self.utc_offset.clone(),
                message: format!("{e}; write it like \"+08:00\""),
            })
    }
    pub fn floor(&self) -> Result<chrono::DateTime<chrono::Utc>, ConfigError> {
        chrono::NaiveDate::parse_from_str(&self.clock_floor, "%Y-%m-%d")
            .map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc())
            .map_err(|e| ConfigError::Invalid {
                key: "station.clock_floor",
                value: self.clock_floor.clone(),
                message: format!("{e}; write it like \"2026-01-01\""),
            })
    }
}

/// `[inbox]`: how the drop folder is watched and when a file counts as complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboxConfig {
    /// A file is complete when its size and mtime stayed unchanged this long.
    pub settle_secs: u64,
    /// A file that never settles or never passes its integrity test is marked
    /// broken after this long (it is still watched and may recover).
    pub max_wait_secs: u64,
    /// Full reconcile scan of the drop folder every this many seconds.
    pub reconcile_secs: u64,
    /// Use file-system events. Turn off for network or FUSE folders that send
    /// none; the reconcile scan then finds every file.
    pub watch: bool,
    /// File-name globs of temporary names, ignored until renamed.
    pub temp_globs: Vec<String>,
}

impl Default for InboxConfig {
    fn default() -> Self {
        InboxConfig {
            settle_secs: 30,
            max_wait_secs: 6 * 3600,
            reconcile_secs: 300,
            watch: true,
            temp_globs: [
                "*.tmp",
                "*.temp",
                "*.part",
                "*.partial",
                "*.crdownload",
                "*.download",
                "*.!ut",
                "~*",
                ".*",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// `[probe]`: media facts from ffprobe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// The ffprobe program (a name on PATH or a full path).
    pub ffprobe: String,
    /// ffprobe is killed after this many seconds.
    pub timeout_secs: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            ffprobe: "ffprobe".into(),
            timeout_secs: 10,
        }
    }
}

/// How a kept item is put into the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LibraryMode {
    /// Always copy the bytes (safe even if the receiver rewrites files in place).
    Copy,
    /// Hard-link when on the same filesystem, else copy.
    Hardlink,
}

/// `[library]`: the school resource library (校本资源库).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LibraryConfig {
    /// "copy" or "hardlink".
    pub mode: LibraryMode,
}

impl Default for LibraryConfig {
    fn default() -> Self {
        LibraryConfig {
            mode: LibraryMode::Copy,
        }
    }
}

/// `[disk]`: keeping the disk from filling (a full disk stops reception).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskConfig {
    /// Check free space every this many seconds.
    pub check_secs: u64,
    /// Below this many MiB free, warn.
    pub warn_free_mib: u64,
    /// Below this many MiB free, purge the drop folder.
    pub critical_free_mib: u64,
    /// A purge goes on until this many MiB are free.
    pub target_free_mib: u64,
    /// Whether the daemon purges by itself below the critical threshold.
    pub auto_purge: bool,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig {
            check_secs: 600,
            warn_free_mib: 3072,
            critical_free_mib: 1024,
            target_free_mib: 2048,
            auto_purge: true,
        }
    }
}

/// Overrides from the command line (the last layer).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub inbox: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub settle_secs: Option<u64>,
}

impl Config {
    /// Parses a TOML text; errors name the file and the line.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str::<Config>(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Builds the configuration from its layers and checks it.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Config::from_toml(&text, path)?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        if let Some(v) = &overrides.data {
            config.paths.data = v.clone();
        }
        if let Some(v) = &overrides.inbox {
            config.paths.inbox = v.clone();
        }
        if let Some(v) = overrides.listen {
            config.web.listen = v;
        }
        if let Some(v) = overrides.settle_secs {
            config.inbox.settle_secs = v;
        }
        config.check()?;
        Ok(config)
    }

    /// Applies `XINGZHAN_DATA`, `XINGZHAN_INBOX`, `XINGZHAN_LISTEN`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("XINGZHAN_DATA") {
            self.paths.data = v.into();
        }
        if let Some(v) = get("XINGZHAN_INBOX") {
            self.paths.inbox = v.into();
        }
        if let Some(v) = get("XINGZHAN_LISTEN") {
            self.web.listen = v.parse().map_err(|e| ConfigError::Env {
                name: "XINGZHAN_LISTEN",
                value: v.clone(),
                message: format!("{e}; write it like 127.0.0.1:8080"),
            })?;
        }
        Ok(())
    }

    /// Checks values that parse but make no sense.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.station.offset()?;
        self.station.floor()?;
        if self.inbox.settle_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "inbox.settle_secs",
                value: "0".into(),
                message: "must be at least 1 second".into(),
            });
        }
        if self.inbox.reconcile_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "inbox.reconcile_secs",
                value: "0".into(),
                message: "must be at least 1 second".into(),
            });
        }
        for g in &self.inbox.temp_globs {
            if let Err(e) = globset::Glob::new(g) {
                return Err(ConfigError::Invalid {
                    key: "inbox.temp_globs",
                    value: g.clone(),
                    message: e.to_string(),
                });
            }
        }
        if self.disk.critical_free_mib > self.disk.target_free_mib {
            return Err(ConfigError::Invalid {
                key: "disk.target_free_mib",
                value: self.disk.target_free_mib.to_string(),
                message: "must be at least disk.critical_free_mib".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_the_default() {
        let parsed = Config::from_toml(EXAMPLE, Path::new("config/xingzhan.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_key_names_the_line() {
        let text = "[inbox]\nsettle_secs = 5\nsetle = 3\n";
        let err = Config::from_toml(text, Path::new("x.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("setle"), "{msg}");
        assert!(msg.contains("x.toml"), "{msg}");
    }

    #[test]
    fn wrong_type_names_the_line() {
        let text = "[web]\nlisten = \"not an address\"\n";
        let msg = Config::from_toml(text, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn env_and_overrides_layer_in_order() {
        let mut c = Config::default();
        c.apply_env(|n| (n == "XINGZHAN_LISTEN").then(|| "0.0.0.0:9000".to_string()))
            .unwrap();
        assert_eq!(c.web.listen.port(), 9000);
        let bad = c.apply_env(|n| (n == "XINGZHAN_LISTEN").then(|| "nope".to_string()));
        assert!(bad.unwrap_err().to_string().contains("XINGZHAN_LISTEN"));
    }

    #[test]
    fn settle_zero_is_refused() {
        let mut c = Config::default();
        c.inbox.settle_secs = 0;
        assert!(c.check().unwrap_err().to_string().contains("settle_secs"));
    }
}
