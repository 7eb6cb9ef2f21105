//! Lambda entry point of ingest: `lambda_http` serves the ingest router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    accueil_aws::logging::init();
    let router = accueil_ingest::from_environment()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    lambda_http::run(router).await
}
