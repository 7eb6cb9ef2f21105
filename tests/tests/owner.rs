//! The owner answers from the digest, as a person would: the digest's link
//! opens the thread's page; its forms reply on the customer's channel (the
//! stand-in API receives the documented request, the web form's customer a
//! threaded email), mark it done, put it off, reopen it. A refused link
//! shows a page that says why and never the thread; a GET changes nothing.

use std::process::{Command, Stdio};

use accueil_core::channels::{self, Channel};
use accueil_core::config::{Config, LocalSecrets};
use accueil_core::digest::Digest;
use accueil_core::domain::{Address, ChannelAddress, EmailAddress, ThreadId, ThreadStatus};
use accueil_core::owner;
use accueil_core::ports::{Clock, Store};
use accueil_e2e::{accueil_binary, channel_api, demo_text_with_api, open_hours, Bench, Recorded};
use serde_json::{json, Value};

async fn bench_on_stand_in() -> (Bench, Recorded) {
    let (api, recorded) = channel_api().await;
    let config = Config::parse(&demo_text_with_api(&api), &LocalSecrets).unwrap();
    (Bench::start(config, open_hours()).await, recorded)
}

/// No redirects followed: a form's answer is a 303 the test reads.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let response = client().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// What the digest links to for this thread.
async fn link_in_digest(bench: &Bench, thread: &ThreadId) -> String {
    let digest = Digest::build(&bench.config, &bench.database, 0, bench.clock.now())
        .await
        .unwrap();
    let line = digest
        .threads
        .iter()
        .find(|t| t.id == thread.as_str())
        .unwrap_or_else(|| panic!("{thread} is not in the digest"));
    let link = line.page_link.clone().expect("a page link");
    // As the browser reads the attribute: entities decoded.
    let html = digest.html().replace("&#x2f;", "/").replace("&amp;", "&");
    assert!(
        html.contains(&format!("href=\"{link}\"")),
        "the HTML digest carries the link"
    );
    assert!(
        digest.text().contains(&link),
        "the text digest carries the link"
    );
    link
}

/// The hidden value of a form field in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

fn token_of(link: &str) -> String {
    link.split("?t=").nth(1).unwrap().to_string()
}

/// Posts one of the page's forms; the status and where it sends the browser.
async fn post(
    bench: &Bench,
    thread: &ThreadId,
    action: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let response = client()
        .post(format!(
            "{}{}/{action}",
            bench.base,
            owner::page_path(thread)
        ))
        .form(fields)
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (response.status().as_u16(), location)
}

/// The page's form fields, plus `extra`.
fn form<'a>(link: &'a str, page: &str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut fields = vec![
        ("t", token_of(link)),
        ("form_token", hidden(page, "form_token")),
    ];
    // The reply's own id, when the page has a reply form.
    if page.contains("name=\"reply_id\"") {
        fields.push(("reply_id", hidden(page, "reply_id")));
    }
    fields.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    fields
}

async fn act(
    bench: &Bench,
    thread: &ThreadId,
    action: &str,
    fields: &[(&str, String)],
) -> (u16, String) {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post(bench, thread, action, &fields).await
}

/// Posts a form whose answer is a page; its status and the page.
async fn post_page(
    bench: &Bench,
    thread: &ThreadId,
    action: &str,
    fields: &[(&str, String)],
) -> (u16, String) {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = client()
        .post(format!(
            "{}{}/{action}",
            bench.base,
            owner::page_path(thread)
        ))
        .form(&fields)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn thread_on(bench: &Bench, channel: Channel) -> accueil_core::domain::Thread {
    bench
        .database
        .threads()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.channel == channel)
        .unwrap_or_else(|| panic!("{channel}: no thread"))
}

/// The owner's reply as each channel's provider documents the call: path,
/// Authorization, body (`TEXT` for the reply's words). The web form's goes
/// by email.
fn expected_reply(channel: Channel) -> Option<(&'static str, &'static str, Value)> {
    match channel {
        Channel::Webform => None,
        Channel::Whatsapp => Some((
            "/100200300400500/messages",
            "Bearer demo-access-token",
            json!({
                "messaging_product": "whatsapp", "recipient_type": "individual", "type": "text",
                "to": "33600000077", "text": { "preview_url": false, "body": "TEXT" },
            }),
        )),
        Channel::Messenger => Some((
            "/100200300400501/messages",
            "Bearer demo-page-access-token",
            json!({
                "recipient": { "id": "6912345678901234" }, "messaging_type": "RESPONSE",
                "message": { "text": "TEXT" },
            }),
        )),
        Channel::Instagram => Some((
            "/17841400000000001/messages",
            "Bearer demo-access-token",
            json!({
                "recipient": { "id": "17841400000000077" }, "messaging_type": "RESPONSE",
                "message": { "text": "TEXT" },
            }),
        )),
        Channel::Telegram => Some((
            "/bot100000001:demo-bot-token/sendMessage",
            "",
            json!({ "chat_id": 700000077, "text": "TEXT" }),
        )),
    }
}

