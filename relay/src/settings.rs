//! Relay-wide settings an admin edits from the dashboard, each stored as a JSON value under its key
//! in the `settings` table. A setting never saved reads as its default; a stored value that no
//! longer parses (written by another version) is logged and read as the default too, so a bad row
//! can't stop routing.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreResult};

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid(message.into())
}

/// A setting: its key in the table, its default, and what values it accepts.
pub trait Setting: Serialize + DeserializeOwned + Default {
    const KEY: &'static str;
    fn validate(&self) -> Result<(), SettingsError>;
}

/// The stored value, or the default.
pub async fn get<S: Setting>(store: &dyn Store) -> StoreResult<S> {
    Ok(match store.setting(S::KEY).await? {
        Some(json) => serde_json::from_str(&json).unwrap_or_else(|e| {
            tracing::warn!(key = S::KEY, error = %e, "stored setting doesn't parse; using the default");
            S::default()
        }),
        None => S::default(),
    })
}

/// Validate and store.
pub async fn put<S: Setting>(store: &dyn Store, value: &S) -> Result<(), PutError> {
    value.validate()?;
    let json = serde_json::to_string(value).expect("settings serialize");
    store.put_setting(S::KEY, &json).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

const SECOND: u64 = 1000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// The router's delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingSettings {
    /// An advisor with no open dashboard tab for this long counts as away.
    pub away_after_ms: u64,
    /// The conversations of an advisor who went offline return to the queue after this long.
    pub requeue_delay_ms: u64,
    /// The inbox highlights a conversation this long before it breaches its team's
    /// first-response target.
    pub warn_before_ms: u64,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings { away_after_ms: 3 * MINUTE, requeue_delay_ms: 10 * MINUTE, warn_before_ms: 5 * MINUTE }
    }
}

impl RoutingSettings {
    /// What the router uses now (the default when never saved or unreadable).
    pub async fn load(store: &dyn Store) -> RoutingSettings {
        get(store).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "routing settings unreadable; using the defaults");
            RoutingSettings::default()
        })
    }
}

impl Setting for RoutingSettings {
    const KEY: &'static str = "routing";
    fn validate(&self) -> Result<(), SettingsError> {
        let check = |name: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(invalid(format!("{name} must be between {} and {} seconds", min / SECOND, max / SECOND)))
            }
        };
        check("away after", self.away_after_ms, 10 * SECOND, 24 * HOUR)?;
        check("requeue delay", self.requeue_delay_ms, 0, 24 * HOUR)?;
        check("warning before a breach", self.warn_before_ms, 0, 24 * HOUR)?;
        Ok(())
    }
}

/// Opening hours in one time zone, Monday first. A day without hours is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// An IANA time zone name, e.g. `Europe/Paris` or `UTC`.
    pub timezone: String,
    /// Seven entries, Monday to Sunday.
    pub days: Vec<Option<DayHours>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    /// "HH:MM", 24-hour clock.
    pub open: String,
    pub close: String,
}

impl Default for BusinessHours {
    /// Monday to Friday, 09:00–17:00 UTC.
    fn default() -> Self {
        let weekday = || Some(DayHours { open: "09:00".into(), close: "17:00".into() });
        BusinessHours { timezone: "UTC".into(), days: vec![weekday(), weekday(), weekday(), weekday(), weekday(), None, None] }
    }
}

const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

impl Setting for BusinessHours {
    const KEY: &'static str = "business_hours";
    fn validate(&self) -> Result<(), SettingsError> {
        if !valid_timezone(&self.timezone) {
            return Err(invalid(format!(
                "{:?} is not an IANA time zone name like Europe/Paris, America/New_York or UTC",
                self.timezone
            )));
        }
        if self.days.len() != 7 {
            return Err(invalid(format!("business hours need 7 days (Monday to Sunday), got {}", self.days.len())));
        }
        for (day, hours) in DAY_NAMES.iter().zip(&self.days) {
            let Some(hours) = hours else { continue };
            let open = minutes(&hours.open)
                .ok_or_else(|| invalid(format!("{day}: opening time {:?} must look like 09:00", hours.open)))?;
            let close = minutes(&hours.close)
                .ok_or_else(|| invalid(format!("{day}: closing time {:?} must look like 17:30", hours.close)))?;
            if close <= open {
                return Err(invalid(format!("{day}: closing time must be after opening time")));
            }
        }
        Ok(())
    }
}

