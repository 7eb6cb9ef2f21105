//! wrk, the load generator, and the Lua script it runs. wrk sends and times
//! every request; the script only chooses what it sends: each wrk thread
//! takes its share of the pre-generated signed webhooks and cycles through
//! them, and when a rate is set, spaces its requests on a fixed schedule
//! (wrk's `delay()` hook) and notes when each webhook was sent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::server::timeval;
use crate::Micros;

/// What the requests are, and how fast they go.
pub enum Load<'a> {
    /// `GET` of the URL's path, as fast as the server answers.
    Get,
    /// The requests of a `write_for_wrk` file, as fast as the server
    /// answers, or at `rate` a second, the time each was sent written to
    /// `sent_log` (`index microseconds` lines).
    Requests {
        file: &'a Path,
        rate: Option<f64>,
        sent_log: Option<&'a Path>,
    },
}

pub struct Run<'a> {
    pub url: String,
    pub threads: usize,
    pub connections: usize,
    pub duration: Duration,
    pub load: Load<'a>,
}

/// What wrk counted.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// Requests answered, whatever the status.
    pub requests: u64,
    pub duration: Duration,
    /// Request written to answer read, as wrk times it.
    pub p50: Duration,
    pub p99: Duration,
    /// Answers with a status of 400 or more.
    pub failed: u64,
    /// Connect, read, write errors and time-outs.
    pub socket_errors: u64,
    /// Times a thread came to the end of its requests and began again
    /// (the same webhooks sent twice: no longer all distinct).
    pub wrapped: u64,
    /// wrk's own CPU time.
    pub cpu: Duration,
}

impl Stats {
    pub fn answered_ok(&self) -> u64 {
        self.requests - self.failed
    }

    pub fn per_second(&self) -> f64 {
        self.answered_ok() as f64 / self.duration.as_secs_f64()
    }
}

