//! Device drivers as data: each built-in driver is one row of [`BUILTIN`] (line
//! settings, query bytes, when a reply ends, a `regex::bytes` pattern with a
//! capture `v`, and a map from the captured value to a normalised [`State`]).
//! `driver = "custom"` builds the same [`Driver`] from configuration.
//!
//! Invariants: binary patterns use `(?-u)` so `\xA9` is the byte 0xA9; map keys
//! are normalised once (hex lowercase for binary captures, uppercase for text),
//! so lowercase replies match; parsing never panics on any input.

use std::collections::HashMap;
use std::time::Duration;

use regex::bytes::Regex;

use super::State;
use super::config::{CustomDriver, CustomLamp, DeviceConfig, LineConfig, OnTimeout};

/// Errors building a driver from configuration; each names the device.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("device {device}: unknown driver {name:?}; known: {known}, custom")]
    Unknown {
        device: String,
        name: String,
        known: String,
    },
    #[error("device {device}: driver \"custom\" needs a [custom] table")]
    MissingCustom { device: String },
    #[error("device {device}: {field} is not a valid pattern: {source}")]
    Regex {
        device: String,
        field: &'static str,
        source: regex::Error,
    },
    #[error("device {device}: {field} needs a capture group named v, e.g. (?P<v>..)")]
    NoCapture { device: String, field: &'static str },
    #[error("device {device}: {field} = {text:?} is not hex bytes (write like \"BE EF 03\")")]
    Hex {
        device: String,
        field: &'static str,
        text: String,
    },
    #[error("device {device}: {field} needs a query (query = \"...\" or query_hex = \"...\")")]
    NoQuery { device: String, field: &'static str },
    #[error(
        "device {device}: state_map value {value:?} for {key:?} is not a state (on, warming, cooling, standby, off, error, unknown)"
    )]
    State {
        device: String,
        key: String,
        value: String,
    },
    #[error("device {device}: {field} = {value:?} is not valid: {hint}")]
    Line {
        device: String,
        field: &'static str,
        value: String,
        hint: &'static str,
    },
}

/// Parity of the serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    None,
    Even,
    Odd,
}

/// Flow control of the serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    None,
    Software,
    Hardware,
}

/// Serial line settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub baud: u32,
    pub data_bits: u8,
    pub parity: Parity,
    pub stop_bits: u8,
    pub flow: Flow,
}

impl Line {
    const fn n81(baud: u32) -> Line {
        Line {
            baud,
            data_bits: 8,
            parity: Parity::None,
            stop_bits: 1,
            flow: Flow::None,
        }
    }

    /// Applies overrides from configuration.
    pub fn with(mut self, device: &str, c: &LineConfig) -> Result<Line, DriverError> {
        let bad = |field, value: String, hint| DriverError::Line {
            device: device.into(),
            field,
            value,
            hint,
        };
        if let Some(b) = c.baud {
            if b == 0 {
                return Err(bad("baud", "0".into(), "a rate such as 9600"));
            }
            self.baud = b;
        }
        if let Some(d) = c.data_bits {
            if !(5..=8).contains(&d) {
                return Err(bad("data_bits", d.to_string(), "5, 6, 7 or 8"));
            }
            self.data_bits = d;
        }
        if let Some(p) = &c.parity {
            self.parity = match p.to_ascii_lowercase().as_str() {
                "none" | "n" => Parity::None,
                "even" | "e" => Parity::Even,
                "odd" | "o" => Parity::Odd,
                _ => return Err(bad("parity", p.clone(), "none, even or odd")),
            };
        }
        if let Some(s) = c.stop_bits {
            if !(1..=2).contains(&s) {
                return Err(bad("stop_bits", s.to_string(), "1 or 2"));
            }
            self.stop_bits = s;
        }
        if let Some(f) = &c.flow {
            self.flow = match f.to_ascii_lowercase().as_str() {
                "none" => Flow::None,
                "software" | "xonxoff" => Flow::Software,
                "hardware" | "rtscts" => Flow::Hardware,
                _ => return Err(bad("flow", f.clone(), "none, software or hardware")),
            };
        }
        Ok(self)
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = match self.parity {
            Parity::None => 'N',
            Parity::Even => 'E',
            Parity::Odd => 'O',
        };
        write!(f, "{} {}{}{}", self.baud, self.data_bits, p, self.stop_bits)
    }
}

/// When a reply is complete (any condition that is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    /// Terminator byte and which occurrence ends the reply.
    pub byte: Option<(u8, usize)>,
    /// Fixed length.
    pub len: Option<usize>,
    /// Idle gap after the last byte.
    pub idle_ms: Option<u64>,
}

