//! Lambda entry point of process: SQS events in, partial batch failures out.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};

// A Lambda instance handles one event at a time: worker threads would only
// add thread starts and cross-thread wake-ups to every cold start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    accueil_aws::logging::init();
    let processor = accueil_process::from_environment()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            accueil_process::handle(processor, event.payload).await,
        )
    }))
    .await
}
