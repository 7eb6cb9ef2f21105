//! Acknowledgements are owed until delivered: on the local backend, a
//! channel API that fails for minutes, refuses, hangs, or a process killed
//! in the middle of a send; the customer is acknowledged exactly once, or
//! the thread and the digest say why not. Time is the bench's clock.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Duration;

use accueil_core::channels::Channel;
use accueil_core::config::{Config, LocalSecrets};
use accueil_core::digest::Digest;
use accueil_core::domain::{AckState, Acknowledgement, ThreadId};
use accueil_core::ports::Store;
use accueil_e2e::{demo_text_with_api, open_hours, Answer, Bench, StandIn};
use accueil_embedded::worker;

async fn bench_with(stand_in: &StandIn) -> Bench {
    let config = Config::parse(&demo_text_with_api(&stand_in.base), &LocalSecrets).unwrap();
    Bench::start(config, open_hours()).await
}

/// Posts one WhatsApp message and handles what is due; its thread.
async fn one_message(bench: &Bench, id: &str) -> ThreadId {
    let request = bench.sample(Channel::Whatsapp, id, "Bonjour, une table pour ce soir ?");
    let response = bench.post_sample(&request).await;
    assert_eq!(response.status(), 200);
    bench.settle().await;
    let threads = bench.database.threads().await.unwrap();
    threads[0].id.clone()
}

async fn acknowledgement(bench: &Bench, thread: &ThreadId) -> Acknowledgement {
    let stored = bench.database.thread(thread).await.unwrap().unwrap();
    stored.messages[0].acknowledgement.clone().unwrap()
}

#[tokio::test]
async fn an_api_failing_for_five_minutes_is_retried_and_acknowledges_once_it_recovers() {
    let stand_in = StandIn::start().await;
    stand_in.answer(Answer::Fail(503));
    let bench = bench_with(&stand_in).await;
    let thread = one_message(&bench, "wamid.FIVE").await;
    let ack = acknowledgement(&bench, &thread).await;
    assert_eq!((ack.state, ack.attempts), (AckState::Pending, 1));
    assert_eq!(
        ack.reason.as_deref(),
        Some("whatsapp answered 503 Service Unavailable")
    );

    // Five minutes of failures, looked at every ten seconds.
    for _ in 0..30 {
        bench.advance(Duration::seconds(10));
        bench.settle().await;
    }
    let ack = acknowledgement(&bench, &thread).await;
    assert_eq!(ack.state, AckState::Pending);
    // Doubling from about a second (jittered between half and all of it):
    // 1, 2, 4, 8, 16, 32, 64, 120 s… within 300 s, 7 to 10 attempts.
    assert!((7..=10).contains(&ack.attempts), "{ack:?}");
    assert_eq!(
        stand_in.attempts.load(Ordering::SeqCst),
        ack.attempts as usize
    );
    assert_eq!(stand_in.delivered(), 0);

    stand_in.answer(Answer::Accept);
    bench.advance(Duration::minutes(2));
    bench.settle().await;
    let ack = acknowledgement(&bench, &thread).await;
    assert_eq!(ack.state, AckState::Sent, "{ack:?}");
    assert_eq!(ack.receipt.as_deref(), Some("wamid.SENT1"));
    // Delivered once, and nothing more is due.
    for _ in 0..10 {
        bench.advance(Duration::minutes(5));
        bench.settle().await;
    }
    assert_eq!(stand_in.delivered(), 1);
    assert_eq!(bench.database.queue_stats().await.unwrap().waiting, 0);
}

