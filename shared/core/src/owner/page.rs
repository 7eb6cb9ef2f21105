//! The owner's pages, rendered on the server through the same templating
//! as the digest (customer text escaped): a thread, and a refusal.

use chrono::{DateTime, Utc};
use minijinja::{context, Environment};
use serde::Serialize;

use crate::ack::Skip;
use crate::channels;
use crate::channels::NoReply;
use crate::config::Config;
use crate::domain::{AckState, Author, Message, ThreadStatus};
use crate::owner::later::{self, Later};
use crate::owner::reply::{window_closed, Reply};
use crate::owner::LINK_LIFETIME;
use crate::ports::ThreadWithMessages;
use crate::wording::{spell_moment, Language};

/// What the page says happened, after a form's redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Replied,
    Done,
    Later,
    Reopened,
    /// The action no longer applied (the thread changed meanwhile).
    Unchanged,
    /// A reply that was empty, too long for the channel, or too late for
    /// its window: nothing sent, the text given back.
    Empty,
    TooLong,
    WindowClosed,
}

impl Notice {
    pub fn parse(s: &str) -> Option<Notice> {
        Some(match s {
            "reply" => Notice::Replied,
            "done" => Notice::Done,
            "later" => Notice::Later,
            "reopen" => Notice::Reopened,
            "unchanged" => Notice::Unchanged,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Replied => "reply",
            Notice::Done => "done",
            Notice::Later => "later",
            Notice::Reopened => "reopen",
            Notice::Unchanged => "unchanged",
            Notice::Empty => "empty",
            Notice::TooLong => "long",
            Notice::WindowClosed => "window",
        }
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_template(
        "thread.html",
        include_str!("../../templates/owner/thread.html"),
    )
    .expect("the thread page template parses");
    env.add_template(
        "refused.html",
        include_str!("../../templates/owner/refused.html"),
    )
    .expect("the refusal page template parses");
    env
}

#[derive(Serialize)]
struct Line {
    owner: bool,
    who: String,
    when: String,
    text: String,
    withdrawn: bool,
    attachments: Vec<String>,
    /// What became of the acknowledgement or the reply's delivery.
    state: Option<String>,
    failed: bool,
}

#[derive(Serialize)]
struct Choice {
    label: String,
    value: String,
}

/// What a page shows besides its thread: the tokens its forms carry, what
/// just happened, and a reply given back unsent.
pub struct View<'a> {
    pub link_token: &'a str,
    pub form_token: &'a str,
    pub notice: Option<Notice>,
    pub draft: &'a str,
}

/// A thread's page.
pub fn thread(
    config: &Config,
    found: &ThreadWithMessages,
    view: &View<'_>,
    now: DateTime<Utc>,
) -> String {
    let lang = config.business.language;
    let l = labels(lang);
    let t = &found.thread;
    let tz = config.business.timezone;
    let when =
        |at: DateTime<Utc>| spell_moment(lang, at.with_timezone(&tz), now.with_timezone(&tz));
    let lines: Vec<Line> = found
        .messages
        .iter()
        .map(|m| line(config, found, m, &when))
        .collect();
    let status = match t.status {
        ThreadStatus::Open => l.open.to_string(),
        ThreadStatus::Answered => l.answered.to_string(),
        ThreadStatus::Snoozed => match t.snoozed_until {
            Some(until) => format!("{} {}", l.snoozed_until, when(until)),
            None => l.open.to_string(),
        },
        ThreadStatus::Closed => l.closed.to_string(),
    };
    let live = t.status != ThreadStatus::Closed;
    // Whether the channel takes a reply now, and if not, why.
    // Meta counts its window in hours.
    let window = channels::reply_window(t.channel)
        .map(|w| match lang {
            Language::Fr => format!("{} heures", w.as_secs() / 3600),
            Language::En => format!("{} hours", w.as_secs() / 3600),
        })
        .unwrap_or_default();
    let cannot_reply = match (
        channels::can_reply(config, found),
        window_closed(found, now),
    ) {
        (Err(NoReply::NotEnabled), _) => Some(l.not_enabled.to_string()),
        (Err(NoReply::NoAddress), _) => Some(l.no_address.to_string()),
        (Ok(()), Some(closed)) => Some(format!("{} {window} ({})", l.window_closed, when(closed))),
        (Ok(()), None) => None,
    };
    let addresses: Vec<String> = t
        .contact
        .addresses
        .iter()
        .filter(|a| a.channel == t.channel)
        .map(|a| a.address.display().to_string())
        .collect();
    let max_reply = channels::max_reply_bytes(t.channel);
    let notice = view.notice.map(|n| match n {
        Notice::Replied => l.replied.to_string(),
        Notice::Done => l.done_notice.to_string(),
        Notice::Later => l.later_notice.to_string(),
        Notice::Reopened => l.reopened_notice.to_string(),
        Notice::Unchanged => l.unchanged_notice.to_string(),
        Notice::Empty => l.empty_notice.to_string(),
        Notice::TooLong => l.too_long_notice.replace("{max}", &max_reply.to_string()),
        Notice::WindowClosed => l.window_notice.to_string(),
    });
    let problem = matches!(
        view.notice,
        Some(Notice::Empty | Notice::TooLong | Notice::WindowClosed | Notice::Unchanged)
    );
    environment()
        .get_template("thread.html")
        .and_then(|template| {
            template.render(context! {
                lang => lang.code(),
                l,
                business => config.business.name,
                id => t.id.as_str(),
                channel => channels::label(t.channel, lang),
                contact => t.contact.display(),
                addresses,
                status,
                live,
                closed => t.status == ThreadStatus::Closed,
                open => t.status == ThreadStatus::Open,
                lines,
                cannot_reply,
                app_link => channels::reply_link(config, t),
                choices => later_choices(config, now),
                t => view.link_token,
                form_token => view.form_token,
                reply_id => Reply::new_id(),
                draft => view.draft,
                notice,
                problem,
                max_reply,
            })
        })
        .expect("the thread page renders from plain data")
}

fn line(
    config: &Config,
    found: &ThreadWithMessages,
    m: &Message,
    when: &dyn Fn(DateTime<Utc>) -> String,
) -> Line {
    let l = labels(config.business.language);
    let owner = m.author == Author::Owner;
    let state = m.acknowledgement.as_ref().map(|a| {
        let reason = a.reason.as_deref().unwrap_or_default();
        match (owner, a.state) {
            (false, AckState::Sent) => l.ack_sent.to_string(),
            (false, AckState::Pending) => l.ack_pending.to_string(),
            (false, AckState::Failed) => format!("{}{} {reason}", l.ack_failed, l.colon),
            (false, AckState::Skipped) => {
                let why = match Skip::parse(reason) {
                    Some(Skip::QuietPeriod) => l.skip_quiet,
                    Some(Skip::DailyCap) => l.skip_cap,
                    Some(Skip::ChannelNotEnabled) => l.skip_channel,
                    None => reason,
                };
                format!("{}{} {why}", l.ack_skipped, l.colon)
            }
            (true, AckState::Sent) => l.reply_sent.to_string(),
            (true, AckState::Pending) => l.reply_pending.to_string(),
            (true, AckState::Failed | AckState::Skipped) => {
                format!("{}{} {reason}", l.reply_failed, l.colon)
            }
        }
    });
    Line {
        owner,
        who: if owner {
            l.you.to_string()
        } else {
            found.thread.contact.display()
        },
        when: when(m.sent_at),
        text: m.text.clone(),
        withdrawn: m.deleted_at.is_some(),
        attachments: m
            .attachments
            .iter()
            .map(|a| {
                let name = a.filename.as_deref().unwrap_or(&a.kind);
                match &a.mime_type {
                    Some(mime) => format!("{name} ({mime})"),
                    None => name.to_string(),
                }
            })
            .collect(),
        failed: m
            .acknowledgement
            .as_ref()
            .is_some_and(|a| a.state == AckState::Failed),
        state,
    }
}

/// "Later": the usual moments still to come, in the business's words.
fn later_choices(config: &Config, now: DateTime<Utc>) -> Vec<Choice> {
    let lang = config.business.language;
    let l = labels(lang);
    let tz = config.business.timezone;
    Later::ALL
        .into_iter()
        .filter_map(|later| {
            let at = later
                .at(config, now)
                .filter(|at| later::accepts(*at, now))?;
            let label = match later {
                Later::TomorrowMorning => l.tomorrow,
                Later::NextOpening => l.next_opening,
                Later::NextWeek => l.next_week,
            };
            Some(Choice {
                label: format!(
                    "{label} ({})",
                    spell_moment(lang, at.with_timezone(&tz), now.with_timezone(&tz))
                ),
                value: at.to_rfc3339(),
            })
        })
        .collect()
}

/// The page a refused link or a missing thread gets.
pub fn refused(config: &Config, why: Refusal) -> String {
    let l = labels(config.business.language);
    let days = LINK_LIFETIME.num_days();
    let (title, text) = match why {
        Refusal::Invalid => (l.invalid_title, l.invalid_text.to_string()),
        Refusal::Expired => (
            l.expired_title,
            l.expired_text.replace("{days}", &days.to_string()),
        ),
        Refusal::Gone => (l.gone_title, l.gone_text.to_string()),
        Refusal::Form => (l.form_title, l.form_text.to_string()),
    };
    environment()
        .get_template("refused.html")
        .and_then(|template| {
            template.render(context! {
                lang => config.business.language.code(),
                business => config.business.name,
                title,
                text,
            })
        })
        .expect("the refusal page renders from plain data")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Invalid,
    Expired,
    /// No such thread (never was, or forgotten).
    Gone,
    /// A form without its token, or another page's.
    Form,
}

#[derive(Serialize)]
struct Labels {
    colon: &'static str,
    conversation: &'static str,
    open: &'static str,
    answered: &'static str,
    snoozed_until: &'static str,
    closed: &'static str,
    you: &'static str,
    withdrawn: &'static str,
    ack_sent: &'static str,
    ack_pending: &'static str,
    ack_failed: &'static str,
    ack_skipped: &'static str,
    skip_quiet: &'static str,
    skip_cap: &'static str,
    skip_channel: &'static str,
    reply_sent: &'static str,
    reply_pending: &'static str,
    reply_failed: &'static str,
    reply: &'static str,
    reply_label: &'static str,
    send: &'static str,
    not_enabled: &'static str,
    no_address: &'static str,
    window_closed: &'static str,
    open_app: &'static str,
    copy_draft: &'static str,
    done: &'static str,
    later: &'static str,
    later_label: &'static str,
    reopen: &'static str,
    tomorrow: &'static str,
    next_opening: &'static str,
    next_week: &'static str,
    replied: &'static str,
    done_notice: &'static str,
    later_notice: &'static str,
    reopened_notice: &'static str,
    unchanged_notice: &'static str,
    empty_notice: &'static str,
    too_long_notice: &'static str,
    window_notice: &'static str,
    invalid_title: &'static str,
    invalid_text: &'static str,
    expired_title: &'static str,
    expired_text: &'static str,
    gone_title: &'static str,
    gone_text: &'static str,
    form_title: &'static str,
    form_text: &'static str,
}

fn labels(lang: Language) -> &'static Labels {
    match lang {
        Language::Fr => &FR,
        Language::En => &EN,
    }
}

