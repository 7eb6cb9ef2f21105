//! Every channel of the registry, end to end over loopback: its sample
//! webhook (signed as the provider signs) becomes a thread and one
//! acknowledgement, sent to a local stand-in of the channel's API with
//! exactly the request the provider documents; forged, missing and
//! oversized deliveries are refused and leave nothing; a redelivery is one
//! message and one acknowledgement. A channel added to the registry is
//! checked here without a line changed, except its expected request below.

use accueil_core::channels::{self, Channel};
use accueil_core::config::{Config, LocalSecrets};
use accueil_core::ports::Store;
use accueil_core::webhook::MAX_BODY_BYTES;
use accueil_e2e::{channel_api, demo_text_with_api, open_hours, Bench, Recorded};
use serde_json::{json, Value};

/// What each API channel's acknowledgement must be, as its provider
/// documents the call: path, Authorization header, and the JSON body with
/// its text left out (`"text"` is checked apart).
fn expected_request(channel: Channel) -> Option<(&'static str, &'static str, Value)> {
    let table = [
        (
            "whatsapp",
            "/100200300400500/messages",
            "Bearer demo-access-token",
            json!({
                "messaging_product": "whatsapp", "recipient_type": "individual", "type": "text",
                "to": "33600000077", "context": { "message_id": "ID" },
                "text": { "preview_url": false },
            }),
        ),
        (
            "messenger",
            "/100200300400501/messages",
            "Bearer demo-page-access-token",
            json!({
                "recipient": { "id": "6912345678901234" }, "messaging_type": "RESPONSE",
                "message": {},
            }),
        ),
        (
            "instagram",
            "/17841400000000001/messages",
            "Bearer demo-access-token",
            json!({
                "recipient": { "id": "17841400000000077" }, "messaging_type": "RESPONSE",
                "message": {},
            }),
        ),
        (
            // The token is the path's; no Authorization header.
            "telegram",
            "/bot100000001:demo-bot-token/sendMessage",
            "",
            json!({
                "chat_id": 700000077,
                "reply_parameters": { "message_id": "ID", "allow_sending_without_reply": true },
            }),
        ),
    ];
    table
        .into_iter()
        .find(|(name, ..)| *name == channel.as_str())
        .map(|(_, path, auth, body)| (path, auth, body))
}

/// Takes the acknowledgement's words out of a request body, wherever the
/// channel puts them.
fn without_text(mut body: Value) -> (Value, String) {
    for pointer in ["/text/body", "/message/text", "/text"] {
        if let Some(Value::String(text)) = body.pointer(pointer).cloned() {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let parent = if parent.is_empty() {
                &mut body
            } else {
                body.pointer_mut(parent).unwrap()
            };
            parent.as_object_mut().unwrap().remove(key);
            return (body, text);
        }
    }
    panic!("no text in {body}")
}

async fn bench_on_stand_in() -> (Bench, Recorded) {
    let (api, recorded) = channel_api().await;
    let config = Config::parse(&demo_text_with_api(&api), &LocalSecrets).unwrap();
    (Bench::start(config, open_hours()).await, recorded)
}

fn api_channels(config: &Config) -> Vec<Channel> {
    Channel::ALL
        .iter()
        .copied()
        .filter(|&c| channels::api(config, c).is_some())
        .collect()
}

#[test]
fn every_channel_with_an_api_has_its_expected_request() {
    for channel in api_channels(&Config::demo()) {
        assert!(
            expected_request(channel).is_some(),
            "{channel}: add its acknowledgement's request to expected_request"
        );
    }
}

