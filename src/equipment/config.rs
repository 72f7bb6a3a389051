//! The `[equipment]` configuration: rooms, devices and how each is sensed,
//! the bell schedule (periods), targets and the in-use share.
//!
//! Every field has a default; the defaults keep the device and room lists empty
//! so the commented example in `config/xingzhan.toml` parses to the default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[equipment]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EquipmentConfig {
    /// A period counts as "in use" when the device was on (or a lesson was
    /// logged) for at least this share of it (0.0-1.0).
    pub in_use_share: f64,
    /// Whether `warming` counts as in use (it does not by default).
    pub count_warming: bool,
    /// Targets the reports compare against.
    pub targets: Targets,
    /// Reopen backoff ceiling for serial ports, in seconds.
    pub reconnect_max_secs: u64,
    /// The school calendar (term dates, holidays) as CSV. Empty = every
    /// Monday-Friday is a school day.
    pub calendar_csv: PathBuf,
    /// The reception plan (节目单) as CSV. Empty = no plan (reception rate is
    /// not computed, only received counts).
    pub plan_csv: PathBuf,
    /// Rooms (卫星接收室, 多媒体教室, 计算机教室, classrooms).
    pub rooms: Vec<RoomConfig>,
    /// The bell schedule: periods per weekday. A period with `rooms` applies to
    /// those rooms only; without, to every room.
    pub periods: Vec<PeriodConfig>,
    /// Devices and how each is sensed.
    pub devices: Vec<DeviceConfig>,
}

impl Default for EquipmentConfig {
    fn default() -> Self {
        let p = |name: &str, start: &str, end: &str| PeriodConfig {
            name: name.into(),
            start: start.into(),
            end: end.into(),
            weekdays: vec![1, 2, 3, 4, 5],
            rooms: Vec::new(),
        };
        EquipmentConfig {
            in_use_share: 0.5,
            count_warming: false,
            targets: Targets::default(),
            reconnect_max_secs: 60,
            calendar_csv: PathBuf::new(),
            plan_csv: PathBuf::new(),
            rooms: Vec::new(),
            periods: vec![
                p("第1节", "08:00", "08:40"),
                p("第2节", "08:50", "09:30"),
                p("第3节", "10:00", "10:40"),
                p("第4节", "10:50", "11:30"),
                p("第5节", "14:00", "14:40"),
                p("第6节", "14:50", "15:30"),
                p("第7节", "15:40", "16:20"),
            ],
            devices: Vec::new(),
        }
    }
}

/// Targets of the plan (mode-2 and mode-3 schools).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    /// Equipment and functional-classroom utilization.
    pub utilization: f64,
    /// Course-resource reception and application rate.
    pub course: f64,
    /// Teacher-training resource reception and application rate.
    pub training: f64,
    /// Share of equipment in working order (完好率).
    pub intact: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            utilization: 0.95,
            course: 0.50,
            training: 0.60,
            intact: 0.95,
        }
    }
}

/// One room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomConfig {
    /// Short id used in the API, e.g. "mm1".
    pub id: String,
    /// Name shown on the page, e.g. "多媒体教室".
    #[serde(default)]
    pub name: String,
}

/// One timetabled period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodConfig {
    /// Name shown on the page, e.g. "第1节".
    pub name: String,
    /// Local start time, "HH:MM".
    pub start: String,
    /// Local end time, "HH:MM".
    pub end: String,
    /// ISO weekdays (1 = Monday .. 7 = Sunday).
    #[serde(default = "default_weekdays")]
    pub weekdays: Vec<u8>,
    /// Rooms this period applies to; empty = all rooms.
    #[serde(default)]
    pub rooms: Vec<String>,
}

fn default_weekdays() -> Vec<u8> {
    vec![1, 2, 3, 4, 5]
}

