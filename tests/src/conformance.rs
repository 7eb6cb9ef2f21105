//! One conformance suite for every `Store`: the same assertions run against
//! SQLite and against DynamoDB.

use chrono::{DateTime, Duration, TimeZone, Utc};

use accueil_core::digest::Digest;
use accueil_core::domain::{
    AckState, Acknowledgement, Address, Amendment, Author, Change, Channel, ChannelAddress,
    Contact, ContactId, EmailAddress, Message, MessageId, PhoneNumber, ProviderMessageId,
    Quarantined, Thread, ThreadChange, ThreadId, ThreadStatus,
};
use accueil_core::ports::{Amended, Appended, Appending, Claim, Store};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

fn contact(name: &str, email: &str, phone: &str) -> Contact {
    Contact {
        id: ContactId::generate(),
        name: Some(name.to_string()),
        addresses: vec![
            ChannelAddress::new(
                Channel::Webform,
                Address::Email(EmailAddress::parse(email).unwrap()),
            ),
            ChannelAddress::new(
                Channel::Webform,
                Address::Phone(PhoneNumber::parse(phone).unwrap()),
            ),
        ],
        created_at: t0(),
    }
}

fn thread(contact: &Contact, opened_at: DateTime<Utc>) -> Thread {
    Thread {
        id: ThreadId::generate(),
        contact: contact.clone(),
        channel: Channel::Webform,
        status: ThreadStatus::Open,
        opened_at,
        last_message_at: opened_at,
        message_count: 0,
        last_excerpt: String::new(),
        closed_at: None,
        snoozed_until: None,
        waiting_since: None,
        unacknowledged: false,
    }
}

/// A message sent and stored at the same instant.
fn message(thread: &Thread, provider_id: &str, at: DateTime<Utc>, text: &str) -> Message {
    late_message(thread, provider_id, at, at, text)
}

/// A message the provider stamped `sent` that Accueil stored at `stored`.
fn late_message(
    thread: &Thread,
    provider_id: &str,
    sent: DateTime<Utc>,
    stored: DateTime<Utc>,
    text: &str,
) -> Message {
    Message {
        id: MessageId::generate(),
        thread_id: thread.id.clone(),
        channel: thread.channel,
        provider_id: ProviderMessageId::parse(provider_id).unwrap(),
        author: Author::Customer,
        sent_at: sent,
        received_at: stored,
        text: text.to_string(),
        attachments: Vec::new(),
        edited_at: None,
        deleted_at: None,
        acknowledgement: None,
    }
}

/// Appends as process does, with the contact of the message's thread.
async fn append(store: &dyn Store, m: &Message) -> Appended {
    let thread = store
        .thread(&m.thread_id)
        .await
        .unwrap()
        .expect("the thread is stored");
    store
        .append_message(&Appending::to(m, &thread.thread.contact.id))
        .await
        .unwrap()
}

/// Runs every assertion against `store`, which must be empty.
pub async fn store(store: &dyn Store) {
    contacts_are_found_by_any_address(store).await;
    a_new_contact_is_all_or_nothing(store).await;
    a_first_message_brings_its_contact_and_thread(store).await;
    messages_are_deduplicated_and_ordered(store).await;
    threads_list_by_wait_and_by_activity_and_close(store).await;
    acknowledgements_are_owed_claimed_and_settled(store).await;
    quarantine_and_digest_marks(store).await;
    new_since_the_last_digest_is_by_the_time_we_stored(store).await;
    forgetting_erases_everything_of_a_contact(store).await;
    customers_edit_and_withdraw_their_messages(store).await;
    the_owner_answers_snoozes_closes_and_reopens(store).await;
}