#[tokio::test]
async fn a_refusal_is_final_and_the_digest_lists_the_customer_first() {
    let stand_in = StandIn::start().await;
    let bench = bench_with(&stand_in).await;
    // A first customer, acknowledged; then one the channel refuses.
    let request = bench.sample(Channel::Telegram, "7", "Bonjour");
    bench.post_sample(&request).await;
    bench.settle().await;
    stand_in.answer(Answer::Fail(400));
    bench.advance(Duration::minutes(1));
    let refused = one_message(&bench, "wamid.REFUSED").await;
    let ack = acknowledgement(&bench, &refused).await;
    assert_eq!(ack.state, AckState::Failed);
    assert_eq!(ack.attempts, 1);
    assert_eq!(
        ack.reason.as_deref(),
        Some("whatsapp answered 400 Bad Request")
    );
    // Never tried again.
    bench.advance(Duration::hours(1));
    bench.settle().await;
    assert_eq!(stand_in.attempts.load(Ordering::SeqCst), 2);

    let digest = Digest::build(&bench.config, &bench.database, 0, bench.database.now())
        .await
        .unwrap();
    let ids: Vec<&str> = digest.threads.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    // Waiting less than the other, but first: it never heard back.
    assert_eq!(ids[0], refused.as_str());
    assert!(digest.threads[0].unacknowledged && !digest.threads[1].unacknowledged);
    let text = digest.text();
    assert!(
        text.contains("1 client(s) n'ont reçu aucun accusé de réception"),
        "{text}"
    );
    assert!(text.contains("! Accusé de réception non délivré"), "{text}");
}

#[tokio::test]
async fn an_acknowledgement_still_failing_when_the_reply_window_closes_is_given_up() {
    let stand_in = StandIn::start().await;
    stand_in.answer(Answer::Fail(500));
    let bench = bench_with(&stand_in).await;
    let thread = one_message(&bench, "wamid.WINDOW").await;
    for _ in 0..25 {
        bench.advance(Duration::hours(1));
        bench.settle().await;
    }
    let ack = acknowledgement(&bench, &thread).await;
    assert_eq!(ack.state, AckState::Failed, "{ack:?}");
    assert!(
        ack.reason
            .as_deref()
            .unwrap()
            .starts_with("still failing when retrying ended")
            || ack
                .reason
                .as_deref()
                .unwrap()
                .starts_with("no longer worth sending"),
        "{ack:?}"
    );
    let digest = Digest::build(&bench.config, &bench.database, 0, bench.database.now())
        .await
        .unwrap();
    assert!(digest.threads[0].unacknowledged);
    // Nothing is left to try.
    let tried = stand_in.attempts.load(Ordering::SeqCst);
    bench.advance(Duration::hours(2));
    bench.settle().await;
    assert_eq!(stand_in.attempts.load(Ordering::SeqCst), tried);
    assert_eq!(bench.database.queue_stats().await.unwrap().waiting, 0);
}

#[tokio::test]
async fn a_process_killed_in_the_middle_of_a_send_acknowledges_once_after_restart() {
    let stand_in = StandIn::start().await;
    stand_in.answer(Answer::Hang);
    let bench = bench_with(&stand_in).await;
    let request = bench.sample(Channel::Whatsapp, "wamid.KILLED", "Bonjour");
    assert_eq!(bench.post_sample(&request).await.status(), 200);
    // The worker stores the message, then hangs on the API; it is killed there.
    let (database, processor) = (bench.database.clone(), bench.processor());
    let running = tokio::spawn(async move { worker::drain(&database, &processor).await });
    while stand_in.attempts.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    running.abort();
    let _ = running.await;
    let thread = bench.database.threads().await.unwrap()[0].id.clone();
    assert_eq!(
        acknowledgement(&bench, &thread).await.state,
        AckState::Pending
    );

    // Restarted on the same folder, after its leases ran out.
    stand_in.answer(Answer::Accept);
    let config = (*bench.config).clone();
    let folder = bench.kill();
    let restarted = Bench::start_in(folder, config, open_hours() + Duration::minutes(2)).await;
    restarted.database.release_leases().await.unwrap();
    restarted.settle().await;
    let ack = acknowledgement(&restarted, &thread).await;
    assert_eq!(ack.state, AckState::Sent, "{ack:?}");
    restarted.advance(Duration::hours(1));
    restarted.settle().await;
    assert_eq!(stand_in.delivered(), 1);
}

