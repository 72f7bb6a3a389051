//! The per-port poller: one named thread per serial device, one command at a
//! time. Before each query pending input is drained (and scanned for
//! unsolicited messages such as Optoma `INFOn`) and flushed; the reply is read
//! until the driver's pattern matches, the reply is complete by terminator or
//! length, or the reply timeout passes. A query is followed by the
//! inter-command delay. EOF, EIO or BrokenPipe means the link is down: the port
//! is closed and reopened with exponential backoff. Between polls the thread
//! keeps listening, so unsolicited messages and unplugging are seen at once.
//!
//! Also [`run_polled`], the loop for sensors that are not serial (PJLink, DVB,
//! the host), sharing the timing and stop handling.

use std::io::{self, Read, Write};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, SerialPort, TTYPort};

use super::drivers::{Driver, End, Flow, Line, Parity, show_bytes};
use super::{DeviceConfig, Event, OnTimeout, State, Stop};

/// Errors of a serial port; each names the port.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    #[error("cannot open serial port {port}: {source}")]
    Open {
        port: String,
        source: serialport::Error,
    },
    #[error("serial port {port}: link down: {source}")]
    Link { port: String, source: io::Error },
}

/// Opens `path` with the line settings (raw mode, exclusive).
pub fn open(path: &str, line: &Line, timeout: Duration) -> Result<TTYPort, SerialError> {
    let builder = serialport::new(path, line.baud)
        .data_bits(match line.data_bits {
            5 => serialport::DataBits::Five,
            6 => serialport::DataBits::Six,
            7 => serialport::DataBits::Seven,
            _ => serialport::DataBits::Eight,
        })
        .parity(match line.parity {
            Parity::None => serialport::Parity::None,
            Parity::Even => serialport::Parity::Even,
            Parity::Odd => serialport::Parity::Odd,
        })
        .stop_bits(if line.stop_bits == 2 {
            serialport::StopBits::Two
        } else {
            serialport::StopBits::One
        })
        .flow_control(match line.flow {
            Flow::None => serialport::FlowControl::None,
            Flow::Software => serialport::FlowControl::Software,
            Flow::Hardware => serialport::FlowControl::Hardware,
        })
        .timeout(timeout);
    builder.open_native().map_err(|source| SerialError::Open {
        port: path.to_string(),
        source,
    })
}

/// How one exchange ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The pattern matched (bytes read, including anything around the match).
    Matched(Vec<u8>),
    /// Complete by terminator, length or idle gap, but not recognised.
    Unrecognised(Vec<u8>),
    /// The timeout passed: nothing, or an incomplete reply.
    Timeout(Vec<u8>),
}

/// Read granularity while waiting for a reply.
const TICK: Duration = Duration::from_millis(20);
/// Read granularity between polls: how often an idle poller looks at the stop
/// flag (bytes and hang-ups wake it at once).
const IDLE_TICK: Duration = Duration::from_millis(100);
/// A match that ends at the last byte read is accepted after this much silence
/// (or the driver's own idle gap, when it has one).
const SETTLE: Duration = Duration::from_millis(60);

fn is_link_error(e: &io::Error) -> bool {
    !matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn read_some(port: &mut TTYPort, wait: Duration, buf: &mut Vec<u8>) -> io::Result<usize> {
    port.set_timeout(wait.max(Duration::from_millis(1)))
        .map_err(io::Error::other)?;
    let mut tmp = [0u8; 512];
    match port.read(&mut tmp) {
        Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "end of file")),
        Ok(n) => {
            buf.extend_from_slice(&tmp[..n]);
            Ok(n)
        }
        Err(e) if is_link_error(&e) => Err(e),
        Err(_) => Ok(0),
    }
}

/// Reads whatever is pending without waiting (for the unsolicited scan), then
/// flushes the input buffer.
pub fn drain(port: &mut TTYPort) -> io::Result<Vec<u8>> {
    let mut pending = Vec::new();
    let n = port.bytes_to_read().map_err(io::Error::other)?;
    if n > 0 {
        read_some(port, Duration::from_millis(1), &mut pending)?;
    }
    port.clear(ClearBuffer::Input).map_err(io::Error::other)?;
    Ok(pending)
}

