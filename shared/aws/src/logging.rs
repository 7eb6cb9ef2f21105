//! Logging for the Lambda functions: plain lines on stderr (CloudWatch adds
//! the time), at the level `ACCUEIL_LOG` names (`info` by default). A level,
//! not a filter expression: the functions need no regex engine at cold start.

use tracing::level_filters::LevelFilter;

pub fn init() {
    let level = std::env::var("ACCUEIL_LOG")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
}
