//! The command line around the lifecycle: spec, features, logs, runc's
//! flag spellings.

mod common;
use common::Env;
use std::fs;

#[test]
fn spec_writes_a_runnable_default_config() {
    let env = Env::new("spec");
    let dir = env.dir.join("bundle");
    fs::create_dir_all(&dir).unwrap();
    env.ok(&["spec", "--bundle", dir.to_str().unwrap()]);
    let spec: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(spec["root"]["path"], "rootfs");
    // A second spec refuses to overwrite.
    let (_, err) = env.fails(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert!(err.contains("exists"), "{err}");

    let rootless = env.dir.join("rootless");
    fs::create_dir_all(&rootless).unwrap();
    env.ok(&["spec", "--rootless", "--bundle", rootless.to_str().unwrap()]);
    let spec: serde_json::Value = serde_json::from_slice(&fs::read(rootless.join("config.json")).unwrap()).unwrap();
    assert!(spec["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "user"));
    assert_eq!(spec["linux"]["uidMappings"][0]["size"], 1);
}

#[test]
fn features_lists_what_this_build_supports() {
    let env = Env::new("features");
    let f: serde_json::Value = serde_json::from_str(&env.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n == "time"));
    assert!(f["linux"]["capabilities"].as_array().unwrap().iter().any(|c| c == "CAP_SYS_ADMIN"));
    let executors: Vec<&str> = f["annotations"]["io.github.tandem.executors"].as_str().unwrap().split(',').collect();
    assert_eq!(executors, ["native", "wasi-http", "wasm"]);
    // Each executor's own annotations, with what they do.
    for key in ["run.oci.handler", "module.wasm.image/variant", "dev.tandem.wasi-http.port"] {
        assert!(f["annotations"][key].as_str().is_some_and(|what| !what.is_empty()), "no {key}: {f}");
    }
}

/// `tandem features | head -1`: a reader that has gone ends the output,
/// not with a panic (runc, in Go, ends quietly too).
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let env = Env::new("epipe");
    for args in [&["features"][..], &["list"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(&env.bin)
            .args(["--root", env.root.to_str().unwrap()])
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && err.is_empty(), "tandem {args:?}: {}: {err}", out.status);
    }
}

#[test]
fn json_log_lines_carry_errors_for_containerd() {
    let env = Env::new("log");
    let log = env.dir.join("log.json");
    let out = env.tandem(&["--log", log.to_str().unwrap(), "--log-format", "json", "start", &env.id("missing")]);
    assert!(!out.status.success());
    let text = fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("does not exist"), "{line}");
    assert!(line["time"].as_str().unwrap().ends_with('Z'));

    let text_log = env.dir.join("log.txt");
    let _ = env.tandem(&["--log", text_log.to_str().unwrap(), "state", &env.id("missing")]);
    let text = fs::read_to_string(&text_log).unwrap();
    assert!(text.contains("level=error") && text.contains("does not exist"), "{text}");
}

#[test]
fn unknown_executor_annotation_is_a_clear_error() {
    let env = Env::new("executor");
    let mut b = env.bundle("b", &["true"]);
    b.config["annotations"] = serde_json::json!({"dev.tandem.executor": "nope"});
    b.save();
    let (_, err) = env.fails(&["create", "--bundle", b.str(), &env.id("c")]);
    assert!(
        err.contains("dev.tandem.executor") && err.contains("unknown executor 'nope'") && err.contains("native"),
        "{err}"
    );
    b.config["annotations"] = serde_json::json!({"dev.tandem.executor": "native"});
    b.save();
    env.run_ok(&env.id("c"), &b);
}

/// Every subcommand answers -h and --help with its usage, exit 0.
#[test]
fn every_subcommand_has_help() {
    let env = Env::new("help");
    let subs = [
        "create",
        "start",
        "state",
        "kill",
        "delete",
        "run",
        "list",
        "spec",
        "features",
        "exec",
        "pause",
        "resume",
        "ps",
        "events",
        "update",
        "wasm-cache",
    ];
    for sub in subs {
        for flag in ["-h", "--help"] {
            let out = env.tandem(&[sub, flag]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success() && text.contains("Usage:"), "{sub} {flag}: {text}");
        }
    }
}

/// --debug lines are runc's: `time="..." level=debug msg="..."` on
/// stderr, or in the --log file when there is one, as JSON lines with
/// --log-format json.
#[test]
fn debug_lines_are_in_runc_s_format() {
    let env = Env::new("debug");
    let b = env.bundle("b", &["true"]);
    let id = env.id("c1");
    let out = env.tandem(&["--debug", "create", "--bundle", b.str(), &id]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let line = err.lines().find(|l| l.contains("level=debug")).unwrap_or_else(|| panic!("no debug line: {err}"));
    assert!(line.starts_with("time=\"") && line.contains(&format!("msg=\"create {id} from")), "{line}");
    env.ok(&["delete", "--force", &id]);

    let log = env.dir.join("debug.log");
    let id = env.id("c2");
    let args = ["--debug", "--log", log.to_str().unwrap(), "--log-format", "json", "create", "--bundle", b.str(), &id];
    let out = env.tandem(&args);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|l| l["level"] == "debug" && l["msg"].as_str().unwrap().starts_with("create ")), "{text}");
    assert!(lines.iter().all(|l| l["time"].is_string()), "{text}");
    env.ok(&["delete", "--force", &id]);
}
