//! Lambda entry point of ingest: `lambda_http` serves the ingest router.

// A Lambda instance handles one event at a time: worker threads would only
// add thread starts and cross-thread wake-ups to every cold start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    accueil_aws::logging::init();
    let router = accueil_ingest::from_environment()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    lambda_http::run(router).await
}