/// Kind of device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Projector,
    Tv,
    Receiver,
    Pc,
    Dvd,
    Other,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Projector => "projector",
            DeviceKind::Tv => "tv",
            DeviceKind::Receiver => "receiver",
            DeviceKind::Pc => "pc",
            DeviceKind::Dvd => "dvd",
            DeviceKind::Other => "other",
        }
    }
    /// Label shown on the page.
    pub fn label(self) -> &'static str {
        match self {
            DeviceKind::Projector => "投影机",
            DeviceKind::Tv => "电视机",
            DeviceKind::Receiver => "卫星接收机",
            DeviceKind::Pc => "计算机",
            DeviceKind::Dvd => "DVD 机",
            DeviceKind::Other => "其他",
        }
    }
}

/// How a device's state is sensed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sense {
    /// RS-232 with a driver from the table (or `custom`).
    Serial,
    /// PJLink class 1 over TCP.
    Pjlink,
    /// A Linux DVB frontend (lock bit) plus reception activity from the catalog.
    Dvb,
    /// The host PC itself: on while this daemon runs.
    Host,
    /// No sensor: covered by the lesson log only.
    None,
}

/// What a silent device means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    /// No reply = state unknown (the safe default).
    Unknown,
    /// No reply = off (standby), for TVs whose port is dead in standby.
    Off,
}

/// Line settings; each `None` falls back to the driver's documented default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineConfig {
    pub baud: Option<u32>,
    pub data_bits: Option<u8>,
    /// "none", "even" or "odd".
    pub parity: Option<String>,
    pub stop_bits: Option<u8>,
    /// "none", "software" or "hardware".
    pub flow: Option<String>,
}

/// One device.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Short id used in the API and the database, e.g. "proj-mm1".
    pub id: String,
    /// Name shown on the page.
    #[serde(default)]
    pub name: String,
    /// Room id (must be one of `rooms`).
    pub room: String,
    pub kind: DeviceKind,
    /// How the state is sensed.
    #[serde(default = "default_sense")]
    pub sense: Sense,
    /// Serial: driver name from the built-in table, or "custom".
    #[serde(default)]
    pub driver: String,
    /// Serial: port path (prefer /dev/serial/by-id/...).
    #[serde(default)]
    pub port: String,
    /// Serial: line settings overriding the driver's defaults.
    #[serde(default)]
    pub line: LineConfig,
    /// Milliseconds between polls.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// Milliseconds to wait for a reply.
    #[serde(default = "default_reply_timeout_ms")]
    pub reply_timeout_ms: u64,
    /// Milliseconds between two commands on the same port.
    #[serde(default = "default_inter_cmd_delay_ms")]
    pub inter_cmd_delay_ms: u64,
    /// What no reply means; default from the driver.
    #[serde(default)]
    pub on_timeout: Option<OnTimeout>,
    /// PJLink: host name or address.
    #[serde(default)]
    pub host: String,
    /// PJLink: TCP port.
    #[serde(default = "default_pjlink_port")]
    pub tcp_port: u16,
    /// PJLink: password (empty = none).
    #[serde(default)]
    pub password: String,
    /// DVB: adapter and frontend numbers (/dev/dvb/adapterN/frontendM).
    #[serde(default)]
    pub adapter: u32,
    #[serde(default)]
    pub frontend: u32,
    /// Serial with driver = "custom": the full protocol description.
    #[serde(default)]
    pub custom: Option<CustomDriver>,
}

impl fmt::Debug for DeviceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceConfig")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("kind", &self.kind)
            .field("sense", &self.sense)
            .field("driver", &self.driver)
            .field("port", &self.port)
            .field("host", &self.host)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish_non_exhaustive()
    }
}

fn default_sense() -> Sense {
    Sense::Serial
}
fn default_poll_ms() -> u64 {
    30_000
}
fn default_reply_timeout_ms() -> u64 {
    1_000
}
fn default_inter_cmd_delay_ms() -> u64 {
    100
}
fn default_pjlink_port() -> u16 {
    4352
}

impl DeviceConfig {
    /// A device of `kind` in `room` sensed by `sense`, every other field default.
    pub fn new(id: &str, room: &str, kind: DeviceKind, sense: Sense) -> Self {
        DeviceConfig {
            id: id.into(),
            name: String::new(),
            room: room.into(),
            kind,
            sense,
            driver: String::new(),
            port: String::new(),
            line: LineConfig::default(),
            poll_ms: default_poll_ms(),
            reply_timeout_ms: default_reply_timeout_ms(),
            inter_cmd_delay_ms: default_inter_cmd_delay_ms(),
            on_timeout: None,
            host: String::new(),
            tcp_port: default_pjlink_port(),
            password: String::new(),
            adapter: 0,
            frontend: 0,
            custom: None,
        }
    }
    /// Name for display: `name`, or the id.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        }
    }
}

