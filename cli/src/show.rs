//! The commands that read and change stored threads: threads, thread,
//! close, digest, forget.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::Utc;

use accueil_core::digest::{self, Digest};
use accueil_core::domain::{
    Address, BusinessScopedUserId, Channel, ChannelAddress, EmailAddress, PhoneNumber, ThreadId,
};
use accueil_core::ports::{Store, ThreadWithMessages};

use crate::local::Local;
use crate::Place;

/// Opens the local data. Queued jobs are left to `serve`'s worker: reading
/// must not send acknowledgements.
async fn open(place: &Place) -> Result<Local> {
    Local::open(place)
}

pub async fn threads(place: &Place, json: bool) -> Result<()> {
    let local = open(place).await?;
    let threads = local.database.threads().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&threads)?);
        return Ok(());
    }
    if threads.is_empty() {
        println!("No threads yet.");
    }
    for t in threads {
        println!(
            "{}  {:<6}  {:<8}  {:<24}  {:>3} msg  {}",
            t.id,
            format!("{:?}", t.status).to_lowercase(),
            t.channel.as_str(),
            t.contact.display(),
            t.message_count,
            t.last_excerpt
        );
    }
    Ok(())
}

async fn find(local: &Local, id: &str) -> Result<ThreadWithMessages> {
    let reference = ThreadId::parse(id)
        .with_context(|| format!("{id:?} is not a thread reference like T-4Z7KQ2M9XA"))?;
    if let Some(found) = local.database.thread(&reference).await? {
        return Ok(found);
    }
    // A form's reference names the submission when it joined an open thread.
    if let Some(thread) = local
        .database
        .thread_of_message(Channel::Webform, reference.as_str())
        .await?
    {
        if let Some(found) = local.database.thread(&thread).await? {
            return Ok(found);
        }
    }
    bail!("no thread {reference}")
}

pub async fn thread(place: &Place, id: &str, json: bool) -> Result<()> {
    let local = open(place).await?;
    let found = find(&local, id).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    let t = &found.thread;
    println!(
        "{} — {} on {} ({:?})",
        t.id,
        t.contact.display(),
        t.channel.label(),
        t.status
    );
    for a in &t.contact.addresses {
        println!("  {}", a.address.display());
    }
    for m in &found.messages {
        let local_time = m.received_at.with_timezone(&local.config.business.timezone);
        println!("\n[{}]\n{}", local_time.format("%Y-%m-%d %H:%M"), m.text);
        for a in &m.attachments {
            println!("  + {} {}", a.kind, a.reference);
        }
    }
    Ok(())
}

pub async fn close(place: &Place, id: &str) -> Result<()> {
    let local = open(place).await?;
    let found = find(&local, id).await?;
    if local
        .database
        .close_thread(&found.thread.id, Utc::now())
        .await?
    {
        println!("{} closed.", found.thread.id);
    } else {
        println!("{} was already closed.", found.thread.id);
    }
    Ok(())
}

pub async fn digest(place: &Place, preview: Option<PathBuf>, send: bool) -> Result<()> {
    let local = open(place).await?;
    let now = Utc::now();
    let dead_letters = local.database.queue_stats().await?.dead;
    let built = Digest::build(&local.config, &local.database, dead_letters, now).await?;
    print!("{}", built.text());
    if let Some(path) = preview {
        std::fs::write(&path, built.html())
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("HTML preview written to {}", path.display());
    }
    if send {
        let file = digest::send(&local.config, &local.database, &local.outbox, dead_letters, now).await?;
        eprintln!("Digest sent: {file}");
    }
    Ok(())
}

/// Reads what the owner typed as an address of any kind.
fn address_of(text: &str) -> Result<Address> {
    if let Ok(email) = EmailAddress::parse(text) {
        return Ok(Address::Email(email));
    }
    if let Ok(user) = BusinessScopedUserId::parse(text) {
        return Ok(Address::WhatsappUser(user));
    }
    if let Ok(phone) = PhoneNumber::parse(text) {
        return Ok(Address::Phone(phone));
    }
    bail!("{text:?} is not an email address, a phone number (+33…) or a WhatsApp user id")
}

pub async fn forget(place: &Place, contact: &str) -> Result<()> {
    let local = open(place).await?;
    let address = address_of(contact)?;
    let mut forgotten_any = false;
    for channel in Channel::ALL {
        if let Some(f) = local
            .database
            .forget_contact(&ChannelAddress::new(channel, address.clone()))
            .await?
        {
            println!(
                "Forgot a {} contact: {} thread(s), {} message(s).",
                channel.label(),
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
