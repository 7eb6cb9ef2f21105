//! Lambda entry point of digest: any EventBridge Scheduler invocation sends it.

use lambda_runtime::{service_fn, LambdaEvent};

// A Lambda instance handles one event at a time: worker threads would only
// add thread starts and cross-thread wake-ups to every cold start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    accueil_aws::logging::init();
    let function = accueil_digest::from_environment()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let function = &function;
    lambda_runtime::run(service_fn(
        move |_event: LambdaEvent<serde_json::Value>| async move {
            let sent = function.run(chrono::Utc::now()).await?;
            Ok::<serde_json::Value, lambda_runtime::Error>(match sent {
                Some(message_id) => serde_json::json!({ "sent": message_id }),
                None => serde_json::json!({ "skipped": "nothing waiting" }),
            })
        },
    ))
    .await
}