impl End {
    const fn byte(b: u8) -> End {
        End {
            byte: Some((b, 1)),
            len: None,
            idle_ms: None,
        }
    }
    const fn len(n: usize) -> End {
        End {
            byte: None,
            len: Some(n),
            idle_ms: None,
        }
    }
    /// Whether `buf` holds a complete reply by count (terminator or length).
    pub fn complete(&self, buf: &[u8]) -> bool {
        if let Some((b, n)) = self.byte
            && buf.iter().filter(|&&x| x == b).count() >= n
        {
            return true;
        }
        matches!(self.len, Some(n) if buf.len() >= n)
    }
    /// The idle gap that also ends a reply.
    pub fn idle(&self) -> Option<Duration> {
        self.idle_ms.map(Duration::from_millis)
    }
}

/// How a captured value is written as a map key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// Uppercased text (so lowercase replies match).
    Text,
    /// Lowercase hex of the captured bytes.
    Hex,
}

/// How lamp hours are decoded from the captured bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decode {
    Decimal,
    U16Le,
    U16Be,
    /// Little-endian u32 of seconds (NEC), reported in hours.
    U32LeSeconds,
}

impl Decode {
    fn parse(device: &str, s: &str) -> Result<Decode, DriverError> {
        Ok(match s {
            "decimal" => Decode::Decimal,
            "u16le" => Decode::U16Le,
            "u16be" => Decode::U16Be,
            "u32le_seconds" => Decode::U32LeSeconds,
            _ => {
                return Err(DriverError::Line {
                    device: device.into(),
                    field: "lamp.decode",
                    value: s.into(),
                    hint: "decimal, u16le, u16be or u32le_seconds",
                });
            }
        })
    }
    /// Decodes captured bytes into hours.
    pub fn hours(self, v: &[u8]) -> Option<u64> {
        match self {
            Decode::Decimal => std::str::from_utf8(v).ok()?.trim().parse().ok(),
            Decode::U16Le if v.len() == 2 => Some(u16::from_le_bytes([v[0], v[1]]) as u64),
            Decode::U16Be if v.len() == 2 => Some(u16::from_be_bytes([v[0], v[1]]) as u64),
            Decode::U32LeSeconds if v.len() == 4 => {
                Some(u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as u64 / 3600)
            }
            _ => None,
        }
    }
}

