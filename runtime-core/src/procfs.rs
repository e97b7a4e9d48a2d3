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

/// mountinfo escapes spaces, tabs, newlines and backslashes as \ooo.
pub(crate) fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
