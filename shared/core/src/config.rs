//! The business's configuration: one TOML file, checked whole at start.
//!
//! Parsing goes in two steps: serde reads the file's shape (unknown keys are
//! errors, so a typo never silently disables a channel), then `validate`
//! turns strings into domain values; each channel's module reads and checks
//! its own `[channels.<name>]` section. Every error names its key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;
use thiserror::Error;

use crate::channels::{self, Channel};
use crate::domain::EmailAddress;
use crate::hours::{self, OpeningHours};
use crate::owner::LinkKey;
use crate::wording::Language;

/// The demo business `accueil serve` runs when given no configuration.
pub const DEMO: &str = include_str!("demo.toml");

#[derive(Debug, Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The dotted path of the offending key, like `hours.monday[1]`.
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, message: impl fmt::Display) -> Self {
        ConfigError {
            key: key.into(),
            message: message.to_string(),
        }
    }
}

/// A secret as written in the file: a literal (local use only), `env:NAME`
/// or `ssm:/path`. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Literal(String),
    Env(String),
    Ssm(String),
}

impl Secret {
    fn parse(key: &str, raw: &str) -> Result<Secret, ConfigError> {
        let secret = if let Some(name) = raw.strip_prefix("env:") {
            Secret::Env(name.to_string())
        } else if let Some(path) = raw.strip_prefix("ssm:") {
            if !path.starts_with('/') {
                return Err(ConfigError::new(
                    key,
                    "an ssm: parameter path starts with /",
                ));
            }
            Secret::Ssm(path.to_string())
        } else {
            Secret::Literal(raw.to_string())
        };
        if raw.is_empty() || matches!(&secret, Secret::Env(n) | Secret::Ssm(n) if n.is_empty()) {
            return Err(ConfigError::new(key, "is empty"));
        }
        Ok(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Literal(_) => f.write_str("Secret(<literal>)"),
            Secret::Env(name) => write!(f, "Secret(env:{name})"),
            Secret::Ssm(path) => write!(f, "Secret(ssm:{path})"),
        }
    }
}

/// A secret's value, once resolved. `Debug` is redacted so that a stray
/// `{:?}` in a log line cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Reads `env:` and `ssm:` secrets. Locally only literals and `env:` are
/// available; the AWS functions bring a resolver that reads SSM.
pub trait SecretSource {
    fn ssm(&self, path: &str) -> Result<String, String>;
}

/// The local source: no SSM.
pub struct LocalSecrets;

impl SecretSource for LocalSecrets {
    fn ssm(&self, path: &str) -> Result<String, String> {
        Err(format!(
            "ssm:{path} can only be read on AWS; use a literal or env:NAME locally"
        ))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub business: Business,
    pub hours: OpeningHours,
    pub reply_within: Duration,
    pub ack: AckLimits,
    pub digest_time: NaiveTime,
    /// Whether the daily digest goes out on a day with nothing waiting.
    pub digest_when_empty: WhenEmpty,
    pub channels: channels::Enabled,
    /// `[owner]`: the private links that let the owner answer from the
    /// digest. Without it the digest links straight to each channel's app.
    pub owner: Option<Owner>,
}

/// `[owner]`: the key of the owner's links, and where they point.
#[derive(Debug, Clone)]
pub struct Owner {
    pub links: LinkKey,
    /// The base URL of the links (the HTTP API's on AWS). None: `serve`
    /// puts its own address (`Config::serving_at`).
    pub public_url: Option<String>,
}

impl Config {
    /// Links point at `url` unless `[owner] public_url` says otherwise.
    pub fn serving_at(mut self, url: &str) -> Config {
        if let Some(owner) = &mut self.owner {
            owner
                .public_url
                .get_or_insert_with(|| url.trim_end_matches('/').to_string());
        }
        self
    }
}

/// `[digest] when_empty`: on a day with nothing waiting (no conversation,
/// nothing quarantined, no dead letter), one short line or no email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    Send,
    Skip,
}

#[derive(Debug, Clone)]
pub struct Business {
    pub name: String,
    pub timezone: Tz,
    pub language: Language,
    pub owner_email: EmailAddress,
    pub sender_email: EmailAddress,
}

