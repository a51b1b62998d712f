//! The SLA policy and business calendar (admin settings), and the sweeper that records
//! deadlines as they pass, so breached tickets stand out and the analytics can count them.

use std::sync::Arc;
use std::time::Duration;

use super::TicketService;
use crate::domain::sla::{breaches, parse_holidays, parse_target};
use crate::domain::{
    BusinessCalendar, BusinessHours, SlaPolicy, SlaTargets, TicketPriority, ValidationError,
};
use crate::service::{ServiceError, now};

/// How often passed deadlines are looked for.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);
const SWEEP_BATCH: i64 = 500;
/// Every two hours of sweeps.
const SWEEPS_PER_OPTIMIZE: u64 = 240;

/// The settings as the admin page shows and edits them.
#[derive(Debug, Clone)]
pub struct SlaSettings {
    pub policy: SlaPolicy,
    pub business_hours: String,
    pub utc_offset_minutes: i32,
    pub holidays: String,
}

/// The admin's form: per priority (low … urgent) a first-response and a resolution target
/// (`90`, `4h`, empty for none), and the calendar.
#[derive(Debug, Clone, Default)]
pub struct SlaForm {
    pub first_response: [String; 4],
    pub resolution: [String; 4],
    pub business_hours: String,
    pub utc_offset_minutes: String,
    pub holidays: String,
}

impl TicketService {
    pub async fn sla_settings(&self) -> Result<SlaSettings, ServiceError> {
        let (policy, business_hours, utc_offset_minutes, holidays) =
            self.store.sla_settings().await?;
        Ok(SlaSettings {
            policy,
            business_hours,
            utc_offset_minutes,
            holidays,
        })
    }

    /// The policy and calendar deadlines are computed with.
    pub(super) async fn sla(&self) -> Result<(SlaPolicy, BusinessCalendar), ServiceError> {
        let settings = self.sla_settings().await?;
        // Saved settings were checked when saved; a bad row falls back to "always open".
        let hours = BusinessHours::parse(&settings.business_hours, settings.utc_offset_minutes)
            .unwrap_or_default();
        let holidays = parse_holidays(&settings.holidays).unwrap_or_default();
        Ok((settings.policy, BusinessCalendar::new(hours, holidays)))
    }

    /// Saves the settings when every field is valid (all problems reported at once). They
    /// apply to tickets created from now on and to tickets whose priority changes.
    pub async fn save_sla_settings(&self, form: SlaForm) -> Result<(), ServiceError> {
        let mut errors = Vec::new();
        let mut policy = SlaPolicy::default();
        for (index, priority) in TicketPriority::ALL.into_iter().enumerate() {
            let first = parse_target("first_response", &form.first_response[index]);
            let resolution = parse_target("resolution", &form.resolution[index]);
            match (first, resolution) {
                (Ok(first), Ok(resolution)) => policy.set_targets(
                    priority,
                    SlaTargets {
                        first_response_minutes: first,
                        resolution_minutes: resolution,
                    },
                ),
                (first, resolution) => {
                    for error in [first.err(), resolution.err()].into_iter().flatten() {
                        errors.push(ValidationError::new(
                            error.field,
                            format!("{} priority: {}", priority.as_str(), error.message),
                        ));
                    }
                }
            }
        }
        let offset = match form.utc_offset_minutes.trim() {
            "" => Ok(0),
            raw => raw.parse::<i32>().map_err(|_| {
                ValidationError::new(
                    "utc_offset_minutes",
                    "must be whole minutes, e.g. 480 for UTC+8 or -300 for UTC-5",
                )
            }),
        };
        let offset = match offset {
            Ok(offset) => offset,
            Err(error) => {
                errors.push(error);
                0
            }
        };
        let hours = BusinessHours::parse(&form.business_hours, offset).map_err(|error| {
            errors.push(error);
        });
        let holidays = parse_holidays(&form.holidays).map_err(|error| {
            errors.push(error);
        });
        if let (Ok(hours), Ok(holidays)) = (hours, holidays) {
            let probe = BusinessCalendar::new(hours, holidays);
            if probe.add_business_minutes(now(), 1).is_none() {
                errors.push(ValidationError::new(
                    "holidays",
                    "leave the clock some open time in the next three years",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::InvalidFields(errors));
        }
        // One date per line, in order, as they will be shown.
        let holidays = form
            .holidays
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        self.store
            .save_sla_settings(
                policy,
                form.business_hours.trim().to_string(),
                offset,
                holidays,
            )
            .await?;
        Ok(())
    }

    /// Records every deadline that passed since the last sweep; returns how many.
    pub async fn sweep_breaches(&self) -> Result<usize, ServiceError> {
        let at = now();
        let mut recorded = 0;
        for ticket in self.store.tickets_past_due(at, SWEEP_BATCH).await? {
            let missed = breaches(&ticket, at);
            if missed.is_empty() {
                continue;
            }
            recorded += self
                .store
                .record_breaches(ticket.id, ticket.priority, missed, at)
                .await?
                .len();
        }
        if recorded > 0 {
            tracing::info!(recorded, "SLA breaches recorded");
        }
        Ok(recorded)
    }

    /// Sweeps for passed deadlines until the process ends; now and then it also refreshes
    /// the database's query statistics, which drift as tickets pile up.
    pub fn watch_deadlines(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let mut sweeps: u64 = 0;
            loop {
                if let Err(error) = service.sweep_breaches().await {
                    tracing::warn!(%error, "recording SLA breaches failed");
                }
                sweeps += 1;
                if sweeps.is_multiple_of(SWEEPS_PER_OPTIMIZE)
                    && let Err(error) = service.store.optimize().await
                {
                    tracing::warn!(%error, "refreshing the query statistics failed");
                }
                tokio::time::sleep(SWEEP_INTERVAL).await;
            }
        })
    }
}