async fn the_owner_answers_snoozes_closes_and_reopens(store: &dyn Store) {
    let lease = std::time::Duration::from_secs(60);
    let at = |hours| t0() + Duration::days(20) + Duration::hours(hours);
    let ines = contact("Inès", "ines@example.com", "+33600000120");
    store.save_contact(&ines).await.unwrap();
    let t = thread(&ines, at(0));
    store.open_thread(&t).await.unwrap();
    let asked = owed(
        message(&t, "o-1", at(0), "Un devis ?"),
        Acknowledgement::pending(),
    );
    append(store, &asked).await;
    // Its acknowledgement failed: the customer never heard back.
    let failed = Acknowledgement::failed("refused".into(), 1);
    store
        .settle_acknowledgement(&t.id, t.channel, &asked.provider_id, &failed)
        .await
        .unwrap();
    let status = |id: ThreadId| async move { store.thread(&id).await.unwrap().unwrap().thread };

    // The owner's reply: stored once, its first attempt leased with it; the
    // thread waits as before until it is sent.
    let reply = |id: &str, written| {
        let mut m = message(&t, id, written, "Oui, demain.");
        m.author = Author::Owner;
        m.acknowledgement = Some(Acknowledgement::pending());
        m
    };
    let first = reply("reply.o-1", at(1));
    let leased = at(1) + Duration::minutes(1);
    assert_eq!(
        store.append_reply(&first, leased).await.unwrap(),
        Appended::New
    );
    assert_eq!(
        store.append_reply(&first, leased).await.unwrap(),
        Appended::Duplicate
    );
    assert_eq!(status(t.id.clone()).await.status, ThreadStatus::Open);
    let claim = store.claim_acknowledgement(t.channel, &first.provider_id, 0, at(1), lease);
    assert_eq!(claim.await.unwrap(), Claim::Busy);
    // Refused: still waiting, in the digest; the reply shown failed.
    let refused = Acknowledgement::failed("whatsapp answered 400".into(), 1);
    store
        .settle_acknowledgement(&t.id, t.channel, &first.provider_id, &refused)
        .await
        .unwrap();
    assert_eq!(status(t.id.clone()).await.status, ThreadStatus::Open);
    // Another, sent: answered, and it counts for nothing else.
    let second = reply("reply.o-2", at(2));
    store.append_reply(&second, at(2)).await.unwrap();
    let sent = Acknowledgement::sent("r-2".into(), 1);
    store
        .settle_acknowledgement(&t.id, t.channel, &second.provider_id, &sent)
        .await
        .unwrap();
    let found = store.thread(&t.id).await.unwrap().unwrap();
    assert_eq!(found.thread.status, ThreadStatus::Answered);
    assert_eq!(found.thread.message_count, 1, "the count is the customer's");
    assert_eq!(found.thread.last_excerpt, "Un devis ?");
    assert!(
        found.thread.unacknowledged,
        "a reply sent is no acknowledgement"
    );
    let stored = |p: &ProviderMessageId| {
        found
            .messages
            .iter()
            .find(|m| &m.provider_id == p)
            .unwrap()
            .clone()
    };
    assert_eq!(stored(&second.provider_id).author, Author::Owner);
    assert_eq!(stored(&second.provider_id).acknowledgement, Some(sent));
    assert_eq!(stored(&first.provider_id).acknowledgement, Some(refused));
    let waiting = store.threads_by_wait(ThreadStatus::Open).await.unwrap();
    assert!(!waiting.iter().any(|w| w.id == t.id));
    let answered = store.threads_by_wait(ThreadStatus::Answered).await.unwrap();
    assert!(answered.iter().any(|w| w.id == t.id));
    // An answered thread is still the customer's live one.
    let live = store.live_thread_of(&ines.id, t.channel).await.unwrap();
    assert_eq!(live.map(|w| w.id), Some(t.id.clone()));

    // The customer writes again: open once more, waiting from this message.
    let again = message(&t, "o-2", at(3), "Merci ! Et samedi ?");
    let appending = Appending {
        reopens: Some(ThreadStatus::Answered),
        ..Appending::to(&again, &ines.id)
    };
    assert_eq!(
        store.append_message(&appending).await.unwrap(),
        Appended::New
    );
    let reopened = status(t.id.clone()).await;
    assert_eq!(
        (reopened.status, reopened.message_count),
        (ThreadStatus::Open, 2)
    );
    assert_eq!(reopened.waits_since(), at(3));
    assert_eq!(reopened.opened_at, at(0));

    // A reply written before that message, sent after it: still open.
    let late = reply("reply.o-3", at(2) + Duration::minutes(30));
    store.append_reply(&late, at(4)).await.unwrap();
    store
        .settle_acknowledgement(
            &t.id,
            t.channel,
            &late.provider_id,
            &Acknowledgement::sent("r-3".into(), 1),
        )
        .await
        .unwrap();
    assert_eq!(status(t.id.clone()).await.status, ThreadStatus::Open);

    // Snoozed, moved, woken by the customer (the wait unchanged), snoozed
    // again and reopened by the owner.
    let until = at(30);
    assert!(store
        .change_thread(&t.id, ThreadChange::Snooze { until }, at(4))
        .await
        .unwrap());
    let snoozed = status(t.id.clone()).await;
    assert_eq!(
        (snoozed.status, snoozed.snoozed_until),
        (ThreadStatus::Snoozed, Some(until))
    );
    let sleeping = store.threads_by_wait(ThreadStatus::Snoozed).await.unwrap();
    assert!(sleeping.iter().any(|w| w.id == t.id));
    let later = ThreadChange::Snooze { until: at(40) };
    assert!(store.change_thread(&t.id, later, at(4)).await.unwrap());
    let woken = message(&t, "o-3", at(5), "Vous êtes là ?");
    let appending = Appending {
        reopens: Some(ThreadStatus::Snoozed),
        ..Appending::to(&woken, &ines.id)
    };
    store.append_message(&appending).await.unwrap();
    let woke = status(t.id.clone()).await;
    assert_eq!(
        (woke.status, woke.snoozed_until),
        (ThreadStatus::Open, None)
    );
    assert_eq!(
        woke.waits_since(),
        at(3),
        "still waiting since before the snooze"
    );
    assert!(store.change_thread(&t.id, later, at(5)).await.unwrap());
    assert!(store
        .change_thread(&t.id, ThreadChange::Reopen, at(5))
        .await
        .unwrap());
    let again = store
        .change_thread(&t.id, ThreadChange::Reopen, at(5))
        .await
        .unwrap();
    assert!(!again, "open already");

    // Closed: only reopening applies; reopened, it is live again.
    assert!(store
        .change_thread(&t.id, ThreadChange::Close, at(6))
        .await
        .unwrap());
    let snooze = ThreadChange::Snooze { until };
    assert!(!store.change_thread(&t.id, snooze, at(6)).await.unwrap());
    assert_eq!(
        store.live_thread_of(&ines.id, t.channel).await.unwrap(),
        None
    );
    assert!(store
        .change_thread(&t.id, ThreadChange::Reopen, at(7))
        .await
        .unwrap());
    let reopened = status(t.id.clone()).await;
    assert_eq!(
        (reopened.status, reopened.closed_at),
        (ThreadStatus::Open, None)
    );
    let live = store.live_thread_of(&ines.id, t.channel).await.unwrap();
    assert_eq!(live.map(|w| w.id), Some(t.id.clone()));
    // A reply sent to a closed thread leaves it closed.
    assert!(store
        .change_thread(&t.id, ThreadChange::Close, at(8))
        .await
        .unwrap());
    let after = reply("reply.o-4", at(8));
    store.append_reply(&after, at(8)).await.unwrap();
    store
        .settle_acknowledgement(
            &t.id,
            t.channel,
            &after.provider_id,
            &Acknowledgement::sent("r-4".into(), 1),
        )
        .await
        .unwrap();
    assert_eq!(status(t.id.clone()).await.status, ThreadStatus::Closed);

    // The customer has a newer thread meanwhile: that one is where the
    // conversation goes on; the old one stays closed, the pointer theirs.
    let newer = thread(&ines, at(9));
    store.open_thread(&newer).await.unwrap();
    assert!(!store
        .change_thread(&t.id, ThreadChange::Reopen, at(10))
        .await
        .unwrap());
    assert_eq!(status(t.id.clone()).await.status, ThreadStatus::Closed);
    let live = store.live_thread_of(&ines.id, t.channel).await.unwrap();
    assert_eq!(live.map(|w| w.id), Some(newer.id.clone()));
    // A reply to a thread forgotten meanwhile is not stored.
    let gone = Message {
        thread_id: ThreadId::generate(),
        ..reply("reply.o-5", at(10))
    };
    assert_eq!(
        store.append_reply(&gone, at(10)).await.unwrap(),
        Appended::Duplicate
    );
}