#[derive(Debug, Clone, Copy)]
pub struct AckLimits {
    pub quiet_period: Duration,
    pub max_per_contact_per_day: u32,
    /// The longest wait between two attempts to deliver one acknowledgement.
    pub retry_max_delay: Duration,
    /// How long after its message an acknowledgement is still worth trying.
    pub give_up_after: Duration,
}

/// SQS delays a message by 15 minutes at most: a retry waits on the queue.
const LONGEST_RETRY_DELAY: Duration = Duration::from_secs(15 * 60);

impl Config {
    pub fn parse(text: &str, secrets: &dyn SecretSource) -> Result<Config, ConfigError> {
        // A config error is one line: the first of toml's message.
        fn first_line(error: &toml::de::Error) -> String {
            error
                .message()
                .lines()
                .next()
                .unwrap_or("invalid")
                .to_string()
        }
        let document = toml::Deserializer::parse(text).map_err(|e| {
            // A syntax error has no key to name: its line is the next best thing.
            let key = match e.span() {
                Some(span) => format!(
                    "(file) line {}",
                    text[..span.start].matches('\n').count() + 1
                ),
                None => "(file)".to_string(),
            };
            ConfigError::new(key, first_line(&e))
        })?;
        let raw: RawConfig = serde_path_to_error::deserialize(document).map_err(|e| {
            let key = e.path().to_string();
            let message = first_line(e.inner());
            ConfigError::new(if key == "." { "(file)".into() } else { key }, message)
        })?;
        raw.validate(secrets)
    }

    pub fn demo() -> Config {
        Config::parse(DEMO, &LocalSecrets).expect("the embedded demo configuration is valid")
    }

