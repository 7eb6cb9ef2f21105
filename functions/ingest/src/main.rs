//! Lambda entry point of ingest: `lambda_http` serves the ingest router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ACCUEIL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(false)
        .without_time()
        .init();
    let settings = accueil_ingest::Settings::from_env().map_err(|e| {
        tracing::error!(error = %e, "cannot start");
        e
    })?;
    let sdk = accueil_aws::sdk_config().await;
    let router = accueil_ingest::router(&sdk, settings).await.map_err(|e| {
        tracing::error!(error = %e, "cannot start");
        e
    })?;
    lambda_http::run(router).await
}