async fn customers_edit_and_withdraw_their_messages(store: &dyn Store) {
    let yann = contact("Yann", "yann@example.com", "+33600000404");
    store.save_contact(&yann).await.unwrap();
    let t = thread(&yann, t0());
    store.open_thread(&t).await.unwrap();
    let first = message(&t, "a-1", t0(), "Premier");
    let second = message(&t, "a-2", t0() + Duration::minutes(1), "Second");
    append(store, &first).await;
    append(store, &second).await;
    let amend = |id: &str, change: Change| Amendment {
        channel: t.channel,
        provider_id: ProviderMessageId::parse(id).unwrap(),
        at: t0() + Duration::minutes(5),
        change,
    };
    let edited = Change::Edited {
        text: "Second, corrigé".into(),
        attachments: Vec::new(),
    };
    let applied = Amended::Applied(t.id.clone());
    assert_eq!(
        store
            .amend_message(&amend("a-2", edited.clone()))
            .await
            .unwrap(),
        applied
    );
    let read = store.thread(&t.id).await.unwrap().unwrap();
    assert_eq!(read.messages[1].text, "Second, corrigé");
    assert_eq!(
        read.messages[1].edited_at,
        Some(t0() + Duration::minutes(5))
    );
    assert_eq!(read.thread.last_excerpt, "Second, corrigé");
    assert_eq!(read.thread.message_count, 2);

    // Withdrawn: its words are gone, the excerpt and count go back to what is left.
    assert_eq!(
        store
            .amend_message(&amend("a-2", Change::Deleted))
            .await
            .unwrap(),
        applied
    );
    assert_eq!(
        store
            .amend_message(&amend("a-2", Change::Deleted))
            .await
            .unwrap(),
        applied
    );
    assert_eq!(
        store.amend_message(&amend("a-2", edited)).await.unwrap(),
        applied
    );
    let read = store.thread(&t.id).await.unwrap().unwrap();
    assert_eq!(
        (
            read.messages[1].text.as_str(),
            read.messages[1].attachments.len()
        ),
        ("", 0)
    );
    assert!(read.messages[1].deleted_at.is_some());
    assert_eq!(read.thread.last_excerpt, "Premier");
    assert_eq!(read.thread.message_count, 1);

    store
        .amend_message(&amend("a-1", Change::Deleted))
        .await
        .unwrap();
    let read = store.thread(&t.id).await.unwrap().unwrap();
    assert_eq!(
        (read.thread.last_excerpt.as_str(), read.thread.message_count),
        ("", 0)
    );
    // A message that comes after still takes the excerpt.
    append(
        store,
        &message(&t, "a-3", t0() + Duration::minutes(9), "Troisième"),
    )
    .await;
    let read = store.thread(&t.id).await.unwrap().unwrap();
    assert_eq!(
        (read.thread.last_excerpt.as_str(), read.thread.message_count),
        ("Troisième", 1)
    );

    assert_eq!(
        store
            .amend_message(&amend("never-stored", Change::Deleted))
            .await
            .unwrap(),
        Amended::Unknown
    );
}

