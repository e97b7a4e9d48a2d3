//! Kernel attributes a container process sets on itself, from the spec:
//! the scheduler (`process.scheduler`), the I/O priority
//! (`process.ioPriority`), the personality (`linux.personality`), the
//! NUMA memory policy (`linux.memoryPolicy`) and, for an exec'd process,
//! the CPU affinity (`process.execCPUAffinity`).
//!
//! Each is validated into plain values at create (every problem named by
//! its JSON path) and applied in the init or the exec'd process while it
//! still has its capabilities: a real-time policy or I/O class needs
//! CAP_SYS_NICE. The kernel's own refusal names the field too.

use oci_spec::runtime as oci;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::sys::{self, SchedAttr};

/// `linux.memoryPolicy` for set_mempolicy: the mode with its flags, and
/// the node mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPolicy {
    pub mode: i32,
    pub nodes: Vec<u64>,
}

/// The process-level attributes (`process.*`); the container-wide ones
/// (`linux.personality`, `linux.memoryPolicy`) live in [`Config`].
#[derive(Debug, Clone, Default)]
pub struct ProcessAttrs {
    pub scheduler: Option<SchedAttr>,
    pub io_priority: Option<u32>,
    /// execCPUAffinity: before joining the cgroup, and before the exec.
    pub affinity_initial: Option<Vec<u64>>,
    pub affinity_final: Option<Vec<u64>>,
}

impl ProcessAttrs {
    pub fn from_spec(process: &oci::Process) -> Result<ProcessAttrs> {
        let affinity = process.exec_cpu_affinity().as_ref();
        let cpus = |field: &str, list: Option<&String>| list.map(|l| crate::cpulist::words(field, l)).transpose();
        Ok(ProcessAttrs {
            scheduler: process.scheduler().as_ref().map(scheduler).transpose()?,
            io_priority: process.io_priority().as_ref().map(io_priority).transpose()?,
            affinity_initial: cpus("process.execCPUAffinity.initial", affinity.and_then(|a| a.initial().as_ref()))?,
            affinity_final: cpus(
                "process.execCPUAffinity.final",
                affinity.and_then(|a| a.cpu_affinity_final().as_ref()),
            )?,
        })
    }

    /// An exec'd process's first step, before it joins the cgroup.
    pub fn apply_initial_affinity(&self) -> Result<()> {
        match &self.affinity_initial {
            Some(cpus) => sys::sched_setaffinity(cpus)
                .map_err(|e| Error::sys("process.execCPUAffinity.initial: sched_setaffinity()", e)),
            None => Ok(()),
        }
    }
}

/// Set the container's and the process's attributes on this process
/// (the init, or with `exec` an exec'd process: execCPUAffinity is not
/// for the init).
pub fn apply(config: &Config, exec: bool) -> Result<()> {
    if let Some(p) = config.personality {
        nix::sys::personality::set(nix::sys::personality::Persona::from_bits_retain(p as i32))
            .map_err(|e| Error::sys("linux.personality: personality()", e))?;
    }
    if let Some(MemoryPolicy { mode, nodes }) = &config.memory_policy {
        sys::set_mempolicy(*mode, nodes).map_err(|e| Error::sys("linux.memoryPolicy: set_mempolicy()", e))?;
    }
    let attrs = &config.process.attrs;
    if let Some(v) = attrs.io_priority {
        sys::ioprio_set(v).map_err(|e| Error::sys("process.ioPriority: ioprio_set()", e))?;
    }
    if let Some(attr) = &attrs.scheduler {
        sys::sched_setattr(attr).map_err(|e| Error::sys("process.scheduler: sched_setattr()", e))?;
    }
    if exec && let Some(cpus) = &attrs.affinity_final {
        sys::sched_setaffinity(cpus)
            .map_err(|e| Error::sys("process.execCPUAffinity.final: sched_setaffinity()", e))?;
    }
    Ok(())
}

fn scheduler(s: &oci::Scheduler) -> Result<SchedAttr> {
    use oci::LinuxSchedulerFlag as F;
    use oci::LinuxSchedulerPolicy as P;
    let policy = match s.policy() {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => {
            return Err(Error::config("process.scheduler.policy", "SCHED_ISO is not implemented by Linux"));
        }
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::config("process.scheduler.nice", format!("{nice} is not within -20..19")));
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(s.policy(), P::SchedFifo | P::SchedRr);
    if realtime && !(1..=99).contains(&priority) || !realtime && priority != 0 {
        let want = if realtime { "1..99 for SCHED_FIFO and SCHED_RR" } else { "0 for this policy" };
        return Err(Error::config("process.scheduler.priority", format!("{priority} must be {want}")));
    }
    let deadline = [s.runtime(), s.deadline(), s.period()];
    if *s.policy() != P::SchedDeadline && deadline.iter().any(|v| v.is_some()) {
        return Err(Error::config("process.scheduler.runtime", "runtime, deadline and period are for SCHED_DEADLINE"));
    }
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            F::SchedResetOnFork => 0x01,
            F::SchedFlagReclaim => 0x02,
            F::SchedFlagDLOverrun => 0x04,
            F::SchedFlagKeepPolicy => 0x08,
            F::SchedFlagKeepParams => 0x10,
            F::SchedFlagUtilClampMin => 0x20,
            F::SchedFlagUtilClampMax => 0x40,
        }
    });
    Ok(SchedAttr {
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    })
}

