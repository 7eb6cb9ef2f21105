//! The fault matrix: each fault against both backends (SQLite, and
//! DynamoDB/SQS on the local AWS API) and every channel in the registry,
//! with exact counts of the messages stored and the acknowledgements the
//! customers received. Time is the rig's clock; SQS's own delays and
//! visibility are real but kept to a second. Each test prints its row of
//! the README's table (`cargo test --test faults -- --nocapture`).

use std::time::Duration as Wait;

use chrono::Duration;
use futures_util::future::join_all;

use accueil_core::channels::Channel;
use accueil_core::domain::AckState;
use accueil_e2e::rig::{Backend, MailFault, Rig, REDRIVE_LIMIT};
use accueil_e2e::Answer;

/// Every channel: one customer each, one message each.
const N: usize = Channel::ALL.len();

fn report(row: &str, backend: Backend, figures: &str) {
    println!("| {row} | {backend} | {figures} |");
}

/// Waits for `done`, which the work under way makes true; fails loudly
/// when it never does.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let started = std::time::Instant::now();
    while !done().await {
        assert!(started.elapsed() < Wait::from_secs(60), "never: {what}");
        tokio::time::sleep(Wait::from_millis(50)).await;
    }
}

async fn states(rig: &Rig) -> Vec<AckState> {
    rig.acknowledgements()
        .await
        .into_iter()
        .map(|(_, a)| a.state)
        .collect()
}

#[tokio::test]
async fn queue_unavailable_at_ingest() {
    for backend in Backend::BOTH {
        let rig = Rig::start(backend).await;
        rig.queue_down(true);
        let refused = rig.post_everywhere(1).await;
        assert_eq!(refused, vec![503; N], "{backend}");
        rig.queue_down(false);
        // The provider tries again.
        let accepted = rig.post_everywhere(1).await;
        assert_eq!(accepted, vec![200; N], "{backend}");
        assert_eq!(rig.run_due().await, 0);
        assert_eq!(rig.messages().await, N, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, N, "{backend}");
        report(
            "queue unavailable at ingest",
            backend,
            &format!("{N}× 503, then {N}× 200; {N} stored, {N} acknowledged"),
        );
    }
}

#[tokio::test]
async fn store_unavailable_at_process() {
    for backend in Backend::BOTH {
        let rig = Rig::start(backend).await;
        // A short outage: each job fails, is retried, and goes through.
        assert_eq!(rig.post_everywhere(1).await, vec![200; N]);
        rig.store_down(true);
        for _ in 0..2 {
            assert_eq!(rig.run_due().await, N, "{backend}: every job fails");
            rig.advance(Duration::minutes(10));
        }
        rig.store_down(false);
        assert_eq!(rig.run_due().await, 0);
        assert_eq!(rig.messages().await, N, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, N, "{backend}");

        // A long one: past the redrive limit, each job is set aside.
        assert_eq!(rig.post_everywhere(2).await, vec![200; N]);
        rig.store_down(true);
        for _ in 0..REDRIVE_LIMIT {
            assert_eq!(rig.run_due().await, N, "{backend}");
            rig.advance(Duration::minutes(10));
        }
        // SQS moves them at the next receive; SQLite did at the last failure.
        assert_eq!(rig.run_due().await, 0);
        rig.store_down(false);
        assert_eq!(rig.dead_letters().await, N as u64, "{backend}");
        assert_eq!(rig.run_due().await, 0);
        assert_eq!(rig.messages().await, N, "{backend}");
        let digest = rig.digest().await;
        assert!(
            digest.contains(&format!("{N} message(s) n'ont pas pu"))
                || digest.contains(&format!("{N} message(s) could not be processed")),
            "{backend}: {digest}"
        );
        // Nothing else is affected: the next customers go through.
        assert_eq!(rig.post_everywhere(3).await, vec![200; N]);
        assert_eq!(rig.run_due().await, 0);
        assert_eq!(rig.messages().await, 2 * N, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, 2 * N, "{backend}");
        // Locally the owner sends the dead letters back once the store is
        // fixed (`accueil requeue`), and they go through.
        if backend == Backend::Sqlite {
            assert_eq!(rig.requeue_dead_letters().await, N);
            assert_eq!(rig.run_due().await, 0);
            assert_eq!(rig.dead_letters().await, 0);
            assert_eq!(rig.messages().await, 3 * N, "{backend}");
            assert_eq!(rig.delivered_everywhere().await, 3 * N, "{backend}");
        }
        report(
            "store unavailable at process",
            backend,
            &format!(
                "2 rounds down: {N} stored, {N} acknowledged; {REDRIVE_LIMIT} rounds down: {N} dead letters, named in the digest; {N} later messages stored and acknowledged"
            ),
        );
    }
}

