//! Local wall-clock time for the log, from the C library (no extra crate).

use std::time::{SystemTime, UNIX_EPOCH};

#[repr(C)]
struct Tm {
    tm_sec: i32,
    tm_min: i32,
    tm_hour: i32,
    tm_mday: i32,
    tm_mon: i32,
    tm_year: i32,
    tm_wday: i32,
    tm_yday: i32,
    tm_isdst: i32,
    tm_gmtoff: i64,
    tm_zone: *const u8,
}

unsafe extern "C" {
    fn localtime_r(t: *const i64, tm: *mut Tm) -> *mut Tm;
}

/// `HH:MM` in local time (UTC if the C library cannot tell).
pub fn hhmm(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let mut tm = Tm {
        tm_sec: 0,
        tm_min: 0,
        tm_hour: 0,
        tm_mday: 0,
        tm_mon: 0,
        tm_year: 0,
        tm_wday: 0,
        tm_yday: 0,
        tm_isdst: 0,
        tm_gmtoff: 0,
        tm_zone: std::ptr::null(),
    };
    // SAFETY: localtime_r only writes into `tm`, which has the glibc/musl layout on 64-bit Linux.
    let ok = cfg!(all(target_os = "linux", target_pointer_width = "64"))
        && !unsafe { localtime_r(&secs, &mut tm) }.is_null();
    if ok {
        format!("{:02}:{:02}", tm.tm_hour, tm.tm_min)
    } else {
        format!("{:02}:{:02}", secs / 3600 % 24, secs / 60 % 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_hours_and_minutes() {
        let s = super::hhmm(std::time::SystemTime::now());
        assert_eq!(s.len(), 5);
        assert_eq!(&s[2..3], ":");
    }
}