const FR: Labels = Labels {
    colon: " :",
    conversation: "Conversation",
    open: "En attente de votre réponse",
    answered: "Répondu",
    snoozed_until: "Remis à plus tard, jusqu'à",
    closed: "Terminé",
    you: "Vous",
    withdrawn: "Message retiré par le client",
    ack_sent: "Accusé de réception envoyé",
    ack_pending: "Accusé de réception en cours d'envoi",
    ack_failed: "Accusé de réception non délivré",
    ack_skipped: "Pas d'accusé de réception",
    skip_quiet: "un autre venait de partir (période de silence)",
    skip_cap: "le maximum du jour pour ce client était atteint",
    skip_channel: "le canal n'était plus activé",
    reply_sent: "Envoyé",
    reply_pending: "En cours d'envoi",
    reply_failed: "Non envoyé",
    reply: "Répondre",
    reply_label: "Votre réponse",
    send: "Envoyer",
    not_enabled: "Ce canal n'est plus activé : la réponse ne peut pas partir d'ici.",
    no_address: "Ce client n'a pas d'adresse à laquelle ce canal peut écrire.",
    window_closed: "Le canal ne permet plus d'écrire à ce client : son dernier message date de plus de",
    open_app: "Répondre depuis l'application",
    copy_draft: "Votre texte, à copier dans l'application",
    done: "Terminé",
    later: "Plus tard",
    later_label: "Remettre à",
    reopen: "Rouvrir",
    tomorrow: "Demain matin",
    next_opening: "À la prochaine ouverture",
    next_week: "La semaine prochaine",
    replied: "Votre réponse est enregistrée ; elle part sur le canal du client.",
    done_notice: "Conversation terminée. Vous pouvez la rouvrir ci-dessous.",
    later_notice: "Conversation remise à plus tard : elle reviendra dans le résumé à l'heure choisie.",
    reopened_notice: "Conversation rouverte : elle sera dans le prochain résumé.",
    unchanged_notice: "Rien n'a changé : la conversation avait changé entre-temps.",
    empty_notice: "La réponse est vide : rien n'est parti.",
    too_long_notice: "La réponse est trop longue pour ce canal : rien n'est parti. Raccourcissez-la : {max} octets au plus.",
    window_notice: "Le canal ne permet plus d'écrire à ce client : rien n'est parti.",
    invalid_title: "Lien non valable",
    invalid_text: "Ce lien n'ouvre pas cette conversation. Utilisez le lien du dernier résumé reçu.",
    expired_title: "Lien expiré",
    expired_text: "Ce lien a plus de {days} jours. Le prochain résumé en contient un nouveau.",
    gone_title: "Conversation introuvable",
    gone_text: "Cette conversation n'existe plus (le client a peut-être été effacé).",
    form_title: "Action refusée",
    form_text: "Ce formulaire ne vient pas de la page de la conversation. Rouvrez le lien du résumé et recommencez.",
};