/// One built-in driver: a row of data.
pub struct Spec {
    pub name: &'static str,
    pub line: Line,
    pub query: &'static [u8],
    pub end: End,
    pub state_regex: &'static str,
    pub keys: Keys,
    pub map: &'static [(&'static str, State)],
    /// Other patterns and the state they mean (error replies, transitions).
    pub extras: &'static [(&'static str, State)],
    /// Unsolicited messages (Optoma INFO): pattern with `v`, and its map.
    pub unsolicited: Option<(&'static str, &'static [(&'static str, State)])>,
    pub on_timeout: OnTimeout,
    pub lamp: Option<LampSpec>,
}

/// Lamp-hours query of a built-in driver.
pub struct LampSpec {
    pub query: &'static [u8],
    pub end: End,
    pub regex: &'static str,
    pub decode: Decode,
}

use State::{Cooling, Error as Err_, On, Standby, Unknown, Warming};

/// The built-in driver table (see the shared notes, §1.13, for sources).
pub const BUILTIN: &[Spec] = &[
    Spec {
        name: "epson_escvp21",
        line: Line::n81(9600),
        query: b"PWR?\r",
        end: End::byte(b':'),
        state_regex: r"(?i)PWR=(?P<v>\d\d)",
        keys: Keys::Text,
        map: &[
            ("00", Standby),
            ("01", On),
            ("02", Warming),
            ("03", Cooling),
            ("04", Standby),
            ("05", Err_),
            ("09", Standby),
        ],
        extras: &[(r"(?i)ERR\r", Err_)],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: Some(LampSpec {
            query: b"LAMP?\r",
            end: End::byte(b':'),
            regex: r"(?i)LAMP=(?P<v>\d+)",
            decode: Decode::Decimal,
        }),
    },
    Spec {
        name: "nec",
        line: Line::n81(38400),
        query: b"\x00\x85\x00\x00\x01\x01\x87",
        end: End::len(22),
        state_regex: r"(?s-u)\x20\x85..\x10.{5}(?P<v>.)",
        keys: Keys::Hex,
        map: &[
            ("04", On),
            ("05", Cooling),
            ("00", Standby),
            ("0f", Standby),
            ("10", Standby),
            ("06", Err_),
        ],
        extras: &[(r"(?s-u)\xA0\x85..\x02", Unknown)],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: Some(LampSpec {
            query: b"\x03\x8A\x00\x00\x00\x8D",
            end: End::len(104),
            regex: r"(?s-u)\x23\x8A..\x62.{82}(?P<v>.{4})",
            decode: Decode::U32LeSeconds,
        }),
    },
    Spec {
        name: "benq",
        line: Line::n81(115200),
        query: b"\r*pow=?#\r",
        end: End {
            byte: Some((b'#', 2)),
            len: None,
            idle_ms: None,
        },
        state_regex: r"(?i)\*POW=(?P<v>ON|OFF)#",
        keys: Keys::Text,
        map: &[("ON", On), ("OFF", Standby)],
        extras: &[
            (r"(?i)Block item", Unknown),
            (r"(?i)Illegal format", Unknown),
        ],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: Some(LampSpec {
            query: b"\r*ltim=?#\r",
            end: End {
                byte: Some((b'#', 2)),
                len: None,
                idle_ms: None,
            },
            regex: r"(?i)\*LTIM=(?P<v>\d+)#",
            decode: Decode::Decimal,
        }),
    },
    Spec {
        name: "optoma",
        line: Line::n81(9600),
        query: b"~00124 1\r",
        end: End {
            byte: Some((b'\r', 1)),
            len: None,
            idle_ms: Some(300),
        },
        state_regex: r"(?i)OK(?P<v>[01])",
        keys: Keys::Text,
        map: &[("1", On), ("0", Standby)],
        extras: &[],
        unsolicited: Some((
            r"(?i)INFO(?P<v>[0-8])",
            &[
                ("0", Standby),
                ("1", Warming),
                ("2", Cooling),
                ("4", Err_),
                ("6", Err_),
                ("7", Err_),
            ],
        )),
        on_timeout: OnTimeout::Unknown,
        lamp: Some(LampSpec {
            query: b"~00108 1\r",
            end: End {
                byte: Some((b'\r', 1)),
                len: None,
                idle_ms: Some(300),
            },
            regex: r"(?i)OK(?P<v>\d+)",
            decode: Decode::Decimal,
        }),
    },
    Spec {
        name: "hitachi",
        line: Line::n81(19200),
        query: b"\xBE\xEF\x03\x06\x00\x19\xD3\x02\x00\x00\x60\x00\x00",
        end: End::len(3),
        state_regex: r"(?-u)\x1D(?P<v>[\x00-\x02])\x00",
        keys: Keys::Hex,
        map: &[("00", Standby), ("01", On), ("02", Cooling)],
        extras: &[(r"(?-u)\A\x15", Unknown), (r"(?-u)\A\x1C", Err_)],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: Some(LampSpec {
            query: b"\xBE\xEF\x03\x06\x00\xC2\xFF\x02\x00\x90\x10\x00\x00",
            end: End::len(3),
            regex: r"(?s-u)\x1D(?P<v>..)",
            decode: Decode::U16Le,
        }),
    },
    Spec {
        name: "sony_vpl",
        line: Line {
            baud: 38400,
            data_bits: 8,
            parity: Parity::Even,
            stop_bits: 1,
            flow: Flow::None,
        },
        query: b"\xA9\x01\x02\x01\x00\x00\x03\x9A",
        end: End::byte(0x9A),
        state_regex: r"(?-u)\xA9\x01\x02\x02\x00(?P<v>[\x00-\x08])[\x00-\xFF]\x9A",
        keys: Keys::Hex,
        map: &[
            ("00", Standby),
            ("01", Warming),
            ("02", Warming),
            ("03", On),
            ("04", Cooling),
            ("05", Cooling),
            ("06", Cooling),
            ("07", Cooling),
            ("08", Standby),
        ],
        extras: &[],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: Some(LampSpec {
            query: b"\xA9\x01\x13\x01\x00\x00\x13\x9A",
            end: End::byte(0x9A),
            regex: r"(?s-u)\xA9\x01\x13\x02(?P<v>..).\x9A",
            decode: Decode::U16Be,
        }),
    },
    Spec {
        name: "panasonic",
        line: Line::n81(9600),
        query: b"\x02QPW\x03",
        end: End::byte(0x03),
        state_regex: r"(?-u)\x02(?P<v>00[01])\x03",
        keys: Keys::Text,
        map: &[("000", Standby), ("001", On)],
        extras: &[(r"(?i)ER401", Err_)],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: Some(LampSpec {
            query: b"\x02Q$L\x03",
            end: End::byte(0x03),
            regex: r"(?-u)\x02(?P<v>[0-9]{4})\x03",
            decode: Decode::Decimal,
        }),
    },
    Spec {
        name: "panasonic_sanyo",
        line: Line::n81(19200),
        query: b"CR0\r",
        end: End::byte(b'\r'),
        state_regex: r"(?-u)(?:\A|\r)(?P<v>[0-9A-Fa-f]{2})\r",
        keys: Keys::Text,
        map: &[
            ("00", On),
            ("80", Standby),
            ("81", Standby),
            ("88", Standby),
            ("8C", Standby),
            ("04", Standby),
            ("40", Warming),
            ("20", Cooling),
            ("21", Cooling),
            ("24", Cooling),
            ("28", Cooling),
            ("2C", Cooling),
            ("10", Err_),
        ],
        extras: &[],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: None,
    },
    Spec {
        name: "acer",
        line: Line::n81(9600),
        query: b"* 0 Lamp ?\r",
        end: End::byte(b'\r'),
        state_regex: r"(?i)Lamp (?P<v>[01])\b",
        keys: Keys::Text,
        map: &[("1", On), ("0", Standby)],
        extras: &[(r"\*001", Err_)],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: Some(LampSpec {
            query: b"* 0 Lamp\r",
            end: End::byte(b'\r'),
            regex: r"(?i)Lamp (?P<v>\d+)",
            decode: Decode::Decimal,
        }),
    },
    Spec {
        name: "viewsonic",
        line: Line::n81(19200),
        query: b"\x07\x14\x00\x05\x00\x34\x00\x00\x11\x26\x84",
        end: End::len(9),
        state_regex: r"(?-u)\x05\x14\x00\x03\x00\x00\x00(?P<v>[\x00-\x03])",
        keys: Keys::Hex,
        map: &[
            ("00", Standby),
            ("01", Warming),
            ("02", On),
            ("03", Cooling),
        ],
        extras: &[],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: None,
    },
    Spec {
        name: "lg_tv",
        line: Line::n81(9600),
        query: b"ka 01 ff\r",
        end: End::byte(b'x'),
        state_regex: r"(?i)a [0-9a-f]{2} OK(?P<v>0[01])x",
        keys: Keys::Text,
        map: &[("01", On), ("00", Standby)],
        extras: &[(r"(?i)a [0-9a-f]{2} NG", Err_)],
        unsolicited: None,
        on_timeout: OnTimeout::Off,
        lamp: None,
    },
    Spec {
        name: "samsung_mdc",
        line: Line::n81(9600),
        query: b"\xAA\x11\x00\x00\x11",
        end: End::len(8),
        state_regex: r"(?s-u)\xAA\xFF.\x03A\x11(?P<v>[\x00\x01])",
        keys: Keys::Hex,
        map: &[("01", On), ("00", Standby)],
        extras: &[(r"(?s-u)\xAA\xFF.\x03N", Err_)],
        unsolicited: None,
        on_timeout: OnTimeout::Unknown,
        lamp: None,
    },
];

/// A compiled lamp query.
#[derive(Debug, Clone)]
pub struct Lamp {
    pub query: Vec<u8>,
    pub end: End,
    regex: Regex,
    decode: Decode,
}

impl Lamp {
    /// Lamp hours from a reply, if it holds them.
    pub fn parse(&self, buf: &[u8]) -> Option<u64> {
        let c = self.regex.captures(buf)?;
        self.decode.hours(c.name("v")?.as_bytes())
    }
    /// Where the first match ends, if any (for the idle rule, see [`Driver::parse`]).
    pub fn match_end(&self, buf: &[u8]) -> Option<usize> {
        self.regex.find(buf).map(|m| m.end())
    }
}

/// What a reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub state: State,
    /// Human-readable reason, e.g. "PWR=01" or "error reply".
    pub detail: String,
    /// Where the matched text ends in the buffer.
    pub end: usize,
}

/// A compiled driver, built-in or custom.
#[derive(Debug, Clone)]
pub struct Driver {
    pub name: String,
    pub line: Line,
    pub query: Vec<u8>,
    pub end: End,
    state_regex: Regex,
    keys: Keys,
    map: HashMap<String, State>,
    extras: Vec<(Regex, State)>,
    unsolicited: Option<(Regex, HashMap<String, State>)>,
    pub on_timeout: OnTimeout,
    pub lamp: Option<Lamp>,
}

fn compile(device: &str, field: &'static str, pattern: &str) -> Result<Regex, DriverError> {
    let re = Regex::new(pattern).map_err(|source| DriverError::Regex {
        device: device.into(),
        field,
        source,
    })?;
    Ok(re)
}

fn compile_v(device: &str, field: &'static str, pattern: &str) -> Result<Regex, DriverError> {
    let re = compile(device, field, pattern)?;
    if !re.capture_names().any(|n| n == Some("v")) {
        return Err(DriverError::NoCapture {
            device: device.into(),
            field,
        });
    }
    Ok(re)
}

fn norm_key(keys: Keys, v: &[u8]) -> String {
    match keys {
        Keys::Hex => v.iter().map(|b| format!("{b:02x}")).collect(),
        Keys::Text => String::from_utf8_lossy(v).to_ascii_uppercase(),
    }
}

fn norm_map_key(keys: Keys, k: &str) -> String {
    match keys {
        Keys::Hex => k
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase(),
        Keys::Text => k.to_ascii_uppercase(),
    }
}

/// Parses hex bytes such as "BE EF 03" or "beef03".
pub fn parse_hex(device: &str, field: &'static str, text: &str) -> Result<Vec<u8>, DriverError> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bad = || DriverError::Hex {
        device: device.into(),
        field,
        text: text.into(),
    };
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}

