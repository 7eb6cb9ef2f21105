//! The SAM template and the code must agree: every environment variable a
//! function reads is set, every route the ingest router serves is routed,
//! and every AWS action the code calls is allowed, and none more.
//!
//! Routes are found by asking the real router; AWS actions by running each
//! function against the local AWS API with its request recorder on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use accueil_core::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use accueil_core::channels::{self, Channel};
use accueil_core::domain::ThreadChange;
use accueil_core::ports::{Job, Queue, QueueError, Store, SystemClock};
use accueil_e2e::{aws, sqs_record, whatsapp_text_now, Answer, StandIn, DEMO_APP_SECRET};
use base64::Engine;
use no_queue::NoQueue;
use serde_json::{json, Value as Json};
use serde_norway::Value;
use tower::ServiceExt;

/// The functions: binary name and crate folder under functions/.
const FUNCTIONS: [(&str, &str); 3] = [
    ("accueil-ingest", "ingest"),
    ("accueil-process", "process"),
    ("accueil-digest", "digest"),
];

/// Permissions the Lambda platform uses with the function's role, not the
/// code: writing its logs, and for an SQS event source, polling the queue.
const LOGS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];
const SQS_EVENT_SOURCE: [&str; 3] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    let text =
        std::fs::read_to_string(root().join("infra/template.yaml")).expect("infra/template.yaml");
    serde_norway::from_str(&text).expect("the template is YAML")
}

/// A CloudFormation value without its short-form tag (`!Ref X` → `X`).
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

fn strings(v: &Value) -> Vec<String> {
    match untag(v) {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

/// The function resource whose SAM build picks `binary`.
fn function<'a>(template: &'a Value, binary: &str) -> (&'a str, &'a Value) {
    let resources = template["Resources"].as_mapping().unwrap();
    resources
        .iter()
        .find(|(_, r)| {
            r["Type"] == "AWS::Serverless::Function"
                && r["Metadata"]["BuildProperties"]["Binary"] == binary
        })
        .map(|(k, r)| (k.as_str().unwrap(), r))
        .unwrap_or_else(|| panic!("no function builds {binary}"))
}

fn environment(template: &Value, resource: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for vars in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &resource["Properties"]["Environment"]["Variables"],
    ] {
        if let Some(m) = vars.as_mapping() {
            names.extend(m.keys().filter_map(|k| k.as_str().map(str::to_string)));
        }
    }
    names
}

/// The variables a function's code reads: the `env::NAME` constants its
/// crate uses, resolved through shared/aws/src/env.rs.
fn variables_read(folder: &str) -> BTreeSet<String> {
    let env_rs = std::fs::read_to_string(root().join("shared/aws/src/env.rs")).unwrap();
    let constants: BTreeMap<String, String> = env_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let value = rest.split('"').nth(1)?;
            Some((name.trim().to_string(), value.to_string()))
        })
        .collect();
    let mut read = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("functions").join(folder).join("src")).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (constant, variable) in &constants {
            if source.contains(&format!("env::{constant}")) {
                read.insert(variable.clone());
            }
        }
    }
    assert!(
        !read.is_empty(),
        "{folder} reads no variable? the scan is broken"
    );
    read
}

#[test]
fn every_variable_a_function_reads_is_set_and_none_other() {
    let template = template();
    for (binary, folder) in FUNCTIONS {
        let (_, resource) = function(&template, binary);
        let set: BTreeSet<String> = environment(&template, resource)
            .into_iter()
            .filter(|v| v.starts_with("ACCUEIL_"))
            .collect();
        assert_eq!(
            set,
            variables_read(folder),
            "{binary}: the template's ACCUEIL_* variables differ from what the code reads"
        );
    }
}

