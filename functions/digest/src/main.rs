//! Lambda entry point of digest: any EventBridge Scheduler invocation sends it.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ACCUEIL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(false)
        .without_time()
        .init();
    let settings = accueil_digest::Settings::from_env().map_err(|e| {
        tracing::error!(error = %e, "cannot start");
        e
    })?;
    let sdk = accueil_aws::sdk_config().await;
    let function = accueil_digest::DigestFunction::new(&sdk, settings)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start");
            e
        })?;
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
