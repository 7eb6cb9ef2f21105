//! Measures each Lambda function's release build as Lambda would start it,
//! against a loopback Lambda Runtime API and the loopback AWS API, beside an
//! empty `lambda_http` function built with the same profile: stripped binary
//! size, time to be ready for events, first answer, peak memory.
//!
//! Each process gets a cold event, then a warm one of the same kind. The
//! function's AWS requests go through a pass-through that times them, so
//! that the cold start (what starting cold cost: first answer, less the AWS
//! API's time, less what the same work costs once warm) is the function's
//! own, not moto's, and compares with the empty function's. It is given in
//! wall-clock time and in the process's CPU time (all threads, kernel
//! included): the latter does not move with how promptly moto and the
//! pass-through, on the other CPU, answer.
//!
//! Run through `scripts/bench`, which builds the binaries and starts the
//! local AWS API.

mod aws_meter;
mod cost;
mod events;
mod runtime_api;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use aws_meter::AwsMeter;
use events::{
    answered_200, digest_seed_event, digest_sent, form_event, no_batch_failures, sqs_event,
    DIGEST_THREADS,
};
use runtime_api::RuntimeApi;

const SENDER: &str = "bonjour@atelier-lune.example";

struct Function {
    name: &'static str,
    binary: PathBuf,
    env: Vec<(&'static str, String)>,
    /// A fresh event per run, and whether the answer is the expected one.
    event: fn(usize) -> Value,
    check: fn(&str) -> bool,
}

struct Measure {
    ready: Duration,
    answer: Duration,
    /// Of `answer`, the time spent waiting on the AWS API, and its requests.
    aws: Duration,
    aws_requests: u64,
    /// The second (warm) invocation, less its time waiting on the AWS API.
    warm: Duration,
    /// CPU time the process used until its first answer, on all its threads.
    cpu: Duration,
    /// CPU time the process used for the warm invocation.
    warm_cpu: Duration,
    peak_kib: u64,
}

impl Measure {
    /// What starting cold cost: the first answer, less the time the AWS API
    /// took, less what the same work costs the function once warm.
    fn cold_start(&self) -> Duration {
        self.answer
            .saturating_sub(self.aws)
            .saturating_sub(self.warm)
    }

