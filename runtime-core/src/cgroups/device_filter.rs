//! Device rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program built
//! from the rules, attached to the container's cgroup in place of the one
//! attached before (so `update` swaps it without a window of no filter).
//!
//! The program reads the request (type, access, major, minor), tries the
//! rules from the last to the first (the last matching rule wins, as with
//! v1's lists) and falls back to the default: the effect of the last rule
//! that matches everything, or allow when there is none (a new v1 cgroup
//! inherits "allow all" the same way).

use std::path::Path;

use super::DeviceRule;
use crate::error::{Error, Result};
use crate::sys::{self, BpfInsn};

// Opcodes (linux/bpf.h, linux/bpf_common.h).
const LDX_W_MEM: u8 = 0x61; // dst = *(u32 *)(src + off)
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP_JNE_K: u8 = 0x55;
const JMP_JEQ_K: u8 = 0x15;
const EXIT: u8 = 0x95;

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
// access_type = (access << 16) | type.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn { code, regs: (src << 4) | dst, off, imm }
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |b, c| {
        b | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// The checks of one rule, each jumping past the rule when it fails, then
/// the rule's verdict.
fn rule_block(rule: &DeviceRule) -> Vec<BpfInsn> {
    // (opcode, register, immediate) of each "skip unless" test.
    let mut tests: Vec<Vec<BpfInsn>> = Vec::new();
    match rule.kind {
        'b' => tests.push(vec![insn(JMP_JNE_K, 2, 0, 0, DEV_BLOCK)]),
        'c' => tests.push(vec![insn(JMP_JNE_K, 2, 0, 0, DEV_CHAR)]),
        _ => {}
    }
    let bits = access_bits(&rule.access);
    if bits != ACC_READ | ACC_WRITE | ACC_MKNOD {
        if rule.allow {
            // Allowed only when every requested access is in the rule.
            tests.push(vec![
                insn(ALU32_MOV_X, 1, 3, 0, 0),
                insn(ALU32_AND_K, 1, 0, 0, !bits & 7),
                insn(JMP_JNE_K, 1, 0, 0, 0),
            ]);
        } else {
            // Denied when any requested access is in the rule.
            tests.push(vec![
                insn(ALU32_MOV_X, 1, 3, 0, 0),
                insn(ALU32_AND_K, 1, 0, 0, bits),
                insn(JMP_JEQ_K, 1, 0, 0, 0),
            ]);
        }
    }
    if let Some(m) = rule.major {
        tests.push(vec![insn(JMP_JNE_K, 4, 0, 0, m as i32)]);
    }
    if let Some(m) = rule.minor {
        tests.push(vec![insn(JMP_JNE_K, 5, 0, 0, m as i32)]);
    }
    let mut block: Vec<BpfInsn> = tests.into_iter().flatten().collect();
    block.push(insn(ALU64_MOV_K, 0, 0, 0, rule.allow as i32));
    block.push(insn(EXIT, 0, 0, 0, 0));
    // Every jump goes to the end of the block.
    let len = block.len();
    for (i, ins) in block.iter_mut().enumerate() {
        if ins.code == JMP_JNE_K || ins.code == JMP_JEQ_K {
            ins.off = (len - i - 1) as i16;
        }
    }
    block
}

/// The whole program for a list of rules.
pub fn program(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    let last_all = rules.iter().rposition(DeviceRule::matches_all);
    let default_allow = last_all.is_none_or(|i| rules[i].allow);
    let live = &rules[last_all.map_or(0, |i| i + 1)..];
    let mut prog = vec![
        insn(LDX_W_MEM, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W_MEM, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_W_MEM, 4, 1, 4, 0),
        insn(LDX_W_MEM, 5, 1, 8, 0),
    ];
    for rule in live.iter().rev() {
        prog.extend(rule_block(rule));
    }
    prog.push(insn(ALU64_MOV_K, 0, 0, 0, default_allow as i32));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

/// Load the program and attach it to the cgroup at `dir`, then detach the
/// programs that were there before.
pub fn install(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let prog = program(rules);
    let cgroup = sys::open(dir, libc::O_DIRECTORY | libc::O_RDONLY).map_err(|e| Error::path("open cgroup", dir, e))?;
    let before =
        sys::bpf_query_device_progs(&cgroup).map_err(|e| Error::path("list the device programs of", dir, e))?;
    let fd = sys::bpf_load_device_prog(&prog).map_err(|e| Error::sys("load the device filter (BPF)", e))?;
    sys::bpf_attach_device_prog(&cgroup, &fd).map_err(|e| Error::path("attach the device filter to", dir, e))?;
    for id in before {
        if let Ok(old) = sys::bpf_prog_fd_by_id(id) {
            sys::bpf_detach_device_prog(&cgroup, &old)
                .map_err(|e| Error::path(&format!("detach the old device filter {id} from"), dir, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, kind: char, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceRule {
        DeviceRule { allow, kind, major, minor, access: access.into() }
    }

    /// Run the program on one request, as the kernel would.
    fn eval(prog: &[BpfInsn], kind: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16 | kind) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W_MEM => r[dst] = ctx[(i.off / 4) as usize] as u64,
                ALU32_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                ALU32_RSH_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                ALU32_MOV_X => r[dst] = r[src] as u32 as u64,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                JMP_JNE_K if r[dst] != i.imm as u32 as u64 => pc += i.off as usize,
                JMP_JEQ_K if r[dst] == i.imm as u32 as u64 => pc += i.off as usize,
                JMP_JNE_K | JMP_JEQ_K => {}
                EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn deny_all_then_allow_null_read_write() {
        let p = program(&[rule(false, 'a', None, None, "rwm"), rule(true, 'c', Some(1), Some(3), "rw")]);
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1);
        assert_eq!(eval(&p, DEV_CHAR, ACC_MKNOD, 1, 3), 0, "m was not allowed");
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ, 1, 3), 0, "a block device 1:3 is another device");
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 1, 5), 0);
    }

    #[test]
    fn later_rules_win_and_no_match_all_means_allow() {
        let p = program(&[rule(true, 'c', Some(10), None, "rwm"), rule(false, 'c', Some(10), Some(200), "w")]);
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 10, 200), 1, "only w is denied");
        assert_eq!(eval(&p, DEV_CHAR, ACC_WRITE | ACC_READ, 10, 200), 0);
        assert_eq!(eval(&p, DEV_CHAR, ACC_WRITE, 10, 1), 1);
        assert_eq!(eval(&p, DEV_BLOCK, ACC_WRITE, 8, 0), 1, "nothing denies all: allowed");
        let deny_after = program(&[rule(true, 'c', Some(1), Some(3), "rwm"), rule(false, 'a', None, None, "rwm")]);
        assert_eq!(eval(&deny_after, DEV_CHAR, ACC_READ, 1, 3), 0, "a deny-all after it overrides the allow");
    }
}
