//! The load benchmark of `accueil serve` (issue 13): the release build in
//! its own process, on loopback, under signed and distinct WhatsApp
//! webhooks sent by wrk, beside the same load on `/health` of the same
//! server in the same run (the floor). Each scenario has a data folder of
//! its own:
//!
//! - *burst*: `/health`, then webhooks, as fast as the server answers them
//!   from wrk's connections: webhooks accepted a second (answered 200, so
//!   committed to the SQLite queue), and their answer's latency;
//! - *paced*: webhooks at a fixed rate; from the moment wrk sent each one
//!   to the moment its acknowledgement reached the stand-in channel API;
//! - *drain*: a backlog queued with no worker running (the ingest router
//!   in this process, as after an outage), then `accueil serve` started on
//!   it: messages stored and acknowledged a second.
//!
//! Peak memory is each server's `VmHWM`. Run through `scripts/bench-load`,
//! which builds `accueil` and this program and installs wrk.

mod server;
mod stand_in;
mod webhooks;
mod wrk;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};

use server::{cpu_time, own_cpu_time, peak_memory_kib, Server};
use stand_in::StandIn;
use wrk::{Load, Wrk};

/// Microseconds since the Unix epoch (CLOCK_REALTIME, as wrk's script reads it).
pub type Micros = u64;

pub fn now_us() -> Micros {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

struct Options {
    accueil: PathBuf,
    wrk: PathBuf,
    work: PathBuf,
    runs: usize,
    /// Of each burst load (`/health`, then webhooks).
    duration: Duration,
    connections: usize,
    /// Distinct webhooks prepared for the burst.
    pool: usize,
    rate: f64,
    rate_duration: Duration,
    rate_connections: usize,
    backlogs: Vec<usize>,
    /// Acknowledgements a drain is timed over, at most: the first ones of
    /// a larger backlog (the rest stays queued when the server stops).
    drain_measure: usize,
    /// How long the stand-in takes to answer, as a provider's API does.
    api_delay: Duration,
}

const USAGE: &str = "load [--runs N] [--duration SECONDS] [--connections N] [--pool N] \
[--rate PER_SECOND] [--rate-duration SECONDS] [--rate-connections N] [--backlogs N,N] \
[--drain-measure N] [--api-delay-ms MS] [--accueil PATH] [--wrk PATH] [--work DIR]";

impl Options {
    fn parse() -> Result<Options> {
        let mut o = Options {
            accueil: "target/release/accueil".into(),
            wrk: "wrk".into(),
            work: "target/bench-load".into(),
            runs: 1,
            duration: Duration::from_secs(10),
            connections: 32,
            pool: 200_000,
            rate: 1000.0,
            rate_duration: Duration::from_secs(10),
            rate_connections: 32,
            backlogs: vec![1_000, 50_000],
            drain_measure: 5_000,
            api_delay: Duration::ZERO,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .with_context(|| format!("{arg} needs a value; {USAGE}"))
            };
            match arg.as_str() {
                "--runs" => o.runs = value()?.parse()?,
                "--duration" => o.duration = Duration::from_secs(value()?.parse()?),
                "--connections" => o.connections = value()?.parse()?,
                "--pool" => o.pool = value()?.parse()?,
                "--rate" => o.rate = value()?.parse()?,
                "--rate-duration" => o.rate_duration = Duration::from_secs(value()?.parse()?),
                "--rate-connections" => o.rate_connections = value()?.parse()?,
                "--backlogs" => {
                    o.backlogs = value()?
                        .split(',')
                        .map(|n| n.trim().replace('_', "").parse())
                        .collect::<Result<_, _>>()?
                }
                "--drain-measure" => o.drain_measure = value()?.parse()?,
                "--api-delay-ms" => o.api_delay = Duration::from_millis(value()?.parse()?),
                "--accueil" => o.accueil = value()?.into(),
                "--wrk" => o.wrk = value()?.into(),
                "--work" => o.work = value()?.into(),
                "--help" | "-h" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}; {USAGE}"),
            }
        }
        ensure!(o.runs > 0, "--runs must be at least 1");
        ensure!(
            o.accueil.exists(),
            "no {} (build it first)",
            o.accueil.display()
        );
        Ok(o)
    }
}