fn query_bytes(
    device: &str,
    field: &'static str,
    text: &Option<String>,
    hex: &Option<String>,
) -> Result<Vec<u8>, DriverError> {
    match (text, hex) {
        (_, Some(h)) => parse_hex(device, field, h),
        (Some(t), None) if !t.is_empty() => Ok(t.as_bytes().to_vec()),
        _ => Err(DriverError::NoQuery {
            device: device.into(),
            field,
        }),
    }
}

impl Driver {
    /// The built-in driver `name`, if there is one.
    pub fn builtin(name: &str) -> Option<Driver> {
        let spec = BUILTIN.iter().find(|s| s.name == name)?;
        // The table is tested to compile; a failure here is a bug in the table.
        Some(Driver::from_spec(spec).expect("built-in driver table compiles"))
    }

    fn from_spec(s: &Spec) -> Result<Driver, DriverError> {
        let d = s.name;
        let map = |m: &[(&str, State)]| {
            m.iter()
                .map(|(k, v)| (norm_map_key(s.keys, k), *v))
                .collect::<HashMap<_, _>>()
        };
        Ok(Driver {
            name: s.name.into(),
            line: s.line,
            query: s.query.to_vec(),
            end: s.end,
            state_regex: compile_v(d, "state_regex", s.state_regex)?,
            keys: s.keys,
            map: map(s.map),
            extras: s
                .extras
                .iter()
                .map(|(p, st)| Ok((compile(d, "extras", p)?, *st)))
                .collect::<Result<_, DriverError>>()?,
            unsolicited: match s.unsolicited {
                Some((p, m)) => Some((compile_v(d, "unsolicited", p)?, map(m))),
                None => None,
            },
            on_timeout: s.on_timeout,
            lamp: match &s.lamp {
                Some(l) => Some(Lamp {
                    query: l.query.to_vec(),
                    end: l.end,
                    regex: compile_v(d, "lamp.regex", l.regex)?,
                    decode: l.decode,
                }),
                None => None,
            },
        })
    }

