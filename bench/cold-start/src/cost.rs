//! What a month of Accueil costs on AWS, from the measured durations: the
//! README's cost table. Public list prices, us-east-1, USD (November 2026):
//! https://aws.amazon.com/lambda/pricing/, /api-gateway/pricing/,
//! /sqs/pricing/, /dynamodb/pricing/on-demand/, /eventbridge/pricing/,
//! /cloudwatch/pricing/, /ses/pricing/.

const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
const SQS_REQUEST: f64 = 0.40 / 1e6;
const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
const SCHEDULER_INVOCATION: f64 = 1.00 / 1e6;
const ALARM_MONTH: f64 = 0.10;
const LOG_GB: f64 = 0.50;
const SES_EMAIL: f64 = 0.10 / 1000.0;

/// Per message, the costliest case (a new contact opens a new thread and
/// is acknowledged), counted from shared/aws/TABLE.md's access patterns.
const WRITE_UNITS_PER_MESSAGE: f64 = 22.0;
const READ_UNITS_PER_MESSAGE: f64 = 2.0;
/// SendMessage, then the event source's ReceiveMessage and DeleteMessage.
const SQS_REQUESTS_PER_MESSAGE: f64 = 3.0;
/// Lambda's pollers ask an empty queue all month long (an estimate: AWS
/// does not publish their number; 5 pollers, 3 requests a minute).
const SQS_IDLE_POLLING: f64 = 650_000.0;
const LOG_BYTES_PER_MESSAGE: f64 = 1_500.0;
const DIGESTS: f64 = 30.0;
const ALARMS: f64 = 4.0;
const MEMORY_GB: f64 = 128.0 / 1024.0;

/// Durations billed per invocation, in milliseconds (cold starts: since
/// 2025 Lambda bills the init phase too, so this is an upper bound).
pub struct Durations {
    pub ingest_ms: f64,
    pub process_ms: f64,
    pub digest_ms: f64,
}

struct Line {
    item: &'static str,
    cost: f64,
    /// Covered by a free tier that does not expire at this volume.
    always_free: bool,
}

fn month(messages: f64, d: &Durations) -> Vec<Line> {
    let gb_seconds =
        MEMORY_GB * (messages * (d.ingest_ms + d.process_ms) + DIGESTS * d.digest_ms) / 1000.0;
    let sqs_requests = SQS_REQUESTS_PER_MESSAGE * messages + SQS_IDLE_POLLING;
    vec![
        Line {
            item: "Lambda requests",
            cost: (2.0 * messages + DIGESTS) * LAMBDA_REQUEST,
            always_free: 2.0 * messages + DIGESTS <= 1e6,
        },
        Line {
            item: "Lambda compute (128 MB, arm64)",
            cost: gb_seconds * LAMBDA_ARM_GB_SECOND,
            always_free: gb_seconds <= 400_000.0,
        },
        Line {
            item: "API Gateway HTTP API",
            cost: messages * HTTP_API_REQUEST,
            always_free: false,
        },
        Line {
            item: "SQS (messages and idle polling)",
            cost: sqs_requests * SQS_REQUEST,
            always_free: sqs_requests <= 1e6,
        },
        Line {
            item: "DynamoDB on-demand writes and reads",
            cost: (WRITE_UNITS_PER_MESSAGE * messages + DIGESTS) * DYNAMODB_WRITE_UNIT
                + (READ_UNITS_PER_MESSAGE * messages + 3.0 * DIGESTS) * DYNAMODB_READ_UNIT,
            always_free: false,
        },
        Line {
            item: "EventBridge Scheduler",
            cost: DIGESTS * SCHEDULER_INVOCATION,
            always_free: true,
        },
        Line {
            item: "CloudWatch (4 alarms, logs)",
            cost: ALARMS * ALARM_MONTH + messages * LOG_BYTES_PER_MESSAGE / 1e9 * LOG_GB,
            always_free: true,
        },
    ]
}

/// Prints the Markdown cost table for 1,000 and 100,000 messages a month.
pub fn print(d: &Durations) {
    let volumes = [1_000.0, 100_000.0];
    let months: Vec<Vec<Line>> = volumes.iter().map(|&m| month(m, d)).collect();
    println!(
        "\nCost of a month, us-east-1 list prices, billed durations as measured above (ingest {:.1} ms, process {:.1} ms, digest {:.1} ms):\n",
        d.ingest_ms, d.process_ms, d.digest_ms
    );
    println!("| | 1,000 messages | 100,000 messages |");
    println!("|---|---:|---:|");
    for (small, large) in months[0].iter().zip(&months[1]) {
        println!(
            "| {} | ${:.4} | ${:.4} |",
            small.item, small.cost, large.cost
        );
    }
    let total = |lines: &[Line], free: bool| -> f64 {
        lines
            .iter()
            .filter(|l| !(free && l.always_free))
            .map(|l| l.cost)
            .sum()
    };
    println!(
        "| **total, list prices** | **${:.2}** | **${:.2}** |",
        total(&months[0], false),
        total(&months[1], false)
    );
    println!(
        "| **total after the always-free tiers** | **${:.2}** | **${:.2}** |",
        total(&months[0], true),
        total(&months[1], true)
    );
    println!(
        "| *apart:* SES acknowledgement emails ($0.10 per 1,000) | ${:.2} | ${:.2} |",
        volumes[0] * SES_EMAIL,
        volumes[1] * SES_EMAIL
    );
}