#[tokio::test]
async fn process_killed_after_storing_before_sending() {
    for backend in Backend::BOTH {
        let mut rig = Rig::start(backend).await;
        for channel in rig.channels_with_api() {
            rig.api(channel).answer(Answer::Hang);
        }
        rig.mail_fault(Some(MailFault::Hang));
        assert_eq!(rig.post_everywhere(1).await, vec![200; N]);
        let running = rig.run_in_background();
        // Every message is stored, and every acknowledgement on its way.
        let r = &rig;
        until(
            "every send under way",
            || async move { r.attempts().await >= N },
        )
        .await;
        running.kill();
        assert_eq!(rig.messages().await, N, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, 0, "{backend}");
        assert_eq!(states(&rig).await, vec![AckState::Pending; N]);

        for channel in rig.channels_with_api() {
            rig.api(channel).answer(Answer::Accept);
        }
        rig.mail_fault(None);
        rig.restart().await;
        // On AWS the dead invocation's lease on each acknowledgement runs
        // out; a local start released them.
        rig.advance(Duration::seconds(61));
        assert_eq!(rig.run_due().await, 0);
        assert_eq!(rig.messages().await, N, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, N, "{backend}");
        assert_eq!(states(&rig).await, vec![AckState::Sent; N]);
        report(
            "process killed after storing, before sending",
            backend,
            &format!("{N} stored, 0 acknowledged when killed; after restart {N} acknowledged"),
        );
    }
}

#[tokio::test]
async fn channel_api_failing_for_five_minutes() {
    for backend in Backend::BOTH {
        // The last API refuses connections; the others answer 503.
        let demo = accueil_core::config::Config::demo();
        let with_api: Vec<Channel> = Channel::ALL
            .iter()
            .copied()
            .filter(|&c| accueil_core::channels::api(&demo, c).is_some())
            .collect();
        let (&refusing, answering) = with_api.split_last().unwrap();
        let mut rig = Rig::start_refusing(backend, Some(refusing)).await;
        for &channel in answering {
            rig.api(channel).answer(Answer::Fail(503));
        }
        assert_eq!(rig.post_everywhere(1).await, vec![200; N]);
        rig.run_due().await;
        // Five minutes of failures, looked at every ten seconds.
        for _ in 0..30 {
            rig.advance(Duration::seconds(10));
            rig.run_due().await;
        }
        let attempts = |rig: &Rig| -> usize {
            answering
                .iter()
                .map(|&c| {
                    rig.api(c)
                        .attempts
                        .load(std::sync::atomic::Ordering::SeqCst)
                })
                .sum()
        };
        let refused = attempts(&rig);
        assert!(
            refused > 2 * answering.len(),
            "{backend}: retried ({refused})"
        );
        let unreachable = rig
            .acknowledgements()
            .await
            .into_iter()
            .find(|(c, _)| *c == refusing)
            .unwrap()
            .1;
        assert_eq!(unreachable.state, AckState::Pending, "{backend}");
        assert!(unreachable.attempts > 2, "{backend}: retried");
        assert_eq!(
            unreachable.reason.as_deref(),
            Some(format!("{refusing} unreachable (connection failed)").as_str())
        );
        assert_eq!(
            rig.delivered_everywhere().await,
            1,
            "{backend}: only the form's email"
        );
        for &channel in answering {
            rig.api(channel).answer(Answer::Accept);
        }
        rig.open_api();
        rig.advance(Duration::seconds(10));
        rig.run_due().await;
        assert_eq!(rig.messages().await, N, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, N, "{backend}");
        for &channel in &with_api {
            assert_eq!(rig.delivered(channel).await, 1, "{backend} {channel}");
        }
        assert_eq!(states(&rig).await, vec![AckState::Sent; N]);
        report(
            "channel API answers 503, or refuses connections, for 5 minutes",
            backend,
            &format!(
                "{N} stored; {refused} attempts answered 503 by {} APIs, {} refused connections on {refusing}; {N} acknowledged once each after recovery",
                answering.len(),
                unreachable.attempts
            ),
        );
    }
}

