//! The acknowledgement policy: whether to answer a customer now, and the
//! promise the answer makes.

use chrono::{DateTime, Duration, Utc};

use crate::config::Config;
use crate::domain::ThreadId;
use crate::wording::{spell_duration, spell_moment, Language};

/// Why no acknowledgement was owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// One was sent to this contact within the quiet period.
    QuietPeriod,
    /// The contact already had the day's maximum.
    DailyCap,
    /// The channel is no longer configured (the message was queued before
    /// a change of configuration).
    ChannelNotEnabled,
}

impl Skip {
    /// As the thread records it.
    pub fn reason(self) -> &'static str {
        match self {
            Skip::QuietPeriod => "quiet_period",
            Skip::DailyCap => "daily_cap",
            Skip::ChannelNotEnabled => "channel_not_enabled",
        }
    }

    /// The skip a recorded reason names.
    pub fn parse(reason: &str) -> Option<Skip> {
        [Skip::QuietPeriod, Skip::DailyCap, Skip::ChannelNotEnabled]
            .into_iter()
            .find(|skip| skip.reason() == reason)
    }
}

/// How far back `decide` needs to see earlier acknowledgements.
pub fn lookback(config: &Config) -> Duration {
    let quiet = Duration::from_std(config.ack.quiet_period).unwrap_or(Duration::MAX);
    quiet.max(Duration::hours(25))
}

/// Decides from the times of earlier acknowledgements to the same contact.
pub fn decide(config: &Config, now: DateTime<Utc>, earlier: &[DateTime<Utc>]) -> Result<(), Skip> {
    let quiet = Duration::from_std(config.ack.quiet_period).unwrap_or(Duration::MAX);
    if earlier
        .iter()
        .any(|t| now.signed_duration_since(*t) < quiet)
    {
        return Err(Skip::QuietPeriod);
    }
    // "Per day" is the business's day, not UTC's.
    let tz = config.business.timezone;
    let today = now.with_timezone(&tz).date_naive();
    let sent_today = earlier
        .iter()
        .filter(|t| t.with_timezone(&tz).date_naive() == today)
        .count();
    if sent_today >= config.ack.max_per_contact_per_day as usize {
        return Err(Skip::DailyCap);
    }
    Ok(())
}

/// The words of an acknowledgement, before a channel shapes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckText {
    pub subject: String,
    pub body: String,
}

/// The subject of an emailed acknowledgement; the owner's reply answers it
/// (`Re: `), so that mail clients thread the two.
pub fn subject(config: &Config) -> String {
    let business = &config.business.name;
    match config.business.language {
        Language::Fr => format!("Nous avons bien reçu votre message – {business}"),
        Language::En => format!("We received your message – {business}"),
    }
}