/// The (method, path) pairs routed to the ingest function.
fn routed(template: &Value) -> BTreeSet<(String, String)> {
    let (_, ingest) = function(template, "accueil-ingest");
    ingest["Properties"]["Events"]
        .as_mapping()
        .expect("the ingest function has events")
        .values()
        .filter(|e| e["Type"] == "HttpApi")
        .map(|e| {
            (
                e["Properties"]["Method"].as_str().unwrap().to_uppercase(),
                e["Properties"]["Path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

mod no_queue {
    use super::*;

    /// A queue that takes everything: probing routes must not need AWS.
    pub struct NoQueue;

    #[async_trait::async_trait]
    impl Queue for NoQueue {
        async fn enqueue(&self, _jobs: &[Job]) -> Result<(), QueueError> {
            Ok(())
        }

        async fn enqueue_later(
            &self,
            _job: &Job,
            _delay: std::time::Duration,
        ) -> Result<(), QueueError> {
            Ok(())
        }
    }
}

/// What the registry says is served: each channel's webhook, by its
/// methods, the owner's pages, and /health.
fn routes_of_the_registry() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::from([("GET".to_string(), "/health".to_string())]);
    for (method, path) in accueil_core::owner::served() {
        routes.insert((method.to_string(), path));
    }
    for &channel in Channel::ALL {
        let (methods, path) = channels::webhook(channel);
        for method in methods.split('/') {
            routes.insert((method.to_string(), path.to_string()));
        }
    }
    routes
}

#[tokio::test]
async fn the_http_api_routes_every_channel_of_the_registry_as_the_router_serves_it() {
    let template = template();
    let routed = routed(&template);
    assert_eq!(
        routed,
        routes_of_the_registry(),
        "the HTTP API's routes differ from the channel registry's webhooks and the owner's pages"
    );
    // The demo enables every channel: its router must serve exactly those.
    let dir = tempfile::tempdir().unwrap();
    let store = accueil_embedded::Database::open(&dir.path().join("accueil.db")).unwrap();
    let router = accueil_core::ingest::router(
        Arc::new(accueil_core::config::Config::demo()),
        Arc::new(NoQueue),
        Arc::new(store),
        Arc::new(SystemClock),
    );
    let mut served = BTreeSet::new();
    let paths: BTreeSet<&String> = routed.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            // A path parameter stands for a thread's reference.
            let request = axum::http::Request::builder()
                .method(method)
                .uri(path.replace("{id}", "T-0123456789"))
                .body(axum::body::Body::empty())
                .unwrap();
            let status = router.clone().oneshot(request).await.unwrap().status();
            if status != 404 && status != 405 {
                served.insert((method.to_string(), path.clone()));
            }
        }
    }
    assert_eq!(
        routed, served,
        "the HTTP API's routes differ from what the ingest router serves"
    );
}

#[test]
fn every_channel_has_a_webhook_url_output() {
    let template = template();
    let outputs = template["Outputs"].as_mapping().expect("outputs");
    for &channel in Channel::ALL {
        let (_, path) = channels::webhook(channel);
        let found = outputs.values().any(|o| {
            strings(&o["Value"]).iter().any(|v| {
                v.ends_with(&format!(
                    "execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}{path}"
                ))
            })
        });
        assert!(found, "{channel}: no output gives the URL of {path}");
    }
}

/// The actions a function's role allows, platform permissions set apart.
fn allowed(template: &Value, binary: &str) -> BTreeSet<String> {
    let (name, resource) = function(template, binary);
    assert!(
        resource["Properties"]["Policies"].is_null(),
        "{name}: give the function a Role with explicit statements; SAM policy templates allow more than the code calls"
    );
    let role = strings(&resource["Properties"]["Role"])
        .pop()
        .unwrap_or_else(|| panic!("{name} has no Role"));
    let role = role.trim_end_matches(".Arn");
    let role = &template["Resources"][role];
    assert!(
        role["Properties"]["ManagedPolicyArns"].is_null(),
        "{name}: no managed policies"
    );
    let mut actions = BTreeSet::new();
    for policy in role["Properties"]["Policies"].as_sequence().unwrap() {
        for statement in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
            assert_eq!(statement["Effect"], "Allow");
            actions.extend(strings(&statement["Action"]));
        }
    }
    let has_sqs_source = resource["Properties"]["Events"]
        .as_mapping()
        .is_some_and(|events| events.values().any(|e| e["Type"] == "SQS"));
    for platform in LOGS {
        assert!(
            actions.remove(platform),
            "{name} cannot write its logs ({platform})"
        );
    }
    if has_sqs_source {
        for platform in SQS_EVENT_SOURCE {
            assert!(
                actions.remove(platform),
                "{name}'s SQS event source needs {platform}"
            );
        }
    }
    actions
}

/// The moto server's request recorder.
struct Recorder(String);

impl Recorder {
    async fn call(&self, what: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/moto-api/recorder/{what}", self.0))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "recorder {what}: {}",
            response.status()
        );
        response.text().await.unwrap()
    }

    /// The IAM actions of every request recorded since `reset`.
    async fn actions(&self) -> BTreeSet<String> {
        let log = reqwest::get(format!("{}/moto-api/recorder/download-recording", self.0))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        log.lines()
            .filter(|l| !l.trim().is_empty())
            .flat_map(|l| actions_of(&serde_json::from_str(l).unwrap()))
            .collect()
    }
}

