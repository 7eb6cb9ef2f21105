//! The owner's daily digest: every thread waiting for the owner (open, or
//! snoozed until a time that has come), longest-waiting first, in one
//! email with an HTML and a plain-text part.

use chrono::{DateTime, TimeZone, Utc};
use minijinja::{context, Environment};
use serde::Serialize;

use crate::channels;
use crate::config::{Config, WhenEmpty};
use crate::domain::{Message, Thread, ThreadStatus};
use crate::email::{self, Draft, OutgoingEmail};
use crate::owner;
use crate::ports::{Mailer, SendError, Store, StoreError};
use crate::wording::{spell_wait, Language};

/// One waiting thread as the owner reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestThread {
    pub id: String,
    pub channel: String,
    pub contact: String,
    pub address: String,
    pub waited: String,
    pub waited_seconds: i64,
    pub excerpt: String,
    /// Messages stored since the previous digest, whatever their senders' clocks said.
    pub new_messages: usize,
    /// Where the channel's own app answers this customer.
    pub reply_link: Option<String>,
    /// The thread's private page (`[owner]`): read, reply, done, later.
    pub page_link: Option<String>,
    /// Every acknowledgement the thread was owed failed: the customer has
    /// not heard from the business at all.
    pub unacknowledged: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub language: Language,
    pub business: String,
    pub generated_at: DateTime<Utc>,
    pub threads: Vec<DigestThread>,
    /// Authentic payloads that could not be read since the previous digest.
    pub quarantined: u64,
    /// Jobs that failed every retry and wait in the dead-letter queue.
    pub dead_letters: u64,
    /// Threads the owner put off until a time still to come.
    pub snoozed: usize,
}

#[derive(Serialize)]
struct Labels {
    waiting: &'static str,
    new: &'static str,
    answer: &'static str,
    open_app: &'static str,
    /// What goes before a colon: French sets a space before it.
    colon: &'static str,
    close_hint: &'static str,
    page_hint: &'static str,
    attention: &'static str,
    unacknowledged: &'static str,
}

const FR: Labels = Labels {
    waiting: "Attend depuis",
    new: "Nouveaux :",
    answer: "Répondre",
    open_app: "Ouvrir l'application",
    colon: " :",
    close_hint: "Une fois la conversation terminée : accueil close <référence>.",
    page_hint: "Chaque lien « Répondre » ouvre la conversation : y répondre, la terminer ou la remettre à plus tard. Le lien vaut {days} jours ; ne le transférez pas.",
    attention: "À voir d'abord",
    unacknowledged: "Accusé de réception non délivré",
};

const EN: Labels = Labels {
    waiting: "Waiting",
    new: "New:",
    answer: "Answer",
    open_app: "Open the app",
    colon: ":",
    close_hint: "Once a conversation is done: accueil close <reference>.",
    page_hint: "Each Answer link opens the conversation: answer it, mark it done or put it off. The link works for {days} days; do not forward it.",
    attention: "Needs attention first",
    unacknowledged: "Acknowledgement not delivered",
};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Send(#[from] SendError),
}

impl Digest {
    /// Reads the waiting threads; `new_messages` counts since the previous digest.
    pub async fn build(
        config: &Config,
        store: &dyn Store,
        dead_letters: u64,
        now: DateTime<Utc>,
    ) -> Result<Digest, StoreError> {
        let since = store.last_digest_at().await?;
        // Snoozed threads whose time has come wait again, in their place.
        let (due, snoozed): (Vec<Thread>, Vec<Thread>) = store
            .threads_by_wait(ThreadStatus::Snoozed)
            .await?
            .into_iter()
            .partition(|t| t.waiting(now));
        let mut waiting = store.threads_by_wait(ThreadStatus::Open).await?;
        waiting.extend(due);
        waiting.sort_by(|a, b| (a.waits_since(), &a.id).cmp(&(b.waits_since(), &b.id)));
        let mut threads = Vec::new();
        for thread in waiting {
            // The customer withdrew everything they wrote: nothing to answer.
            if thread.message_count == 0 {
                continue;
            }
            let new_messages = match since {
                None => thread.message_count as usize,
                // Both by our clock: nothing stored since, nothing to read.
                Some(since) if thread.last_message_at <= since => 0,
                Some(since) => store
                    .thread(&thread.id)
                    .await?
                    .map(|t| {
                        let new = |m: &&Message| {
                            m.author.is_customer()
                                && m.received_at > since
                                && m.deleted_at.is_none()
                        };
                        t.messages.iter().filter(new).count()
                    })
                    .unwrap_or(0),
            };
            threads.push(line(config, &thread, new_messages, now));
        }
        // Customers who never heard back come first, the longest-waiting
        // of them first; then everyone else, in the same order.
        threads.sort_by_key(|t| !t.unacknowledged);
        Ok(Digest {
            language: config.business.language,
            business: config.business.name.clone(),
            generated_at: now,
            threads,
            quarantined: store.quarantined_since(since).await?,
            dead_letters,
            snoozed: snoozed.len(),
        })
    }