#[tokio::test]
async fn channel_api_rejects() {
    for backend in Backend::BOTH {
        let rig = Rig::start(backend).await;
        let with_api = rig.channels_with_api();
        for &channel in &with_api {
            rig.api(channel).answer(Answer::Fail(400));
        }
        // SES refuses too; the local outbox takes every email.
        let mail_refused = backend == Backend::Aws;
        if mail_refused {
            rig.mail_fault(Some(MailFault::Rejected));
        }
        assert_eq!(rig.post_everywhere(1).await, vec![200; N]);
        rig.run_due().await;
        rig.advance(Duration::hours(1));
        rig.run_due().await;
        for &channel in &with_api {
            let tried = rig
                .api(channel)
                .attempts
                .load(std::sync::atomic::Ordering::SeqCst);
            assert_eq!(tried, 1, "{backend} {channel}: no retry");
        }
        let refused = with_api.len() + usize::from(mail_refused);
        let acknowledgements = rig.acknowledgements().await;
        let failed: Vec<_> = acknowledgements
            .iter()
            .filter(|(_, a)| a.state == AckState::Failed)
            .collect();
        assert_eq!(failed.len(), refused, "{backend}");
        for (channel, ack) in &failed {
            let reason = ack.reason.as_deref().unwrap_or_default();
            assert!(
                reason.contains("400") || reason.contains("MessageRejected"),
                "{backend} {channel}: {reason}"
            );
        }
        assert_eq!(rig.delivered_everywhere().await, N - refused, "{backend}");
        let digest = rig.digest().await;
        assert!(
            digest.contains(&format!("{refused} client(s) n'ont re")),
            "{backend}: {digest}"
        );
        report(
            "channel API rejects (400)",
            backend,
            &format!(
                "{N} stored; {refused} refused once each, not retried, `failed` with the reason and counted at the top of the digest; {} acknowledged",
                N - refused
            ),
        );
    }
}