fn io_priority(p: &oci::LinuxIOPriority) -> Result<u32> {
    use oci::IOPriorityClass as C;
    let class = match p.class() {
        C::IoprioClassRt => 1,
        C::IoprioClassBe => 2,
        C::IoprioClassIdle => 3,
    };
    let level = p.priority();
    if !(0..=7).contains(&level) {
        return Err(Error::config("process.ioPriority.priority", format!("{level} is not within 0..7")));
    }
    Ok(class << 13 | level as u32)
}

pub fn personality(p: &oci::LinuxPersonality) -> Result<u64> {
    if let Some(flag) = p.flags().iter().flatten().next() {
        return Err(Error::config("linux.personality.flags", format!("'{flag}' is not a flag runtime-spec defines")));
    }
    Ok(match p.domain() {
        oci::LinuxPersonalityDomain::PerLinux => 0,
        oci::LinuxPersonalityDomain::PerLinux32 => 0x0008,
    })
}

pub fn memory_policy(m: &oci::LinuxMemoryPolicy) -> Result<MemoryPolicy> {
    use oci::MemoryPolicyModeType as M;
    let mode = match m.mode() {
        M::MpolDefault => 0,
        M::MpolPreferred => 1,
        M::MpolBind => 2,
        M::MpolInterleave => 3,
        M::MpolLocal => 4,
        M::MpolPreferredMany => 5,
        M::MpolWeightedInterleave => 6,
    };
    let flags = m.flags().iter().flatten().fold(0i32, |acc, f| {
        acc | match f {
            oci::MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            oci::MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            oci::MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        }
    });
    let nodes = match m.nodes().as_deref().filter(|n| !n.is_empty()) {
        Some(list) => crate::cpulist::words("linux.memoryPolicy.nodes", list)?,
        None => Vec::new(),
    };
    let needs_nodes =
        matches!(m.mode(), M::MpolBind | M::MpolInterleave | M::MpolPreferredMany | M::MpolWeightedInterleave);
    if needs_nodes && nodes.is_empty() {
        return Err(Error::config("linux.memoryPolicy.nodes", format!("{} needs nodes", m.mode())));
    }
    if matches!(m.mode(), M::MpolDefault | M::MpolLocal) && !nodes.is_empty() {
        return Err(Error::config("linux.memoryPolicy.nodes", format!("{} takes no nodes", m.mode())));
    }
    Ok(MemoryPolicy { mode: mode | flags, nodes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: &str) -> Result<ProcessAttrs> {
        let mut p: serde_json::Value = serde_json::from_str(json).unwrap();
        p["cwd"] = "/".into();
        p["user"] = serde_json::json!({"uid": 0, "gid": 0});
        ProcessAttrs::from_spec(&serde_json::from_value(p).unwrap())
    }

    fn linux(json: &str) -> Result<(Option<u64>, Option<MemoryPolicy>)> {
        let l: oci::Linux = serde_json::from_str(json).unwrap();
        Ok((
            l.personality().as_ref().map(personality).transpose()?,
            l.memory_policy().as_ref().map(memory_policy).transpose()?,
        ))
    }

    #[test]
    fn fields_become_syscall_values() {
        let a = process(
            r#"{"scheduler": {"policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_RESET_ON_FORK"]},
                "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 6},
                "execCPUAffinity": {"initial": "0", "final": "0-1"}}"#,
        )
        .unwrap();
        let s = a.scheduler.unwrap();
        assert_eq!((s.policy, s.priority, s.flags), (1, 10, 1));
        assert_eq!(a.io_priority, Some(2 << 13 | 6));
        assert_eq!((a.affinity_initial, a.affinity_final), (Some(vec![1]), Some(vec![3])));
        assert!(process("{}").unwrap().scheduler.is_none());
        let l = linux(
            r#"{"personality": {"domain": "LINUX32"}, "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0",
                "flags": ["MPOL_F_STATIC_NODES"]}}"#,
        )
        .unwrap();
        assert_eq!(l, (Some(8), Some(MemoryPolicy { mode: 2 | 1 << 15, nodes: vec![1] })));
    }

    #[test]
    fn bad_values_are_named() {
        for (p, l, field) in [
            (r#"{"scheduler": {"policy": "SCHED_FIFO"}}"#, "{}", "process.scheduler.priority"),
            (r#"{"scheduler": {"policy": "SCHED_OTHER", "nice": 40}}"#, "{}", "process.scheduler.nice"),
            (r#"{"scheduler": {"policy": "SCHED_ISO"}}"#, "{}", "process.scheduler.policy"),
            (r#"{"scheduler": {"policy": "SCHED_OTHER", "runtime": 5}}"#, "{}", "process.scheduler.runtime"),
            (r#"{"ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 9}}"#, "{}", "process.ioPriority"),
            ("{}", r#"{"personality": {"domain": "LINUX", "flags": ["X"]}}"#, "linux.personality.flags"),
            ("{}", r#"{"memoryPolicy": {"mode": "MPOL_BIND"}}"#, "linux.memoryPolicy.nodes"),
            ("{}", r#"{"memoryPolicy": {"mode": "MPOL_LOCAL", "nodes": "0"}}"#, "linux.memoryPolicy.nodes"),
        ] {
            let e = process(p).and_then(|_| linux(l)).unwrap_err().to_string();
            assert!(e.contains(field), "{p} {l}: {e}");
        }
    }
}
