//! Classroom equipment usage: serial and PJLink polling, timetable, utilization (issue 3).

use serde::{Deserialize, Serialize};

/// `[equipment]` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EquipmentConfig {}