async fn a_new_contact_is_all_or_nothing(store: &dyn Store) {
    let first = contact("Noé", "noe@example.com", "+33600000301");
    assert!(store.create_contact(&first).await.unwrap());
    // The same person, made at the same time by a second of their messages.
    let twin = contact("Noé", "noe-bis@example.com", "+33600000301");
    assert!(!store.create_contact(&twin).await.unwrap());
    let by_other = twin.addresses[0].clone();
    assert_eq!(store.find_contact(&[by_other]).await.unwrap(), None);
    let by_shared = twin.addresses[1].clone();
    assert_eq!(
        store
            .find_contact(&[by_shared])
            .await
            .unwrap()
            .map(|c| c.id),
        Some(first.id)
    );
}

async fn a_first_message_brings_its_contact_and_thread(store: &dyn Store) {
    let lou = contact("Lou", "lou@example.com", "+33600000401");
    let t = thread(&lou, t0());
    let first = owed(
        message(&t, "first-401", t0(), "Bonjour"),
        Acknowledgement::pending(),
    );
    let appending = Appending {
        new_contact: Some(&lou),
        new_thread: Some(&t),
        first_attempt_until: Some(t0() + Duration::seconds(60)),
        ..Appending::to(&first, &lou.id)
    };
    assert_eq!(
        store.append_message(&appending).await.unwrap(),
        Appended::New
    );
    let found = store.find_contact(&lou.addresses[1..]).await.unwrap();
    assert_eq!(found.map(|c| c.id), Some(lou.id.clone()));
    let opened = store
        .live_thread_of(&lou.id, Channel::Webform)
        .await
        .unwrap();
    let opened = opened.expect("the thread it opened");
    assert_eq!(opened.id, t.id);
    assert_eq!(opened.message_count, 1);
    assert_eq!(opened.last_excerpt, "Bonjour");
    assert_eq!(
        store
            .acknowledgements_to(&lou.id, t0() - Duration::hours(1))
            .await
            .unwrap(),
        [t0()]
    );
    // Its first attempt was leased with it: a second delivery waits, and
    // takes it over only once that lease has run out (its holder crashed).
    let lease = std::time::Duration::from_secs(60);
    let claim =
        |at| store.claim_acknowledgement(Channel::Webform, &first.provider_id, 0, at, lease);
    assert_eq!(
        claim(t0() + Duration::seconds(30)).await.unwrap(),
        Claim::Busy
    );
    assert_eq!(
        claim(t0() + Duration::seconds(61)).await.unwrap(),
        Claim::Claimed
    );
    let ack = acknowledgement_of(store, &first).await.unwrap();
    assert_eq!((ack.state, ack.attempts), (AckState::Pending, 1));

    // Delivered again after its thread was closed: the thread that the
    // retry would open is not written either.
    assert!(store
        .change_thread(&t.id, ThreadChange::Close, t0() + Duration::hours(1))
        .await
        .unwrap());
    let reopening = thread(&lou, t0() + Duration::hours(2));
    let again = Message {
        thread_id: reopening.id.clone(),
        ..first.clone()
    };
    let appending = Appending {
        new_thread: Some(&reopening),
        ..Appending::to(&again, &lou.id)
    };
    assert_eq!(
        store.append_message(&appending).await.unwrap(),
        Appended::Duplicate
    );
    assert_eq!(store.thread(&reopening.id).await.unwrap(), None);
    assert_eq!(
        store
            .live_thread_of(&lou.id, Channel::Webform)
            .await
            .unwrap(),
        None
    );

    // Another message of the same person, made as a new contact meanwhile:
    // nothing of it is written, and its job finds Lou when tried again.
    let twin = contact("Lou", "lou-bis@example.com", "+33600000401");
    let twin_thread = thread(&twin, t0() + Duration::hours(3));
    let raced = message(&twin_thread, "raced-401", t0() + Duration::hours(3), "Re");
    let appending = Appending {
        new_contact: Some(&twin),
        new_thread: Some(&twin_thread),
        ..Appending::to(&raced, &twin.id)
    };
    assert_eq!(
        store.append_message(&appending).await.unwrap(),
        Appended::ContactTaken
    );
    assert_eq!(store.thread(&twin_thread.id).await.unwrap(), None);
    assert_eq!(
        store
            .thread_of_message(Channel::Webform, "raced-401")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_contact(&twin.addresses[..1]).await.unwrap(),
        None
    );
}