/// Writes the promise: while open, the reply delay; while closed, when the
/// business is back and by when the customer will have an answer.
pub fn compose(
    config: &Config,
    now: DateTime<Utc>,
    name: Option<&str>,
    thread: &ThreadId,
) -> AckText {
    let lang = config.business.language;
    let tz = config.business.timezone;
    let business = &config.business.name;
    let within = spell_duration(lang, config.reply_within);
    let local_now = now.with_timezone(&tz);
    let closed_until = if config.hours.is_open(now) {
        None
    } else {
        config.hours.next_opening(now)
    };
    let answer_by = config.hours.after_opening_time(now, config.reply_within);

    let greeting = match (lang, name) {
        (Language::Fr, Some(n)) => format!("Bonjour {n},"),
        (Language::Fr, None) => "Bonjour,".to_string(),
        (Language::En, Some(n)) => format!("Hello {n},"),
        (Language::En, None) => "Hello,".to_string(),
    };
    let promise = match (lang, closed_until, answer_by) {
        (Language::Fr, Some(back), Some(by)) => format!(
            "Nous sommes fermés pour le moment et serons de retour {} ; vous aurez notre réponse au plus tard {}.",
            spell_moment(lang, back, local_now),
            spell_moment(lang, by, local_now)
        ),
        (Language::En, Some(back), Some(by)) => format!(
            "We are closed right now and will be back {}; you will have our answer by {}.",
            spell_moment(lang, back, local_now),
            spell_moment(lang, by, local_now)
        ),
        (Language::Fr, _, _) => format!("Nous vous répondrons dans les {within}."),
        (Language::En, _, _) => format!("We will answer within {within}."),
    };
    let (thanks, reference) = match lang {
        Language::Fr => (
            format!("Merci pour votre message à {business}, nous l'avons bien reçu."),
            format!("Votre référence : {thread}."),
        ),
        Language::En => (
            format!("Thank you for your message to {business}: we have received it."),
            format!("Your reference: {thread}."),
        ),
    };
    AckText {
        subject: subject(config),
        body: format!("{greeting}\n\n{thanks} {promise} {reference}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LocalSecrets;
    use chrono::TimeZone;
    use chrono_tz::Europe::Paris;

    fn config(language: &str) -> Config {
        let text = format!(
            r#"
[business]
name = "Atelier Lune"
timezone = "Europe/Paris"
language = "{language}"
owner_email = "owner@example.com"
sender_email = "contact@example.com"
[hours]
monday = ["09:00-12:30", "14:00-18:00"]
tuesday = ["09:00-12:30", "14:00-18:00"]
wednesday = ["09:00-12:30", "14:00-18:00"]
thursday = ["09:00-12:30", "14:00-18:00"]
friday = ["09:00-12:30", "14:00-18:00"]
closed = ["2026-12-25"]
reply_within = "4h"
[ack]
quiet_period = "12h"
max_per_contact_per_day = 3
[channels.webform]
"#
        );
        Config::parse(&text, &LocalSecrets).unwrap()
    }

    fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Paris
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn thread() -> ThreadId {
        ThreadId::parse("T-ABCDEFGHJK").unwrap()
    }

    #[test]
    fn while_open_it_promises_the_reply_delay() {
        // Tuesday 24 November 2026, 10:00 in Paris.
        let now = paris(2026, 11, 24, 10, 0);
        let fr = compose(&config("fr"), now, Some("Zoé"), &thread());
        assert_eq!(
            fr.body,
            "Bonjour Zoé,\n\nMerci pour votre message à Atelier Lune, nous l'avons bien reçu. Nous vous répondrons dans les 4 heures. Votre référence : T-ABCDEFGHJK."
        );
        let en = compose(&config("en"), now, None, &thread());
        assert_eq!(
            en.body,
            "Hello,\n\nThank you for your message to Atelier Lune: we have received it. We will answer within 4 hours. Your reference: T-ABCDEFGHJK."
        );
    }

    #[test]
    fn on_a_saturday_night_it_names_monday_in_both_languages() {
        // Saturday 28 November 2026, 22:00 in Paris: closed until Monday 9:00.
        let now = paris(2026, 11, 28, 22, 0);
        let fr = compose(&config("fr"), now, Some("Zoé"), &thread()).body;
        assert!(
            fr.contains("Nous sommes fermés pour le moment et serons de retour lundi à 9 h 00 ; vous aurez notre réponse au plus tard lundi à 14 h 30."),
            "{fr}"
        );
        let en = compose(&config("en"), now, Some("Zoe"), &thread()).body;
        assert!(
            en.contains("We are closed right now and will be back Monday at 9:00 AM; you will have our answer by Monday at 2:30 PM."),
            "{en}"
        );
    }

    #[test]
    fn on_christmas_eve_night_it_skips_the_holiday() {
        // Thursday 24 December 2026, 20:00: Friday the 25th is closed.
        let now = paris(2026, 12, 24, 20, 0);
        let en = compose(&config("en"), now, None, &thread()).body;
        assert!(en.contains("will be back Monday at 9:00 AM"), "{en}");
    }

    #[test]
    fn the_quiet_period_and_the_daily_cap_hold() {
        let c = config("en");
        let now = paris(2026, 11, 24, 17, 0);
        assert_eq!(decide(&c, now, &[]), Ok(()));
        assert_eq!(
            decide(&c, now, &[now - Duration::hours(11)]),
            Err(Skip::QuietPeriod)
        );
        assert_eq!(decide(&c, now, &[now - Duration::hours(13)]), Ok(()));

        let mut loose = c.clone();
        loose.ack.quiet_period = std::time::Duration::from_secs(60);
        let today = [
            now - Duration::hours(1),
            now - Duration::hours(2),
            now - Duration::hours(3),
        ];
        assert_eq!(decide(&loose, now, &today), Err(Skip::DailyCap));
        // Yesterday's acknowledgements do not count against today.
        let yesterday = [
            now - Duration::hours(20),
            now - Duration::hours(21),
            now - Duration::hours(22),
        ];
        assert_eq!(decide(&loose, now, &yesterday), Ok(()));
    }
}