/// The stand-in, the wrk runner and the options, for every scenario.
struct Bench {
    options: Options,
    runtime: tokio::runtime::Runtime,
    stand_in: StandIn,
    wrk: Wrk,
    config: String,
}

/// CPU time of the server, wrk and this process (the stand-in) over a phase.
#[derive(Debug, Clone, Copy, Default)]
struct CpuShares {
    wall: Duration,
    server: Duration,
    wrk: Duration,
    stand_in: Duration,
}

impl CpuShares {
    fn describe(&self) -> String {
        let share = |d: Duration| 100.0 * d.as_secs_f64() / self.wall.as_secs_f64().max(1e-9);
        let mut parts = vec![format!("server {:.0}%", share(self.server))];
        if !self.wrk.is_zero() {
            parts.push(format!("wrk {:.0}%", share(self.wrk)));
        }
        parts.push(format!("stand-in {:.0}%", share(self.stand_in)));
        parts.join(", ")
    }
}

struct Burst {
    health: wrk::Stats,
    health_cpu: CpuShares,
    webhooks: wrk::Stats,
    cpu: CpuShares,
    /// Acknowledgements that reached the stand-in while webhooks came in.
    acked_meanwhile: usize,
    /// Messages stored plus jobs still queued, read after the stop.
    durable: u64,
    peak_kib: u64,
}

struct Paced {
    http: wrk::Stats,
    /// Webhooks sent, and the rate they went out at.
    sent: usize,
    offered: f64,
    acked: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    cpu: CpuShares,
    peak_kib: u64,
}

struct Drain {
    backlog: usize,
    /// The acknowledgements timed: all, or the first of a larger backlog.
    measured: usize,
    /// From the first acknowledgement to the last timed.
    rate: f64,
    /// To queue the backlog through the ingest router, no worker running.
    fill: Duration,
    /// From the process's start to its first acknowledgement.
    startup: Duration,
    cpu: CpuShares,
    peak_kib: u64,
}

struct RunFigures {
    burst: Burst,
    paced: Paced,
    drains: Vec<Drain>,
}

impl Bench {
    fn scenario_dir(&self, run: usize, name: &str) -> Result<PathBuf> {
        let dir = self.options.work.join(format!("run-{run}")).join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        // Absolute: the server is given it, and wrk's script the requests in it.
        let dir = dir.canonicalize()?;
        std::fs::write(dir.join("accueil.toml"), &self.config)?;
        Ok(dir)
    }

    fn start_server(&self, dir: &Path) -> Result<Server> {
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        Server::spawn(&self.options.accueil, &data, &dir.join("accueil.toml"))
    }

    fn burst(&self, run: usize) -> Result<Burst> {
        let o = &self.options;
        let dir = self.scenario_dir(run, "burst")?;
        let requests = webhooks::generate(&self.config, o.pool)?;
        let mut server = self.start_server(&dir)?;
        server.wait_ready()?;
        let file = dir.join("webhooks.req");
        webhooks::write_for_wrk(&requests, &server.host(), &file)?;
        drop(requests);
        self.stand_in.expect(o.pool);
        let base = format!("http://{}", server.host());
        let (server_cpu, own_cpu, started) =
            (cpu_time(server.pid())?, own_cpu_time(), Instant::now());
        let health = self.wrk.run(&wrk::Run {
            url: format!("{base}/health"),
            threads: 1,
            connections: o.connections,
            duration: o.duration,
            load: Load::Get,
        })?;
        let health_cpu = CpuShares {
            wall: started.elapsed(),
            server: cpu_time(server.pid())? - server_cpu,
            wrk: health.cpu,
            stand_in: own_cpu_time() - own_cpu,
        };
        let (server_cpu, own_cpu, started) =
            (cpu_time(server.pid())?, own_cpu_time(), Instant::now());
        let webhooks = self.wrk.run(&wrk::Run {
            url: format!("{base}/webhooks/whatsapp"),
            threads: 1,
            connections: o.connections,
            duration: o.duration,
            load: Load::Requests {
                file: &file,
                rate: None,
                sent_log: None,
            },
        })?;
        let cpu = CpuShares {
            wall: started.elapsed(),
            server: cpu_time(server.pid())? - server_cpu,
            wrk: webhooks.cpu,
            stand_in: own_cpu_time() - own_cpu,
        };
        let acked_meanwhile = self.stand_in.count();
        let peak_kib = peak_memory_kib(server.pid())?;
        let data = server.data.clone();
        server.stop()?;
        std::fs::remove_file(&file)?;
        let (stored, queued, _) = database_counts(&data)?;
        Ok(Burst {
            health,
            health_cpu,
            webhooks,
            cpu,
            acked_meanwhile,
            durable: stored + queued,
            peak_kib,
        })
    }