async fn contacts_are_found_by_any_address(store: &dyn Store) {
    let anne = contact("Anne", "anne@example.com", "+33600000101");
    assert_eq!(store.find_contact(&anne.addresses).await.unwrap(), None);
    store.save_contact(&anne).await.unwrap();
    for address in &anne.addresses {
        assert_eq!(
            store
                .find_contact(std::slice::from_ref(address))
                .await
                .unwrap(),
            Some(anne.clone())
        );
    }
    // Matching is case-insensitive on email.
    let upper = ChannelAddress::new(
        Channel::Webform,
        Address::Email(EmailAddress::parse("ANNE@example.com").unwrap()),
    );
    assert_eq!(
        store.find_contact(&[upper]).await.unwrap().map(|c| c.id),
        Some(anne.id.clone())
    );
    let other_channel = ChannelAddress::new(
        Channel::Whatsapp,
        Address::Phone(PhoneNumber::parse("+33600000101").unwrap()),
    );
    assert_eq!(store.find_contact(&[other_channel]).await.unwrap(), None);

    // Saving again updates the name and learns a new address.
    let mut renamed = anne.clone();
    renamed.name = Some("Anne Martin".into());
    renamed.addresses.push(ChannelAddress::new(
        Channel::Webform,
        Address::Email(EmailAddress::parse("anne.martin@example.com").unwrap()),
    ));
    store.save_contact(&renamed).await.unwrap();
    let found = store
        .find_contact(&renamed.addresses[2..])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, renamed);

    // An address another contact owns stays with its owner.
    let thief = Contact {
        addresses: vec![anne.addresses[0].clone()],
        ..contact("Other", "other@example.com", "+33600000102")
    };
    store.save_contact(&thief).await.unwrap();
    assert_eq!(
        store
            .find_contact(&anne.addresses[..1])
            .await
            .unwrap()
            .map(|c| c.id),
        Some(anne.id)
    );
}