const COMMON: &str = r#"-- Written by the load benchmark (bench/load/src/wrk.rs).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } load_timespec;
int clock_gettime(int clock, load_timespec *ts);
]]
local ts = ffi.new("load_timespec")
-- CLOCK_REALTIME in microseconds: the stand-in's clock too.
local function now_us()
  ffi.C.clock_gettime(0, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
"#;

/// Each thread's share of the webhooks, sent in turn.
const REQUESTS: &str = r#"
local pool, keys = {}, {}
local position = 0
local logging = os.getenv("LOAD_SENT_LOG") ~= nil
local interval_us = nil
local first_slot, slots = nil, 0
wrapped = 0
sent = {}

function init(args)
  local nthreads = tonumber(os.getenv("LOAD_THREADS"))
  local f = assert(io.open(os.getenv("LOAD_REQUESTS"), "rb"))
  local data = f:read("*a")
  f:close()
  local at, k = 1, 0
  while at <= #data do
    local eol = data:find("\n", at, true)
    local length = tonumber(data:sub(at, eol - 1))
    if k % nthreads == id then
      pool[#pool + 1] = data:sub(eol + 1, eol + length)
      keys[#keys + 1] = k
    end
    k = k + 1
    at = eol + 1 + length
  end
  local rate = tonumber(os.getenv("LOAD_RATE") or "0")
  if rate > 0 then
    interval_us = 1000000 * nthreads / rate
  end
end

-- wrk asks the first thread for a request once before starting, to check
-- it, and never sends that one.
local checked = false

function request()
  if id == 0 and not checked then
    checked = true
    return wrk.format()
  end
  position = position + 1
  if position > #pool then
    position = 1
    wrapped = wrapped + 1
  end
  if logging then
    sent[keys[position]] = now_us()
  end
  return pool[position]
end
"#;

const DONE: &str = r#"
function done(summary, latency, requests)
  local wrapped_total = 0
  local log_path = os.getenv("LOAD_SENT_LOG")
  local log = log_path and assert(io.open(log_path, "w"))
  for _, thread in ipairs(threads) do
    wrapped_total = wrapped_total + (thread:get("wrapped") or 0)
    if log then
      for k, t in pairs(thread:get("sent") or {}) do
        log:write(string.format("%.0f %.0f\n", k, t))
      end
    end
  end
  if log then log:close() end
  local e = summary.errors
  io.write(string.format(
    "LOAD requests=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f status_errors=%.0f socket_errors=%.0f wrapped=%.0f\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, wrapped_total))
end
"#;

/// wrk's `delay()`: the next request of this thread waits for its slot on a
/// fixed schedule, whenever the last answer came (open loop while the
/// connections suffice: a late answer does not push the next send back).
const DELAY: &str = r#"
function delay()
  local now = now_us()
  if first_slot == nil then
    first_slot = now
  end
  local slot = first_slot + slots * interval_us
  slots = slots + 1
  local wait_ms = (slot - now) / 1000
  if wait_ms < 0 then
    return 0
  end
  return wait_ms
end
"#;

pub struct Wrk {
    pub binary: PathBuf,
    /// Where the scripts are written.
    pub dir: PathBuf,
}

impl Wrk {
    pub fn run(&self, run: &Run<'_>) -> Result<Stats> {
        let paced = matches!(run.load, Load::Requests { rate: Some(_), .. });
        let script = self.dir.join(if paced { "paced.lua" } else { "wrk.lua" });
        // wrk sends its one static request unless the script has request().
        let text = match run.load {
            Load::Get => [COMMON, DONE].concat(),
            Load::Requests { .. } => {
                [COMMON, REQUESTS, if paced { DELAY } else { "" }, DONE].concat()
            }
        };
        std::fs::write(&script, text)?;
        let mut command = Command::new(&self.binary);
        command
            .arg(format!("--threads={}", run.threads))
            .arg(format!("--connections={}", run.connections))
            .arg(format!("--duration={}s", run.duration.as_secs()))
            .arg("--timeout=10s")
            .arg("--script")
            .arg(&script)
            .arg(&run.url)
            .env("LOAD_THREADS", run.threads.to_string())
            .env_remove("LOAD_SENT_LOG")
            .env_remove("LOAD_RATE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match &run.load {
            Load::Get => {}
            Load::Requests {
                file,
                rate,
                sent_log,
            } => {
                command.env("LOAD_REQUESTS", file);
                if let Some(rate) = rate {
                    command.env("LOAD_RATE", rate.to_string());
                }
                if let Some(log) = sent_log {
                    command.env("LOAD_SENT_LOG", log);
                }
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let pid = child.id() as libc::pid_t;
        let mut stdout = child.stdout.context("wrk's output")?;
        let mut output = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut output)?;
        // Reaped here rather than by `Child::wait`, for its CPU time.
        let (status, cpu) = wait_with_cpu(pid)?;
        if !status {
            bail!("wrk failed:\n{output}");
        }
        parse(&output, cpu).with_context(|| format!("wrk's output:\n{output}"))
    }
}

fn wait_with_cpu(pid: libc::pid_t) -> Result<(bool, Duration)> {
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid pointers.
    let (reaped, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let reaped = libc::wait4(pid, &mut status, 0, &mut usage);
        (reaped, usage)
    };
    if reaped != pid {
        bail!("waiting for wrk: {}", std::io::Error::last_os_error());
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, timeval(usage.ru_utime) + timeval(usage.ru_stime)))
}

fn parse(output: &str, cpu: Duration) -> Result<Stats> {
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix("LOAD "))
        .context("no LOAD line")?;
    let field = |name: &str| -> Result<u64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("no {name}"))?
            .parse()
            .with_context(|| name.to_string())
    };
    Ok(Stats {
        requests: field("requests")?,
        duration: Duration::from_micros(field("duration_us")?),
        p50: Duration::from_micros(field("p50_us")?),
        p99: Duration::from_micros(field("p99_us")?),
        failed: field("status_errors")?,
        socket_errors: field("socket_errors")?,
        wrapped: field("wrapped")?,
        cpu,
    })
}

/// The `sent_log` of a paced run: when each webhook was sent.
pub fn read_sent_log(path: &Path) -> Result<Vec<(usize, Micros)>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    text.lines()
        .map(|l| {
            let (k, t) = l.split_once(' ').context("sent log line")?;
            Ok((k.parse()?, t.parse()?))
        })
        .collect()
}
