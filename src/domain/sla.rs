//! Service-level targets: how soon a ticket of each priority must get its first public reply
//! and be solved, counted in business time (weekly hours, a UTC offset, holidays), and when a
//! ticket is due or breached.

use serde::Serialize;

use super::{BusinessHours, Ticket, TicketPriority, Timestamp, ValidationError};

const MINUTES_PER_DAY: i64 = 24 * 60;
/// Longest target an admin can set: 90 days of business minutes.
pub const MAX_TARGET_MINUTES: u32 = 90 * 24 * 60;
pub const MAX_HOLIDAYS: usize = 366;
/// How far ahead a due date is looked for; a calendar open less than this is refused.
const SEARCH_DAYS: i64 = 3 * 366;

/// The targets for one priority, in business minutes; `None` means no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SlaTargets {
    pub first_response_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
}

/// Targets for every priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaPolicy {
    targets: [SlaTargets; 4],
}

impl Default for SlaPolicy {
    /// What a new help desk starts with (the admin changes it): urgent within the hour,
    /// low within two business days.
    fn default() -> Self {
        let hours = |first: u32, resolve: u32| SlaTargets {
            first_response_minutes: Some(first * 60),
            resolution_minutes: Some(resolve * 60),
        };
        SlaPolicy {
            targets: [hours(16, 80), hours(8, 40), hours(4, 16), hours(1, 8)],
        }
    }
}

impl SlaPolicy {
    pub fn new(targets: [SlaTargets; 4]) -> Self {
        SlaPolicy { targets }
    }

    pub fn targets(&self, priority: TicketPriority) -> SlaTargets {
        self.targets[priority as usize]
    }

    pub fn set_targets(&mut self, priority: TicketPriority, targets: SlaTargets) {
        self.targets[priority as usize] = targets;
    }
}

/// A target as an admin typed it: empty for none, else whole minutes, or hours with `h`
/// (`90`, `4h`, `1.5h`).
pub fn parse_target(field: &'static str, raw: &str) -> Result<Option<u32>, ValidationError> {
    let raw = raw.trim().to_lowercase();
    if raw.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        ValidationError::new(
            field,
            format!(
                "{raw:?} is not a duration; write minutes (90) or hours (4h, 1.5h), at most {} days",
                MAX_TARGET_MINUTES / MINUTES_PER_DAY as u32
            ),
        )
    };
    let minutes = match raw.strip_suffix('h') {
        Some(hours) => {
            let hours: f64 = hours.trim().parse().map_err(|_| invalid())?;
            (hours * 60.0).round()
        }
        None => raw
            .strip_suffix('m')
            .unwrap_or(&raw)
            .trim()
            .parse::<f64>()
            .map_err(|_| invalid())?,
    };
    if !minutes.is_finite() || minutes < 1.0 || minutes > f64::from(MAX_TARGET_MINUTES) {
        return Err(invalid());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Some(minutes as u32))
}

/// When the SLA clock runs: the weekly business hours (always, when none are set) minus
/// holidays, in the shop's local time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BusinessCalendar {
    hours: BusinessHours,
    /// Local dates (days since 1970-01-01) on which the clock stops all day, sorted.
    holidays: Vec<i64>,
}

impl BusinessCalendar {
    pub fn new(hours: BusinessHours, holidays: Vec<i64>) -> Self {
        let mut holidays = holidays;
        holidays.sort_unstable();
        holidays.dedup();
        BusinessCalendar { hours, holidays }
    }

    pub fn hours(&self) -> &BusinessHours {
        &self.hours
    }

    pub fn holidays(&self) -> &[i64] {
        &self.holidays
    }

    fn is_holiday(&self, local_day: i64) -> bool {
        self.holidays.binary_search(&local_day).is_ok()
    }

    /// The open spans of one local day, as minutes of that day.
    fn open_spans(&self, local_day: i64) -> Vec<(i64, i64)> {
        if self.is_holiday(local_day) {
            return Vec::new();
        }
        if self.hours.always_open() {
            return vec![(0, MINUTES_PER_DAY)];
        }
        // 1970-01-01 was a Thursday (weekday 3, Monday being 0).
        let weekday = u8::try_from((local_day + 3).rem_euclid(7)).unwrap_or(0);
        self.hours
            .spans_on(weekday)
            .into_iter()
            .map(|(open, close)| (i64::from(open), i64::from(close)))
            .collect()
    }

