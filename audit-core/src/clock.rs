//! Time as the audit trail sees it.
//!
//! The relay stamps chunks with a monotonic [`Instant`] (cheap, never goes
//! backwards); a [`SessionClock`] turns those into wall-clock times anchored at
//! session start, so that durations are exact and timestamps never jump even
//! if the system clock is stepped mid-session.

use std::time::{Duration, Instant, SystemTime};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Converts monotonic instants into wall-clock times for one session.
#[derive(Debug, Clone, Copy)]
pub struct SessionClock {
    wall: SystemTime,
    mono: Instant,
}

impl SessionClock {
    /// Anchors the clock at "now".
    pub fn start() -> SessionClock {
        SessionClock::anchored(SystemTime::now(), Instant::now())
    }

    /// Anchors the clock at a given pair (for tests with a fake clock).
    pub fn anchored(wall: SystemTime, mono: Instant) -> SessionClock {
        SessionClock { wall, mono }
    }

    /// When the session started: the wall-clock time of the anchor.
    pub fn started(&self) -> SystemTime {
        self.wall
    }

    /// The wall-clock time of `at`.
    pub fn wall(&self, at: Instant) -> SystemTime {
        match at.checked_duration_since(self.mono) {
            Some(d) => self.wall + d,
            None => self.wall - self.mono.duration_since(at),
        }
    }
}

/// Milliseconds (with microsecond precision) between two times, for `duration_ms`.
pub fn millis_between(from: SystemTime, to: SystemTime) -> f64 {
    let d = to.duration_since(from).unwrap_or(Duration::ZERO);
    (d.as_micros() as f64) / 1000.0
}

/// RFC 3339 in UTC with milliseconds: `2026-11-23T16:12:40.123Z`.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let dt = OffsetDateTime::from(t);
    let ms = dt.millisecond();
    let dt = dt.replace_nanosecond(0).unwrap_or(dt);
    let base = dt
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"));
    // `base` ends in "Z" for UTC: splice the milliseconds in before it.
    format!("{}.{ms:03}Z", base.trim_end_matches('Z'))
}

/// [`rfc3339_millis`] for a stream of times that mostly share their second:
/// the `YYYY-MM-DDTHH:MM:SS` part is formatted once per second and reused.
#[derive(Debug, Default)]
pub struct Rfc3339Millis {
    /// Whole seconds since the epoch of `prefix`, when `prefix` is valid.
    second: Option<u64>,
    prefix: String,
}

impl Rfc3339Millis {
    /// Appends `t` formatted as [`rfc3339_millis`] does to `out`.
    pub fn write(&mut self, t: SystemTime, out: &mut Vec<u8>) {
        let Ok(since) = t.duration_since(SystemTime::UNIX_EPOCH) else {
            // Before 1970: rare enough to format from scratch.
            out.extend_from_slice(rfc3339_millis(t).as_bytes());
            return;
        };
        let second = since.as_secs();
        if self.second != Some(second) {
            let whole = rfc3339_millis(SystemTime::UNIX_EPOCH + Duration::from_secs(second));
            // `whole` ends in ".000Z": keep what precedes the milliseconds.
            self.prefix = whole[..whole.len() - 5].to_owned();
            self.second = Some(second);
        }
        let ms = since.subsec_millis();
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(&[
            b'.',
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
            b'Z',
        ]);
    }
}

/// The UTC calendar date of `t` as `YYYY-MM-DD`, for daily file names.
pub fn utc_date(t: SystemTime) -> String {
    let d = OffsetDateTime::from(t).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_millis_in_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_763_914_360_123);
        assert_eq!(rfc3339_millis(t), "2025-11-23T16:12:40.123Z");
        assert_eq!(utc_date(t), "2025-11-23");
        let t0 = SystemTime::UNIX_EPOCH;
        assert_eq!(rfc3339_millis(t0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn cached_formatting_matches_rfc3339_millis() {
        let mut cache = Rfc3339Millis::default();
        let base = SystemTime::UNIX_EPOCH + Duration::from_millis(1_763_914_360_000);
        let mut out = Vec::new();
        // Same second, next seconds, a step back, a year boundary, before 1970.
        let times = [0i64, 1, 999, 1000, 1999, 7, 86_400_000 * 40, -5000]
            .map(|ms| match ms {
                ms if ms >= 0 => base + Duration::from_millis(ms as u64),
                ms => base - Duration::from_millis(ms.unsigned_abs()),
            })
            .into_iter()
            .chain([
                SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_225_599_999),
                SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_225_600_001),
                SystemTime::UNIX_EPOCH - Duration::from_millis(1_500),
            ]);
        for t in times {
            out.clear();
            cache.write(t, &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), rfc3339_millis(t));
        }
    }

    #[test]
    fn session_clock_maps_instants_both_ways() {
        let mono = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let c = SessionClock::anchored(wall, mono);
        assert_eq!(
            c.wall(mono + Duration::from_millis(5)),
            wall + Duration::from_millis(5)
        );
        assert_eq!(
            millis_between(wall, wall + Duration::from_micros(1500)),
            1.5
        );
    }
}