/// One exchange: flush, send `query`, read the reply.
/// `matched` returns where a recognised reply ends in the buffer.
pub fn transact(
    port: &mut TTYPort,
    query: &[u8],
    end: &End,
    matched: impl Fn(&[u8]) -> Option<usize>,
    timeout: Duration,
) -> io::Result<(Vec<u8>, Reply)> {
    let pending = drain(port)?;
    port.write_all(query)?;
    port.flush()?;
    let start = Instant::now();
    let deadline = start + timeout;
    let mut buf = Vec::new();
    let mut last_byte = start;
    let settle = end.idle().unwrap_or(SETTLE);
    loop {
        let now = Instant::now();
        if let Some(e) = matched(&buf) {
            if e < buf.len() || end.complete(&buf) || now - last_byte >= settle {
                return Ok((pending, Reply::Matched(buf)));
            }
        } else if end.complete(&buf)
            || matches!(end.idle(), Some(idle) if !buf.is_empty() && now - last_byte >= idle)
        {
            return Ok((pending, Reply::Unrecognised(buf)));
        }
        if now >= deadline {
            return Ok((pending, Reply::Timeout(buf)));
        }
        if read_some(port, TICK.min(deadline - now), &mut buf)? > 0 {
            last_byte = Instant::now();
        }
    }
}

/// What one poll of the power state concluded. `proven`: the device has
/// answered since the port was opened, so silence can mean off
/// (`on_timeout = "off"`); before that, silence is only unknown.
pub fn judge(
    driver: &Driver,
    reply: &Reply,
    port: &str,
    timeout: Duration,
    proven: bool,
) -> (State, String) {
    match reply {
        Reply::Matched(buf) => match driver.parse(buf) {
            Some(p) => (p.state, p.detail),
            None => (State::Unknown, "reply vanished".into()),
        },
        Reply::Unrecognised(buf) => (
            State::Unknown,
            format!(
                "unrecognised reply from {port}: {} (check the driver and the line settings: {})",
                show_bytes(buf),
                driver.line
            ),
        ),
        Reply::Timeout(buf) if buf.is_empty() => match driver.on_timeout {
            OnTimeout::Unknown => (
                State::Unknown,
                format!("no reply from {port} within {} ms", timeout.as_millis()),
            ),
            OnTimeout::Off if !proven => (
                State::Unknown,
                format!(
                    "no reply from {port} within {} ms (on_timeout = off applies once the device has answered since the port was opened)",
                    timeout.as_millis()
                ),
            ),
            OnTimeout::Off => (
                State::Standby,
                format!(
                    "no reply from {port} within {} ms (on_timeout = off)",
                    timeout.as_millis()
                ),
            ),
        },
        Reply::Timeout(buf) => (
            State::Unknown,
            format!(
                "incomplete reply from {port} within {} ms: {} (check the line settings: {})",
                timeout.as_millis(),
                show_bytes(buf),
                driver.line
            ),
        ),
    }
}

fn send(tx: &Sender<Event>, device: &str, state: State, detail: String) {
    let _ = tx.send(Event::State {
        device: device.to_string(),
        state,
        detail,
    });
}

fn send_unsolicited(tx: &Sender<Event>, driver: &Driver, device: &str, bytes: &[u8]) {
    for (state, detail) in driver.unsolicited(bytes) {
        send(tx, device, state, detail);
    }
}