const EN: Labels = Labels {
    colon: ":",
    conversation: "Conversation",
    open: "Waiting for your answer",
    answered: "Answered",
    snoozed_until: "Put off until",
    closed: "Done",
    you: "You",
    withdrawn: "Message withdrawn by the customer",
    ack_sent: "Acknowledgement sent",
    ack_pending: "Acknowledgement being sent",
    ack_failed: "Acknowledgement not delivered",
    ack_skipped: "No acknowledgement",
    skip_quiet: "another had just gone (quiet period)",
    skip_cap: "the day's maximum for this customer was reached",
    skip_channel: "the channel was no longer enabled",
    reply_sent: "Sent",
    reply_pending: "Being sent",
    reply_failed: "Not sent",
    reply: "Reply",
    reply_label: "Your answer",
    send: "Send",
    not_enabled: "This channel is no longer enabled: the answer cannot go from here.",
    no_address: "This customer has no address this channel can write to.",
    window_closed: "The channel no longer lets you write to this customer: their last message is older than",
    open_app: "Answer from the app",
    copy_draft: "Your text, to copy into the app",
    done: "Done",
    later: "Later",
    later_label: "Put off until",
    reopen: "Reopen",
    tomorrow: "Tomorrow morning",
    next_opening: "Next opening",
    next_week: "Next week",
    replied: "Your answer is saved; it is on its way on the customer's channel.",
    done_notice: "Conversation done. You can reopen it below.",
    later_notice: "Conversation put off: it comes back in the digest at the time chosen.",
    reopened_notice: "Conversation reopened: it will be in the next digest.",
    unchanged_notice: "Nothing changed: the conversation had changed meanwhile.",
    empty_notice: "The answer is empty: nothing was sent.",
    too_long_notice: "The answer is too long for this channel: nothing was sent. Shorten it to {max} bytes at most.",
    window_notice: "The channel no longer lets you write to this customer: nothing was sent.",
    invalid_title: "Link not valid",
    invalid_text: "This link does not open this conversation. Use the link of the latest digest.",
    expired_title: "Link expired",
    expired_text: "This link is more than {days} days old. The next digest has a new one.",
    gone_title: "Conversation not found",
    gone_text: "This conversation no longer exists (the customer may have been forgotten).",
    form_title: "Action refused",
    form_text: "This form does not come from the conversation's page. Open the digest's link again and retry.",
};
