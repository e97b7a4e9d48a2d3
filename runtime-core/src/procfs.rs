//! Reading facts about processes from /proc.

use std::fs;

/// Fields of /proc/PID/stat after the command name: (state, start time).
pub fn stat(pid: i32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself hold spaces or ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3 (state); start time is field 22.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

pub fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(_, t)| t)
}

/// Alive (not a zombie) and still the process that started at `start`.
pub fn is_alive(pid: i32, start: u64) -> bool {
    matches!(stat(pid), Some((s, t)) if t == start && s != 'Z' && s != 'X')
}

/// Inode of one of a process's namespaces, e.g. `ns_inode(pid, "pid")`.
pub fn ns_inode(pid: i32, ns: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(format!("/proc/{pid}/ns/{ns}")).ok().map(|m| m.ino())
}

/// The process's pid in its innermost pid namespace (last field of NSpid).
pub fn ns_pid(pid: i32) -> Option<i32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("NSpid:"))?.split_whitespace().last()?.parse().ok()
}

/// Every pid on the host.
pub fn all_pids() -> Vec<i32> {
    fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_stat_is_readable() {
        let pid = std::process::id() as i32;
        let (state, start) = stat(pid).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(is_alive(pid, start));
        assert!(!is_alive(pid, start + 1));
    }
}