#[tokio::test]
async fn each_channel_s_message_is_stored_and_acknowledged_once_with_the_documented_request() {
    let (bench, recorded) = bench_on_stand_in().await;
    for channel in api_channels(&bench.config) {
        recorded.lock().unwrap().clear();
        // Telegram numbers a chat's messages; the others take any id.
        let id = "4242";
        let request = bench.sample(channel, id, "Bonjour, vous êtes ouverts ?");
        // The provider delivers twice.
        for _ in 0..2 {
            let response = bench.post_sample(&request).await;
            assert_eq!(response.status(), 200, "{channel}");
        }
        assert_eq!(bench.settle().await, 2, "{channel}");

        let threads = bench.database.threads().await.unwrap();
        let thread = threads
            .iter()
            .find(|t| t.channel == channel)
            .unwrap_or_else(|| panic!("{channel}: no thread"));
        assert_eq!(thread.message_count, 1, "{channel}: one message");
        assert_eq!(thread.last_excerpt, "Bonjour, vous êtes ouverts ?");

        let sent = recorded.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "{channel}: one acknowledgement");
        let (path, auth, body) = sent[0].clone();
        let (expected_path, expected_auth, mut expected_body) = expected_request(channel).unwrap();
        // The message being answered, as the channel names it.
        for pointer in ["/context/message_id", "/reply_parameters/message_id"] {
            if let Some(slot) = expected_body.pointer_mut(pointer) {
                *slot = body.pointer(pointer).cloned().unwrap();
                let quoted = slot.to_string();
                assert!(quoted.contains(id), "{channel}: quotes {quoted}");
            }
        }
        assert_eq!(path, expected_path, "{channel}");
        assert_eq!(auth, expected_auth, "{channel}");
        let (body, text) = without_text(body);
        assert_eq!(body, expected_body, "{channel}");
        assert!(text.contains(thread.id.as_str()), "{channel}: {text}");
        assert!(text.contains("dans les 4 heures"), "{channel}: {text}");
    }
}

#[tokio::test]
async fn forged_missing_and_oversized_deliveries_are_refused_and_leave_nothing() {
    let (bench, recorded) = bench_on_stand_in().await;
    for &channel in Channel::ALL {
        let request = bench.sample(channel, "77", "Bonjour");
        let oversized = {
            let mut body = request.body.clone();
            body.resize(MAX_BODY_BYTES + 1, b' ');
            let mut signed = request.clone();
            signed.headers = vec![("content-type", "application/json".into())];
            signed
                .headers
                .extend(channels::signature(&bench.config, channel, &body).unwrap());
            (signed, body)
        };
        let response = bench.post_request(&oversized.0, oversized.1).await;
        assert_eq!(response.status(), 413, "{channel}");

        let signature = channels::signature(&bench.config, channel, &request.body).unwrap();
        if signature.is_empty() {
            continue; // A form is not signed.
        }
        let mut altered = request.body.clone();
        let last = altered.len() - 2;
        altered[last] ^= 1;
        // Where the scheme signs the body (Meta's), an altered body is a forgery.
        if channels::signature(&bench.config, channel, &altered).unwrap() != signature {
            let response = bench.post_request(&request, altered).await;
            assert_eq!(response.status(), 401, "{channel}: altered body");
        }
        let mut forged = request.clone();
        for (name, value) in forged.headers.iter_mut() {
            if signature.iter().any(|(s, _)| s == name) {
                let flipped = if value.ends_with('0') { '1' } else { '0' };
                value.pop();
                value.push(flipped);
            }
        }
        let response = bench.post_request(&forged, request.body.clone()).await;
        assert_eq!(response.status(), 401, "{channel}: wrong signature");

        let mut unsigned = request.clone();
        unsigned
            .headers
            .retain(|(name, _)| !signature.iter().any(|(s, _)| s == name));
        let response = bench.post_request(&unsigned, request.body.clone()).await;
        assert_eq!(response.status(), 401, "{channel}: no signature");
    }
    assert_eq!(bench.settle().await, 0);
    assert!(bench.database.threads().await.unwrap().is_empty());
    assert!(recorded.lock().unwrap().is_empty());
}

#[tokio::test]
async fn meta_s_handshake_echoes_the_challenge_only_for_the_verify_token() {
    let (bench, _) = bench_on_stand_in().await;
    // The channels whose webhook answers GET: Meta's subscription check.
    let checked: Vec<Channel> = Channel::ALL
        .iter()
        .copied()
        .filter(|&c| channels::webhook(c).0.contains("GET"))
        .collect();
    assert!(
        !checked.is_empty(),
        "WhatsApp, Messenger and Instagram answer GET"
    );
    for channel in checked {
        let (_, path) = channels::webhook(channel);
        let get = |q: &str| reqwest::get(format!("{}{path}?{q}", bench.base));
        let ok = get("hub.mode=subscribe&hub.verify_token=demo-verify-token&hub.challenge=8421")
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{channel}");
        assert_eq!(ok.text().await.unwrap(), "8421");
        let wrong = get("hub.mode=subscribe&hub.verify_token=guess&hub.challenge=8421")
            .await
            .unwrap();
        assert_eq!(wrong.status(), 403, "{channel}");
    }
}