/// The IAM actions one recorded request needs: its service from the
/// signature's credential scope, its operation from the JSON target or the
/// query Action; a DynamoDB transaction needs its items' own actions.
fn actions_of(entry: &Json) -> Vec<String> {
    let header = |name: &str| {
        entry["headers"]
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let body = match (entry["body"].as_str(), entry["body_encoded"].as_bool()) {
        (Some(b), Some(true)) => {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
                .unwrap_or_default()
        }
        (Some(b), _) => b.to_string(),
        _ => String::new(),
    };
    let authorization = header("authorization");
    let service = authorization
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or_else(|| panic!("an unsigned request? {entry}"))
        .to_string();
    let operation = match header("x-amz-target").rsplit_once('.') {
        Some((_, op)) => op.to_string(),
        None => serde_urlencoded::from_str::<Vec<(String, String)>>(&body)
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no operation in {entry}")),
    };
    if operation == "TransactWriteItems" {
        let request: Json = serde_json::from_str(&body).unwrap();
        return request["TransactItems"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|item| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .map(|kind| {
                format!(
                    "dynamodb:{}",
                    if kind == "ConditionCheck" {
                        "ConditionCheckItem".into()
                    } else {
                        format!("{kind}Item")
                    }
                )
            })
            .collect();
    }
    vec![format!("{service}:{operation}")]
}

/// Runs each function through its paths with the recorder on, and compares
/// what it called with what its role allows.
#[tokio::test]
async fn every_aws_action_the_code_calls_is_allowed_and_none_more() {
    let template = template();
    let endpoint = aws::endpoint();
    let recorder = Recorder(endpoint);
    let sdk = aws::sdk().await;
    let table = aws::table(&sdk).await;
    let queue = aws::queue(&sdk).await;
    let dead_letters = aws::queue(&sdk).await;
    aws::verify_sender(&sdk, "bonjour@atelier-lune.example").await;

    // As deployed: the configuration and a secret in SSM.
    let stand_in = StandIn::start().await;
    let api = stand_in.base.clone();
    let prefix = format!("/{}", aws::unique("accueil"));
    let config = accueil_core::config::DEMO
        .replace(
            "access_token = \"demo-access-token\"",
            &format!("access_token = \"demo-access-token\"\napi_base_url = \"{api}\""),
        )
        .replace(
            "\"demo-app-secret\"",
            &format!("\"ssm:{prefix}/app_secret\""),
        );
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for (name, value) in [("config", config.as_str()), ("app_secret", DEMO_APP_SECRET)] {
        ssm.put_parameter()
            .name(format!("{prefix}/{name}"))
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    let config_ref = format!("ssm:{prefix}/config");

    let mut called: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();

    // ingest: a form and a WhatsApp message onto the queue.
    recorder.call("reset-recording").await;
    recorder.call("start-recording").await;
    let router = accueil_ingest::router(
        &sdk,
        accueil_ingest::Settings {
            queue_url: queue.clone(),
            table: table.clone(),
            config: config_ref.clone(),
        },
    )
    .await
    .unwrap();
    let payload = whatsapp_text_now("33600000901", "wamid.IAM1", "Bonjour");
    let signature = MetaSignature::new(DEMO_APP_SECRET).sign(payload.as_bytes());
    for (path, content_type, body, extra) in [
        (
            "/webhooks/whatsapp",
            "application/json",
            payload.clone(),
            Some(signature),
        ),
        (
            "/webhooks/webform",
            "application/x-www-form-urlencoded",
            "email=iam%40example.com&message=Bonjour".to_string(),
            None,
        ),
    ] {
        let mut request = axum::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", content_type);
        if let Some(signature) = extra {
            request = request.header(META_SIGNATURE_HEADER, signature);
        }
        let response = router
            .clone()
            .oneshot(request.body(axum::body::Body::from(body)).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    recorder.call("stop-recording").await;
    called.insert("accueil-ingest", recorder.actions().await);

    // process: both jobs (new contacts, new threads, acknowledgements by SES
    // and the Graph API), the same again (duplicates), a quarantined payload.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let messages = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(messages.len(), 2);
    let quarantine =
        accueil_aws::sqs::encode(&Job::Quarantine(accueil_core::domain::Quarantined::new(
            Channel::Whatsapp,
            chrono::Utc::now(),
            "unreadable".into(),
            b"%PDF",
        )))
        .unwrap();
    let mut bodies: Vec<String> = messages.iter().map(|m| m.body.clone().unwrap()).collect();
    bodies.extend(bodies.clone());
    bodies.push(quarantine);
    let records: Vec<Json> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| sqs_record(&format!("m{i}"), body))
        .collect();
    // WhatsApp's API fails for now: its acknowledgements wait on the queue.
    stand_in.answer(Answer::Fail(503));
    recorder.call("reset-recording").await;
    recorder.call("start-recording").await;
    let processor = accueil_process::processor(
        &sdk,
        accueil_process::Settings {
            table: table.clone(),
            queue_url: queue.clone(),
            config: config_ref.clone(),
        },
    )
    .await
    .unwrap();
    let event = serde_json::from_value(json!({ "Records": records })).unwrap();
    assert!(accueil_process::handle(&processor, event)
        .await
        .batch_item_failures
        .is_empty());
    recorder.call("stop-recording").await;
    called.insert("accueil-process", recorder.actions().await);

    // ingest again, the owner's page of the form's thread: read it, put it
    // off, reopen it, close it, reopen it, reply; then process that reply
    // (sent by SES).
    let store =
        accueil_aws::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
    let form_thread = store
        .threads()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.channel == Channel::Webform)
        .expect("the form's thread");
    let links = accueil_core::config::Config::demo().owner.unwrap().links;
    let token = links.link_token(
        &form_thread.id,
        chrono::Utc::now() + chrono::Duration::days(1),
    );
    let form_token = links.form_token(&form_thread.id, &token);
    let page = format!("/owner/threads/{}", form_thread.id);
    let until = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let reply_id = accueil_core::owner::Reply::new_id();
    recorder.call("reset-recording").await;
    recorder.call("start-recording").await;
    let get = axum::http::Request::get(format!("{page}?t={token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(router.clone().oneshot(get).await.unwrap().status(), 200);
    for (action, extra) in [
        ("later", vec![("until", until.as_str())]),
        ("reopen", vec![]),
        ("done", vec![]),
        ("reopen", vec![]),
        (
            "reply",
            vec![("text", "Bonjour, c'est noté."), ("reply_id", &reply_id)],
        ),
    ] {
        let mut fields = vec![("t", token.as_str()), ("form_token", form_token.as_str())];
        fields.extend(extra);
        let post = axum::http::Request::post(format!("{page}/{action}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(
                serde_urlencoded::to_string(&fields).unwrap(),
            ))
            .unwrap();
        let status = router.clone().oneshot(post).await.unwrap().status();
        assert_eq!(status, 303, "{action}");
    }
    recorder.call("stop-recording").await;
    called
        .get_mut("accueil-ingest")
        .unwrap()
        .extend(recorder.actions().await);
    let reply = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .find(|body| matches!(accueil_aws::sqs::decode(body), Ok(Job::Reply(_))))
        .expect("the reply on the queue");
    recorder.call("reset-recording").await;
    recorder.call("start-recording").await;
    let event =
        serde_json::from_value(json!({ "Records": [sqs_record("reply", &reply)] })).unwrap();
    assert!(accueil_process::handle(&processor, event)
        .await
        .batch_item_failures
        .is_empty());
    recorder.call("stop-recording").await;
    called
        .get_mut("accueil-process")
        .unwrap()
        .extend(recorder.actions().await);
    // Open again, as the digest below expects it.
    assert!(store
        .change_thread(&form_thread.id, ThreadChange::Reopen, chrono::Utc::now())
        .await
        .unwrap());

    // digest: twice, with a message stored in between, so that the second
    // reads the messages of the thread that has one (GetItem) and skips the
    // thread that has none.
    recorder.call("reset-recording").await;
    recorder.call("start-recording").await;
    let digest = accueil_digest::DigestFunction::new(
        &sdk,
        accueil_digest::Settings {
            public_url: None,
            table: table.clone(),
            config: config_ref.clone(),
            dead_letter_queue: Some(dead_letters),
        },
    )
    .await
    .unwrap();
    digest.run(chrono::Utc::now()).await.unwrap();
    recorder.call("stop-recording").await;
    let later = accueil_aws::sqs::encode(&Job::Message(
        accueil_core::channels::whatsapp::payload::parse(
            whatsapp_text_now("33600000901", "wamid.IAM2", "Encore").as_bytes(),
            chrono::Utc::now(),
        )
        .unwrap()
        .envelopes
        .remove(0),
    ))
    .unwrap();
    let event =
        serde_json::from_value(json!({ "Records": [sqs_record("later", &later)] })).unwrap();
    accueil_process::handle(&processor, event).await;
    // Both branches, whatever this machine's clock says of the payload's
    // fixed timestamp: new is by the time the message was stored.
    let config = accueil_core::config::Config::demo();
    let lines = accueil_core::digest::Digest::build(&config, &store, 0, chrono::Utc::now())
        .await
        .unwrap()
        .threads;
    let mut new: Vec<(String, usize)> = lines
        .into_iter()
        .map(|l| (l.channel, l.new_messages))
        .collect();
    new.sort();
    assert_eq!(
        new,
        [
            ("Formulaire du site".to_string(), 0),
            ("WhatsApp".to_string(), 1)
        ]
    );
    recorder.call("start-recording").await;
    digest.run(chrono::Utc::now()).await.unwrap();
    recorder.call("stop-recording").await;
    called.insert("accueil-digest", recorder.actions().await);

    for (binary, _) in FUNCTIONS {
        let calls = &called[binary];
        assert!(
            !calls.is_empty(),
            "{binary}: nothing recorded; is the recorder working?"
        );
        assert_eq!(
            &allowed(&template, binary),
            calls,
            "{binary}: the role's actions (left) differ from the calls the code makes (right)"
        );
    }
}