    fn paced(&self, run: usize) -> Result<Paced> {
        let o = &self.options;
        let dir = self.scenario_dir(run, "paced")?;
        let count = (o.rate * o.rate_duration.as_secs_f64() * 1.2) as usize + o.rate_connections;
        let requests = webhooks::generate(&self.config, count)?;
        let mut server = self.start_server(&dir)?;
        server.wait_ready()?;
        let (file, log) = (dir.join("webhooks.req"), dir.join("sent.log"));
        webhooks::write_for_wrk(&requests, &server.host(), &file)?;
        drop(requests);
        self.stand_in.expect(count);
        let (server_cpu, own_cpu, started) =
            (cpu_time(server.pid())?, own_cpu_time(), Instant::now());
        let http = self.wrk.run(&wrk::Run {
            url: format!("http://{}/webhooks/whatsapp", server.host()),
            threads: 1,
            connections: o.rate_connections,
            duration: o.rate_duration,
            load: Load::Requests {
                file: &file,
                rate: Some(o.rate),
                sent_log: Some(&log),
            },
        })?;
        let sent = wrk::read_sent_log(&log)?;
        ensure!(http.wrapped == 0, "the paced run sent some webhooks twice");
        // Every webhook sent is owed its acknowledgement: wait for them
        // all, or until none has come for 10 s.
        wait_for_acks(&self.stand_in, sent.len(), Duration::from_secs(10));
        let cpu = CpuShares {
            wall: started.elapsed(),
            server: cpu_time(server.pid())? - server_cpu,
            wrk: http.cpu,
            stand_in: own_cpu_time() - own_cpu,
        };
        let peak_kib = peak_memory_kib(server.pid())?;
        server.stop()?;
        std::fs::remove_file(&file)?;
        let acks = self.stand_in.acks();
        let mut latencies: Vec<Duration> = sent
            .iter()
            .filter_map(|&(i, at)| {
                let acked = (*acks.arrived.get(i)?)?;
                Some(Duration::from_micros(acked.saturating_sub(at)))
            })
            .collect();
        ensure!(
            !latencies.is_empty(),
            "no acknowledgement came in the paced run"
        );
        latencies.sort();
        let first = sent.iter().map(|s| s.1).min().unwrap_or(0);
        let last = sent.iter().map(|s| s.1).max().unwrap_or(0);
        Ok(Paced {
            http,
            sent: sent.len(),
            offered: (sent.len() - 1) as f64 / ((last - first) as f64 / 1e6),
            acked: latencies.len(),
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
            max: *latencies.last().unwrap(),
            cpu,
            peak_kib,
        })
    }

