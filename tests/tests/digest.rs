//! The owner's digest over real stored threads.

use accueil_core::digest::{self, Digest};
use accueil_core::ports::Store;
use accueil_e2e::{demo_config, open_hours, whatsapp_text, whatsapp_text_sent, Bench};
use chrono::Duration;

#[tokio::test]
async fn customer_text_is_escaped_in_the_html_digest() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    bench
        .post_form("name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&email=evil%40example.com&message=%3Cimg+src%3Dx+onerror%3Dalert(2)%3E+%26+co")
        .await;
    bench.settle().await;
    let d = Digest::build(&bench.config, &bench.database, 0, open_hours())
        .await
        .unwrap();
    let html = d.html();
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt; &amp; co"),
        "{html}"
    );
    // The plain-text part keeps the text as written.
    assert!(d.text().contains("<img src=x onerror=alert(2)> & co"));
    // Every label in the business's language, the channel's name too.
    for part in [&html, &d.text()] {
        assert!(part.contains("Formulaire du site"), "{part}");
        assert!(!part.contains("Web form"), "{part}");
    }
}

#[tokio::test]
async fn the_digest_lists_open_threads_longest_waiting_first_with_counts_since_the_last_one() {
    let bench = Bench::start(
        demo_config(&[("language = \"fr\"", "language = \"en\"")]),
        open_hours(),
    )
    .await;
    // Older first: the WhatsApp message carries its own timestamp (2026-11-28T…), the form takes the clock's.
    bench
        .post_form("name=Early&email=early%40example.com&message=First+question")
        .await;
    bench.settle().await;
    bench.clock.set(open_hours() + chrono::Duration::hours(3));
    bench
        .post_form("name=Late&email=late%40example.com&message=Second+question")
        .await;
    bench.settle().await;

    let now = open_hours() + chrono::Duration::hours(5);
    let d = Digest::build(&bench.config, &bench.database, 0, now)
        .await
        .unwrap();
    assert_eq!(d.threads.len(), 2);
    assert_eq!(d.threads[0].contact, "Early");
    assert_eq!(d.threads[0].waited, "5 hours");
    assert_eq!(d.threads[1].contact, "Late");
    assert_eq!(d.threads[1].waited, "2 hours");
    assert_eq!(d.threads[0].new_messages, 1);
    assert_eq!(
        d.threads[0].reply_link.as_deref(),
        Some(&*format!(
            "mailto:early@example.com?subject={}",
            d.threads[0].id
        ))
    );
    // Made for a phone: the viewport of its width, one card a
    // conversation, no table to scroll sideways.
    let html = d.html();
    assert!(
        html.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#),
        "{html}"
    );
    assert!(!html.contains("<table"), "{html}");
    let cards: Vec<&str> = html.split("<div ").skip(1).collect();
    assert_eq!(cards.len(), 2, "{html}");
    for (card, t) in cards.iter().zip(&d.threads) {
        for field in [&t.waited, &t.channel, &t.contact, &t.excerpt, &t.id] {
            assert!(card.contains(field.as_str()), "{field} in {card}");
        }
    }
    assert!(cards[0].contains("New: 1"), "{}", cards[0]);
    let text = d.text();
    assert!(
        text.find("Early").unwrap() < text.find("Late").unwrap(),
        "{text}"
    );

    // Sent: it lands in the outbox addressed to the owner, and the next one counts from here.
    digest::send(&bench.config, &bench.database, &bench.outbox, 0, now)
        .await
        .unwrap();
    let (_, eml) = bench
        .outbox_files()
        .into_iter()
        .find(|(n, _)| n.contains("-digest-"))
        .unwrap();
    // The owner has no name in the configuration: a bare address, not "".
    assert!(
        eml.contains("To: <owner@atelier-lune.example>\r\n"),
        "{eml}"
    );
    bench.clock.set(now + chrono::Duration::hours(1));
    bench
        .post_form("name=Late&email=late%40example.com&message=Any+news%3F")
        .await;
    bench.settle().await;
    let next = Digest::build(
        &bench.config,
        &bench.database,
        0,
        now + chrono::Duration::hours(2),
    )
    .await
    .unwrap();
    let late = next.threads.iter().find(|t| t.contact == "Late").unwrap();
    let early = next.threads.iter().find(|t| t.contact == "Early").unwrap();
    assert_eq!((late.new_messages, early.new_messages), (1, 0));
    assert_eq!(late.excerpt, "Any news?");
}