const REPLY: &str = "Oui, jusqu'à 18 h. <b>À bientôt</b>";

#[tokio::test]
async fn each_channel_s_thread_is_answered_from_its_page_and_leaves_the_digest_until_the_customer_writes(
) {
    let (bench, recorded) = bench_on_stand_in().await;
    for &channel in Channel::ALL {
        let first = bench.sample(channel, "4242", "Bonjour, vous êtes ouverts ?");
        assert_eq!(bench.post_sample(&first).await.status(), 200, "{channel}");
        assert_eq!(bench.settle().await, 1, "{channel}");
        let thread = thread_on(&bench, channel).await;
        let link = link_in_digest(&bench, &thread.id).await;
        assert!(link.starts_with(&bench.base), "{link}");

        let (status, page) = get(&link).await;
        assert_eq!(status, 200, "{channel}: {page}");
        assert!(
            page.contains("Bonjour, vous êtes ouverts ?"),
            "{channel}: {page}"
        );
        assert!(
            page.contains(&thread.contact.display()),
            "{channel}: {page}"
        );
        assert!(page.contains(channels::label(channel, bench.config.business.language)));
        assert!(
            page.contains("Accusé de réception envoyé"),
            "{channel}: {page}"
        );
        assert!(page.contains("<textarea"), "{channel}: a reply form");

        recorded.lock().unwrap().clear();
        let before = bench.outbox_files().len();
        let (status, location) = act(
            &bench,
            &thread.id,
            "reply",
            &form(&link, &page, &[("text", REPLY)]),
        )
        .await;
        assert_eq!(status, 303, "{channel}");
        assert!(location.ends_with("&done=reply"), "{location}");
        assert_eq!(bench.settle().await, 1, "{channel}: the reply's job");

        match expected_reply(channel) {
            Some((path, auth, mut body)) => {
                let sent = recorded.lock().unwrap().clone();
                assert_eq!(sent.len(), 1, "{channel}: one request");
                for pointer in ["/text/body", "/message/text", "/text"] {
                    match body.pointer_mut(pointer) {
                        Some(slot) if *slot == json!("TEXT") => *slot = json!(REPLY),
                        _ => {}
                    }
                }
                assert_eq!(
                    sent[0],
                    (path.to_string(), auth.to_string(), body),
                    "{channel}"
                );
            }
            None => {
                let files = bench.outbox_files();
                assert_eq!(files.len(), before + 1, "{channel}: one email");
                let (_, eml) = files.last().unwrap();
                let to = eml.lines().find(|l| l.starts_with("To: ")).unwrap();
                assert!(to.ends_with("<zoe@example.com>"), "{eml}");
                assert!(!eml.contains("Auto-Submitted"), "a person's email: {eml}");
                // Threaded under the acknowledgement the customer received.
                let (_, ack) = &files[before - 1];
                let ack_id = ack
                    .lines()
                    .find_map(|l| l.strip_prefix("Message-ID: "))
                    .unwrap_or_else(|| panic!("{ack}"));
                assert!(eml.contains(&format!("In-Reply-To: {ack_id}")), "{eml}");
                assert!(eml.contains(&format!("References: {ack_id}")), "{eml}");
            }
        }

        // The page shows the reply, escaped, sent; the thread is answered.
        let (_, page) = get(&format!("{link}&done=reply")).await;
        assert!(page.contains("Votre réponse est enregistrée"), "{page}");
        assert!(
            page.contains("Oui, jusqu&#x27;à 18 h. &lt;b&gt;À bientôt&lt;&#x2f;b&gt;")
                || page.contains("Oui, jusqu&#39;à 18 h. &lt;b&gt;À bientôt&lt;/b&gt;"),
            "{channel}: {page}"
        );
        assert!(!page.contains("<b>À bientôt"), "{channel}");
        assert!(page.contains(">Envoyé<"), "{channel}: {page}");
        let found = bench.database.thread(&thread.id).await.unwrap().unwrap();
        assert_eq!(found.thread.status, ThreadStatus::Answered, "{channel}");
        assert_eq!(
            found.thread.message_count, 1,
            "{channel}: the count is the customer's"
        );
        assert_eq!(found.thread.last_excerpt, "Bonjour, vous êtes ouverts ?");
        let digest = Digest::build(&bench.config, &bench.database, 0, bench.clock.now())
            .await
            .unwrap();
        assert!(
            digest.threads.iter().all(|t| t.id != thread.id.as_str()),
            "{channel}: answered, out of the digest"
        );

        // The customer writes again: the same thread, open, in the digest.
        let again = bench.sample(channel, "4243", "Et samedi ?");
        assert_eq!(bench.post_sample(&again).await.status(), 200, "{channel}");
        assert_eq!(bench.settle().await, 1, "{channel}");
        let found = bench.database.thread(&thread.id).await.unwrap().unwrap();
        assert_eq!(found.thread.status, ThreadStatus::Open, "{channel}");
        assert_eq!(found.messages.len(), 3, "{channel}");
        link_in_digest(&bench, &thread.id).await;
    }
}