    /// The same in the function's own CPU time, which waiting on moto or
    /// on the benchmark's pass-through does not blur.
    fn cold_start_cpu(&self) -> Duration {
        self.cpu.saturating_sub(self.warm_cpu)
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Peak resident memory of a running process (Linux `VmHWM`).
fn peak_memory_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc status")
}

/// CPU time of all of a process's threads so far (`/proc/<pid>/task/*/schedstat`).
fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// Starts the function against the Runtime API `api`, as Lambda would.
fn start(
    function: &Function,
    api: &RuntimeApi,
    aws_endpoint: &str,
    cpu: Option<usize>,
) -> Result<std::process::Child> {
    let mut command = Command::new(&function.binary);
    if let Some(cpu) = cpu {
        pin_to_cpu(&mut command, cpu);
    }
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", function.name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", function.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", aws_endpoint)
        .env("ACCUEIL_LOG", "warn")
        .envs(function.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", function.binary.display()))
}

/// Starts the function, invokes it once cold and once warm, and stops it.
async fn cold_start(
    meter: &AwsMeter,
    aws_endpoint: &str,
    function: &Function,
    run: usize,
    cpu: Option<usize>,
) -> Result<Measure> {
    let mut api = RuntimeApi::serve().await;
    meter.reset();
    api.invoke((function.event)(run));
    // The spawn itself is part of the start, as on Lambda.
    let started = Instant::now();
    let mut child = start(function, &api, aws_endpoint, cpu)?;
    let outcome = async {
        let (cold_at, cold) = answer(&mut api, function).await?;
        let cpu = cpu_time(child.id());
        api.invoke((function.event)(run + WARM_RUN));
        let (warm_at, warm) = answer(&mut api, function).await?;
        let warm_cpu = cpu_time(child.id()).saturating_sub(cpu);
        check(function, cold)?;
        check(function, warm)?;
        let ready_at = api.handed_out(0).context("no event handed out")?;
        let warm_from = api.handed_out(1).context("no second event handed out")?;
        let aws = meter.waited(started, cold_at);
        let warm_aws = meter.waited(warm_from, warm_at);
        Ok(Measure {
            ready: ready_at - started,
            answer: cold_at - started,
            aws: aws.total,
            aws_requests: aws.requests,
            warm: (warm_at - warm_from).saturating_sub(warm_aws.total),
            cpu,
            warm_cpu,
            peak_kib: peak_memory_kib(child.id()).unwrap_or(0),
        })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// Runs the function on a CPU of its own, so that the benchmark's Runtime
/// API, the AWS pass-through and moto (kept on the other CPUs by
/// `scripts/bench`) do not take turns with it and blur the figures.
fn pin_to_cpu(command: &mut Command, cpu: usize) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls are allowed;
    // CPU_ZERO/CPU_SET write to a local set and sched_setaffinity is a
    // system call.
    unsafe {
        command.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_ZERO(&mut set);
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs `function` once on its event, unmeasured, to leave data behind.
async fn seed(function: &Function, aws_endpoint: &str) -> Result<()> {
    let mut api = RuntimeApi::serve().await;
    api.invoke((function.event)(0));
    let mut child = start(function, &api, aws_endpoint, None)?;
    let outcome = answer(&mut api, function).await;
    let _ = child.kill();
    let _ = child.wait();
    check(function, outcome?.1)
}

/// Warm invocations' events are numbered apart from the cold ones'.
const WARM_RUN: usize = 1_000_000;

async fn answer(
    api: &mut RuntimeApi,
    function: &Function,
) -> Result<(Instant, Result<String, String>)> {
    tokio::time::timeout(Duration::from_secs(20), api.answer())
        .await
        .with_context(|| format!("{} did not answer within 20 s", function.name))?
        .context("the runtime API stopped")
}

fn check(function: &Function, answer: Result<String, String>) -> Result<()> {
    match answer {
        Ok(body) if (function.check)(&body) => Ok(()),
        Ok(body) => bail!("{} answered something unexpected: {body}", function.name),
        Err(e) => bail!("{} failed: {e}", function.name),
    }
}

/// The AWS resources the functions use, as the template makes them.
struct Resources {
    table: String,
    /// The digest's own table, so that what it lists does not grow with
    /// the process function's runs.
    digest_table: String,
    queue: String,
    dead_letter_queue: String,
}

async fn provision() -> Result<Resources> {
    // The functions and this program read the same local AWS API.
    let endpoint = std::env::var("ACCUEIL_TEST_AWS_ENDPOINT").context(
        "ACCUEIL_TEST_AWS_ENDPOINT is not set: run scripts/bench, which starts the local AWS API",
    )?;
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let sdk = accueil_aws::sdk_config().await;
    let table = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let digest_table = format!("{table}-digest");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    for name in [&table, &digest_table] {
        accueil_aws::dynamodb::create_table(&dynamodb, name)
            .await
            .map_err(anyhow::Error::msg)?;
    }
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut queues = Vec::new();
    for name in [table.clone(), format!("{table}-dlq")] {
        let created = sqs.create_queue().queue_name(name).send().await?;
        queues.push(created.queue_url.context("no queue URL")?);
    }
    let [queue, dead_letter_queue] = <[String; 2]>::try_from(queues).expect("two queues");
    aws_sdk_ses::Client::new(&sdk)
        .verify_email_identity()
        .email_address(SENDER)
        .send()
        .await?;
    Ok(Resources {
        table,
        digest_table,
        queue,
        dead_letter_queue,
    })
}

fn size_mib(path: &Path) -> f64 {
    std::fs::metadata(path)
        .map(|m| m.len() as f64 / (1024.0 * 1024.0))
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut runs = 10usize;
    let mut bin_dir = PathBuf::from("target/release");
    let mut function_cpu = None;
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--bin-dir" => bin_dir = args.next().context("--bin-dir DIR")?.into(),
            // Another business than the demo, to see what its configuration costs.
            "--config" => {
                let path = args.next().context("--config FILE")?;
                config = Some(std::fs::read_to_string(&path).with_context(|| path.clone())?)
            }
            "--function-cpu" => {
                function_cpu = Some(args.next().context("--function-cpu N")?.parse()?)
            }
            other => {
                bail!("unknown argument {other:?} (--runs N, --bin-dir DIR, --config FILE, --function-cpu N)")
            }
        }
    }
    let Resources {
        table,
        digest_table,
        queue,
        dead_letter_queue,
    } = provision().await?;
    let config = config.unwrap_or_else(|| accueil_core::config::DEMO.to_string());
    let functions = [
        Function {
            name: "empty-lambda",
            binary: bin_dir.join("empty-lambda"),
            env: vec![],
            event: form_event,
            check: answered_200,
        },
        Function {
            name: "accueil-ingest",
            binary: bin_dir.join("accueil-ingest"),
            env: vec![
                ("ACCUEIL_QUEUE_URL", queue.clone()),
                // The owner's pages read it; a webhook never does.
                ("ACCUEIL_TABLE", table.clone()),
                ("ACCUEIL_CONFIG", config.clone()),
            ],
            event: form_event,
            check: answered_200,
        },
        Function {
            name: "accueil-process",
            binary: bin_dir.join("accueil-process"),
            env: vec![
                ("ACCUEIL_TABLE", table.clone()),
                ("ACCUEIL_QUEUE_URL", queue.clone()),
                ("ACCUEIL_CONFIG", config.clone()),
            ],
            event: sqs_event,
            check: no_batch_failures,
        },
        Function {
            name: "accueil-digest",
            binary: bin_dir.join("accueil-digest"),
            env: vec![
                ("ACCUEIL_TABLE", digest_table.clone()),
                ("ACCUEIL_CONFIG", config.clone()),
                ("ACCUEIL_DLQ_URL", dead_letter_queue),
            ],
            event: |_| json!({ "source": "aws.scheduler" }),
            check: digest_sent,
        },
    ];

    let meter = AwsMeter::new(std::env::var("ACCUEIL_TEST_AWS_ENDPOINT")?);
    let aws_endpoint = meter.serve().await;
    let seeder = Function {
        name: "accueil-process",
        binary: bin_dir.join("accueil-process"),
        env: vec![
            ("ACCUEIL_TABLE", digest_table),
            ("ACCUEIL_QUEUE_URL", queue.clone()),
            ("ACCUEIL_CONFIG", config.clone()),
        ],
        event: digest_seed_event,
        check: no_batch_failures,
    };
    seed(&seeder, &aws_endpoint).await?;
    // Rounds of one start of each function, so that whatever drifts on the
    // machine during the benchmark weighs on all of them alike; the first
    // round only fills the page cache and is not counted.
    let mut measures: Vec<Vec<Measure>> = functions.iter().map(|_| Vec::new()).collect();
    for run in 0..=runs {
        for (function, measured) in functions.iter().zip(&mut measures) {
            let measure = cold_start(&meter, &aws_endpoint, function, run, function_cpu).await?;
            if run > 0 {
                measured.push(measure);
            }
        }
    }
    let rows: Vec<_> = functions.iter().zip(measures).collect();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median_of = |measures: &[Measure], f: fn(&Measure) -> Duration| {
        median(measures.iter().map(f).collect())
    };
    let times = |d: Duration, of: Duration| d.as_secs_f64() / of.as_secs_f64();
    let empty_ready = median_of(&rows[0].1, |m| m.ready);
    let empty_cold = median_of(&rows[0].1, Measure::cold_start);
    let empty_cold_cpu = median_of(&rows[0].1, Measure::cold_start_cpu);
    println!(
        "Median of {runs} starts each{}. First event: ingest a web form onto SQS; process one SQS record (DynamoDB, SES); digest one email of {DIGEST_THREADS} open threads (DynamoDB, SES); empty-lambda answers the ingest event. A second, warm event of the same kind follows.",
        function_cpu.map(|cpu| format!(", in rounds, each function alone on CPU {cpu}")).unwrap_or_default()
    );
    println!("\n| function | binary (stripped) | ready for events | vs empty | peak memory |");
    println!("|---|---:|---:|---:|---:|");
    for (function, measures) in &rows {
        let ready = median_of(measures, |m| m.ready);
        let peak = measures.iter().map(|m| m.peak_kib).max().unwrap_or(0);
        println!(
            "| {} | {:.1} MiB | {:.1} ms | {:.2}× | {:.1} MiB |",
            function.name,
            size_mib(&function.binary),
            ms(ready),
            times(ready, empty_ready),
            peak as f64 / 1024.0
        );
    }
    println!("\nCold start = first answer, less the AWS API's time, less the warm invocation: what starting cold cost; in wall-clock time, then in the function's own CPU time (steadier: waiting on moto or on the pass-through does not count).\n");
    println!("| function | first answer | AWS API in it (requests) | warm invocation, less AWS API | cold start | vs empty | CPU to first answer | CPU, warm invocation | cold start, CPU | vs empty |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (function, measures) in &rows {
        let aws_requests = measures.iter().map(|m| m.aws_requests).max().unwrap_or(0);
        let cold = median_of(measures, Measure::cold_start);
        let cold_cpu = median_of(measures, Measure::cold_start_cpu);
        println!(
            "| {} | {:.1} ms | {:.1} ms ({aws_requests}) | {:.1} ms | {:.1} ms | {:.2}× | {:.1} ms | {:.1} ms | {:.1} ms | {:.2}× |",
            function.name,
            ms(median_of(measures, |m| m.answer)),
            ms(median_of(measures, |m| m.aws)),
            ms(median_of(measures, |m| m.warm)),
            ms(cold),
            times(cold, empty_cold),
            ms(median_of(measures, |m| m.cpu)),
            ms(median_of(measures, |m| m.warm_cpu)),
            ms(cold_cpu),
            times(cold_cpu, empty_cold_cpu),
        );
    }
    let answer_of = |i: usize| median_of(&rows[i].1, |m| m.answer);
    cost::print(&cost::Durations {
        ingest_ms: ms(answer_of(1)),
        process_ms: ms(answer_of(2)),
        digest_ms: ms(answer_of(3)),
    });
    Ok(())
}