async fn messages_are_deduplicated_and_ordered(store: &dyn Store) {
    let bea = contact("Béa", "bea@example.com", "+33600000103");
    store.save_contact(&bea).await.unwrap();
    assert_eq!(
        store
            .live_thread_of(&bea.id, Channel::Webform)
            .await
            .unwrap(),
        None
    );
    let t = thread(&bea, t0());
    store.open_thread(&t).await.unwrap();
    assert_eq!(
        store
            .live_thread_of(&bea.id, Channel::Webform)
            .await
            .unwrap(),
        Some(t.clone())
    );
    assert_eq!(
        store
            .live_thread_of(&bea.id, Channel::Whatsapp)
            .await
            .unwrap(),
        None
    );

    let first = message(&t, "p-1", t0(), "Bonjour, première question");
    assert_eq!(append(store, &first).await, Appended::New);
    // The same provider id again, even under another message id, is a duplicate.
    let again = message(&t, "p-1", t0(), "Bonjour, première question");
    assert_eq!(append(store, &again).await, Appended::Duplicate);
    let later = message(&t, "p-2", t0() + Duration::minutes(10), "Et une deuxième");
    assert_eq!(append(store, &later).await, Appended::New);
    // Arriving late but written earlier: counted, without taking the excerpt.
    let earlier = message(&t, "p-3", t0() + Duration::minutes(5), "Entre les deux");
    assert_eq!(append(store, &earlier).await, Appended::New);

    let full = store.thread(&t.id).await.unwrap().unwrap();
    assert_eq!(full.thread.message_count, 3);
    assert_eq!(full.thread.last_excerpt, "Et une deuxième");
    assert_eq!(full.thread.last_message_at, t0() + Duration::minutes(10));
    let texts: Vec<&str> = full.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Bonjour, première question",
            "Entre les deux",
            "Et une deuxième"
        ]
    );
    assert_eq!(full.messages[0], first);
    assert_eq!(
        store
            .thread_of_message(Channel::Webform, "p-2")
            .await
            .unwrap(),
        Some(t.id.clone())
    );
    assert_eq!(
        store
            .thread_of_message(Channel::Whatsapp, "p-2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.thread(&ThreadId::generate()).await.unwrap(), None);
}

async fn threads_list_by_wait_and_by_activity_and_close(store: &dyn Store) {
    let base = t0() + Duration::days(1);
    let old = contact("Old", "old@example.com", "+33600000104");
    let new = contact("New", "new@example.com", "+33600000105");
    store.save_contact(&old).await.unwrap();
    store.save_contact(&new).await.unwrap();
    let t_old = thread(&old, base);
    let t_new = thread(&new, base + Duration::hours(2));
    store.open_thread(&t_new).await.unwrap();
    store.open_thread(&t_old).await.unwrap();
    append(
        store,
        &message(&t_new, "w-1", base + Duration::hours(2), "new"),
    )
    .await;
    append(
        store,
        &message(&t_old, "w-2", base + Duration::hours(3), "old, again"),
    )
    .await;

    let waiting: Vec<ThreadId> = store
        .threads_by_wait(ThreadStatus::Open)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let pos = |id: &ThreadId| waiting.iter().position(|w| w == id).unwrap();
    assert!(
        pos(&t_old.id) < pos(&t_new.id),
        "the longest waiting comes first"
    );
    let by_activity: Vec<ThreadId> = store
        .threads()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        by_activity[0], t_old.id,
        "the most recent activity comes first"
    );

    assert!(store
        .change_thread(&t_old.id, ThreadChange::Close, base + Duration::hours(4))
        .await
        .unwrap());
    assert!(!store
        .change_thread(&t_old.id, ThreadChange::Close, base + Duration::hours(5))
        .await
        .unwrap());
    assert!(!store
        .change_thread(&ThreadId::generate(), ThreadChange::Close, base)
        .await
        .unwrap());
    let closed = store.thread(&t_old.id).await.unwrap().unwrap().thread;
    assert_eq!(closed.status, ThreadStatus::Closed);
    assert_eq!(closed.closed_at, Some(base + Duration::hours(4)));
    assert!(!store
        .threads_by_wait(ThreadStatus::Open)
        .await
        .unwrap()
        .iter()
        .any(|t| t.id == t_old.id));
    assert!(store
        .threads()
        .await
        .unwrap()
        .iter()
        .any(|t| t.id == t_old.id));
    assert_eq!(
        store
            .live_thread_of(&old.id, Channel::Webform)
            .await
            .unwrap(),
        None
    );
    // A new thread may open for the same contact once the old one is closed.
    let reopened = thread(&old, base + Duration::hours(6));
    store.open_thread(&reopened).await.unwrap();
    assert_eq!(
        store
            .live_thread_of(&old.id, Channel::Webform)
            .await
            .unwrap()
            .map(|t| t.id),
        Some(reopened.id)
    );
}

fn owed(mut m: Message, ack: Acknowledgement) -> Message {
    m.acknowledgement = Some(ack);
    m
}

async fn acknowledgement_of(store: &dyn Store, m: &Message) -> Option<Acknowledgement> {
    let thread = store.thread(&m.thread_id).await.unwrap().unwrap();
    let stored = thread.messages.into_iter().find(|s| s.id == m.id).unwrap();
    stored.acknowledgement
}