#[tokio::test]
async fn an_authentic_but_unreadable_delivery_is_quarantined_with_200() {
    let (bench, recorded) = bench_on_stand_in().await;
    let mut signed = 0;
    for &channel in Channel::ALL {
        let body = b"%PDF-1.7 not what was expected".to_vec();
        let headers = channels::signature(&bench.config, channel, &body).unwrap();
        if headers.is_empty() {
            continue; // A form refuses what it cannot read, to the browser.
        }
        signed += 1;
        let header_refs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, path) = channels::webhook(channel);
        let response = bench
            .post(path, "application/json", &header_refs, body)
            .await;
        assert_eq!(response.status(), 200, "{channel}");
    }
    bench.settle().await;
    let kept = bench.database.quarantine_entries().await.unwrap();
    assert_eq!(kept.len(), signed);
    assert!(bench.database.threads().await.unwrap().is_empty());
    assert!(recorded.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_telegram_edit_and_an_instagram_unsend_change_the_thread_and_are_never_acknowledged() {
    let (bench, recorded) = bench_on_stand_in().await;
    let sign = |channel, body: &[u8]| channels::signature(&bench.config, channel, body).unwrap();
    for channel in [Channel::Telegram, Channel::Instagram] {
        let request = bench.sample(channel, "515", "Ouvert demain ?");
        assert_eq!(bench.post_sample(&request).await.status(), 200);
    }
    bench.settle().await;
    assert_eq!(recorded.lock().unwrap().len(), 2);

    let edit = json!({
        "update_id": 77,
        "edited_message": {
            "message_id": 515, "date": 1795510800, "edit_date": 1795510860,
            "from": { "id": 700000077, "is_bot": false, "first_name": "Zoé" },
            "chat": { "id": 700000077, "type": "private" },
            "text": "Ouvert après-demain ?",
        }
    })
    .to_string();
    let unsend = json!({
        "object": "instagram",
        "entry": [{ "id": "17841400000000001", "time": 1795510860000i64, "messaging": [{
            "sender": { "id": "17841400000000077" }, "recipient": { "id": "17841400000000001" },
            "timestamp": 1795510860000i64, "message": { "mid": "515", "is_deleted": true },
        }]}]
    })
    .to_string();
    for (channel, body) in [(Channel::Telegram, edit), (Channel::Instagram, unsend)] {
        let headers = sign(channel, body.as_bytes());
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, path) = channels::webhook(channel);
        let response = bench.post(path, "application/json", &headers, body).await;
        assert_eq!(response.status(), 200, "{channel}");
    }
    assert_eq!(bench.settle().await, 2);
    assert_eq!(
        recorded.lock().unwrap().len(),
        2,
        "nothing more is acknowledged"
    );

    let threads = bench.database.threads().await.unwrap();
    let of = |channel| threads.iter().find(|t| t.channel == channel).unwrap();
    let telegram = bench
        .database
        .thread(&of(Channel::Telegram).id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(telegram.messages[0].text, "Ouvert après-demain ?");
    assert!(telegram.messages[0].edited_at.is_some());
    assert_eq!(telegram.thread.last_excerpt, "Ouvert après-demain ?");
    let instagram = bench
        .database
        .thread(&of(Channel::Instagram).id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(instagram.messages[0].text, "");
    assert!(instagram.messages[0].deleted_at.is_some());
    assert_eq!(instagram.thread.message_count, 0);
}

#[tokio::test]
async fn the_bot_token_is_in_no_outbox_file() {
    // The demo as it is: no API configured, acknowledgements go to the outbox.
    let bench = Bench::start(Config::demo(), open_hours()).await;
    let request = bench.sample(Channel::Telegram, "9", "Bonjour");
    assert_eq!(bench.post_sample(&request).await.status(), 200);
    bench.settle().await;
    let files = bench.outbox_files();
    assert!(
        files.iter().any(|(name, _)| name.contains("telegram")),
        "the acknowledgement is in the outbox"
    );
    for (name, content) in &files {
        assert!(!name.contains("demo-bot-token"), "{name}");
        assert!(!content.contains("demo-bot-token"), "{name}: {content}");
    }
}