    fn drain(&self, run: usize, backlog: usize) -> Result<Drain> {
        let measured = backlog.min(self.options.drain_measure);
        let dir = self.scenario_dir(run, &format!("drain-{backlog}"))?;
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        let requests = webhooks::generate(&self.config, backlog)?;
        let filling = Instant::now();
        self.runtime
            .block_on(webhooks::fill_backlog(&self.config, &data, &requests))?;
        let fill = filling.elapsed();
        drop(requests);
        self.stand_in.expect(backlog);
        let (own_cpu, started, started_us) = (own_cpu_time(), Instant::now(), now_us());
        let server = self.start_server(&dir)?;
        let mut server_cpu = Duration::ZERO;
        let mut last_progress = (0, Instant::now());
        while self.stand_in.count() < measured {
            std::thread::sleep(Duration::from_millis(10));
            server_cpu = cpu_time(server.pid())?;
            let count = self.stand_in.count();
            if count > last_progress.0 {
                last_progress = (count, Instant::now());
            } else if last_progress.1.elapsed() > Duration::from_secs(30) {
                bail!("the drain of {backlog} stalled at {count} acknowledgements");
            }
        }
        let wall = started.elapsed();
        let own = own_cpu_time() - own_cpu;
        let peak_kib = peak_memory_kib(server.pid())?;
        server.stop()?;
        // Nothing lost or left half-done: each webhook is a message whose
        // acknowledgement was sent, or a job still queued for the next start.
        let (stored, queued, sent) = database_counts(&data)?;
        ensure!(
            stored + queued == backlog as u64 && sent == stored && stored >= measured as u64,
            "after the drain of {backlog}: {stored} messages stored, {sent} acknowledged, {queued} jobs left"
        );
        let acks = self.stand_in.acks();
        ensure!(
            acks.repeated == 0 && acks.unknown == 0,
            "acknowledgements sent twice or unknown"
        );
        let mut times: Vec<Micros> = acks.arrived.iter().flatten().copied().collect();
        times.sort();
        let (first, last) = (times[0], times[measured - 1]);
        Ok(Drain {
            backlog,
            measured,
            rate: (measured - 1) as f64 / ((last - first) as f64 / 1e6),
            fill,
            startup: Duration::from_micros(first.saturating_sub(started_us)),
            cpu: CpuShares {
                wall,
                server: server_cpu,
                wrk: Duration::ZERO,
                stand_in: own,
            },
            peak_kib,
        })
    }
}

/// Waits until `expected` acknowledgements came, or none for `quiet`.
fn wait_for_acks(stand_in: &StandIn, expected: usize, quiet: Duration) {
    let mut last = (stand_in.count(), Instant::now());
    while last.0 < expected && last.1.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(10));
        let count = stand_in.count();
        if count > last.0 {
            last = (count, Instant::now());
        }
    }
}

/// Messages stored, jobs waiting on the queue, acknowledgements recorded
/// as sent: read from the server's SQLite file once it has stopped.
fn database_counts(data: &Path) -> Result<(u64, u64, u64)> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("accueil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    Ok(db.query_row(
        "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM queue WHERE dead = 0),
                (SELECT count(*) FROM messages WHERE ack_state = 'sent')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> Result<()> {
    let options = Options::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stand_in = runtime.block_on(StandIn::start(options.api_delay))?;
    let config = webhooks::config_text(&stand_in.base)?;
    std::fs::create_dir_all(&options.work)?;
    let wrk = Wrk {
        binary: options.wrk.clone(),
        dir: options.work.canonicalize()?,
    };
    let bench = Bench {
        options,
        runtime,
        stand_in,
        wrk,
        config,
    };
    let mut runs = Vec::new();
    for run in 1..=bench.options.runs {
        let started = Instant::now();
        eprintln!("run {run}: burst (/health, then webhooks)");
        let burst = bench.burst(run)?;
        eprintln!("run {run}: webhooks at a fixed rate");
        let paced = bench.paced(run)?;
        let mut drains = Vec::new();
        for &backlog in &bench.options.backlogs {
            eprintln!("run {run}: drain of {backlog}");
            drains.push(bench.drain(run, backlog)?);
        }
        eprintln!("run {run}: {:.0} s", started.elapsed().as_secs_f64());
        runs.push(RunFigures {
            burst,
            paced,
            drains,
        });
    }
    print_table(&bench.options, &runs);
    Ok(())
}

/// One figure over the runs: the median, and the range when there are several.
fn summary(values: Vec<f64>, show: impl Fn(f64) -> String) -> String {
    let mut sorted = values;
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if sorted.len() == 1 {
        show(median)
    } else {
        format!(
            "{} ({}–{})",
            show(median),
            show(sorted[0]),
            show(sorted[sorted.len() - 1])
        )
    }
}

fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn show_ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.1} s", x / 1000.0)
    } else if x < 10.0 {
        format!("{x:.2} ms")
    } else {
        format!("{x:.0} ms")
    }
}