#[tokio::test]
async fn the_same_webhook_ten_times_at_once() {
    for backend in Backend::BOTH {
        let rig = Rig::start(backend).await;
        // A form posted twice is two submissions: it carries no id of its
        // own to tell a resubmission from a new message.
        let redelivered: Vec<Channel> = Channel::ALL
            .iter()
            .copied()
            .filter(|&c| c != Channel::Webform)
            .collect();
        let n = redelivered.len();
        for &channel in &redelivered {
            let statuses = join_all((0..10).map(|_| rig.post(channel, 1))).await;
            assert_eq!(statuses, vec![200; 10], "{backend} {channel}");
        }
        // On AWS, three invocations at once; locally the one worker.
        let runners: Vec<_> = (0..if backend == Backend::Aws { 3 } else { 1 })
            .map(|_| rig.run_in_background())
            .collect();
        let r = &rig;
        until("every message stored and acknowledged", || async move {
            r.delivered_everywhere().await >= n
        })
        .await;
        // Long enough for a second acknowledgement to show, if any went.
        tokio::time::sleep(Wait::from_secs(2)).await;
        for runner in runners {
            runner.stop().await;
        }
        assert_eq!(rig.messages().await, n, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, n, "{backend}");
        report(
            "the same webhook delivered 10 times at once",
            backend,
            &format!(
                "{} webhooks on {} answered 200; {n} stored, {n} acknowledged",
                10 * n,
                redelivered
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

#[tokio::test]
async fn a_poison_record_among_the_others() {
    for backend in Backend::BOTH {
        let rig = Rig::start(backend).await;
        assert_eq!(rig.post_everywhere(1).await, vec![200; N]);
        rig.poison().await;
        let mut failures = Vec::new();
        for _ in 0..=REDRIVE_LIMIT {
            failures.push(rig.run_due().await);
            rig.advance(Duration::minutes(10));
        }
        assert_eq!(rig.messages().await, N, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, N, "{backend}");
        assert_eq!(rig.dead_letters().await, 1, "{backend}");
        report(
            "a poison record in a batch",
            backend,
            &format!(
                "failures per round {failures:?}; {N} others stored and acknowledged; 1 dead letter"
            ),
        );
    }
}

#[tokio::test]
async fn a_channel_api_that_hangs() {
    // Each channel hanging in a rig of its own, side by side; one backend
    // after the other, so that the machine is not so loaded that the
    // others would still be waiting when the hung attempt times out.
    let mut hung: Vec<(Backend, Channel)> = Vec::new();
    for backend in Backend::BOTH {
        let runs = Channel::ALL.iter().map(move |&channel| async move {
            let rig = Rig::start(backend).await;
            if !rig.has_api(channel) {
                return None;
            }
            rig.api(channel).answer(Answer::Hang);
            assert_eq!(rig.post_everywhere(1).await, vec![200; N]);
            let running = rig.run_in_background();
            // Everyone else is acknowledged while its send still hangs.
            let r = &rig;
            until("the other channels acknowledged", || async move {
                r.delivered_everywhere().await == N - 1
            })
            .await;
            let hung = rig.acknowledgements().await;
            let hung = hung.iter().find(|(c, _)| *c == channel).unwrap();
            assert_eq!(hung.1.state, AckState::Pending);
            assert_eq!(
                hung.1.reason, None,
                "{backend} {channel}: still its first attempt"
            );
            rig.api(channel).answer(Answer::Accept);
            // Its attempt times out (10 s) and the next is due a second later.
            until("the hung acknowledgement delivered", || async move {
                r.advance(Duration::seconds(1));
                r.delivered(channel).await == 1
            })
            .await;
            running.stop().await;
            assert_eq!(rig.messages().await, N);
            assert_eq!(rig.delivered_everywhere().await, N);
            Some((backend, channel))
        });
        hung.extend(join_all(runs).await.into_iter().flatten());
    }
    for backend in Backend::BOTH {
        let channels: Vec<String> = hung
            .iter()
            .filter(|(b, _)| *b == backend)
            .map(|(_, c)| c.to_string())
            .collect();
        report(
            "channel API hangs",
            backend,
            &format!(
                "each of {} in turn: the {} others acknowledged during the hang, the hung one once after; {N} stored",
                channels.join(", "),
                N - 1
            ),
        );
    }
}

#[tokio::test]
async fn outbox_full_or_ses_throttling() {
    for backend in Backend::BOTH {
        let rig = Rig::start(backend).await;
        rig.mail_fault(Some(MailFault::Unavailable));
        assert_eq!(rig.post_everywhere(1).await, vec![200; N]);
        rig.run_due().await;
        for _ in 0..3 {
            rig.advance(Duration::seconds(10));
            rig.run_due().await;
        }
        assert_eq!(
            rig.delivered_everywhere().await,
            N - 1,
            "{backend}: all but the form's"
        );
        let form = rig.acknowledgements().await;
        let (_, form) = form.iter().find(|(c, _)| *c == Channel::Webform).unwrap();
        assert_eq!(form.state, AckState::Pending, "{backend}");
        let tries = form.attempts;
        rig.mail_fault(None);
        rig.advance(Duration::seconds(10));
        rig.run_due().await;
        assert_eq!(rig.messages().await, N, "{backend}");
        assert_eq!(rig.delivered_everywhere().await, N, "{backend}");
        assert_eq!(states(&rig).await, vec![AckState::Sent; N]);
        report(
            if backend == Backend::Sqlite {
                "outbox folder unwritable"
            } else {
                "SES throttling"
            },
            backend,
            &format!("{tries} attempts failed; the email went once, when the outbox or SES was back; {N} stored, {N} acknowledged"),
        );
    }
}

/// `accueil serve` killed with SIGKILL while webhooks pour in, then started
/// again on the same folder; the provider sends again whatever was not
/// answered 200. SQLite only: on AWS nothing runs between invocations.
/// The channels' APIs hang until the kill, so that no send is accepted in
/// the instant before it (the window that may send twice, in the README).
#[tokio::test]
async fn kill_9_of_accueil_serve_under_load() {
    use accueil_core::channels::{self, Sample};
    use accueil_core::config::{Config, LocalSecrets};
    use accueil_core::ports::Store;
    use futures_util::StreamExt;

    const CUSTOMERS: u32 = 100;
    const KILL_AFTER: usize = 150;
    let tag = accueil_e2e::aws::unique("kill");
    let (text, apis, _) = accueil_e2e::rig::matrix_config(&tag, None).await;
    let config = Config::parse(&text, &LocalSecrets).unwrap();
    let folder = tempfile::tempdir().unwrap();
    let config_file = folder.path().join("accueil.toml");
    std::fs::write(&config_file, &text).unwrap();
    let data = folder.path().join("data");
    for api in apis.values() {
        api.answer(Answer::Hang);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let serve = || async {
        let child = tokio::process::Command::new(accueil_e2e::accueil_binary())
            .arg("--config")
            .arg(&config_file)
            .arg("--data")
            .arg(&data)
            .args(["serve", "--port", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let base = &base;
        until("accueil serve answers", || async move {
            reqwest::get(format!("{base}/health")).await.is_ok()
        })
        .await;
        child
    };
    let webhooks: Vec<(Channel, u32, channels::SampleRequest)> = Channel::ALL
        .iter()
        .filter(|c| apis.contains_key(c))
        .flat_map(|&channel| (0..CUSTOMERS).map(move |n| (channel, n)))
        .map(|(channel, n)| {
            let from = accueil_e2e::rig::customer(&tag, channel, n);
            let id = (10_000 + n).to_string();
            let sample = Sample {
                from: &from,
                text: "Bonjour",
                name: None,
                id: Some(&id),
                at: chrono::Utc::now(),
            };
            (
                channel,
                n,
                channels::sample(&config, channel, &sample).unwrap(),
            )
        })
        .collect();
    let total = webhooks.len();
    let client = reqwest::Client::new();
    let post = |request: &channels::SampleRequest| {
        let mut post = client
            .post(format!("{base}{}", request.path))
            .body(request.body.clone());
        for (name, value) in &request.headers {
            post = post.header(*name, value);
        }
        async move { post.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };

    let mut first = serve().await;
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let load = futures_util::stream::iter(&webhooks)
        .map(|(_, _, request)| async {
            let status = post(request).await;
            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            status
        })
        .buffered(32)
        .collect::<Vec<u16>>();
    let killer = async {
        let answered = &answered;
        until("the load under way", || async move {
            answered.load(std::sync::atomic::Ordering::SeqCst) >= KILL_AFTER
        })
        .await;
        first.kill().await.unwrap();
    };
    let (statuses, ()) = tokio::join!(load, killer);
    let accepted = statuses.iter().filter(|&&s| s == 200).count();
    assert!(
        accepted >= KILL_AFTER && accepted < total,
        "{accepted} of {total} accepted before the kill"
    );
    let delivered_before: usize = apis.values().map(|a| a.delivered()).sum();
    assert_eq!(delivered_before, 0);

    for api in apis.values() {
        api.answer(Answer::Accept);
    }
    let second = serve().await;
    // The provider sends again what was not answered 200.
    for ((_, _, request), status) in webhooks.iter().zip(&statuses) {
        if *status != 200 {
            assert_eq!(post(request).await, 200);
        }
    }
    let apis = &apis;
    until("every customer acknowledged", || async move {
        apis.values().map(|a| a.delivered()).sum::<usize>() >= total
    })
    .await;
    tokio::time::sleep(Wait::from_secs(2)).await;
    drop(second);
    let database = accueil_embedded::Database::open(&data.join("accueil.db")).unwrap();
    let threads = database.threads().await.unwrap();
    let stored: u32 = threads.iter().map(|t| t.message_count).sum();
    assert_eq!(stored as usize, total, "each webhook stored once");
    assert_eq!(threads.len(), total, "one customer per webhook");
    let delivered: usize = apis.values().map(|a| a.delivered()).sum();
    assert_eq!(delivered, total, "each acknowledged once");
    println!(
        "| `kill -9` of `accueil serve` under load | SQLite | {total} webhooks, 32 at a time; killed after {accepted} answered 200; the {} others sent again after restart; {total} stored, {total} acknowledged |",
        total - accepted
    );
}