/// "HH:MM" (00:00–24:00) as minutes since midnight.
pub fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// The shape of an IANA zone name (the relay carries no zone database): `UTC`, or an area from the
/// tz database followed by `/Location` parts of letters, digits, `_`, `-` and `+`.
fn valid_timezone(tz: &str) -> bool {
    const AREAS: [&str; 11] =
        ["Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific", "Etc"];
    if tz == "UTC" {
        return true;
    }
    let mut parts = tz.split('/');
    let area_ok = parts.next().is_some_and(|a| AREAS.contains(&a));
    let rest: Vec<&str> = parts.collect();
    area_ok
        && tz.len() <= 64
        && !rest.is_empty()
        && rest.iter().all(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
        })
}

/// Security policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Every advisor must log in with a TOTP code; one without two-factor enrols right after their
    /// password.
    pub require_two_factor: bool,
}

impl Setting for SecuritySettings {
    const KEY: &'static str = "security";
    fn validate(&self) -> Result<(), SettingsError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[tokio::test]
    async fn settings_read_their_default_until_saved_then_round_trip() {
        let store = SqliteStore::temporary().await.unwrap();
        assert_eq!(RoutingSettings::load(&store).await, RoutingSettings::default());
        let changed = RoutingSettings { away_after_ms: 60_000, requeue_delay_ms: 0, warn_before_ms: 120_000 };
        put(&store, &changed).await.unwrap();
        assert_eq!(RoutingSettings::load(&store).await, changed);
        store.put_setting(RoutingSettings::KEY, "\"garbage\"").await.unwrap();
        assert_eq!(RoutingSettings::load(&store).await, RoutingSettings::default());
    }

    #[test]
    fn routing_delays_have_bounds() {
        let ok = RoutingSettings::default();
        assert!(ok.validate().is_ok());
        assert!(RoutingSettings { away_after_ms: 1, ..ok }.validate().is_err());
        assert!(RoutingSettings { requeue_delay_ms: 25 * HOUR, ..ok }.validate().is_err());
        assert!(RoutingSettings { warn_before_ms: 25 * HOUR, ..ok }.validate().is_err());
    }

    #[test]
    fn business_hours_check_zone_days_and_times() {
        assert!(BusinessHours::default().validate().is_ok());
        let with = |tz: &str, days: Vec<Option<DayHours>>| BusinessHours { timezone: tz.into(), days };
        let day = |o: &str, c: &str| Some(DayHours { open: o.into(), close: c.into() });
        let week = BusinessHours::default().days;
        assert!(with("Europe/Paris", week.clone()).validate().is_ok());
        assert!(with("America/Argentina/Buenos_Aires", week.clone()).validate().is_ok());
        for tz in ["Paris", "Mars/Olympus", "Europe/", "Europe/Par is", ""] {
            assert!(with(tz, week.clone()).validate().is_err(), "{tz}");
        }
        assert!(with("UTC", week[..6].to_vec()).validate().unwrap_err().to_string().contains("7 days"));
        let mut bad = week.clone();
        bad[2] = day("18:00", "09:00");
        assert!(with("UTC", bad).validate().unwrap_err().to_string().contains("Wednesday"));
        let mut bad = week;
        bad[0] = day("9:00", "17:00");
        assert!(with("UTC", bad).validate().unwrap_err().to_string().contains("must look like"));
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("24:01"), None);
        assert_eq!(minutes("12:60"), None);
    }
}