#[tokio::test]
async fn the_same_webhook_handled_ten_times_at_once_is_one_message_and_one_acknowledgement() {
    let stand_in = StandIn::start().await;
    let bench = bench_with(&stand_in).await;
    let request = bench.sample(Channel::Whatsapp, "wamid.TEN", "Bonjour");
    for _ in 0..10 {
        bench.post_sample(&request).await;
    }
    let mut jobs = Vec::new();
    while let Some(claimed) = bench
        .database
        .claim(bench.database.now(), Duration::seconds(60))
        .await
        .unwrap()
    {
        jobs.push(claimed);
    }
    assert_eq!(jobs.len(), 10);
    let processor = bench.processor();
    let handled = futures_util::future::join_all(jobs.iter().map(|claimed| {
        let processor = Arc::clone(&processor);
        let job = claimed.job.clone().unwrap();
        tokio::spawn(async move { processor.handle(&job).await })
    }))
    .await;
    // Those that found the acknowledgement under way are tried again later.
    let again = handled
        .iter()
        .filter(|h| h.as_ref().unwrap().is_err())
        .count();
    for claimed in &jobs {
        bench.database.complete(&[claimed.id]).await.unwrap();
    }
    for _ in 0..again {
        let job = jobs[0].job.clone().unwrap();
        processor.handle(&job).await.unwrap();
    }
    let threads = bench.database.threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].message_count, 1);
    assert_eq!(stand_in.delivered(), 1);
}

#[tokio::test]
async fn a_hanging_api_holds_up_no_other_channel() {
    let stand_in = StandIn::start().await;
    stand_in.answer(Answer::Hang);
    let bench = bench_with(&stand_in).await;
    for id in ["wamid.H1", "wamid.H2", "wamid.H3"] {
        let request = bench.sample(Channel::Whatsapp, id, "Allô ?");
        bench.post_sample(&request).await;
    }
    let form = bench.sample(Channel::Webform, "form-1", "Bonjour par le formulaire");
    bench.post_sample(&form).await;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(worker::run(
        bench.database.clone(),
        bench.processor(),
        stopped,
    ));
    // The web form's acknowledgement (an email, in the outbox) goes out
    // while WhatsApp's three hang.
    let started = std::time::Instant::now();
    while !bench
        .outbox_files()
        .iter()
        .any(|(name, _)| name.ends_with(".eml"))
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the web form waited for WhatsApp"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stand_in.delivered(), 0);
    // WhatsApp recovers; the hung attempt times out (10 s) and waits on
    // the queue for the next.
    stand_in.answer(Answer::Accept);
    let started = std::time::Instant::now();
    while timed_out(&bench).await < 1 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Its retry is due within a second or two; well inside every lease.
    while stand_in.delivered() < 1 {
        assert!(started.elapsed() < std::time::Duration::from_secs(40));
        bench.advance(Duration::seconds(1));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
    // One customer: the first message was owed one, the next two fell in
    // its quiet period.
    assert_eq!(stand_in.delivered(), 1);
}

/// How many WhatsApp acknowledgements have had an attempt time out. Every
/// message is looked at: the three share a timestamp, so their order in
/// the thread is not the order they came in.
async fn timed_out(bench: &Bench) -> usize {
    let mut n = 0;
    for thread in bench.database.threads().await.unwrap() {
        if thread.channel != Channel::Whatsapp {
            continue;
        }
        let stored = bench.database.thread(&thread.id).await.unwrap().unwrap();
        n += stored
            .messages
            .iter()
            .filter_map(|m| m.acknowledgement.as_ref())
            .filter(|ack| ack.reason.as_deref() == Some("whatsapp unreachable (timeout)"))
            .count();
    }
    n
}