async fn acknowledgements_are_owed_claimed_and_settled(store: &dyn Store) {
    let lease = std::time::Duration::from_secs(60);
    let cleo = contact("Cléo", "cleo@example.com", "+33600000106");
    store.save_contact(&cleo).await.unwrap();
    let t = thread(&cleo, t0());
    store.open_thread(&t).await.unwrap();
    let at = |hours| t0() + Duration::hours(hours);
    let first = owed(message(&t, "k-0", at(0), "one"), Acknowledgement::pending());
    let second = owed(message(&t, "k-5", at(5), "two"), Acknowledgement::pending());
    let quiet = owed(
        message(&t, "k-6", at(6), "three"),
        Acknowledgement::skipped("quiet_period"),
    );
    let third = owed(
        message(&t, "k-10", at(10), "four"),
        Acknowledgement::pending(),
    );
    for m in [&first, &second, &quiet, &third] {
        assert_eq!(append(store, m).await, Appended::New);
    }
    // Owed ones count for the quiet period and the daily cap; skipped ones do not.
    assert_eq!(
        store.acknowledgements_to(&cleo.id, at(4)).await.unwrap(),
        vec![at(5), at(10)]
    );
    assert!(store
        .acknowledgements_to(&ContactId::generate(), t0())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        acknowledgement_of(store, &quiet).await,
        Some(Acknowledgement::skipped("quiet_period"))
    );

    let claim = |m: &Message, attempt: u32, now: DateTime<Utc>| {
        let (channel, id) = (m.channel, m.provider_id.clone());
        async move {
            store
                .claim_acknowledgement(channel, &id, attempt, now, lease)
                .await
                .unwrap()
        }
    };
    let settle = |m: &Message, outcome: Acknowledgement| {
        let (thread, channel, id) = (m.thread_id.clone(), m.channel, m.provider_id.clone());
        async move {
            store
                .settle_acknowledgement(&thread, channel, &id, &outcome)
                .await
                .unwrap()
        }
    };
    // One attempt at a time; a failure for now hands over to the next attempt.
    let now = at(11);
    assert_eq!(claim(&first, 0, now).await, Claim::Claimed);
    assert_eq!(claim(&first, 0, now).await, Claim::Busy);
    settle(&first, Acknowledgement::retrying("timeout".into(), 1)).await;
    assert_eq!(
        acknowledgement_of(store, &first).await,
        Some(Acknowledgement::retrying("timeout".into(), 1))
    );
    assert_eq!(claim(&first, 0, now).await, Claim::Settled);
    assert_eq!(claim(&first, 1, now).await, Claim::Claimed);
    settle(&first, Acknowledgement::sent("r-1".into(), 2)).await;
    // Nothing changes a sent acknowledgement, and none is attempted again.
    settle(&first, Acknowledgement::failed("late".into(), 3)).await;
    assert_eq!(
        acknowledgement_of(store, &first).await,
        Some(Acknowledgement::sent("r-1".into(), 2))
    );
    for attempt in 0..4 {
        assert_eq!(claim(&first, attempt, now).await, Claim::Settled);
    }
    // A holder that crashed loses its lease when it runs out.
    assert_eq!(claim(&second, 0, now).await, Claim::Claimed);
    assert_eq!(
        claim(&second, 0, now + Duration::seconds(30)).await,
        Claim::Busy
    );
    assert_eq!(
        claim(&second, 0, now + Duration::minutes(2)).await,
        Claim::Claimed
    );
    settle(&second, Acknowledgement::failed("blocked".into(), 1)).await;
    assert_eq!(
        acknowledgement_of(store, &second).await.map(|a| a.state),
        Some(AckState::Failed)
    );
    // Skipped, unknown, or stored before acknowledgements were recorded.
    assert_eq!(claim(&quiet, 0, now).await, Claim::Settled);
    let unknown = message(&t, "k-unknown", at(1), "never stored");
    assert_eq!(claim(&unknown, 0, now).await, Claim::Settled);
    let before = message(&t, "k-before", at(1), "from an earlier version");
    append(store, &before).await;
    assert_eq!(claim(&before, 0, now).await, Claim::Settled);
    assert_eq!(acknowledgement_of(store, &before).await, None);

    // A thread whose every acknowledgement failed is flagged for the
    // digest; one with any acknowledgement sent is not.
    let dora = contact("Dora", "dora.ack@example.com", "+33600000117");
    store.save_contact(&dora).await.unwrap();
    let unheard = thread(&dora, t0());
    store.open_thread(&unheard).await.unwrap();
    let refused = owed(
        message(&unheard, "k-20", at(1), "hello?"),
        Acknowledgement::pending(),
    );
    append(store, &refused).await;
    assert_eq!(claim(&refused, 0, now).await, Claim::Claimed);
    settle(
        &refused,
        Acknowledgement::failed("invalid recipient".into(), 1),
    )
    .await;
    let open = store.threads_by_wait(ThreadStatus::Open).await.unwrap();
    let flag = |id: &ThreadId| open.iter().find(|o| &o.id == id).unwrap().unacknowledged;
    assert!(flag(&unheard.id));
    assert!(!flag(&t.id));
}

async fn quarantine_and_digest_marks(store: &dyn Store) {
    assert_eq!(store.last_digest_at().await.unwrap(), None);
    let small = Quarantined::new(Channel::Whatsapp, t0(), "not JSON".into(), b"%PDF");
    // Larger than one DynamoDB item can hold: it must still be kept whole.
    let large_body = format!("{{\"entry\":\"{}\"}}", "é".repeat(300 * 1024));
    let large = Quarantined::new(
        Channel::Whatsapp,
        t0() + Duration::hours(2),
        "unreadable".into(),
        large_body.as_bytes(),
    );
    store.quarantine(&small).await.unwrap();
    store.quarantine(&small).await.unwrap();
    store.quarantine(&large).await.unwrap();
    assert_eq!(store.quarantined_since(None).await.unwrap(), 2);
    // Listed latest first; each payload comes back whole, however it was split.
    let listed = store.quarantine_entries().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [large.id.as_str(), small.id.as_str()]);
    assert_eq!(
        (
            listed[1].channel,
            listed[1].received_at,
            listed[1].reason.as_str()
        ),
        (Channel::Whatsapp, t0(), "not JSON")
    );
    assert_eq!(
        store.quarantined_payload(&large.id).await.unwrap(),
        Some(large_body.clone())
    );
    assert_eq!(
        store
            .quarantined_payload(&small.id)
            .await
            .unwrap()
            .as_deref(),
        Some("%PDF")
    );
    assert_eq!(store.quarantined_payload("no-such-id").await.unwrap(), None);
    assert_eq!(
        store
            .quarantined_since(Some(t0() + Duration::hours(1)))
            .await
            .unwrap(),
        1
    );

    store
        .record_digest(t0() + Duration::hours(1))
        .await
        .unwrap();
    store
        .record_digest(t0() + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(
        store.last_digest_at().await.unwrap(),
        Some(t0() + Duration::hours(3))
    );
}

