//! The `accueil` binary as a user runs it: serve on the demo business,
//! simulate webhooks, read threads back, check configurations.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_accueil");

fn accueil(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("the binary runs")
}

/// `accueil serve` on a free port; returns the process and its base URL.
fn serve(data: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--data"])
        .arg(data)
        .env("ACCUEIL_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (found, base) = std::sync::mpsc::channel();
    // Keeps reading, so the server never writes into a closed pipe.
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(url) = line
                .split_whitespace()
                .find(|w| w.ends_with("/webhooks/webform"))
            {
                let _ = found.send(url.trim_end_matches("/webhooks/webform").to_string());
            }
        }
    });
    let base = base.recv_timeout(std::time::Duration::from_secs(10)).ok();
    (child, base.expect("serve prints the web form's URL"))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn serve_simulate_and_read_back_without_leaking_customer_data_to_the_logs() {
    let data = tempfile::tempdir().unwrap();
    let (mut server, base) = serve(data.path());

    let webform = accueil(
        data.path(),
        &[
            "simulate",
            "webform",
            "--url",
            &base,
            "--from",
            "secret.customer@example.com",
            "--name",
            "Zoé",
            "--text",
            "Mon code est 4321",
        ],
    );
    assert!(
        webform.status.success(),
        "{}",
        String::from_utf8_lossy(&webform.stderr)
    );
    assert!(String::from_utf8_lossy(&webform.stdout).contains("\"reference\":\"T-"));
    let whatsapp = accueil(
        data.path(),
        &[
            "simulate",
            "whatsapp",
            "--url",
            &base,
            "--from",
            "+33 6 00 00 99 99",
            "--text",
            "Adresse : 12 rue des Lilas",
        ],
    );
    assert!(
        whatsapp.status.success(),
        "{}",
        String::from_utf8_lossy(&whatsapp.stderr)
    );

    let outbox = data.path().join("outbox");
    wait_for("two acknowledgements", || {
        std::fs::read_dir(&outbox)
            .map(|d| d.count() == 2)
            .unwrap_or(false)
    });

    let threads = json_of(&accueil(data.path(), &["threads", "--json"]));
    let threads = threads.as_array().unwrap();
    assert_eq!(threads.len(), 2);
    let wa = threads.iter().find(|t| t["channel"] == "whatsapp").unwrap();
    assert_eq!(wa["status"], "open");
    assert_eq!(wa["message_count"], 1);
    assert_eq!(
        wa["contact"]["addresses"][0]["address"]["value"],
        "+33600009999"
    );

    let id = wa["id"].as_str().unwrap();
    let thread = json_of(&accueil(data.path(), &["thread", id, "--json"]));
    assert_eq!(thread["messages"][0]["text"], "Adresse : 12 rue des Lilas");

    let preview = data.path().join("digest.html");
    let digest = accueil(
        data.path(),
        &["digest", "--preview", preview.to_str().unwrap()],
    );
    assert!(digest.status.success());
    assert!(String::from_utf8_lossy(&digest.stdout).contains("2 conversations attendent"));
    assert!(std::fs::read_to_string(&preview)
        .unwrap()
        .contains("Adresse : 12 rue des Lilas"));

    // The owner's actions, as on the page.
    let snoozed = accueil(data.path(), &["snooze", id, "--until", "tomorrow"]);
    assert!(
        snoozed.status.success(),
        "{}",
        String::from_utf8_lossy(&snoozed.stderr)
    );
    let thread = json_of(&accueil(data.path(), &["thread", id, "--json"]));
    assert_eq!(thread["status"], "snoozed");
    assert!(thread["snoozed_until"].is_string());
    let replied = accueil(data.path(), &["reply", id, "--text", "Oui, le 12."]);
    assert!(
        replied.status.success(),
        "{}",
        String::from_utf8_lossy(&replied.stderr)
    );
    let thread = json_of(&accueil(data.path(), &["thread", id, "--json"]));
    assert_eq!(thread["status"], "answered");
    assert_eq!(thread["messages"][1]["author"], "owner");
    assert_eq!(thread["messages"][1]["text"], "Oui, le 12.");
    assert_eq!(thread["messages"][1]["acknowledgement"]["state"], "sent");
    assert_eq!(
        std::fs::read_dir(&outbox).unwrap().count(),
        3,
        "the reply's request in the outbox"
    );
    let bad = accueil(data.path(), &["snooze", id, "--until", "someday"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--until \"someday\""));

    let closed = accueil(data.path(), &["close", id]);
    assert!(closed.status.success());
    let open: Vec<Value> = json_of(&accueil(data.path(), &["threads", "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "open")
        .cloned()
        .collect();
    assert_eq!(open.len(), 1);

    let forgotten = accueil(data.path(), &["forget", "secret.customer@example.com"]);
    assert!(String::from_utf8_lossy(&forgotten.stdout).contains("1 thread(s), 1 message(s)"));

    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.contains("message stored"),
        "the logs say what happened: {logs}"
    );
    for private in [
        "secret.customer",
        "4321",
        "Lilas",
        "33600009999",
        "+33 6 00",
        "Zoé",
        "demo-app-secret",
        "demo-access-token",
    ] {
        assert!(
            !logs.contains(private),
            "{private:?} leaked into the logs:\n{logs}"
        );
    }
}

#[test]
fn simulate_signs_with_the_configured_secret_so_a_wrong_one_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let (mut server, base) = serve(data.path());
    let config = data.path().join("other.toml");
    let demo = include_str!("../../shared/core/src/demo.toml");
    std::fs::write(&config, demo.replace("demo-app-secret", "another-secret")).unwrap();
    let refused = accueil(
        data.path(),
        &[
            "simulate",
            "whatsapp",
            "--config",
            config.to_str().unwrap(),
            "--url",
            &base,
            "--from",
            "+33600000001",
            "--text",
            "hi",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("401"));
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn config_check_names_the_wrong_key_and_serve_refuses_to_start() {
    let data = tempfile::tempdir().unwrap();
    let demo = include_str!("../../shared/core/src/demo.toml");
    let good = data.path().join("good.toml");
    std::fs::write(&good, demo).unwrap();
    let ok = accueil(data.path(), &["config", "check", good.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("valid"));

    let bad = data.path().join("bad.toml");
    std::fs::write(&bad, demo.replace("\"14:00-18:00\"", "\"14:00-1800\"")).unwrap();
    let refused = accueil(data.path(), &["config", "check", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("hours.monday[1]"), "{err}");

    let serve = accueil(
        data.path(),
        &["serve", "--port", "0", "--config", bad.to_str().unwrap()],
    );
    assert_eq!(serve.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&serve.stderr).contains("hours.monday[1]"));
}

#[test]
fn an_unreadable_authentic_payload_is_listed_and_given_back_whole() {
    use accueil_core::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};

    let data = tempfile::tempdir().unwrap();
    let (mut server, base) = serve(data.path());
    let empty = accueil(data.path(), &["quarantine"]);
    assert!(String::from_utf8_lossy(&empty.stdout).contains("Nothing in quarantine."));

    let payload = r#"{"object":"whatsapp_business_account","entry":7}"#;
    let signature = MetaSignature::new("demo-app-secret").sign(payload.as_bytes());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{base}/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header(META_SIGNATURE_HEADER, signature)
            .body(payload)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);

    let mut listed = String::new();
    wait_for("the payload in quarantine", || {
        listed = String::from_utf8_lossy(&accueil(data.path(), &["quarantine"]).stdout).into();
        !listed.contains("Nothing")
    });
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("whatsapp"), "{listed}");
    let id = listed.split_whitespace().next().unwrap();
    let shown = accueil(data.path(), &["quarantine", id]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert_eq!(shown.stdout, payload.as_bytes());
    let unknown = accueil(data.path(), &["quarantine", "no-such-id"]);
    assert_eq!(unknown.status.code(), Some(2));
    server.kill().unwrap();
    server.wait().unwrap();
}
