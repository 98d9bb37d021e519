//! Wall-clock formatting for the wire (`@time` tags) and for people (`HH:MM`).
//!
//! The IRCv3 `server-time` format is fixed (`YYYY-MM-DDThh:mm:ss.sssZ`, UTC),
//! so it is done here by hand rather than through a date library. The local
//! offset for `HH:MM` is read once at start-up, before any thread exists,
//! because reading it later is not sound on Linux.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static LOCAL_OFFSET_SECS: AtomicI32 = AtomicI32::new(0);

/// Reads the local UTC offset; call once from `main` before spawning threads.
pub fn init_local_offset() {
    if let Ok(off) = time::UtcOffset::current_local_offset() {
        LOCAL_OFFSET_SECS.store(off.whole_seconds(), Ordering::Relaxed);
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats `t` as an IRCv3 server-time value, e.g. `2026-11-25T13:05:09.042Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let ms = unix_ms(t) as i64;
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Formats `t` as people read a date in IRC replies (WHOWAS), in UTC:
/// `Wed Dec 02 02:18:02 2026`.
pub fn readable_utc(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = (unix_ms(t) / 1000) as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let (wd, mon) = (DAYS[days.rem_euclid(7) as usize], MONTHS[mo as usize - 1]);
    format!("{wd} {mon} {d:02} {:02}:{:02}:{:02} {y}", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Parses a server-time value (`YYYY-MM-DDThh:mm:ss[.fff]Z`); `None` if malformed.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let rest = s.get(19..)?;
    let rest = rest.strip_suffix('Z')?;
    let ms = match rest.strip_prefix('.') {
        Some(frac) if !frac.is_empty() && frac.bytes().all(|c| c.is_ascii_digit()) => {
            let f3: String = frac.chars().chain("00".chars()).take(3).collect();
            f3.parse::<u64>().ok()?
        }
        None if rest.is_empty() => 0,
        _ => return None,
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec);
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
}

/// `HH:MM` in the local time zone read at start-up.
pub fn local_hhmm(t: SystemTime) -> String {
    let secs = (unix_ms(t) / 1000) as i64 + i64::from(LOCAL_OFFSET_SECS.load(Ordering::Relaxed));
    let sod = secs.rem_euclid(86_400);
    format!("{:02}:{:02}", sod / 3600, sod % 3600 / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn readable_dates() {
        let t = super::from_unix_ms(1_796_177_882_000);
        assert_eq!(super::readable_utc(t), "Wed Dec 02 02:18:02 2026");
        assert_eq!(super::readable_utc(super::from_unix_ms(0)), "Thu Jan 01 00:00:00 1970");
    }

    use super::*;

    #[test]
    fn formats_and_parses_server_time() {
        let t = from_unix_ms(1_795_611_909_042);
        let s = rfc3339(t);
        assert_eq!(s, "2026-11-25T13:05:09.042Z");
        assert_eq!(parse_rfc3339(&s), Some(t));
        assert_eq!(parse_rfc3339("2026-11-25T13:05:09Z"), Some(from_unix_ms(1_795_611_909_000)));
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00.5Z"), Some(from_unix_ms(951_782_400_500)));
        for bad in ["", "2026-13-01T00:00:00Z", "2026-11-26 10:25:09Z", "2026-11-26T10:25:09.Z", "x"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
