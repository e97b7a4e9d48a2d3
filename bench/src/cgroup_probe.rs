//! What one cgroup migration costs on this host. Moving a process between
//! cgroups takes the kernel's cgroup threadgroup lock for writing, which
//! waits out an RCU grace period unless another migration happened a
//! moment ago. runc and crun move their container's init by pid once per
//! create, so this sets a floor under their `create` and `run` (tandem's
//! init moves its own thread, which does not wait); the bench idles before
//! each timed command (`SETTLE`) so that none rides on the previous one's
//! migration.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Long enough for the kernel to leave the "recent migration" state.
pub const SETTLE: Duration = Duration::from_millis(40);

/// Median time of a migration after an idle moment, in ms (None where no
/// cgroup hierarchy can be written).
pub fn migration_ms() -> Option<f64> {
    let base = PathBuf::from("/sys/fs/cgroup");
    let hierarchy = if base.join("cgroup.procs").exists() {
        base
    } else {
        fs::read_dir(&base).ok()?.flatten().map(|e| e.path()).find(|p| p.join("cgroup.procs").exists())?
    };
    let probe = hierarchy.join(format!("tandem-bench-probe-{}", std::process::id()));
    fs::create_dir(&probe).ok()?;
    let mut child = Command::new("sleep").arg("30").stdout(Stdio::null()).spawn().ok()?;
    let pid = child.id().to_string();
    let mut times = Vec::new();
    for _ in 0..5 {
        sleep(SETTLE);
        let t = Instant::now();
        if fs::write(probe.join("cgroup.procs"), &pid).is_err() {
            break;
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        sleep(SETTLE);
        let _ = fs::write(hierarchy.join("cgroup.procs"), &pid);
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = fs::remove_dir(&probe);
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied()
}
