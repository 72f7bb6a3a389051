//! PJLink class 1 over TCP (port 4352): one connection per poll, `POWR ?` and,
//! daily, `LAMP ?`. With authentication the device greets `PJLINK 1 <seed>` and
//! the first command is prefixed with hex MD5(seed + password); a wrong
//! password is answered `PJLINK ERRA`, reported as a clear error and the state
//! `unknown`, never a crash.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::serial::Sensor;
use super::{DeviceConfig, State};

/// Errors of a PJLink exchange; each names the device's address.
#[derive(Debug, thiserror::Error)]
pub enum PjlinkError {
    #[error("PJLink {addr}: {source}")]
    Io { addr: String, source: io::Error },
    #[error(
        "PJLink {addr}: authentication failed (wrong password? check the device's PJLink password)"
    )]
    Auth { addr: String },
    #[error("PJLink {addr}: device needs a password but none is configured")]
    NeedsPassword { addr: String },
    #[error("PJLink {addr}: unexpected reply {reply:?}")]
    Reply { addr: String, reply: String },
}

/// The PJLink client of one device.
pub struct Pjlink {
    addr: String,
    password: String,
    timeout: Duration,
}

/// hex MD5(seed + password), the PJLink class 1 digest.
pub fn digest(seed: &str, password: &str) -> String {
    format!("{:x}", md5::compute(format!("{seed}{password}")))
}

/// Maps a `%1POWR=` value to a state.
pub fn power_state(v: &str) -> (State, String) {
    match v {
        "0" => (State::Standby, "POWR=0".into()),
        "1" => (State::On, "POWR=1".into()),
        "2" => (State::Cooling, "POWR=2".into()),
        "3" => (State::Warming, "POWR=3".into()),
        "ERR4" => (State::Error, "POWR=ERR4 (projector/display failure)".into()),
        other => (State::Unknown, format!("POWR={other}")),
    }
}

impl Pjlink {
    pub fn new(dev: &DeviceConfig) -> Pjlink {
        Pjlink {
            addr: format!("{}:{}", dev.host, dev.tcp_port),
            password: dev.password.clone(),
            timeout: Duration::from_millis(dev.reply_timeout_ms.max(200)),
        }
    }

    fn io(&self, source: io::Error) -> PjlinkError {
        PjlinkError::Io {
            addr: self.addr.clone(),
            source,
        }
    }

    /// Sends each command (`"POWR ?"`) on one connection, returning the value
    /// after `=` of each reply.
    pub fn query(&self, commands: &[&str]) -> Result<Vec<String>, PjlinkError> {
        let sock = self
            .addr
            .to_socket_addrs()
            .map_err(|e| self.io(e))?
            .next()
            .ok_or_else(|| self.io(io::Error::other("address did not resolve")))?;
        let stream = TcpStream::connect_timeout(&sock, self.timeout).map_err(|e| self.io(e))?;
        stream
            .set_read_timeout(Some(self.timeout))
            .map_err(|e| self.io(e))?;
        let mut writer = stream.try_clone().map_err(|e| self.io(e))?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let read_line = |reader: &mut BufReader<TcpStream>, line: &mut String| {
            line.clear();
            let mut raw = Vec::new();
            reader.read_until(b'\r', &mut raw)?;
            if raw.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            *line = String::from_utf8_lossy(&raw).trim().to_string();
            Ok(())
        };
        read_line(&mut reader, &mut line).map_err(|e| self.io(e))?;
        let mut prefix = if let Some(seed) = line.strip_prefix("PJLINK 1 ") {
            if self.password.is_empty() {
                return Err(PjlinkError::NeedsPassword {
                    addr: self.addr.clone(),
                });
            }
            digest(seed.trim(), &self.password)
        } else if line.starts_with("PJLINK 0") {
            String::new()
        } else if line.starts_with("PJLINK ERRA") {
            return Err(PjlinkError::Auth {
                addr: self.addr.clone(),
            });
        } else {
            return Err(PjlinkError::Reply {
                addr: self.addr.clone(),
                reply: line,
            });
        };
        let mut out = Vec::new();
        for cmd in commands {
            writer
                .write_all(format!("{prefix}%1{cmd}\r").as_bytes())
                .map_err(|e| self.io(e))?;
            prefix.clear();
            read_line(&mut reader, &mut line).map_err(|e| self.io(e))?;
            if line.contains("PJLINK ERRA") {
                return Err(PjlinkError::Auth {
                    addr: self.addr.clone(),
                });
            }
            let name = cmd.split(' ').next().unwrap_or("");
            let value =
                line.strip_prefix(&format!("%1{name}="))
                    .ok_or_else(|| PjlinkError::Reply {
                        addr: self.addr.clone(),
                        reply: line.clone(),
                    })?;
            out.push(value.to_string());
        }
        Ok(out)
    }
}

impl Sensor for Pjlink {
    fn poll(&mut self) -> (State, String) {
        match self.query(&["POWR ?"]) {
            Ok(v) => power_state(&v[0]),
            Err(e) => {
                tracing::warn!("{e}");
                (State::Unknown, e.to_string())
            }
        }
    }
    fn lamp(&mut self) -> Option<u64> {
        let v = self.query(&["LAMP ?"]).ok()?;
        v[0].split(' ').next()?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_the_spec_example() {
        // PJLink spec example: seed 498e4a67, password JBMIAProjectorLink.
        assert_eq!(
            digest("498e4a67", "JBMIAProjectorLink"),
            "5d8409bc1c3fa39749434aa3a5c38682"
        );
    }

    #[test]
    fn power_values() {
        assert_eq!(power_state("1").0, State::On);
        assert_eq!(power_state("0").0, State::Standby);
        assert_eq!(power_state("2").0, State::Cooling);
        assert_eq!(power_state("3").0, State::Warming);
        assert_eq!(power_state("ERR4").0, State::Error);
        assert_eq!(power_state("ERR3").0, State::Unknown);
    }
}