    /// Builds the driver of a configured serial device (built-in or custom),
    /// with the device's line overrides applied.
    pub fn for_device(dev: &DeviceConfig) -> Result<Driver, DriverError> {
        let mut driver = if dev.driver == "custom" {
            let c = dev
                .custom
                .as_ref()
                .ok_or_else(|| DriverError::MissingCustom {
                    device: dev.id.clone(),
                })?;
            Driver::custom(&dev.id, c)?
        } else {
            Driver::builtin(&dev.driver).ok_or_else(|| DriverError::Unknown {
                device: dev.id.clone(),
                name: dev.driver.clone(),
                known: BUILTIN
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?
        };
        driver.line = driver.line.with(&dev.id, &dev.line)?;
        if let Some(t) = dev.on_timeout {
            driver.on_timeout = t;
        }
        Ok(driver)
    }

    /// A driver fully described in configuration.
    pub fn custom(device: &str, c: &CustomDriver) -> Result<Driver, DriverError> {
        let keys = match c.keys.as_str() {
            "text" => Keys::Text,
            "hex" => Keys::Hex,
            other => {
                return Err(DriverError::Line {
                    device: device.into(),
                    field: "custom.keys",
                    value: other.into(),
                    hint: "text or hex",
                });
            }
        };
        let mut map = HashMap::new();
        for (k, v) in &c.state_map {
            let st = State::parse(v).ok_or_else(|| DriverError::State {
                device: device.into(),
                key: k.clone(),
                value: v.clone(),
            })?;
            map.insert(norm_map_key(keys, k), st);
        }
        let end = End {
            byte: c
                .reply_end
                .byte
                .map(|b| (b, c.reply_end.count.unwrap_or(1))),
            len: c.reply_end.len,
            idle_ms: c.reply_end.idle_ms.or(
                // Without any end rule, a reply ends after 200 ms of silence.
                if c.reply_end.byte.is_none() && c.reply_end.len.is_none() {
                    Some(200)
                } else {
                    None
                },
            ),
        };
        let lamp = match &c.lamp {
            Some(CustomLamp {
                query,
                query_hex,
                regex,
                decode,
            }) => Some(Lamp {
                query: query_bytes(device, "lamp.query", query, query_hex)?,
                end,
                regex: compile_v(device, "lamp.regex", regex)?,
                decode: Decode::parse(device, decode)?,
            }),
            None => None,
        };
        let mut extras = Vec::new();
        if let Some(e) = &c.error_regex {
            extras.push((compile(device, "error_regex", e)?, State::Error));
        }
        Ok(Driver {
            name: "custom".into(),
            line: Line::n81(9600).with(device, &c.line)?,
            query: query_bytes(device, "query", &c.query, &c.query_hex)?,
            end,
            state_regex: compile_v(device, "state_regex", &c.state_regex)?,
            keys,
            map,
            extras,
            unsolicited: None,
            on_timeout: c.on_timeout.unwrap_or(OnTimeout::Unknown),
            lamp,
        })
    }

    /// Parses the state out of a (possibly partial, possibly noisy) reply.
    /// `None` means nothing recognisable yet.
    ///
    /// A match that ends exactly at the end of `buf` may still grow (a reply
    /// split across reads); the poller then waits briefly for more bytes before
    /// accepting it.
    pub fn parse(&self, buf: &[u8]) -> Option<Parsed> {
        if let Some(c) = self.state_regex.captures(buf) {
            let v = c.name("v").map(|m| m.as_bytes()).unwrap_or_default();
            let key = norm_key(self.keys, v);
            let end = c.get(0).map(|m| m.end()).unwrap_or(0);
            return Some(match self.map.get(&key) {
                Some(st) => Parsed {
                    state: *st,
                    detail: format!("{}={key}", self.name),
                    end,
                },
                None => Parsed {
                    state: State::Unknown,
                    detail: format!("{}: unmapped value {key}", self.name),
                    end,
                },
            });
        }
        for (re, st) in &self.extras {
            if let Some(m) = re.find(buf) {
                return Some(Parsed {
                    state: *st,
                    detail: format!("{}: reply {}", self.name, show_bytes(m.as_bytes())),
                    end: m.end(),
                });
            }
        }
        None
    }

    /// Unsolicited status messages in `buf` (Optoma INFO), in order.
    pub fn unsolicited(&self, buf: &[u8]) -> Vec<(State, String)> {
        let Some((re, map)) = &self.unsolicited else {
            return Vec::new();
        };
        re.captures_iter(buf)
            .filter_map(|c| {
                let key = norm_key(self.keys, c.name("v")?.as_bytes());
                let st = map.get(&key)?;
                Some((
                    *st,
                    format!("{}: unsolicited {}", self.name, show_bytes(&c[0])),
                ))
            })
            .collect()
    }
}

/// Printable form of reply bytes: text where printable, `\xNN` otherwise.
pub fn show_bytes(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(64) {
        if (0x20..0x7f).contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02X}"));
        }
    }
    if b.len() > 64 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str) -> Driver {
        Driver::builtin(name).unwrap()
    }
    fn st(name: &str, reply: &[u8]) -> Option<State> {
        d(name).parse(reply).map(|p| p.state)
    }

    #[test]
    fn every_builtin_compiles_and_names_are_unique() {
        let mut names = std::collections::HashSet::new();
        for s in BUILTIN {
            Driver::from_spec(s).unwrap();
            assert!(names.insert(s.name), "{}", s.name);
        }
    }

    #[test]
    fn epson() {
        assert_eq!(st("epson_escvp21", b"PWR=01\r:"), Some(On));
        assert_eq!(st("epson_escvp21", b"PWR=00\r:"), Some(Standby));
        assert_eq!(st("epson_escvp21", b"PWR=02\r:"), Some(Warming));
        assert_eq!(st("epson_escvp21", b"PWR=03\r:"), Some(Cooling));
        assert_eq!(st("epson_escvp21", b"PWR=04\r:"), Some(Standby));
        assert_eq!(st("epson_escvp21", b"PWR=05\r:"), Some(Err_));
        assert_eq!(st("epson_escvp21", b"PWR=09\r:"), Some(Standby));
        assert_eq!(st("epson_escvp21", b"pwr=01\r:"), Some(On));
        assert_eq!(st("epson_escvp21", b"ERR\r:"), Some(Err_));
        assert_eq!(st("epson_escvp21", b"PWR=0"), None, "partial");
        assert_eq!(st("epson_escvp21", b"\xff\x00zz:"), None, "garbage");
        assert_eq!(
            st("epson_escvp21", b"PWR=77\r:"),
            Some(Unknown),
            "unmapped value"
        );
        let l = d("epson_escvp21").lamp.unwrap();
        assert_eq!(l.parse(b"LAMP=12345\r:"), Some(12345));
    }

    #[test]
    fn nec_running_status() {
        let mut r = vec![0x20, 0x85, 0x01, 0x00, 0x10];
        let mut data = [0u8; 16];
        data[2] = 1;
        data[5] = 0x04;
        r.extend_from_slice(&data);
        r.push(0xAA);
        assert_eq!(st("nec", &r), Some(On));
        r[5 + 5] = 0x05;
        assert_eq!(st("nec", &r), Some(Cooling));
        r[5 + 5] = 0x0F;
        assert_eq!(st("nec", &r), Some(Standby));
        r[5 + 5] = 0x06;
        assert_eq!(st("nec", &r), Some(Err_));
        assert_eq!(st("nec", &r[..8]), None, "partial");
        assert_eq!(
            st("nec", b"\xA0\x85\x01\x00\x02\x00\x01\x29"),
            Some(Unknown)
        );
        // Lamp: DATA83..86 little-endian seconds.
        let mut lamp = vec![0x23, 0x8A, 0x01, 0x00, 0x62];
        let mut data = [0u8; 98];
        data[82..86].copy_from_slice(&[0xC0, 0x65, 0x52, 0x00]);
        lamp.extend_from_slice(&data);
        lamp.push(0);
        assert_eq!(d("nec").lamp.unwrap().parse(&lamp), Some(1500));
    }

    #[test]
    fn benq_with_echo_and_lowercase() {
        assert_eq!(st("benq", b"*pow=?#\r\n*POW=ON#\r\n"), Some(On));
        assert_eq!(st("benq", b"*POW=OFF#"), Some(Standby));
        assert_eq!(st("benq", b"*pow=on#"), Some(On));
        assert_eq!(st("benq", b"*pow=?#"), None, "echo only");
        assert_eq!(st("benq", b"*Block item#"), Some(Unknown));
        assert!(d("benq").end.complete(b"*pow=?#\r\n*POW=ON#"));
        assert!(!d("benq").end.complete(b"*pow=?#\r\n*POW=O"));
        assert_eq!(
            d("benq").lamp.unwrap().parse(b"*ltim=?#*LTIM=1234#"),
            Some(1234)
        );
    }

    #[test]
    fn optoma_and_info() {
        assert_eq!(st("optoma", b"Ok1"), Some(On));
        assert_eq!(st("optoma", b"OK0\r"), Some(Standby));
        assert_eq!(st("optoma", b"ok1"), Some(On));
        assert_eq!(st("optoma", b"F"), None);
        let d = d("optoma");
        let u = d.unsolicited(b"INFO1\rOk1INFO2");
        assert_eq!(
            u.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![Warming, Cooling]
        );
        assert!(d.unsolicited(b"INFO3").is_empty(), "out of range: no state");
        assert_eq!(d.unsolicited(b"info4")[0].0, Err_);
        assert_eq!(d.lamp.unwrap().parse(b"Ok1234\r"), Some(1234));
    }

    #[test]
    fn hitachi() {
        assert_eq!(st("hitachi", b"\x1D\x01\x00"), Some(On));
        assert_eq!(st("hitachi", b"\x1D\x00\x00"), Some(Standby));
        assert_eq!(st("hitachi", b"\x1D\x02\x00"), Some(Cooling));
        assert_eq!(st("hitachi", b"\x15"), Some(Unknown));
        assert_eq!(st("hitachi", b"\x1C\x00\x00"), Some(Err_));
        assert_eq!(st("hitachi", b"\x1D\x01"), None, "partial");
        assert_eq!(st("hitachi", b"\x1D\x07\x00"), None, "out of range");
        assert_eq!(
            d("hitachi").lamp.unwrap().parse(b"\x1D\xE8\x03"),
            Some(1000)
        );
    }

    #[test]
    fn sony() {
        assert_eq!(
            st("sony_vpl", b"\xA9\x01\x02\x02\x00\x03\x03\x9A"),
            Some(On)
        );
        assert_eq!(
            st("sony_vpl", b"\xA9\x01\x02\x02\x00\x00\x03\x9A"),
            Some(Standby)
        );
        assert_eq!(
            st("sony_vpl", b"\xA9\x01\x02\x02\x00\x01\x03\x9A"),
            Some(Warming)
        );
        assert_eq!(
            st("sony_vpl", b"\xA9\x01\x02\x02\x00\x05\x07\x9A"),
            Some(Cooling)
        );
        assert_eq!(st("sony_vpl", b"\xA9\x01\x02\x02\x00\x03"), None);
        assert_eq!(d("sony_vpl").line.parity, Parity::Even);
        assert_eq!(
            d("sony_vpl")
                .lamp
                .unwrap()
                .parse(b"\xA9\x01\x13\x02\x01\x2C\x3F\x9A"),
            Some(300)
        );
    }

    #[test]
    fn panasonic_both_families() {
        assert_eq!(st("panasonic", b"\x02001\x03"), Some(On));
        assert_eq!(st("panasonic", b"\x02000\x03"), Some(Standby));
        assert_eq!(st("panasonic", b"\x02ER401\x03"), Some(Err_));
        assert_eq!(st("panasonic", b"\x0200"), None);
        assert_eq!(
            d("panasonic").lamp.unwrap().parse(b"\x020123\x03"),
            Some(123)
        );
        assert_eq!(st("panasonic_sanyo", b"00\r"), Some(On));
        assert_eq!(st("panasonic_sanyo", b"8c\r"), Some(Standby));
        assert_eq!(st("panasonic_sanyo", b"40\r"), Some(Warming));
        assert_eq!(st("panasonic_sanyo", b"10\r"), Some(Err_));
    }

    #[test]
    fn acer_viewsonic_lg_samsung() {
        assert_eq!(st("acer", b"Lamp 1\r"), Some(On));
        assert_eq!(st("acer", b"lamp 0\r"), Some(Standby));
        assert_eq!(st("acer", b"*001\r"), Some(Err_));
        assert_eq!(d("acer").lamp.unwrap().parse(b"Lamp 2345\r"), Some(2345));
        assert_eq!(
            st("viewsonic", b"\x05\x14\x00\x03\x00\x00\x00\x02\x18"),
            Some(On)
        );
        assert_eq!(
            st("viewsonic", b"\x05\x14\x00\x03\x00\x00\x00\x01\x17"),
            Some(Warming)
        );
        assert_eq!(st("lg_tv", b"ka 01 ff\r\na 01 OK01x"), Some(On));
        assert_eq!(st("lg_tv", b"a 01 ok00x"), Some(Standby));
        assert_eq!(st("lg_tv", b"a 01 NG01x"), Some(Err_));
        assert_eq!(d("lg_tv").on_timeout, OnTimeout::Off);
        assert_eq!(
            st("samsung_mdc", b"\xAA\xFF\x00\x03A\x11\x01\x55"),
            Some(On)
        );
        assert_eq!(
            st("samsung_mdc", b"\xAA\xFF\x00\x03A\x11\x00\x54"),
            Some(Standby)
        );
        assert_eq!(
            st("samsung_mdc", b"\xAA\xFF\x00\x03N\x11\x01\x62"),
            Some(Err_)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 7u32;
        for s in BUILTIN {
            let drv = Driver::from_spec(s).unwrap();
            for _ in 0..200 {
                let buf: Vec<u8> = (0..40)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        (seed >> 16) as u8
                    })
                    .collect();
                let _ = drv.parse(&buf);
                let _ = drv.unsolicited(&buf);
            }
        }
    }

    fn custom(toml_text: &str) -> Result<Driver, DriverError> {
        let c: CustomDriver = toml::from_str(toml_text).unwrap();
        Driver::custom("dev1", &c)
    }

    #[test]
    fn custom_hex_driver_like_hitachi() {
        let drv = custom(
            r#"
query_hex = "BEEF030600 19D3 0200 0060 0000"
reply_end = { len = 3 }
state_regex = '(?-u)\x1D(?P<v>[\x00-\x02])\x00'
keys = "hex"
state_map = { "00" = "off", "01" = "on", "02" = "cooling" }
line = { baud = 19200 }
[lamp]
query_hex = "BEEF030600 C2FF 0200 9010 0000"
regex = '(?s-u)\x1D(?P<v>..)'
decode = "u16le"
"#,
        )
        .unwrap();
        assert_eq!(drv.query[..2], [0xBE, 0xEF]);
        assert_eq!(drv.query.len(), 13);
        assert_eq!(drv.line.baud, 19200);
        assert_eq!(drv.parse(b"\x1D\x00\x00").unwrap().state, Standby);
        assert_eq!(drv.parse(b"\x1D\x01\x00").unwrap().state, On);
        assert_eq!(drv.lamp.unwrap().parse(b"\x1D\x10\x00"), Some(16));
    }

    #[test]
    fn custom_text_driver_and_errors_name_the_device() {
        let drv = custom(
            r#"
query = "PWR?\r"
reply_end = { byte = 0x3A }
state_regex = 'PWR=(?P<v>\d\d)'
state_map = { "01" = "on", "00" = "standby" }
error_regex = 'ERR'
"#,
        )
        .unwrap();
        assert_eq!(drv.query, b"PWR?\r");
        assert_eq!(drv.parse(b"PWR=01\r:").unwrap().state, On);
        assert_eq!(drv.parse(b"ERR\r:").unwrap().state, Err_);
        let e = custom("query = \"x\"\nstate_regex = 'PWR'\nstate_map = {}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dev1") && e.contains("capture group named v"),
            "{e}"
        );
        let e = custom("query_hex = \"zz\"\nstate_regex = '(?P<v>.)'\nstate_map = {}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("query") && e.contains("zz"), "{e}");
        let e = custom("query = \"x\"\nstate_regex = '(?P<v>.)'\nstate_map = { a = \"bright\" }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bright"), "{e}");
        let e = custom("query = \"x\"\nstate_regex = '(?P<v>.)'\nstate_map = {}\nline = { parity = \"mark\" }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("parity") && e.contains("mark"), "{e}");
    }

    #[test]
    fn unknown_driver_lists_the_known_ones() {
        let mut dev = DeviceConfig::new(
            "p1",
            "r1",
            super::super::config::DeviceKind::Projector,
            super::super::config::Sense::Serial,
        );
        dev.driver = "epsn".into();
        let e = Driver::for_device(&dev).unwrap_err().to_string();
        assert!(e.contains("p1") && e.contains("epson_escvp21"), "{e}");
        dev.driver = "sony_vpl".into();
        dev.line.parity = Some("none".into());
        assert_eq!(Driver::for_device(&dev).unwrap().line.parity, Parity::None);
    }
}
