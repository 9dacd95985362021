//! A call the policy refused is in the transcript as the client saw it: the
//! refused request and the proxy's refusal, both marked `refused_by` (the
//! server never saw the request). Replaying gives the client the same
//! refusal, and `check` on the transcript finds the `policy_blocked`.

use std::process::Command;

use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::Value;

fn driver(peers: &Peers) -> Command {
    let mut cmd = Command::new(&peers.python);
    cmd.arg(&peers.driver)
        .args(["everything", "--"])
        .arg(blackbox());
    cmd
}

#[test]
fn a_refused_call_is_recorded_replayed_and_checked() {
    let Some(peers) = Peers::find() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[rules]]\nname = \"no-sum\"\ntool = \"get-sum\"\naction = \"deny\"\n",
    )
    .unwrap();
    let transcript = dir.path().join("t.jsonl");
    let mut record = driver(&peers);
    record
        .arg("--config")
        .arg(&config)
        .arg("--audit-dir")
        .arg(dir.path().join("audit"))
        .arg("--transcript")
        .arg(&transcript)
        .args(["--transcript-raw", "--", "node"])
        .arg(&peers.everything_js)
        .arg("stdio");
    let recorded = run_collect(&mut record, "driver through a refusing proxy");
    assert!(
        recorded.status.success(),
        "{}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    let out: Value = serde_json::from_slice(&recorded.stdout).unwrap();
    assert_eq!(out["calls"][1]["raised"]["code"], -32001, "refused: {out}");

    let lines: Vec<Value> = std::fs::read_to_string(&transcript)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l["refused_by"] == "no-sum")
        .collect();
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert_eq!(
        (refused[0]["dir"].as_str(), refused[1]["dir"].as_str()),
        (Some("c2s"), Some("s2c"))
    );

    let mut replay = driver(&peers);
    replay.arg("replay").arg(&transcript);
    let replayed = run_collect(&mut replay, "driver against replay");
    assert_eq!(
        String::from_utf8_lossy(&replayed.stdout),
        String::from_utf8_lossy(&recorded.stdout)
    );

    let rules = dir.path().join("ci.toml");
    std::fs::write(&rules, "[forbid]\ntool_error = false\n").unwrap();
    let mut check = Command::new(blackbox());
    check
        .arg("check")
        .arg(&transcript)
        .arg("--rules")
        .arg(&rules);
    let checked = run_collect(&mut check, "check");
    let text = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAILED no policy_blocked: 1 policy_blocked events"),
        "{text}"
    );
    assert!(
        text.contains("ok     no rpc_error"),
        "the refusal is not the server's: {text}"
    );
}