    pub fn enabled_channels(&self) -> Vec<Channel> {
        self.channels.channels()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    business: RawBusiness,
    #[serde(default)]
    hours: RawHours,
    #[serde(default)]
    ack: RawAck,
    #[serde(default)]
    digest: RawDigest,
    owner: Option<RawOwner>,
    /// Each channel's module reads its own table.
    #[serde(default)]
    channels: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwner {
    link_secret: String,
    public_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBusiness {
    name: String,
    timezone: String,
    #[serde(default = "default_language")]
    language: String,
    owner_email: String,
    sender_email: String,
}

fn default_language() -> String {
    "en".into()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHours {
    #[serde(default)]
    monday: Vec<String>,
    #[serde(default)]
    tuesday: Vec<String>,
    #[serde(default)]
    wednesday: Vec<String>,
    #[serde(default)]
    thursday: Vec<String>,
    #[serde(default)]
    friday: Vec<String>,
    #[serde(default)]
    saturday: Vec<String>,
    #[serde(default)]
    sunday: Vec<String>,
    #[serde(default)]
    closed: Vec<String>,
    #[serde(default = "default_reply_within")]
    reply_within: String,
}

fn default_reply_within() -> String {
    "4h".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAck {
    #[serde(default = "default_quiet_period")]
    quiet_period: String,
    #[serde(default = "default_max_per_day")]
    max_per_contact_per_day: u32,
    #[serde(default = "default_retry_max_delay")]
    retry_max_delay: String,
    #[serde(default = "default_give_up_after")]
    give_up_after: String,
}

impl Default for RawAck {
    fn default() -> Self {
        RawAck {
            quiet_period: default_quiet_period(),
            max_per_contact_per_day: default_max_per_day(),
            retry_max_delay: default_retry_max_delay(),
            give_up_after: default_give_up_after(),
        }
    }
}

fn default_retry_max_delay() -> String {
    "2m".into()
}

fn default_give_up_after() -> String {
    "24h".into()
}

fn default_quiet_period() -> String {
    "12h".into()
}

fn default_max_per_day() -> u32 {
    3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    #[serde(default = "default_digest_time")]
    time: String,
    #[serde(default = "default_when_empty")]
    when_empty: String,
}

impl Default for RawDigest {
    fn default() -> Self {
        RawDigest {
            time: default_digest_time(),
            when_empty: default_when_empty(),
        }
    }
}

fn default_when_empty() -> String {
    "skip".into()
}

fn default_digest_time() -> String {
    "18:30".into()
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl RawConfig {
    fn validate(self, secrets: &dyn SecretSource) -> Result<Config, ConfigError> {
        let b = self.business;
        if b.name.trim().is_empty() {
            return Err(ConfigError::new("business.name", "is empty"));
        }
        let timezone: Tz = b.timezone.parse().map_err(|_| {
            ConfigError::new(
                "business.timezone",
                format!(
                    "{:?} is not an IANA time zone like Europe/Paris",
                    b.timezone
                ),
            )
        })?;
        let language = Language::parse(&b.language).ok_or_else(|| {
            ConfigError::new(
                "business.language",
                format!("{:?} is not supported (fr or en)", b.language),
            )
        })?;
        let email = |key: &str, value: &str| {
            EmailAddress::parse(value)
                .map_err(|e| ConfigError::new(key, format!("{value:?} is {e}")))
        };
        let business = Business {
            name: b.name.trim().to_string(),
            timezone,
            language,
            owner_email: email("business.owner_email", &b.owner_email)?,
            sender_email: email("business.sender_email", &b.sender_email)?,
        };

        let h = self.hours;
        let days = [
            h.monday,
            h.tuesday,
            h.wednesday,
            h.thursday,
            h.friday,
            h.saturday,
            h.sunday,
        ];
        let mut week: [Vec<hours::OpeningRange>; 7] = Default::default();
        for (i, ranges) in days.iter().enumerate() {
            for (j, range) in ranges.iter().enumerate() {
                let parsed = hours::parse_range(range)
                    .map_err(|e| ConfigError::new(format!("hours.{}[{j}]", DAYS[i]), e))?;
                week[i].push(parsed);
            }
        }
        let mut closed = BTreeSet::new();
        for (j, day) in h.closed.iter().enumerate() {
            let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
                ConfigError::new(
                    format!("hours.closed[{j}]"),
                    format!("{day:?} is not a date like 2026-12-25"),
                )
            })?;
            closed.insert(date);
        }
        let hours =
            OpeningHours::new(timezone, week, closed).map_err(|e| ConfigError::new("hours", e))?;
        let reply_within = hours::parse_duration(&h.reply_within)
            .map_err(|e| ConfigError::new("hours.reply_within", e))?;

        let quiet_period = hours::parse_duration(&self.ack.quiet_period)
            .map_err(|e| ConfigError::new("ack.quiet_period", e))?;
        if self.ack.max_per_contact_per_day == 0 {
            return Err(ConfigError::new(
                "ack.max_per_contact_per_day",
                "must be at least 1 (a customer always deserves one acknowledgement)",
            ));
        }
        let retry_max_delay = hours::parse_duration(&self.ack.retry_max_delay)
            .map_err(|e| ConfigError::new("ack.retry_max_delay", e))?;
        if retry_max_delay > LONGEST_RETRY_DELAY || retry_max_delay < Duration::from_secs(1) {
            return Err(ConfigError::new(
                "ack.retry_max_delay",
                "must be between 1s and 15m (a retry waits on the queue, which holds a job back 15 minutes at most)",
            ));
        }
        let give_up_after = hours::parse_duration(&self.ack.give_up_after)
            .map_err(|e| ConfigError::new("ack.give_up_after", e))?;
        let digest_time = hours::parse_clock(&self.digest.time)
            .map_err(|e| ConfigError::new("digest.time", e))?;
        let digest_when_empty = match self.digest.when_empty.as_str() {
            "send" => WhenEmpty::Send,
            "skip" => WhenEmpty::Skip,
            other => {
                return Err(ConfigError::new(
                    "digest.when_empty",
                    format!("{other:?} is not \"send\" or \"skip\""),
                ))
            }
        };

        let channels = channels::Enabled::read(self.channels, secrets)?;
        if channels.channels().is_empty() {
            return Err(ConfigError::new("channels", "no channel is enabled"));
        }

        Ok(Config {
            business,
            hours,
            reply_within,
            ack: AckLimits {
                quiet_period,
                max_per_contact_per_day: self.ack.max_per_contact_per_day,
                retry_max_delay,
                give_up_after,
            },
            digest_time,
            digest_when_empty,
            channels,
            owner: match self.owner {
                None => None,
                Some(owner) => {
                    let secret = resolve("owner.link_secret", &owner.link_secret, secrets)?;
                    // Whoever guesses it opens every conversation.
                    if secret.expose().len() < 16 {
                        return Err(ConfigError::new(
                            "owner.link_secret",
                            "is too short: at least 16 characters (openssl rand -hex 32 makes one)",
                        ));
                    }
                    Some(Owner {
                        links: LinkKey::new(&secret),
                        public_url: base_url("owner.public_url", owner.public_url)?,
                    })
                }
            },
        })
    }
}

/// A channel's optional `api_base_url`: an http(s) URL, kept without its
/// last slash.
pub(crate) fn base_url(key: &str, url: Option<String>) -> Result<Option<String>, ConfigError> {
    match url {
        None => Ok(None),
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(Some(url.trim_end_matches('/').to_string()))
        }
        Some(url) => Err(ConfigError::new(
            key,
            format!("{url:?} is not an http(s) URL"),
        )),
    }
}

/// The value of the secret written `raw` at `key`.
pub(crate) fn resolve(
    key: &str,
    raw: &str,
    secrets: &dyn SecretSource,
) -> Result<SecretValue, ConfigError> {
    let value = match Secret::parse(key, raw)? {
        Secret::Literal(v) => v,
        Secret::Env(name) => std::env::var(&name).map_err(|_| {
            ConfigError::new(key, format!("environment variable {name} is not set"))
        })?,
        Secret::Ssm(path) => secrets.ssm(&path).map_err(|e| ConfigError::new(key, e))?,
    };
    if value.is_empty() {
        return Err(ConfigError::new(key, "resolves to an empty value"));
    }
    Ok(SecretValue(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> ConfigError {
        Config::parse(text, &LocalSecrets).expect_err("config should be refused")
    }

    const MINIMAL: &str = r#"
[business]
name = "Plomberie Roux"
timezone = "Europe/Paris"
language = "fr"
owner_email = "owner@example.com"
sender_email = "contact@example.com"
[hours]
monday = ["09:00-12:30", "14:00-18:00"]
[channels.webform]
"#;

    #[test]
    fn the_demo_is_valid_and_enables_every_channel() {
        let demo = Config::demo();
        assert_eq!(demo.enabled_channels(), Channel::ALL);
    }

    #[test]
    fn a_section_no_channel_is_named_after_is_refused_by_name() {
        let e = error_of(&format!("{MINIMAL}\n[channels.whatsap]\n"));
        assert_eq!(e.key, "channels.whatsap");
        assert!(e.message.contains("whatsapp"), "{}", e.message);
        let e =
            error_of(&MINIMAL.replace("[channels.webform]", "[channels.webform]\nrate_limit = 3"));
        assert_eq!(e.key, "channels.webform.rate_limit");
    }

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let c = Config::parse(MINIMAL, &LocalSecrets).unwrap();
        assert_eq!(c.reply_within, Duration::from_secs(4 * 3600));
        assert_eq!(c.ack.quiet_period, Duration::from_secs(12 * 3600));
        assert_eq!(c.ack.max_per_contact_per_day, 3);
        assert_eq!(c.digest_time, NaiveTime::from_hms_opt(18, 30, 0).unwrap());
        assert_eq!(c.digest_when_empty, WhenEmpty::Skip);
        assert_eq!(c.business.language, Language::Fr);
    }

    #[test]
    fn errors_name_the_key() {
        let e = error_of(&MINIMAL.replace("Europe/Paris", "Europe/Lune"));
        assert_eq!(e.key, "business.timezone");
        let owner = |section: &str| error_of(&format!("{MINIMAL}\n[owner]\n{section}\n"));
        assert_eq!(owner("link_secret = \"short\"").key, "owner.link_secret");
        assert_eq!(owner("").key, "owner");
        let url = owner("link_secret = \"0123456789abcdef\"\npublic_url = \"example.com\"");
        assert_eq!(url.key, "owner.public_url");
        let e = error_of(&MINIMAL.replace("14:00-18:00", "14:00-13:00"));
        assert_eq!(e.key, "hours.monday[1]");
        let e = error_of(&MINIMAL.replace("owner@example.com", "owner"));
        assert_eq!(e.key, "business.owner_email");
        let e = error_of(&MINIMAL.replace("language = \"fr\"", "language = \"de\""));
        assert_eq!(e.key, "business.language");
        let e = error_of(&format!("{MINIMAL}\n[digest]\ntime = \"25:00\"\n"));
        assert_eq!(e.key, "digest.time");
        let e = error_of(&format!("{MINIMAL}\n[digest]\nwhen_empty = \"never\"\n"));
        assert_eq!(e.key, "digest.when_empty");
        let e = error_of(&format!("{MINIMAL}\n[ack]\nquiet_period = \"soon\"\n"));
        assert_eq!(e.key, "ack.quiet_period");
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let e = error_of(&MINIMAL.replace("name = \"Plomberie Roux\"", "name = \"Plomberie Roux"));
        assert_eq!(e.key, "(file) line 3");
        assert!(e.message.contains("string"), "{}", e.message);
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let e = error_of(&MINIMAL.replace("[hours]", "[hours]\nmonady = []"));
        assert_eq!(e.key, "hours.monady");
        let e = error_of(&MINIMAL.replace("name = \"Plomberie Roux\"\n", ""));
        assert_eq!(e.key, "business");
        assert!(e.message.contains("name"), "{}", e.message);
        let e = error_of(&MINIMAL.replace(
            "[channels.webform]",
            "[channels.whatsapp]\nphone_number_id = \"1\"",
        ));
        assert_eq!(e.key, "channels.whatsapp");
        assert!(e.message.contains("verify_token"), "{}", e.message);
    }

    #[test]
    fn secrets_come_from_the_environment_and_never_print() {
        let text = format!(
            "{MINIMAL}\n[channels.whatsapp]\nphone_number_id = \"123\"\nverify_token = \"v\"\napp_secret = \"env:ACCUEIL_TEST_UNSET_SECRET\"\naccess_token = \"t\"\n"
        );
        let e = error_of(&text);
        assert_eq!(e.key, "channels.whatsapp.app_secret");
        assert!(e.message.contains("ACCUEIL_TEST_UNSET_SECRET"));

        let c = Config::parse(
            &text.replace("env:ACCUEIL_TEST_UNSET_SECRET", "s3cr3t-value"),
            &LocalSecrets,
        )
        .unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("s3cr3t-value"), "{printed}");

        let e = error_of(&text.replace("env:ACCUEIL_TEST_UNSET_SECRET", "ssm:/accueil/app_secret"));
        assert_eq!(e.key, "channels.whatsapp.app_secret");
        assert!(e.message.contains("AWS"), "{}", e.message);
    }

    #[test]
    fn each_channel_s_errors_name_its_key_and_never_repeat_a_secret() {
        let messenger = "[channels.messenger]\npage_id = \"1\"\nverify_token = \"v\"\napp_secret = \"s\"\npage_access_token = \"t\"\n";
        let e = error_of(&format!(
            "{MINIMAL}{}",
            messenger.replace("\"1\"", "\"my page\"")
        ));
        assert_eq!(e.key, "channels.messenger.page_id");
        let e = error_of(&format!(
            "{MINIMAL}{}",
            messenger.replace("page_access_token", "access_token")
        ));
        assert_eq!(e.key, "channels.messenger.access_token");
        let instagram = "[channels.instagram]\naccount_id = \"1\"\nverify_token = \"v\"\napp_secret = \"s\"\naccess_token = \"\"\n";
        let e = error_of(&format!("{MINIMAL}{instagram}"));
        assert_eq!(e.key, "channels.instagram.access_token");

        let telegram = |token: &str, secret: &str| {
            format!("{MINIMAL}[channels.telegram]\nbot_token = \"{token}\"\nsecret_token = \"{secret}\"\n")
        };
        let e = error_of(&telegram("not-a-token-at-all", "s"));
        assert_eq!(e.key, "channels.telegram.bot_token");
        assert!(!e.to_string().contains("not-a-token-at-all"), "{e}");
        let e = error_of(&telegram("123:abc", "with spaces"));
        assert_eq!(e.key, "channels.telegram.secret_token");
        let e = error_of(&format!(
            "{}api_base_url = \"ftp://x\"\n",
            telegram("123:abc", "s")
        ));
        assert_eq!(e.key, "channels.telegram.api_base_url");
        assert!(Config::parse(&telegram("123:abc", "s_-9"), &LocalSecrets).is_ok());
    }

    #[test]
    fn a_business_with_no_channel_is_refused() {
        let e = error_of(&MINIMAL.replace("[channels.webform]", ""));
        assert_eq!(e.key, "channels");
    }
}
