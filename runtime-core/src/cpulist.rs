//! CPU and memory-node lists as the spec writes them ("0-3,6"), turned into
//! the bit masks the kernel and systemd take.

use crate::error::{Error, Result};

/// The highest CPU or node number accepted (the kernel's NR_CPUS limit).
const MAX: usize = 8192;

/// The numbers in `list`; the error names `field`.
fn numbers(field: &str, list: &str) -> Result<Vec<usize>> {
    let bad = || Error::config(field, format!("'{list}' is not a list like 0-3,6"));
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (usize, usize) = (lo.parse().map_err(|_| bad())?, hi.parse().map_err(|_| bad())?);
        if lo > hi || hi >= MAX {
            return Err(bad());
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

/// A byte mask, bit n of byte n/8 (systemd's AllowedCPUs): the word mask's
/// little-endian bytes, without trailing zero bytes.
pub fn bytes(field: &str, list: &str) -> Result<Vec<u8>> {
    let mut mask: Vec<u8> = words(field, list)?.iter().flat_map(|w| w.to_le_bytes()).collect();
    while mask.last() == Some(&0) {
        mask.pop();
    }
    Ok(mask)
}

/// A mask of 64-bit words (sched_setaffinity, set_mempolicy).
pub fn words(field: &str, list: &str) -> Result<Vec<u64>> {
    let mut mask = Vec::new();
    for n in numbers(field, list)? {
        if mask.len() <= n / 64 {
            mask.resize(n / 64 + 1, 0);
        }
        mask[n / 64] |= 1 << (n % 64);
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_become_masks() {
        assert_eq!(bytes("f", "0-2,9").unwrap(), vec![0b0000_0111, 0b0000_0010]);
        assert_eq!(words("f", "0,63-64").unwrap(), vec![1 | 1 << 63, 1]);
        for bad in ["", "a", "3-1", "8192", "1,,2"] {
            assert!(words("linux.x", bad).unwrap_err().to_string().contains("linux.x"), "{bad}");
        }
    }
}
