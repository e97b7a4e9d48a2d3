//! Config parsing and validation under random input: tandem's default
//! spec with random parts replaced by random JSON (control characters,
//! huge numbers and strings, wrong types), and random bytes. No input may
//! panic, and every rejection is one line naming what is wrong.
//!
//! CI runs a few thousand cases (seconds); by hand, for longer:
//! `PROPTEST_CASES=200000 cargo test -p tandem-runtime-core --test config_fuzz`.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use tandem_runtime_core::Config;
use tandem_runtime_core::config::parse_spec;

const DEFAULT_SPEC: &str = include_str!("../../cli/src/default_spec.json");

/// A bundle directory with an empty rootfs, kept in the repository.
fn bundle() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-bundle"))
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[\\x00-\\x1f/.a-z]{0,20}".prop_map(Value::from),
        (1usize..200_000).prop_map(|n| Value::from("x".repeat(n))),
        Just(Value::from("/dev/../etc/passwd")),
        Just(Value::from("CAP_SYS_ADMIN")),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer in `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            m.iter().for_each(|(k, c)| pointers(c, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out))
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// Parse and validate; a rejection must be one line.
fn judge(text: &[u8]) -> Result<(), TestCaseError> {
    let outcome = parse_spec(text).and_then(|spec| Config::from_spec(spec, bundle()));
    if let Err(e) = outcome {
        let line = e.to_string();
        prop_assert!(!line.is_empty() && !line.contains('\n'), "not one line: {line:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_mutated_default_spec_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), json()), 1..4)) {
        let mut spec: Value = serde_json::from_str(DEFAULT_SPEC).unwrap();
        for (at, value) in edits {
            let mut all = Vec::new();
            pointers(&spec, String::new(), &mut all);
            let pointer = at.get(&all).clone();
            match spec.pointer_mut(&pointer) {
                Some(slot) => *slot = value,
                None => spec = value,
            }
        }
        judge(&serde_json::to_vec(&spec).unwrap())?;
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        judge(&bytes)?;
    }
}