    fn render(&self, template: &str) -> String {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        // Auto-escaping follows the template's name: customer text in the
        // .html one is escaped, the .txt one is left as written.
        env.add_template("digest.html", include_str!("../templates/digest.html"))
            .expect("the digest HTML template parses");
        env.add_template("digest.txt", include_str!("../templates/digest.txt"))
            .expect("the digest text template parses");
        let unacknowledged = self.threads.iter().filter(|t| t.unacknowledged).count();
        let snoozed_line = match (self.language, self.snoozed) {
            (_, 0) => String::new(),
            (Language::Fr, 1) => "1 conversation remise à plus tard n'est pas listée.".to_string(),
            (Language::Fr, n) => {
                format!("{n} conversations remises à plus tard ne sont pas listées.")
            }
            (Language::En, 1) => "1 conversation put off until later is not listed.".to_string(),
            (Language::En, n) => format!("{n} conversations put off until later are not listed."),
        };
        let pages = self.threads.iter().any(|t| t.page_link.is_some());
        let (labels, title, summary, quarantined_line, dead_letters_line, unacknowledged_line) = match self.language {
            Language::Fr => (
                &FR,
                format!("{} : messages en attente", self.business),
                match self.threads.len() {
                    0 => "Aucune conversation n'attend de réponse.".to_string(),
                    1 => "1 conversation attend votre réponse.".to_string(),
                    n => format!("{n} conversations attendent votre réponse, la plus ancienne d'abord."),
                },
                format!(
                    "{} message(s) authentique(s) illisible(s) mis de côté (accueil quarantine).",
                    self.quarantined
                ),
                format!(
                    "{} message(s) n'ont pas pu être traités après plusieurs essais et attendent dans la file des échecs. Une fois la cause réparée (voir les journaux), renvoyez-les : accueil requeue (sur AWS : aws sqs start-message-move-task, voir le README).",
                    self.dead_letters
                ),
                format!(
                    "{unacknowledged} client(s) n'ont reçu aucun accusé de réception (le canal l'a refusé ou est resté injoignable) : ils sont en tête de liste."
                ),
            ),
            Language::En => (
                &EN,
                format!("{}: messages waiting", self.business),
                match self.threads.len() {
                    0 => "No conversation is waiting for an answer.".to_string(),
                    1 => "1 conversation is waiting for your answer.".to_string(),
                    n => format!("{n} conversations are waiting for your answer, oldest first."),
                },
                format!(
                    "{} authentic message(s) could not be read and were kept aside (accueil quarantine).",
                    self.quarantined
                ),
                format!(
                    "{} message(s) could not be processed after several tries and wait in the dead-letter queue. Once the cause is fixed (see the logs), send them back: accueil requeue (on AWS: aws sqs start-message-move-task, see the README).",
                    self.dead_letters
                ),
                format!(
                    "{unacknowledged} customer(s) received no acknowledgement (the channel refused it or stayed unreachable): they are listed first."
                ),
            ),
        };
        env.get_template(template)
            .and_then(|t| {
                t.render(context! {
                    lang => self.language.code(),
                    page_hint => labels.page_hint.replace("{days}", &owner::LINK_LIFETIME.num_days().to_string()),
                    l => labels,
                    title,
                    summary,
                    quarantined => self.quarantined,
                    quarantined_line,
                    dead_letters => self.dead_letters,
                    dead_letters_line,
                    unacknowledged,
                    unacknowledged_line,
                    attention => self.quarantined > 0 || self.dead_letters > 0 || unacknowledged > 0,
                    snoozed_line,
                    pages,
                    threads => self.threads,
                })
            })
            .expect("the digest templates render from plain data")
    }

