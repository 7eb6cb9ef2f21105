//! The owner's actions on a thread, as on its page: reply, snooze, reopen
//! (`close` is in `show`). Locally or, with `--aws`, on the deployed table.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc};

use accueil_core::config::Config;
use accueil_core::domain::{ThreadChange, ThreadStatus};
use accueil_core::owner::reply::{window_closed, MAX_REPLY_CHARS};
use accueil_core::owner::Reply;

use crate::backend::Backend;
use crate::show::find;
use crate::Place;

pub async fn reply(place: &Place, id: &str, text: &str) -> Result<()> {
    let data = Backend::open(place).await?;
    let found = find(&data, id).await?;
    let text = text.trim();
    if text.is_empty() {
        bail!("--text is empty");
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        bail!("--text is longer than {MAX_REPLY_CHARS} characters");
    }
    let now = Utc::now();
    if found.thread.status == ThreadStatus::Closed {
        bail!(
            "{} is closed: `accueil reopen {}` first",
            found.thread.id,
            found.thread.id
        );
    }
    if let Some(closed) = window_closed(&found, now) {
        bail!(
            "{} no longer lets the business write to this customer (its window closed {}); answer from the app",
            found.thread.channel,
            closed.format("%Y-%m-%d %H:%M UTC")
        );
    }
    let reply = Reply::new(found.thread.id.clone(), found.thread.channel, text, now);
    println!("{}", data.send_reply(reply).await?);
    Ok(())
}

pub async fn snooze(place: &Place, id: &str, until: &str) -> Result<()> {
    let data = Backend::open(place).await?;
    let found = find(&data, id).await?;
    let now = Utc::now();
    let until = parse_until(&data.config, until, now)?;
    let change = ThreadChange::Snooze { until };
    if data
        .store
        .change_thread(&found.thread.id, change, now)
        .await?
    {
        let local = until.with_timezone(&data.config.business.timezone);
        println!(
            "{} snoozed until {}.",
            found.thread.id,
            local.format("%Y-%m-%d %H:%M %Z")
        );
    } else {
        println!("{} is closed: nothing to snooze.", found.thread.id);
    }
    Ok(())
}

pub async fn reopen(place: &Place, id: &str) -> Result<()> {
    let data = Backend::open(place).await?;
    let found = find(&data, id).await?;
    if data
        .store
        .change_thread(&found.thread.id, ThreadChange::Reopen, Utc::now())
        .await?
    {
        println!("{} is open again.", found.thread.id);
    } else {
        println!(
            "{} stays as it is: already open, or the customer has a newer conversation on the channel.",
            found.thread.id
        );
    }
    Ok(())
}

/// `tomorrow` (09:00), `next-week` (Monday 09:00), `opening` (the next
/// opening), or a time in the business's zone, `2026-12-08 14:00`, or
/// RFC 3339.
fn parse_until(config: &Config, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let tz = config.business.timezone;
    let local = now.with_timezone(&tz);
    let morning = |days: i64| {
        let day = local.date_naive() + Duration::days(days);
        tz.from_local_datetime(&day.and_hms_opt(9, 0, 0).expect("09:00 exists"))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let until = match text {
        "tomorrow" => morning(1),
        "next-week" => morning(7 - i64::from(local.weekday().num_days_from_monday())),
        "opening" => config
            .hours
            .next_opening(now)
            .map(|t| t.with_timezone(&Utc)),
        _ => match DateTime::parse_from_rfc3339(text) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").with_context(|| {
                    format!("--until {text:?} is not tomorrow, next-week, opening, or a time like 2026-12-08 14:00")
                })?;
                tz.from_local_datetime(&naive)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            }
        },
    };
    match until {
        Some(until) if until > now => Ok(until),
        Some(_) => bail!("--until {text:?} is not in the future"),
        None => bail!("--until {text:?}: no such time in {tz}"),
    }
}
