//! The commands that read or change a container's cgroup: `pause`,
//! `resume`, `ps`, `events` and `update` (with runc's flags).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde_json::{Value, json};
use tandem_runtime_core::{Error, Event, Runtime};

/// `update`'s flags, as runc names them.
#[derive(clap::Args, Default)]
pub struct UpdateArgs {
    /// A JSON file of linux.resources ("-" for stdin); flags override it.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit, in bytes or with a k/m/g suffix; -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Ignored by the kernel since 5.16, as by runc.
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long)]
    pub cpu_burst: Option<u64>,
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_idle: Option<i64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids; 0 or -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

pub fn pause(rt: &Runtime, id: &str) -> Result<(), Error> {
    rt.load(id)?.pause()
}

pub fn resume(rt: &Runtime, id: &str) -> Result<(), Error> {
    rt.load(id)?.resume()
}

/// `ps`: json prints the pids; table runs the host's `ps` (with `ps_args`,
/// default -ef) and keeps the header and the container's rows.
pub fn ps(rt: &Runtime, id: &str, format: &str, ps_args: &[String]) -> Result<(), Error> {
    let pids = rt.load(id)?.pids()?;
    if format == "json" {
        crate::out_line(serde_json::to_string(&pids).expect("numbers serialise"));
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::sys(format!("run ps {}", args.join(" ")), e))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Error::sys(format!("ps {}", args.join(" ")), std::io::Error::other(why)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let pid_col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::sys("read ps output", std::io::Error::other("no PID column in its header")))?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{header}");
    for line in lines {
        let pid = line.split_whitespace().nth(pid_col).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            let _ = writeln!(stdout, "{line}");
        }
    }
    Ok(())
}

/// `events`: runc's envelope, one JSON object per line, until the
/// container stops; with `stats_once`, one stats object and out.
pub fn events(rt: &Runtime, id: &str, interval: &str, stats_once: bool) -> Result<(), Error> {
    let c = rt.load(id)?;
    // Written by hand to keep runc's key order: type, id, data.
    let envelope = |typ: &str, data: Option<Value>| match data {
        Some(d) => format!(r#"{{"type":"{typ}","id":{},"data":{d}}}"#, json!(id)),
        None => format!(r#"{{"type":"{typ}","id":{}}}"#, json!(id)),
    };
    let mut out = std::io::stdout().lock();
    if stats_once {
        let s = c.stats()?;
        let _ = writeln!(out, "{}", envelope("stats", Some(serde_json::to_value(&s).expect("stats serialise"))));
        return Ok(());
    }
    let interval = parse_duration(interval)?;
    for ev in c.events(interval)? {
        let line = match ev? {
            Event::Stats(s) => envelope("stats", Some(serde_json::to_value(&*s).expect("stats serialise"))),
            Event::Oom => envelope("oom", None),
            // runc's stream has neither; the library reports them.
            Event::Paused | Event::Resumed => continue,
            Event::Exit => break,
        };
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    Ok(())
}

/// Go-style durations: "5s", "100ms", "1m30s", "2h".
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    let bad = || Error::config("--interval", format!("'{s}' is not a duration like 5s or 500ms"));
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(n * secs);
        rest = &rest[unit_end..];
    }
    if total.is_zero() {
        return Err(Error::config("--interval", "must be above zero"));
    }
    Ok(total)
}

/// "512m", "1g", "1024", "-1": bytes, as runc's flags take them.
pub fn parse_bytes(flag: &str, s: &str) -> Result<i64, Error> {
    let bad = || Error::config(flag, format!("'{s}' is not a size like 512m, 1g or 1048576"));
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Err(bad());
    }
    Ok((n * mult as f64) as i64)
}

impl UpdateArgs {
    /// The resources to write: the file's, with the flags on top.
    pub fn resources(&self) -> Result<LinuxResources, Error> {
        let mut v: Value = match &self.resources {
            Some(p) => {
                let mut text = String::new();
                let r = if p.as_os_str() == "-" {
                    std::io::stdin().read_to_string(&mut text)
                } else {
                    std::fs::File::open(p).and_then(|mut f| f.read_to_string(&mut text))
                };
                r.map_err(|e| Error::path("read resources", p, e))?;
                serde_json::from_str(&text).map_err(|e| Error::config("--resources", e.to_string()))?
            }
            None => json!({}),
        };
        let obj = v.as_object_mut().ok_or_else(|| Error::config("--resources", "is not a JSON object"))?;
        let mut set = |section: &str, key: &str, value: Value| {
            let s = obj.entry(section).or_insert_with(|| json!({}));
            if let Some(m) = s.as_object_mut() {
                m.insert(key.into(), value);
            }
        };
        let bytes = |flag: &str, v: &Option<String>| v.as_deref().map(|s| parse_bytes(flag, s)).transpose();
        if let Some(n) = bytes("--memory", &self.memory)? {
            set("memory", "limit", json!(n));
        }
        if let Some(n) = bytes("--memory-reservation", &self.memory_reservation)? {
            set("memory", "reservation", json!(n));
        }
        if let Some(n) = bytes("--memory-swap", &self.memory_swap)? {
            set("memory", "swap", json!(n));
        }
        if let Some(n) = bytes("--kernel-memory", &self.kernel_memory)? {
            set("memory", "kernel", json!(n));
        }
        if let Some(n) = bytes("--kernel-memory-tcp", &self.kernel_memory_tcp)? {
            set("memory", "kernelTCP", json!(n));
        }
        let cpu = [
            ("shares", self.cpu_shares.map(|v| json!(v))),
            ("quota", self.cpu_quota.map(|v| json!(v))),
            ("period", self.cpu_period.map(|v| json!(v))),
            ("burst", self.cpu_burst.map(|v| json!(v))),
            ("realtimePeriod", self.cpu_rt_period.map(|v| json!(v))),
            ("realtimeRuntime", self.cpu_rt_runtime.map(|v| json!(v))),
            ("idle", self.cpu_idle.map(|v| json!(v))),
            ("cpus", self.cpuset_cpus.as_ref().map(|v| json!(v))),
            ("mems", self.cpuset_mems.as_ref().map(|v| json!(v))),
        ];
        for (key, value) in cpu {
            if let Some(value) = value {
                set("cpu", key, value);
            }
        }
        if let Some(n) = self.pids_limit {
            set("pids", "limit", json!(n));
        }
        if let Some(w) = self.blkio_weight {
            set("blockIO", "weight", json!(w));
        }
        let text = v.to_string();
        let mut de = serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(&mut de)
            .map_err(|e| Error::config(format!("linux.resources.{}", e.path()), e.inner().to_string()))
    }
}

pub fn update(rt: &Runtime, id: &str, args: &UpdateArgs) -> Result<(), Error> {
    let res = args.resources()?;
    rt.load(id)?.update(&res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5").is_err() && parse_duration("0s").is_err() && parse_duration("x").is_err());
        assert_eq!(parse_bytes("--memory", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("--memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("--memory", "4096").unwrap(), 4096);
        assert_eq!(parse_bytes("--memory", "-1").unwrap(), -1);
        assert!(parse_bytes("--memory", "lots").unwrap_err().to_string().contains("--memory"));
    }

    #[test]
    fn flags_override_the_file() {
        let args =
            UpdateArgs { memory: Some("64m".into()), pids_limit: Some(10), cpu_quota: Some(-1), ..Default::default() };
        let r = args.resources().unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(64 << 20));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 10);
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(-1));
    }
}
