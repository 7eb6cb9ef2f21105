//! The commands that read and change stored threads: threads, thread,
//! close, digest, forget. They work on the local data, or with `--aws` on
//! the deployed table.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};

use accueil_core::channels;
use accueil_core::digest::Digest;
use accueil_core::domain::{
    AckState, Acknowledgement, Address, Author, Channel, ChannelAddress, EmailAddress, PhoneNumber,
    ThreadChange, ThreadId, UserId, Username,
};
use accueil_core::ports::ThreadWithMessages;
use accueil_core::wording::Language;

use crate::backend::Backend;
use crate::Place;

/// Opens the data. Locally, queued jobs are left to `serve`'s worker:
/// reading must not send acknowledgements.
async fn open(place: &Place) -> Result<Backend> {
    Backend::open(place).await
}

pub async fn threads(place: &Place, json: bool) -> Result<()> {
    let data = open(place).await?;
    let threads = data.store.threads().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&threads)?);
        return Ok(());
    }
    if threads.is_empty() {
        println!("No threads yet.");
    }
    for t in threads {
        println!(
            "{}  {:<8}  {:<8}  {:<24}  {:>3} msg  {}",
            t.id,
            t.status.as_str(),
            t.channel.as_str(),
            t.contact.display(),
            t.message_count,
            t.last_excerpt
        );
    }
    Ok(())
}

pub async fn find(data: &Backend, id: &str) -> Result<ThreadWithMessages> {
    let reference = ThreadId::parse(id)
        .with_context(|| format!("{id:?} is not a thread reference like T-4Z7KQ2M9XA"))?;
    if let Some(found) = data.store.thread(&reference).await? {
        return Ok(found);
    }
    // A reference the customer was shown before their message joined an
    // open thread (a form's thank-you page) names that message.
    for &channel in Channel::ALL {
        if let Some(thread) = data
            .store
            .thread_of_message(channel, reference.as_str())
            .await?
        {
            if let Some(found) = data.store.thread(&thread).await? {
                return Ok(found);
            }
        }
    }
    bail!("no thread {reference}")
}

pub async fn thread(place: &Place, id: &str, json: bool) -> Result<()> {
    let data = open(place).await?;
    let found = find(&data, id).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    let t = &found.thread;
    println!(
        "{} — {} on {} ({})",
        t.id,
        t.contact.display(),
        channels::label(t.channel, Language::En),
        t.status.as_str()
    );
    for a in &t.contact.addresses {
        println!("  {}", a.address.display());
    }
    let local = |t: DateTime<Utc>| {
        let at = t.with_timezone(&data.config.business.timezone);
        at.format("%Y-%m-%d %H:%M").to_string()
    };
    if let Some(until) = t.snoozed_until {
        println!("  snoozed until {}", local(until));
    }
    for m in &found.messages {
        let sent = match m.author {
            Author::Customer => local(m.sent_at),
            Author::Owner => format!("{}, you", local(m.sent_at)),
        };
        match (m.deleted_at, m.edited_at) {
            (Some(deleted), _) => {
                println!("\n[{sent}]\n(withdrawn by the customer {})", local(deleted))
            }
            (None, Some(edited)) => println!("\n[{sent}, edited {}]\n{}", local(edited), m.text),
            (None, None) => println!("\n[{sent}]\n{}", m.text),
        }
        for a in &m.attachments {
            println!("  + {} {}", a.kind, a.reference);
        }
        if let Some(ack) = &m.acknowledgement {
            let what = match m.author {
                Author::Customer => "acknowledgement",
                Author::Owner => "reply",
            };
            println!("  {what}: {}", acknowledgement_line(ack));
        }
    }
    Ok(())
}

/// `sent (wamid.…)`, `failed after 3 attempts: whatsapp answered 400`…
fn acknowledgement_line(ack: &Acknowledgement) -> String {
    let attempts = match ack.attempts {
        0 => String::new(),
        1 => " after 1 attempt".to_string(),
        n => format!(" after {n} attempts"),
    };
    match ack.state {
        AckState::Sent => format!(
            "sent{attempts} ({})",
            ack.receipt.as_deref().unwrap_or("no receipt")
        ),
        AckState::Failed => format!(
            "failed{attempts}: {}",
            ack.reason.as_deref().unwrap_or("no reason given")
        ),
        AckState::Skipped => format!(
            "none owed ({})",
            ack.reason.as_deref().unwrap_or("no reason given")
        ),
        AckState::Pending => match &ack.reason {
            Some(reason) => format!("pending, retrying{attempts} (last: {reason})"),
            None => "pending".to_string(),
        },
    }
}

pub async fn close(place: &Place, id: &str) -> Result<()> {
    let data = open(place).await?;
    let found = find(&data, id).await?;
    if data
        .store
        .change_thread(&found.thread.id, ThreadChange::Close, Utc::now())
        .await?
    {
        println!("{} closed.", found.thread.id);
    } else {
        println!("{} was already closed.", found.thread.id);
    }
    Ok(())
}

pub async fn digest(place: &Place, preview: Option<PathBuf>, send: bool) -> Result<()> {
    let data = open(place).await?;
    let now = Utc::now();
    let dead_letters = data.dead_letters().await?;
    let built = Digest::build(&data.config, data.store.as_ref(), dead_letters, now).await?;
    print!("{}", built.text());
    if let Some(path) = preview {
        std::fs::write(&path, built.html())
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("HTML preview written to {}", path.display());
    }
    if send {
        // The digest just printed is the one sent: no second read of the store.
        let receipt = built
            .deliver(&data.config, data.store.as_ref(), data.mailer.as_ref())
            .await?;
        eprintln!("Digest sent: {receipt}");
    }
    Ok(())
}

/// Reads what the owner typed as an address of any kind.
fn address_of(text: &str) -> Result<Address> {
    if let Ok(email) = EmailAddress::parse(text) {
        return Ok(Address::Email(email));
    }
    if let Ok(phone) = PhoneNumber::parse(text) {
        return Ok(Address::Phone(phone));
    }
    if text.starts_with('@') {
        if let Ok(name) = Username::parse(text) {
            return Ok(Address::Username(name));
        }
    }
    if let Ok(user) = UserId::parse(text) {
        return Ok(Address::UserId(user));
    }
    bail!("{text:?} is not an email address, a phone number (+33…), a @username or a channel's user id")
}

pub async fn forget(place: &Place, contact: &str) -> Result<()> {
    let data = open(place).await?;
    let address = address_of(contact)?;
    let mut forgotten_any = false;
    for &channel in Channel::ALL {
        let key = ChannelAddress::new(channel, address.clone());
        if let Some(f) = data.store.forget_contact(&key).await? {
            println!(
                "Forgot a {} contact: {} thread(s), {} message(s).",
                channels::label(channel, Language::En),
                f.threads,
                f.messages
            );
            forgotten_any = true;
        }
    }
    if !forgotten_any {
        println!("No contact known by that address.");
    }
    Ok(())
}
