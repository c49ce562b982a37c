//! Dates and times for the demo files, written by hand instead of through
//! chrono's formatter: the generator writes hundreds of millions of
//! timestamps at 10M customers, and the civil-date arithmetic below is a few
//! integer operations each.
//!
//! Every instant is Unix seconds (UTC). The shop keeps its books in US
//! Eastern time, so Shopify and GA4 dates are shown with that offset.

use std::fmt::Write;

pub(crate) const DAY: i64 = 86_400;
pub(crate) const YEAR: f64 = 365.25 * 86_400.0;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// A moment broken into the fields people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

pub(crate) fn civil(secs: i64) -> Civil {
    let (year, month, day) = civil_from_days(secs.div_euclid(DAY));
    let rem = secs.rem_euclid(DAY) as u32;
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
    }
}

/// 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// First Sunday on or after a date, as a day number.
fn sunday_on_or_after(y: i32, m: u32, d: u32) -> i64 {
    let days = days_from_civil(y, m, d);
    days + (7 - weekday(days)) % 7
}

/// The UTC offset of US Eastern time at a UTC instant, in seconds. Daylight
/// time (since 2007) runs from the second Sunday of March, 2:00 EST, to the
/// first Sunday of November, 2:00 EDT.
pub(crate) fn eastern_offset(secs: i64) -> i64 {
    let (year, _, _) = civil_from_days(secs.div_euclid(DAY));
    let start = sunday_on_or_after(year, 3, 8) * DAY + 7 * 3600;
    let end = sunday_on_or_after(year, 11, 1) * DAY + 6 * 3600;
    if (start..end).contains(&secs) {
        -4 * 3600
    } else {
        -5 * 3600
    }
}

/// Shopify's export timestamp: `2024-03-05 14:23:11 -0500`, shop local time.
pub(crate) fn push_shopify_time(out: &mut String, secs: i64) {
    let offset = eastern_offset(secs);
    let c = civil(secs + offset);
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.abs();
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}{:02}{:02}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        sign,
        off / 3600,
        off / 60 % 60
    );
}

/// `2024-03-05 14:23`, as HubSpot's export shows dates (account time zone).
pub(crate) fn push_minutes(out: &mut String, secs: i64) {
    let c = civil(secs + eastern_offset(secs));
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute
    );
}

/// `2024-03-05 19:23:11`, UTC, as Mailchimp exports its times.
pub(crate) fn push_seconds_utc(out: &mut String, secs: i64) {
    let c = civil(secs);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
}

/// `20240305`, GA4's `event_date` in the property's (shop's) time zone.
pub(crate) fn push_compact_date(out: &mut String, secs: i64) {
    let c = civil(secs + eastern_offset(secs));
    let _ = write!(out, "{:04}{:02}{:02}", c.year, c.month, c.day);
}

/// Cents as a decimal amount: `4999` → `49.99`.
pub(crate) fn push_money(out: &mut String, cents: i64) {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.abs();
    let _ = write!(out, "{sign}{}.{:02}", c / 100, c % 100);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1000_i64, 0, 10_957, 19_797, 20_758, 40_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn eastern_time_switches_on_the_right_sundays() {
        // 2024: DST from 10 March 07:00 UTC to 3 November 06:00 UTC.
        let start = days_from_civil(2024, 3, 10) * DAY + 7 * 3600;
        let end = days_from_civil(2024, 11, 3) * DAY + 6 * 3600;
        assert_eq!(eastern_offset(start - 1), -5 * 3600);
        assert_eq!(eastern_offset(start), -4 * 3600);
        assert_eq!(eastern_offset(end - 1), -4 * 3600);
        assert_eq!(eastern_offset(end), -5 * 3600);
    }

    #[test]
    fn formats() {
        let t = days_from_civil(2024, 3, 5) * DAY + 19 * 3600 + 23 * 60 + 11;
        let mut s = String::new();
        push_shopify_time(&mut s, t);
        assert_eq!(s, "2024-03-05 14:23:11 -0500");
        s.clear();
        push_minutes(&mut s, t);
        assert_eq!(s, "2024-03-05 14:23");
        s.clear();
        push_seconds_utc(&mut s, t);
        assert_eq!(s, "2024-03-05 19:23:11");
        s.clear();
        push_compact_date(&mut s, t);
        assert_eq!(s, "20240305");
        s.clear();
        push_money(&mut s, 4999);
        assert_eq!(s, "49.99");
        s.clear();
        push_money(&mut s, 5);
        assert_eq!(s, "0.05");
    }
}