#[tokio::test]
async fn quarantined_payloads_are_counted_in_the_digest() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    bench
        .post_whatsapp(r#"{"object":"whatsapp_business_account","entry":7}"#)
        .await;
    bench
        .post_whatsapp(&whatsapp_text("33600000030", "wamid.D1", "Bonjour"))
        .await;
    bench.settle().await;
    let d = Digest::build(&bench.config, &bench.database, 0, open_hours())
        .await
        .unwrap();
    assert_eq!(d.quarantined, 1);
    assert!(
        d.text()
            .contains("1 message(s) authentique(s) illisible(s)"),
        "{}",
        d.text()
    );
    assert_eq!(bench.database.threads().await.unwrap().len(), 1);
}

/// WhatsApp stamps a message when the customer sends it, and Meta redelivers
/// hours or days later after an outage: what reached us after a digest is
/// new in the next one, whatever its stamp says.
#[tokio::test]
async fn what_arrives_after_a_digest_is_new_in_the_next_whatever_its_stamp() {
    let digest_at = open_hours();
    let bench = Bench::start(demo_config(&[]), digest_at).await;
    // One message from the same customer, stamped `sent`, reaching us at `stored`.
    let deliver = |id: &'static str, text: &'static str, sent, stored| {
        let bench = &bench;
        async move {
            bench.clock.set(stored);
            let payload = whatsapp_text_sent("33600000040", id, text, sent);
            assert_eq!(bench.post_whatsapp(&payload).await.status(), 200);
            bench.settle().await;
        }
    };
    let hour_before = digest_at - Duration::hours(1);
    deliver(
        "wamid.N1",
        "Avant le récapitulatif",
        hour_before,
        hour_before,
    )
    .await;
    bench.clock.set(digest_at);
    digest::send(&bench.config, &bench.database, &bench.outbox, 0, digest_at)
        .await
        .unwrap();
    // Stamped 18:29:59 for an 18:30:00 digest, stored at 18:30:05.
    let second_before = digest_at - Duration::seconds(1);
    deliver(
        "wamid.N2",
        "Juste avant",
        second_before,
        digest_at + Duration::seconds(5),
    )
    .await;
    // Sent yesterday, redelivered now.
    let yesterday = digest_at - Duration::days(1);
    deliver(
        "wamid.N3",
        "Hier",
        yesterday,
        digest_at + Duration::minutes(10),
    )
    .await;

    let next = Digest::build(
        &bench.config,
        &bench.database,
        0,
        digest_at + Duration::days(1),
    )
    .await
    .unwrap();
    assert_eq!(next.threads.len(), 1);
    assert_eq!(next.threads[0].new_messages, 2);
    // The owner reads the customers' own times, in the order they wrote.
    let thread = bench.database.threads().await.unwrap().remove(0);
    let full = bench.database.thread(&thread.id).await.unwrap().unwrap();
    let sent: Vec<_> = full.messages.iter().map(|m| m.sent_at).collect();
    assert_eq!(sent, [yesterday, hour_before, second_before]);
    assert_eq!(
        full.thread.last_message_at,
        digest_at + Duration::minutes(10)
    );
}

#[tokio::test]
async fn a_day_with_nothing_waiting_sends_nothing_or_one_line() {
    // As the daily timer sends it, with this many dead letters.
    async fn send_digest(bench: &Bench, dead_letters: u64) -> Option<String> {
        digest::send(
            &bench.config,
            &bench.database,
            &bench.outbox,
            dead_letters,
            open_hours(),
        )
        .await
        .unwrap()
    }
    let digest_file = |bench: &Bench| {
        bench
            .outbox_files()
            .into_iter()
            .find(|(n, _)| n.contains("-digest-"))
    };
    // By default, no email, and the next digest still counts from the last one sent.
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    let sent = send_digest(&bench, 0).await;
    assert_eq!(sent, None);
    assert!(digest_file(&bench).is_none());
    assert_eq!(bench.database.last_digest_at().await.unwrap(), None);
    // A dead letter is something to look at.
    let sent = send_digest(&bench, 1).await;
    assert!(sent.is_some());
    assert!(digest_file(&bench).is_some());

    let send = demo_config(&[(
        "time = \"18:30\"",
        "time = \"18:30\"\nwhen_empty = \"send\"",
    )]);
    let bench = Bench::start(send, open_hours()).await;
    let sent = send_digest(&bench, 0).await;
    assert!(sent.is_some());
    let (_, eml) = digest_file(&bench).expect("the digest in the outbox");
    assert!(eml.contains("Aucune conversation"), "{eml}");
}