fn print_table(o: &Options, runs: &[RunFigures]) {
    let mut rows: Vec<[String; 3]> = Vec::new();
    let mut row = |figure: String,
                   f: &dyn Fn(&RunFigures) -> f64,
                   show: &dyn Fn(f64) -> String,
                   target: &str| {
        rows.push([
            figure,
            summary(runs.iter().map(f).collect(), show),
            target.to_string(),
        ]);
    };
    let (per_s, pct) = (&|x: f64| format!("{}/s", thousands(x)), &|x: f64| {
        format!("{x:.1}%")
    });
    let (in_ms, mib) = (&show_ms, &|x: f64| format!("{x:.1} MiB"));
    let c = o.connections;
    row(
        format!("`/health` (the floor), {c} connections"),
        &|r| r.burst.health.per_second(),
        per_s,
        "",
    );
    row(
        "webhooks accepted (answered 200: committed to the SQLite queue), the same connections"
            .into(),
        &|r| r.burst.webhooks.per_second(),
        per_s,
        "≥ 5,000/s",
    );
    row(
        "webhooks accepted ÷ the floor".into(),
        &|r| r.burst.webhooks.per_second() / r.burst.health.per_second(),
        &|x| format!("{x:.3}×"),
        "",
    );
    row(
        "webhook → HTTP answer, p50".into(),
        &|r| ms(r.burst.webhooks.p50),
        in_ms,
        "",
    );
    row(
        "webhook → HTTP answer, p99".into(),
        &|r| ms(r.burst.webhooks.p99),
        in_ms,
        "",
    );
    row(
        "`/health` → HTTP answer, p50".into(),
        &|r| ms(r.burst.health.p50),
        in_ms,
        "",
    );
    row(
        "`/health` → HTTP answer, p99".into(),
        &|r| ms(r.burst.health.p99),
        in_ms,
        "",
    );
    row(
        "of the webhooks accepted, acknowledged while they came in".into(),
        &|r| 100.0 * r.burst.acked_meanwhile as f64 / r.burst.webhooks.answered_ok() as f64,
        pct,
        "",
    );
    for (i, backlog) in o.backlogs.iter().enumerate() {
        let measured = (*backlog).min(o.drain_measure);
        let over_first = if measured < *backlog {
            format!(" (timed over its first {})", thousands(measured as f64))
        } else {
            String::new()
        };
        row(
            format!(
                "messages stored and acknowledged, draining a backlog of {}{over_first}",
                thousands(*backlog as f64)
            ),
            &|r| r.drains[i].rate,
            per_s,
            "≥ 2,000/s",
        );
    }
    if o.backlogs.len() >= 2 {
        let (a, b) = (0, o.backlogs.len() - 1);
        row(
            format!(
                "drain rate, backlog of {} ÷ backlog of {}",
                thousands(o.backlogs[b] as f64),
                thousands(o.backlogs[a] as f64)
            ),
            &|r| r.drains[b].rate / r.drains[a].rate,
            &|x| format!("{x:.2}×"),
            "0.80–1.20×",
        );
    }
    let rate = thousands(o.rate);
    row(
        format!("webhooks offered at {rate}/s: rate wrk sent them at"),
        &|r| r.paced.offered,
        per_s,
        "",
    );
    row(
        "webhook sent → its acknowledgement at the channel API, p50".into(),
        &|r| ms(r.paced.p50),
        in_ms,
        "",
    );
    row(
        "webhook sent → its acknowledgement at the channel API, p99".into(),
        &|r| ms(r.paced.p99),
        in_ms,
        "≤ 50 ms",
    );
    row(
        "webhook sent → its acknowledgement at the channel API, max".into(),
        &|r| ms(r.paced.max),
        in_ms,
        "",
    );
    row(
        "acknowledgements received, of the webhooks sent".into(),
        &|r| 100.0 * r.paced.acked as f64 / r.paced.sent as f64,
        pct,
        "",
    );
    row(
        format!("webhook → HTTP answer at {rate}/s, p50"),
        &|r| ms(r.paced.http.p50),
        in_ms,
        "",
    );
    row(
        format!("webhook → HTTP answer at {rate}/s, p99"),
        &|r| ms(r.paced.http.p99),
        in_ms,
        "",
    );
    row(
        "peak memory of the server (VmHWM), the highest of its runs".into(),
        &|r| {
            let drains = r.drains.iter().map(|d| d.peak_kib);
            let peak = [r.burst.peak_kib, r.paced.peak_kib]
                .into_iter()
                .chain(drains)
                .max();
            peak.unwrap_or(0) as f64 / 1024.0
        },
        mib,
        "≤ 64 MB (61 MiB)",
    );
    row(
        "peak memory: burst".into(),
        &|r| r.burst.peak_kib as f64 / 1024.0,
        mib,
        "",
    );
    row(
        format!("peak memory: at {rate}/s"),
        &|r| r.paced.peak_kib as f64 / 1024.0,
        mib,
        "",
    );
    for (i, backlog) in o.backlogs.iter().enumerate() {
        row(
            format!("peak memory: drain of {}", thousands(*backlog as f64)),
            &|r| r.drains[i].peak_kib as f64 / 1024.0,
            mib,
            "",
        );
    }
    println!();
    if runs.len() > 1 {
        println!("Medians of {} runs (lowest–highest).", runs.len());
        println!();
    }
    println!("| figure | measured | target |");
    println!("|---|---:|---|");
    for [figure, value, target] in &rows {
        println!("| {figure} | {value} | {target} |");
    }
    // Where the CPU went: the last run's, as shares of one core (two here).
    let last = runs.last().unwrap();
    println!();
    println!(
        "CPU, as shares of one core over each phase (last run; the machine has {} cores):",
        cores()
    );
    println!(
        "- `/health` as fast as answered: {}",
        last.burst.health_cpu.describe()
    );
    println!(
        "- webhooks as fast as answered: {}",
        last.burst.cpu.describe()
    );
    println!(
        "- webhooks at {}/s and their acknowledgements: {}",
        thousands(o.rate),
        last.paced.cpu.describe()
    );
    for d in &last.drains {
        println!(
            "- drain of {} ({} timed): {}; first acknowledgement {:.0} ms after the start; \
             the backlog took {:.1} s to queue",
            thousands(d.backlog as f64),
            thousands(d.measured as f64),
            d.cpu.describe(),
            ms(d.startup),
            d.fill.as_secs_f64()
        );
    }
    let wrapped: u64 = runs.iter().map(|r| r.burst.webhooks.wrapped).sum();
    if wrapped > 0 {
        println!("- warning: wrk came to the end of the {} webhooks prepared and sent some twice (--pool)", thousands(o.pool as f64));
    }
    let errors: u64 = runs
        .iter()
        .map(|r| {
            r.burst.webhooks.socket_errors
                + r.burst.webhooks.failed
                + r.paced.http.failed
                + r.paced.http.socket_errors
        })
        .sum();
    if errors > 0 {
        println!("- warning: {errors} webhooks failed (status ≥ 400 or socket errors)");
    }
    let lost: Vec<String> = runs
        .iter()
        .filter(|r| r.burst.durable < r.burst.webhooks.answered_ok())
        .map(|r| {
            format!(
                "{} accepted, {} durable",
                r.burst.webhooks.answered_ok(),
                r.burst.durable
            )
        })
        .collect();
    if !lost.is_empty() {
        println!(
            "- warning: fewer rows than webhooks accepted: {}",
            lost.join("; ")
        );
    }
    if !o.api_delay.is_zero() {
        println!(
            "- the stand-in answered each acknowledgement after {} ms",
            o.api_delay.as_millis()
        );
    }
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
