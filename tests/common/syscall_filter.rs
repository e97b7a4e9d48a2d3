//! Run a command under a seccomp filter that answers ENOSYS for some
//! syscalls: how a test shows tandem's fallbacks for a kernel (or a
//! nested runtime's profile) that lacks them.

use std::os::unix::process::CommandExt;
use std::process::Command;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16, jt, jf, k }
}

/// A classic BPF program: `syscalls` fail with ENOSYS, all else runs.
fn program(syscalls: &[libc::c_long]) -> Vec<libc::sock_filter> {
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let n = syscalls.len() as u8;
    let mut p = vec![stmt(load, 4), jeq(AUDIT_ARCH_X86_64, 0, n + 1), stmt(load, 0)];
    for (i, &nr) in syscalls.iter().enumerate() {
        // Matched: jump to the ENOSYS return after the remaining checks and the allow.
        p.push(jeq(nr as u32, n - i as u8, 0));
    }
    p.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    p.push(stmt(ret, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
    p
}

/// Make `cmd` run with `syscalls` answering ENOSYS (inherited by all it starts).
pub fn enosys(cmd: &mut Command, syscalls: &[libc::c_long]) {
    let prog = program(syscalls);
    // SAFETY: the closure runs between fork and exec and only makes one
    // raw syscall on memory the program owns (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
            if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