/// A protocol fully described in configuration (`driver = "custom"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDriver {
    /// The query as text (TOML escapes such as "\r" apply) ...
    #[serde(default)]
    pub query: Option<String>,
    /// ... or as hex bytes (spaces allowed).
    #[serde(default)]
    pub query_hex: Option<String>,
    /// When a reply is complete.
    #[serde(default)]
    pub reply_end: ReplyEndConfig,
    /// `regex::bytes` pattern with a capture group `v`; write `(?-u)` for raw bytes.
    pub state_regex: String,
    /// How the captured `v` is written as a key of `state_map`: "text" or "hex".
    #[serde(default = "default_keys")]
    pub keys: String,
    /// Captured value -> state (on, warming, cooling, standby/off, error, unknown).
    pub state_map: BTreeMap<String, String>,
    /// Optional pattern whose match means the device reports an error.
    #[serde(default)]
    pub error_regex: Option<String>,
    /// Baud, data bits, parity, stop bits, flow (defaults 9600 8N1, no flow).
    #[serde(default)]
    pub line: LineConfig,
    /// What no reply means (default unknown).
    #[serde(default)]
    pub on_timeout: Option<OnTimeout>,
    /// Lamp-hours query.
    #[serde(default)]
    pub lamp: Option<CustomLamp>,
}

fn default_keys() -> String {
    "text".into()
}

/// When a reply is complete: the n-th terminator byte, a length, or an idle gap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyEndConfig {
    /// Terminator byte, e.g. 0x0D.
    pub byte: Option<u8>,
    /// Which occurrence of the terminator ends the reply (BenQ echoes: 2).
    pub count: Option<usize>,
    /// Fixed reply length in bytes.
    pub len: Option<usize>,
    /// Reply ends after this many milliseconds without a byte.
    pub idle_ms: Option<u64>,
}

/// Lamp-hours query of a custom driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomLamp {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub query_hex: Option<String>,
    /// Pattern with group `v` (or `lo`/`hi` is not needed: `v` spans the bytes).
    pub regex: String,
    /// "decimal", "u16le", "u16be", "u32le_seconds".
    #[serde(default = "default_decode")]
    pub decode: String,
}

fn default_decode() -> String {
    "decimal".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commented-out examples in config/xingzhan.toml, uncommented, parse
    /// and pass the checks (so the documentation does not rot).
    #[test]
    fn commented_examples_in_the_example_config_are_valid() {
        let text = crate::config::EXAMPLE;
        let start = text.find("[equipment]").unwrap();
        let end = text[start..].find("\n[vcd]").unwrap() + start;
        let key = regex::Regex::new(r"^(\[\[?equipment[a-z_.]*\]\]?|[a-z_]+ = )").unwrap();
        let mut out = String::new();
        for line in text[start..end].lines() {
            match line.strip_prefix("# ") {
                Some(rest) if key.is_match(rest) => out.push_str(rest),
                _ => out.push_str(line),
            }
            out.push('\n');
        }
        // The example devices name room c3, which the example rooms lack.
        out = out.replace("room = \"c3\"", "room = \"mm1\"");
        let parsed: toml::Table = toml::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        let eq: EquipmentConfig = parsed["equipment"].clone().try_into().unwrap();
        assert_eq!(eq.rooms.len(), 3);
        assert_eq!(eq.devices.len(), 4);
        assert_eq!(eq.periods.len(), 8);
        crate::equipment::check(&eq).unwrap();
        let custom = crate::equipment::drivers::Driver::for_device(&eq.devices[3]).unwrap();
        assert_eq!(custom.query.len(), 13);
        assert_eq!(
            custom.parse(b"\x1D\x01\x00").unwrap().state,
            crate::equipment::State::On
        );
        assert!(custom.lamp.is_some());
    }
}