/// Each message keeps the sender's time and ours; the digest counts what
/// was stored since it last went out, whatever the sender's clock said.
async fn new_since_the_last_digest_is_by_the_time_we_stored(store: &dyn Store) {
    let digest_at = t0() + Duration::days(2);
    let dora = contact("Dora", "dora@example.com", "+33600000106");
    store.save_contact(&dora).await.unwrap();
    let t = thread(&dora, digest_at - Duration::hours(1));
    store.open_thread(&t).await.unwrap();
    let before = message(&t, "d-1", digest_at - Duration::hours(1), "Avant");
    append(store, &before).await;
    store.record_digest(digest_at).await.unwrap();
    // Stamped a second before the digest, stored after it.
    let stamped_before = late_message(
        &t,
        "d-2",
        digest_at - Duration::seconds(1),
        digest_at + Duration::seconds(5),
        "Juste avant",
    );
    // Redelivered a day late, after the digest.
    let redelivered = late_message(
        &t,
        "d-3",
        digest_at - Duration::days(1),
        digest_at + Duration::minutes(1),
        "Hier",
    );
    for m in [&stamped_before, &redelivered] {
        assert_eq!(append(store, m).await, Appended::New);
    }

    let full = store.thread(&t.id).await.unwrap().unwrap();
    // In the order they were sent, each with both times as written.
    assert_eq!(full.messages, [redelivered, before, stamped_before]);
    // Activity is when we last stored; the excerpt is the last one sent.
    assert_eq!(
        full.thread.last_message_at,
        digest_at + Duration::minutes(1)
    );
    assert_eq!(full.thread.last_excerpt, "Juste avant");
    assert_eq!(store.threads().await.unwrap()[0].id, t.id);

    let config = accueil_core::config::Config::demo();
    let digest = Digest::build(&config, store, 0, digest_at + Duration::hours(1))
        .await
        .unwrap();
    let line = digest
        .threads
        .iter()
        .find(|l| l.id == t.id.as_str())
        .unwrap();
    assert_eq!(line.new_messages, 2);
    // A thread with nothing stored since counts none.
    let bea = digest.threads.iter().find(|l| l.contact == "Béa").unwrap();
    assert_eq!(bea.new_messages, 0);
}

async fn forgetting_erases_everything_of_a_contact(store: &dyn Store) {
    let dan = contact("Dan", "dan@example.com", "+33600000107");
    store.save_contact(&dan).await.unwrap();
    let t = thread(&dan, t0());
    store.open_thread(&t).await.unwrap();
    append(store, &message(&t, "f-1", t0(), "private")).await;
    append(store, &message(&t, "f-2", t0(), "more private")).await;
    store
        .change_thread(&t.id, ThreadChange::Close, t0())
        .await
        .unwrap();
    let t2 = thread(&dan, t0() + Duration::hours(1));
    store.open_thread(&t2).await.unwrap();
    append(store, &message(&t2, "f-3", t0(), "again")).await;

    let forgotten = store
        .forget_contact(&dan.addresses[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((forgotten.threads, forgotten.messages), (2, 3));
    assert_eq!(store.find_contact(&dan.addresses).await.unwrap(), None);
    assert_eq!(store.thread(&t.id).await.unwrap(), None);
    assert_eq!(
        store
            .thread_of_message(Channel::Webform, "f-1")
            .await
            .unwrap(),
        None
    );
    assert!(!store
        .threads()
        .await
        .unwrap()
        .iter()
        .any(|x| x.contact.id == dan.id));
    assert_eq!(store.forget_contact(&dan.addresses[0]).await.unwrap(), None);
    // A forgotten provider id is new again.
    let back = contact("Dan", "dan@example.com", "+33600000107");
    store.save_contact(&back).await.unwrap();
    let t3 = thread(&back, t0());
    store.open_thread(&t3).await.unwrap();
    assert_eq!(
        append(store, &message(&t3, "f-1", t0(), "hello")).await,
        Appended::New
    );
}
