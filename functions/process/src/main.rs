//! Lambda entry point of process: SQS events in, partial batch failures out.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
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
    let settings = accueil_process::Settings::from_env().map_err(|e| {
        tracing::error!(error = %e, "cannot start");
        e
    })?;
    let sdk = accueil_aws::sdk_config().await;
    let processor = accueil_process::processor(&sdk, settings)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start");
            e
        })?;
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            accueil_process::handle(processor, event.payload).await,
        )
    }))
    .await
}
