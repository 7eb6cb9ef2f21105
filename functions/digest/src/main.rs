//! Lambda entry point of digest: any EventBridge Scheduler invocation sends it.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    accueil_aws::logging::init();
    let function = accueil_digest::from_environment()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let function = &function;
    lambda_runtime::run(service_fn(
        move |_event: LambdaEvent<serde_json::Value>| async move {
            let message_id = function.run(chrono::Utc::now()).await?;
            Ok::<serde_json::Value, lambda_runtime::Error>(
                serde_json::json!({ "sent": message_id }),
            )
        },
    ))
    .await
}