#[tokio::test]
async fn done_and_later_are_one_tap_each_and_both_undo() {
    let (bench, _) = bench_on_stand_in().await;
    let request = bench.sample(Channel::Whatsapp, "wamid.LATER", "Un devis ?");
    bench.post_sample(&request).await;
    bench.settle().await;
    let thread = thread_on(&bench, Channel::Whatsapp).await;
    let link = link_in_digest(&bench, &thread.id).await;
    let (_, page) = get(&link).await;

    // Later: one of the page's own choices.
    let until = hidden(
        &page.replace("<option value=", "name=\"until\" value="),
        "until",
    );
    let (status, location) = act(
        &bench,
        &thread.id,
        "later",
        &form(&link, &page, &[("until", &until)]),
    )
    .await;
    assert_eq!(
        (status, location.ends_with("&done=later")),
        (303, true),
        "{location}"
    );
    let snoozed = bench
        .database
        .thread(&thread.id)
        .await
        .unwrap()
        .unwrap()
        .thread;
    assert_eq!(snoozed.status, ThreadStatus::Snoozed);
    let digest = Digest::build(&bench.config, &bench.database, 0, bench.clock.now())
        .await
        .unwrap();
    assert!(digest.threads.is_empty());
    assert!(
        digest.text().contains("1 conversation remise à plus tard"),
        "{}",
        digest.text()
    );
    // Its time comes: back in the digest.
    bench.clock.set(snoozed.snoozed_until.unwrap());
    link_in_digest(&bench, &thread.id).await;
    bench.clock.set(open_hours());

    // Reopen undoes it; done closes; reopen again.
    let (status, _) = act(&bench, &thread.id, "reopen", &form(&link, &page, &[])).await;
    assert_eq!(status, 303);
    assert_eq!(
        bench
            .database
            .thread(&thread.id)
            .await
            .unwrap()
            .unwrap()
            .thread
            .status,
        ThreadStatus::Open
    );
    let (status, location) = act(&bench, &thread.id, "done", &form(&link, &page, &[])).await;
    assert_eq!((status, location.ends_with("&done=done")), (303, true));
    let (_, closed_page) = get(&format!("{link}&done=done")).await;
    assert!(
        closed_page.contains("Conversation terminée"),
        "{closed_page}"
    );
    assert!(
        !closed_page.contains("<textarea"),
        "no reply to a closed thread"
    );
    assert!(closed_page.contains("/reopen\""), "{closed_page}");
    let digest = Digest::build(&bench.config, &bench.database, 0, bench.clock.now())
        .await
        .unwrap();
    assert!(digest.threads.is_empty());
    // Done twice: nothing changes, and the page says so.
    let (_, location) = act(&bench, &thread.id, "done", &form(&link, &page, &[])).await;
    assert!(location.ends_with("&done=unchanged"), "{location}");
    act(&bench, &thread.id, "reopen", &form(&link, &page, &[])).await;
    assert_eq!(
        bench
            .database
            .thread(&thread.id)
            .await
            .unwrap()
            .unwrap()
            .thread
            .status,
        ThreadStatus::Open
    );
    // A time already past, or junk, changes nothing.
    for until in ["2000-01-01T00:00:00Z", "soon"] {
        let fields = form(&link, &page, &[("until", until)]);
        let (status, location) = act(&bench, &thread.id, "later", &fields).await;
        assert_eq!((status, location.ends_with("&done=unchanged")), (303, true));
    }
    let found = bench.database.thread(&thread.id).await.unwrap().unwrap();
    assert_eq!(found.thread.status, ThreadStatus::Open);
}