    /// The moment `minutes` of business time have passed since `start`. `None` when the
    /// calendar is not open for that long in the next three years (e.g. every day a holiday).
    pub fn add_business_minutes(&self, start: Timestamp, minutes: u32) -> Option<Timestamp> {
        let offset = i64::from(self.hours.utc_offset_minutes());
        let start_minute = start.unix_seconds().div_euclid(60) + offset;
        let second_in_minute = start.unix_seconds().rem_euclid(60);
        let mut left = i64::from(minutes);
        let first_day = start_minute.div_euclid(MINUTES_PER_DAY);
        for local_day in first_day..first_day + SEARCH_DAYS {
            let day_start = local_day * MINUTES_PER_DAY;
            for (open, close) in self.open_spans(local_day) {
                let from = (day_start + open).max(start_minute);
                let until = day_start + close;
                if from >= until {
                    continue;
                }
                let available = until - from;
                if left <= available {
                    // A start inside an open minute keeps its seconds; one before opening
                    // starts the clock at the opening minute.
                    let seconds = if from == start_minute {
                        second_in_minute
                    } else {
                        0
                    };
                    return Some(Timestamp::from_unix_seconds(
                        (from + left - offset) * 60 + seconds,
                    ));
                }
                left -= available;
            }
        }
        None
    }
}

/// Parses one holiday per line, `YYYY-MM-DD` optionally followed by a name
/// (`2026-10-01 National Day`), into local dates.
pub fn parse_holidays(text: &str) -> Result<Vec<i64>, ValidationError> {
    let mut days = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let date = line.split_whitespace().next().unwrap_or_default();
        let day = parse_date(date).ok_or_else(|| {
            ValidationError::new(
                "holidays",
                format!(
                    "line {}: {date:?} is not a date; write it like 2026-10-01 (a name may follow)",
                    number + 1
                ),
            )
        })?;
        days.push(day);
    }
    if days.len() > MAX_HOLIDAYS {
        return Err(ValidationError::new(
            "holidays",
            format!("lists {} days; at most {MAX_HOLIDAYS}", days.len()),
        ));
    }
    Ok(days)
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn parse_date(raw: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(raw.trim(), &format).ok()?;
    Some(i64::from(date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY))
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(local_day: i64) -> String {
    i32::try_from(local_day + i64::from(UNIX_EPOCH_JULIAN_DAY))
        .ok()
        .and_then(|julian| time::Date::from_julian_day(julian).ok())
        .map_or_else(String::new, |date| {
            format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            )
        })
}

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// The two deadlines of a ticket created at `created` with `priority`.
pub fn due_dates(
    policy: &SlaPolicy,
    calendar: &BusinessCalendar,
    priority: TicketPriority,
    created: Timestamp,
) -> (Option<Timestamp>, Option<Timestamp>) {
    let targets = policy.targets(priority);
    let due =
        |minutes: Option<u32>| minutes.and_then(|m| calendar.add_business_minutes(created, m));
    (
        due(targets.first_response_minutes),
        due(targets.resolution_minutes),
    )
}

/// Which deadline a breach missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaTarget {
    FirstResponse,
    Resolution,
}

impl SlaTarget {
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaTarget::FirstResponse => "first_response",
            SlaTarget::Resolution => "resolution",
        }
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        match raw {
            "first_response" => Some(SlaTarget::FirstResponse),
            "resolution" => Some(SlaTarget::Resolution),
            _ => None,
        }
    }
}

/// The deadlines `ticket` has missed as of `now`: a first reply that came late or has not
/// come, a solve that came late or has not come.
pub fn breaches(ticket: &Ticket, now: Timestamp) -> Vec<(SlaTarget, Timestamp)> {
    let mut missed = Vec::new();
    if let Some(due) = ticket.first_response_due {
        let answered_at = ticket.first_responded_at.unwrap_or(now);
        if answered_at > due {
            missed.push((SlaTarget::FirstResponse, due));
        }
    }
    if let Some(due) = ticket.resolution_due {
        let solved_at = if ticket.status.is_unsolved() {
            now
        } else {
            ticket.solved_at.unwrap_or(now)
        };
        if solved_at > due {
            missed.push((SlaTarget::Resolution, due));
        }
    }
    missed
}

