//! Receiver status and the host PC.
//!
//! A Linux DVB frontend is opened read-only (several read-only opens may sit
//! beside the receiving software) and asked `FE_READ_STATUS`; bit 0x10 is lock.
//! The frontend is behind the [`Frontend`] trait so tests use a fake. The
//! catalog's reception activity is a second signal: a reception within the
//! last [`ACTIVITY_WINDOW`] means the receiver is working even without a
//! frontend (a stand-alone set-top box). The host PC (`sense = "host"`) is on
//! while this daemon runs.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::serial::Sensor;
use super::{DeviceConfig, State};
use crate::clock::Clock;
use crate::store::Store;

/// `FE_HAS_LOCK` in the frontend status.
pub const FE_HAS_LOCK: u32 = 0x10;
/// A reception this recent counts as "receiving".
pub const ACTIVITY_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// Reads a frontend's status bits.
pub trait Frontend: Send {
    fn read_status(&mut self) -> io::Result<u32>;
    fn describe(&self) -> String;
}

/// `/dev/dvb/adapterN/frontendM`, opened read-only per reading.
pub struct LinuxFrontend {
    pub path: PathBuf,
}

/// `_IOR('o', 69, fe_status_t)`.
const FE_READ_STATUS: u64 = (2 << 30) | (4 << 16) | ((b'o' as u64) << 8) | 69;

impl Frontend for LinuxFrontend {
    fn read_status(&mut self) -> io::Result<u32> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path)?;
        let mut status: u32 = 0;
        // SAFETY: FE_READ_STATUS writes one fe_status_t (a 32-bit enum) to the
        // pointer, which points at a live u32; the fd is open for the call.
        let rc = unsafe { libc::ioctl(f.as_raw_fd(), FE_READ_STATUS as _, &mut status) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(status)
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// Judges the receiver from the frontend status and reception activity.
pub fn judge(status: Option<io::Result<u32>>, receiving: bool, frontend: &str) -> (State, String) {
    match status {
        Some(Ok(s)) if s & FE_HAS_LOCK != 0 => {
            (State::On, format!("{frontend}: locked (0x{s:02x})"))
        }
        _ if receiving => (
            State::On,
            "reception recorded in the last 15 minutes".into(),
        ),
        Some(Ok(0)) => (State::Standby, format!("{frontend}: idle (not tuned)")),
        Some(Ok(s)) => (State::Standby, format!("{frontend}: no lock (0x{s:02x})")),
        Some(Err(e)) if e.kind() != io::ErrorKind::NotFound => {
            (State::Unknown, format!("{frontend}: {e}"))
        }
        _ => (State::Unknown, "no frontend and no recent reception".into()),
    }
}

/// The receiver sensor.
pub struct DvbSensor {
    frontend: Option<Box<dyn Frontend>>,
    store: Store,
    clock: Arc<dyn Clock>,
}

impl DvbSensor {
    /// The Linux frontend of the device plus catalog activity. A frontend that
    /// does not exist (yet) counts as none; it is looked for at every poll.
    pub fn linux(dev: &DeviceConfig, store: Store, clock: Arc<dyn Clock>) -> DvbSensor {
        let path = PathBuf::from(format!(
            "/dev/dvb/adapter{}/frontend{}",
            dev.adapter, dev.frontend
        ));
        DvbSensor::new(Some(Box::new(LinuxFrontend { path })), store, clock)
    }
    pub fn new(frontend: Option<Box<dyn Frontend>>, store: Store, clock: Arc<dyn Clock>) -> Self {
        DvbSensor {
            frontend,
            store,
            clock,
        }
    }
}

impl Sensor for DvbSensor {
    fn poll(&mut self) -> (State, String) {
        let receiving = match self.store.latest_reception() {
            Ok(Some(t)) => self.clock.now() - t <= ACTIVITY_WINDOW,
            _ => false,
        };
        let name = self
            .frontend
            .as_ref()
            .map(|f| f.describe())
            .unwrap_or_default();
        let status = self.frontend.as_mut().map(|f| f.read_status());
        judge(status, receiving, &name)
    }
}

/// How long the host has been up (`/proc/uptime`).
pub fn host_uptime() -> Option<std::time::Duration> {
    let s = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_secs_f64(secs))
}

/// The host PC: on whenever the daemon runs.
pub struct HostSensor;

impl Sensor for HostSensor {
    fn poll(&mut self) -> (State, String) {
        (State::On, "host running".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_bit_and_activity() {
        assert_eq!(judge(Some(Ok(0x1f)), false, "fe").0, State::On);
        assert_eq!(judge(Some(Ok(0x03)), false, "fe").0, State::Standby);
        assert_eq!(judge(Some(Ok(0)), false, "fe").1, "fe: idle (not tuned)");
        assert_eq!(judge(Some(Ok(0)), true, "fe").0, State::On);
        assert_eq!(judge(None, true, "").0, State::On);
        assert_eq!(judge(None, false, "").0, State::Unknown);
        let e = judge(Some(Err(io::Error::other("gone"))), false, "fe");
        assert_eq!(e.0, State::Unknown);
        assert!(e.1.contains("gone"));
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(
            judge(Some(Err(missing)), false, "fe").1,
            "no frontend and no recent reception"
        );
    }

    #[test]
    fn ioctl_number() {
        assert_eq!(FE_READ_STATUS, 0x8004_6f45);
    }

    #[test]
    fn real_frontend_missing_is_an_error_naming_it() {
        let mut f = LinuxFrontend {
            path: "/nonexistent/dvb/adapter9/frontend0".into(),
        };
        assert!(f.read_status().is_err());
        assert!(f.describe().contains("adapter9"));
    }
}