#[tokio::test]
async fn a_reply_is_sent_once_however_often_its_form_is_posted_and_one_too_long_is_given_back() {
    let (bench, recorded) = bench_on_stand_in().await;
    let request = bench.sample(Channel::Instagram, "m_TWICE", "Bonjour");
    bench.post_sample(&request).await;
    bench.settle().await;
    let thread = thread_on(&bench, Channel::Instagram).await;
    let link = link_in_digest(&bench, &thread.id).await;
    let (_, page) = get(&link).await;
    recorded.lock().unwrap().clear();
    // A double tap: the same form twice.
    let fields = form(&link, &page, &[("text", "Avec plaisir")]);
    for _ in 0..2 {
        let (status, _) = act(&bench, &thread.id, "reply", &fields).await;
        assert_eq!(status, 303);
    }
    bench.settle().await;
    assert_eq!(recorded.lock().unwrap().len(), 1, "one reply sent");
    let found = bench.database.thread(&thread.id).await.unwrap().unwrap();
    assert_eq!(found.messages.len(), 2);
    // Instagram takes 1,000 bytes: a longer answer is given back, unsent.
    let (_, page) = get(&link).await;
    let long = "é".repeat(501);
    let (status, again) = post_page(
        &bench,
        &thread.id,
        "reply",
        &form(&link, &page, &[("text", &long)]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(again.contains("1000 octets au plus"), "{again}");
    assert!(again.contains(&format!("{long}</textarea>")));
    // An empty one too; a made-up reply id is refused.
    let (status, _) = post_page(
        &bench,
        &thread.id,
        "reply",
        &form(&link, &page, &[("text", "  ")]),
    )
    .await;
    assert_eq!(status, 400);
    let mut forged = form(&link, &page, &[("text", "Oui")]);
    forged.retain(|(k, _)| *k != "reply_id");
    forged.push(("reply_id", "x".into()));
    let (status, _) = act(&bench, &thread.id, "reply", &forged).await;
    assert_eq!(status, 403);
    assert_eq!(bench.settle().await, 0);
}

#[tokio::test]
async fn after_meta_s_window_the_page_offers_the_app_instead_of_a_reply() {
    let (bench, recorded) = bench_on_stand_in().await;
    let request = bench.sample(Channel::Whatsapp, "wamid.OLD", "Vous êtes là ?");
    bench.post_sample(&request).await;
    bench.settle().await;
    let thread = thread_on(&bench, Channel::Whatsapp).await;
    let link = link_in_digest(&bench, &thread.id).await;
    let (_, open_page) = get(&link).await;
    bench.advance(chrono::Duration::hours(25));
    let (status, page) = get(&link).await;
    assert_eq!(status, 200);
    assert!(!page.contains("<textarea"), "{page}");
    assert!(page.contains("plus de 24 heures"), "{page}");
    assert!(
        page.replace("&#x2f;", "/")
            .contains("href=\"https://wa.me/33600000077\""),
        "{page}"
    );
    // A form from before the window closed sends nothing; the page says
    // why and gives the words back.
    recorded.lock().unwrap().clear();
    let fields = form(&link, &open_page, &[("text", "Oui, demain <9 h>")]);
    let (status, again) = post_page(&bench, &thread.id, "reply", &fields).await;
    assert_eq!(status, 409);
    assert!(again.contains("rien n&#x27;est parti"), "{again}");
    assert!(
        again.contains("Oui, demain &lt;9 h&gt;</textarea>"),
        "{again}"
    );
    assert_eq!(bench.settle().await, 0);
    assert!(recorded.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_link_opens_its_own_thread_only_until_it_expires_and_a_get_never_acts() {
    let (bench, _) = bench_on_stand_in().await;
    // Markup in every field a customer controls.
    let form_body = "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&email=zoe%40example.com&message=%3Cimg+src%3Dx+onerror%3Dalert(2)%3E+%26+co";
    assert_eq!(bench.post_form(form_body).await.status(), 200);
    let other = bench.sample(Channel::Whatsapp, "wamid.OTHER", "Bonjour");
    bench.post_sample(&other).await;
    bench.settle().await;
    let thread = thread_on(&bench, Channel::Webform).await;
    let whatsapp = thread_on(&bench, Channel::Whatsapp).await;
    let link = link_in_digest(&bench, &thread.id).await;
    let other_link = link_in_digest(&bench, &whatsapp.id).await;

    let (status, page) = get(&link).await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(
        page.contains("&lt;img src=x onerror=alert(2)&gt; &amp; co"),
        "{page}"
    );
    assert!(page.contains("&lt;script&gt;alert(1)"), "{page}");

    // Another thread's token, an altered one, none: refused, thread unseen.
    let page_url = format!("{}{}", bench.base, owner::page_path(&thread.id));
    let altered = {
        let mut t = token_of(&link);
        let last = if t.ends_with('0') { "1" } else { "0" };
        t.pop();
        t.push_str(last);
        t
    };
    for token in [token_of(&other_link), altered, String::new()] {
        let (status, refused) = get(&format!("{page_url}?t={token}")).await;
        assert_eq!(status, 403, "{token}");
        assert!(refused.contains("Lien non valable"), "{refused}");
        assert!(
            !refused.contains("onerror"),
            "nothing of the thread: {refused}"
        );
    }

    // A GET on an action changes nothing.
    let response = client()
        .get(format!("{page_url}/done?t={}", token_of(&link)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    // A form without its token, or with another thread's, is refused.
    let (_, other_page) = get(&other_link).await;
    let without = vec![("t", token_of(&link))];
    let foreign = vec![
        ("t", token_of(&link)),
        ("form_token", hidden(&other_page, "form_token")),
    ];
    for fields in [without, foreign] {
        let (status, _) = act(&bench, &thread.id, "done", &fields).await;
        assert_eq!(status, 403);
    }
    assert_eq!(
        bench
            .database
            .thread(&thread.id)
            .await
            .unwrap()
            .unwrap()
            .thread
            .status,
        ThreadStatus::Open
    );

    // Fifteen days on, the link has expired: a page says so.
    bench.advance(chrono::Duration::days(15));
    let (status, expired) = get(&link).await;
    assert_eq!(status, 403);
    assert!(expired.contains("Lien expiré"), "{expired}");
    bench.clock.set(open_hours());

    // The customer is forgotten: their link finds nothing.
    let address = ChannelAddress::new(
        Channel::Webform,
        Address::Email(EmailAddress::parse("zoe@example.com").unwrap()),
    );
    bench
        .database
        .forget_contact(&address)
        .await
        .unwrap()
        .unwrap();
    let (status, gone) = get(&link).await;
    assert_eq!(status, 404);
    assert!(gone.contains("Conversation introuvable"), "{gone}");
}

/// `accueil serve` as the owner meets it: the digest's link works against
/// the server, and neither the token nor the form's token is ever logged.
#[tokio::test]
async fn serve_keeps_the_owner_s_tokens_out_of_its_logs() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Command::new(accueil_binary())
        .args(["serve", "--port", "0", "--data"])
        .arg(data.path())
        .env("ACCUEIL_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let (found, base) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(url) = line
                .split_whitespace()
                .find(|w| w.ends_with("/webhooks/webform"))
            {
                let _ = found.send(url.trim_end_matches("/webhooks/webform").to_string());
            }
        }
    });
    let base = base
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap();
    let response = client()
        .post(format!("{base}/webhooks/webform"))
        .form(&[("email", "zoe@example.com"), ("message", "Bonjour")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The digest as `serve` builds it: the same configuration, its address.
    let config = Config::demo().serving_at(&base);
    let database = accueil_embedded::Database::open(&data.path().join("accueil.db")).unwrap();
    let mut thread = None;
    for _ in 0..100 {
        thread = database.threads().await.unwrap().pop();
        if thread.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let thread = thread.expect("the form's thread");
    let link = owner::page_link(&config, &thread.id, chrono::Utc::now()).unwrap();
    let (status, page) = get(&link).await;
    assert_eq!(status, 200, "{page}");
    let form_token = hidden(&page, "form_token");
    let response = client()
        .post(format!("{base}{}/reply", owner::page_path(&thread.id)))
        .form(&[
            ("t", token_of(&link).as_str()),
            ("form_token", &form_token),
            ("reply_id", &hidden(&page, "reply_id")),
            ("text", "Merci !"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let mut replied = false;
    for _ in 0..100 {
        let found = database.thread(&thread.id).await.unwrap().unwrap();
        if found.thread.status == ThreadStatus::Answered {
            replied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(replied, "serve's worker sent the reply");
    server.kill().unwrap();
    let logs = String::from_utf8_lossy(&server.wait_with_output().unwrap().stderr).into_owned();
    assert!(logs.contains("owner's reply queued"), "{logs}");
    for secret in [
        token_of(&link),
        form_token,
        "demo-link-secret".to_string(),
        "Merci".to_string(),
    ] {
        assert!(
            !logs.contains(&secret),
            "{secret:?} leaked into the logs:\n{logs}"
        );
    }
}