/// Lamp hours are read at most this often.
const LAMP_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The serial poller loop; returns when `stop` is set.
pub fn run(
    dev: &DeviceConfig,
    driver: &Driver,
    tx: &Sender<Event>,
    stop: &Stop,
    max_backoff: Duration,
) {
    let timeout = Duration::from_millis(dev.reply_timeout_ms);
    let delay = Duration::from_millis(dev.inter_cmd_delay_ms);
    let poll = Duration::from_millis(dev.poll_ms);
    let mut backoff = Duration::from_millis(500).min(max_backoff);
    let mut last_lamp: Option<Instant> = None;
    let mut warned = false;
    while !stop.is_set() {
        let mut port = match open(&dev.port, &driver.line, TICK) {
            Ok(p) => {
                tracing::info!(device = %dev.id, port = %dev.port, line = %driver.line, "serial port open");
                warned = false;
                p
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(device = %dev.id, "{e}; retrying");
                    warned = true;
                }
                send(tx, &dev.id, State::Unknown, format!("link down: {e}"));
                if stop.wait(backoff) {
                    return;
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        match session(
            dev,
            driver,
            &mut port,
            tx,
            stop,
            timeout,
            delay,
            poll,
            &mut last_lamp,
        ) {
            Ok(()) => return,
            Err(e) => {
                let e = SerialError::Link {
                    port: dev.port.clone(),
                    source: e,
                };
                tracing::warn!(device = %dev.id, "{e}; reopening");
                send(tx, &dev.id, State::Unknown, e.to_string());
                backoff = Duration::from_millis(500).min(max_backoff);
                drop(port);
                if stop.wait(backoff) {
                    return;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn session(
    dev: &DeviceConfig,
    driver: &Driver,
    port: &mut TTYPort,
    tx: &Sender<Event>,
    stop: &Stop,
    timeout: Duration,
    delay: Duration,
    poll: Duration,
    last_lamp: &mut Option<Instant>,
) -> io::Result<()> {
    let mut next = Instant::now();
    let mut proven = false;
    loop {
        // Listen until the next poll: unsolicited messages, unplugging, stop.
        let mut idle = Vec::new();
        while Instant::now() < next {
            if stop.is_set() {
                return Ok(());
            }
            if read_some(port, IDLE_TICK.min(next - Instant::now()), &mut idle)? > 0 {
                // Unsolicited messages are recorded as they arrive.
                let found = driver.unsolicited(&idle);
                if !found.is_empty() || idle.len() > 256 {
                    for (state, detail) in found {
                        send(tx, &dev.id, state, detail);
                    }
                    idle.clear();
                }
            }
        }
        if stop.is_set() {
            return Ok(());
        }
        let (pending, reply) = transact(
            port,
            &driver.query,
            &driver.end,
            |b| driver.parse(b).map(|p| p.end),
            timeout,
        )?;
        send_unsolicited(tx, driver, &dev.id, &pending);
        let bytes = match &reply {
            Reply::Matched(b) | Reply::Unrecognised(b) | Reply::Timeout(b) => b.clone(),
        };
        send_unsolicited(tx, driver, &dev.id, &bytes);
        let answered = matches!(reply, Reply::Matched(_));
        proven |= answered;
        let (state, detail) = judge(driver, &reply, &dev.port, timeout, proven);
        send(tx, &dev.id, state, detail);
        if stop.wait(delay) {
            return Ok(());
        }
        if let Some(lamp) = &driver.lamp
            && answered
            && last_lamp.is_none_or(|t| t.elapsed() >= LAMP_EVERY)
        {
            let (_, r) = transact(port, &lamp.query, &lamp.end, |b| lamp.match_end(b), timeout)?;
            if let Reply::Matched(b) = r
                && let Some(hours) = lamp.parse(&b)
            {
                let _ = tx.send(Event::Lamp {
                    device: dev.id.clone(),
                    hours,
                });
                *last_lamp = Some(Instant::now());
            }
            if stop.wait(delay) {
                return Ok(());
            }
        }
        next += poll;
        let now = Instant::now();
        if next < now {
            next = now;
        }
    }
}

/// A sensor read by polling (not serial).
pub trait Sensor {
    /// One reading: the state and why.
    fn poll(&mut self) -> (State, String);
    /// Lamp hours, if the sensor has them (asked at most daily).
    fn lamp(&mut self) -> Option<u64> {
        None
    }
}

/// Polls a non-serial sensor every `poll_ms` until `stop`.
pub fn run_polled(dev: &DeviceConfig, sensor: &mut dyn Sensor, tx: &Sender<Event>, stop: &Stop) {
    let poll = Duration::from_millis(dev.poll_ms);
    let mut last_lamp: Option<Instant> = None;
    loop {
        let (state, detail) = sensor.poll();
        send(tx, &dev.id, state, detail);
        if state == State::On && last_lamp.is_none_or(|t| t.elapsed() >= LAMP_EVERY) {
            if let Some(hours) = sensor.lamp() {
                let _ = tx.send(Event::Lamp {
                    device: dev.id.clone(),
                    hours,
                });
            }
            last_lamp = Some(Instant::now());
        }
        if stop.wait(poll) {
            return;
        }
    }
}