/// The deadline that matters next for a ticket: the first reply while none was given, then
/// the solve while it is unsolved.
pub fn next_due(ticket: &Ticket) -> Option<(SlaTarget, Timestamp)> {
    if ticket.first_responded_at.is_none()
        && ticket.status.is_unsolved()
        && let Some(due) = ticket.first_response_due
    {
        return Some((SlaTarget::FirstResponse, due));
    }
    if ticket.status.is_unsolved() {
        return ticket
            .resolution_due
            .map(|due| (SlaTarget::Resolution, due));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str, hour: i64, minute: i64) -> Timestamp {
        let day = parse_date(date).expect("date");
        Timestamp::from_unix_seconds(((day * 24 + hour) * 60 + minute) * 60)
    }

    fn calendar(hours: &str, offset: i32, holidays: &str) -> BusinessCalendar {
        BusinessCalendar::new(
            BusinessHours::parse(hours, offset).expect("hours"),
            parse_holidays(holidays).expect("holidays"),
        )
    }

    #[test]
    fn business_time_skips_nights_weekends_and_holidays() {
        // 2026-12-04 is a Friday; 2026-12-07 the Monday after.
        let office = calendar("mon-fri 09:00-18:00", 0, "");
        // Friday 17:00 + 4 h: one hour on Friday, three on Monday.
        assert_eq!(
            office.add_business_minutes(at("2026-12-04", 17, 0), 240),
            Some(at("2026-12-07", 12, 0))
        );
        // Started on Saturday: the clock starts Monday 09:00.
        assert_eq!(
            office.add_business_minutes(at("2026-12-05", 11, 30), 60),
            Some(at("2026-12-07", 10, 0))
        );
        // Monday a holiday too: Tuesday.
        let with_holiday = calendar("mon-fri 09:00-18:00", 0, "2026-12-07 Founders' day");
        assert_eq!(
            with_holiday.add_business_minutes(at("2026-12-04", 17, 0), 240),
            Some(at("2026-12-08", 12, 0))
        );
        // Exactly at closing time counts as the end of that day.
        assert_eq!(
            office.add_business_minutes(at("2026-12-04", 9, 0), 9 * 60),
            Some(at("2026-12-04", 18, 0))
        );
    }

    #[test]
    fn business_time_follows_the_shops_utc_offset_and_split_days() {
        // Beijing (UTC+8), 09:00-12:00 and 13:00-18:00. Friday 11:30 local = 03:30 UTC.
        let shop = calendar("mon-fri 09:00-12:00\nmon-fri 13:00-18:00", 480, "");
        // 30 min before lunch, 60 after it: 14:00 local = 06:00 UTC.
        assert_eq!(
            shop.add_business_minutes(at("2026-12-04", 3, 30), 90),
            Some(at("2026-12-04", 6, 0))
        );
    }

    #[test]
    fn an_always_open_calendar_counts_wall_time_except_holidays() {
        let always = calendar("", 0, "2026-12-25");
        assert_eq!(
            always.add_business_minutes(at("2026-12-24", 23, 0), 120),
            Some(at("2026-12-26", 1, 0))
        );
        let every_day_off = BusinessCalendar::new(
            BusinessHours::parse("", 0).expect("hours"),
            (0..2000)
                .map(|d| parse_date("2026-12-01").expect("date") + d)
                .collect(),
        );
        assert_eq!(
            every_day_off.add_business_minutes(at("2026-12-01", 0, 0), 1),
            None
        );
    }

    #[test]
    fn targets_and_holidays_parse_with_clear_errors() {
        assert_eq!(parse_target("t", ""), Ok(None));
        assert_eq!(parse_target("t", "90"), Ok(Some(90)));
        assert_eq!(parse_target("t", "4h"), Ok(Some(240)));
        assert_eq!(parse_target("t", "1.5h"), Ok(Some(90)));
        assert!(parse_target("t", "soon").is_err());
        assert!(parse_target("t", "0").is_err());
        let error = parse_holidays("2026-10-01 National Day\n2026-13-01").expect_err("bad");
        assert!(error.message.starts_with("line 2:"), "{}", error.message);
        assert_eq!(
            format_date(parse_date("2026-02-28").expect("date")),
            "2026-02-28"
        );
    }
}