    /// Nothing waits for the owner: no conversation, nothing quarantined,
    /// no dead letter.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty() && self.quarantined == 0 && self.dead_letters == 0
    }

    pub fn html(&self) -> String {
        self.render("digest.html")
    }

    pub fn text(&self) -> String {
        self.render("digest.txt")
    }

    /// Sends this digest to the owner and records it as of when it was
    /// built, so that the next one counts what is new since.
    pub async fn deliver(
        &self,
        config: &Config,
        store: &dyn Store,
        mailer: &dyn Mailer,
    ) -> Result<String, DigestError> {
        let receipt = mailer.send(&self.email(config)).await?;
        store.record_digest(self.generated_at).await?;
        tracing::info!(
            threads = self.threads.len(),
            quarantined = self.quarantined,
            "digest sent"
        );
        Ok(receipt)
    }

    pub fn email(&self, config: &Config) -> OutgoingEmail {
        let subject = match self.language {
            Language::Fr => format!(
                "{} : {} conversation(s) en attente",
                self.business,
                self.threads.len()
            ),
            Language::En => format!(
                "{}: {} conversation(s) waiting",
                self.business,
                self.threads.len()
            ),
        };
        email::compose(&Draft {
            from_name: "Accueil",
            from: &config.business.sender_email,
            to_name: None,
            to: &config.business.owner_email,
            subject: &subject,
            text: &self.text(),
            html: &self.html(),
            date: self.generated_at,
            auto_reply: false,
            id: None,
            references: &[],
        })
    }
}

/// Builds the day's digest, sends it to the owner and remembers when, so
/// that the next one counts what is new since; its receipt, or None on a
/// day with nothing waiting when `[digest] when_empty = "skip"`.
pub async fn send(
    config: &Config,
    store: &dyn Store,
    mailer: &dyn Mailer,
    dead_letters: u64,
    now: DateTime<Utc>,
) -> Result<Option<String>, DigestError> {
    let digest = Digest::build(config, store, dead_letters, now).await?;
    if digest.is_empty() && config.digest_when_empty == WhenEmpty::Skip {
        // Not recorded: the next digest counts what is new since the last
        // one the owner received.
        tracing::info!("nothing waiting: no digest today ([digest] when_empty = \"skip\")");
        return Ok(None);
    }
    digest.deliver(config, store, mailer).await.map(Some)
}

fn line(config: &Config, thread: &Thread, new_messages: usize, now: DateTime<Utc>) -> DigestThread {
    let lang = config.business.language;
    let waited = now.signed_duration_since(thread.waits_since());
    let address = thread
        .contact
        .addresses
        .iter()
        .find(|a| a.channel == thread.channel)
        .map(|a| &a.address);
    DigestThread {
        id: thread.id.to_string(),
        channel: channels::label(thread.channel, lang).to_string(),
        contact: thread.contact.display(),
        address: address.map(|a| a.display().to_string()).unwrap_or_default(),
        waited: spell_wait(lang, waited),
        waited_seconds: waited.num_seconds(),
        excerpt: thread.last_excerpt.clone(),
        new_messages,
        reply_link: channels::reply_link(config, thread),
        page_link: owner::page_link(config, &thread.id, now),
        unacknowledged: thread.unacknowledged,
    }
}

/// The next time the digest is due: `digest.time` in the business's time
/// zone, today if still ahead, else tomorrow.
pub fn next_run(config: &Config, after: DateTime<Utc>) -> DateTime<Utc> {
    let tz = config.business.timezone;
    let mut day = after.with_timezone(&tz).date_naive();
    loop {
        let local = day.and_time(config.digest_time);
        // On a spring-forward day the time may not exist: take the instant after the gap.
        let at = tz.from_local_datetime(&local).earliest().or_else(|| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        });
        if let Some(at) = at.map(|t| t.with_timezone(&Utc)) {
            if at > after {
                return at;
            }
        }
        day = day.succ_opt().expect("dates this far are representable");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    fn paris(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Paris
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_digest_is_due_at_its_local_time_today_or_tomorrow() {
        let config = Config::demo(); // digest.time = 18:30, Europe/Paris
        assert_eq!(
            next_run(&config, paris(2026, 11, 24, 10, 0)),
            paris(2026, 11, 24, 18, 30)
        );
        assert_eq!(
            next_run(&config, paris(2026, 11, 24, 18, 30)),
            paris(2026, 11, 25, 18, 30)
        );
        // Across the change to summer time the local hour holds, not the UTC one.
        let before = next_run(&config, paris(2026, 3, 28, 19, 0));
        assert_eq!(before, paris(2026, 3, 29, 18, 30));
        assert_eq!(
            before.with_timezone(&Paris).format("%H:%M").to_string(),
            "18:30"
        );
    }

    #[test]
    fn a_digest_time_inside_the_spring_gap_moves_past_it() {
        let mut config = Config::demo();
        config.digest_time = chrono::NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        // 29 March 2026: 02:00-03:00 does not exist in Paris.
        let at = next_run(&config, paris(2026, 3, 29, 0, 0));
        assert_eq!(
            at.with_timezone(&Paris).format("%d %H:%M").to_string(),
            "29 03:30"
        );
    }
}
