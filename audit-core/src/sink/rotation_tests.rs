//! Four writers (separate threads, separate descriptors, one directory)
//! appending while a fake clock crosses midnights and files fill up.

use super::*;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const WRITERS: u64 = 4;
const LINES: u64 = 300;
/// 2026-01-01T22:00:00Z
const START: u64 = 1_767_304_800;
const STEP_SECS: u64 = 120;

/// Runs the four writers to completion; returns the directory.
fn run_writers(max_files: usize) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let secs = Arc::new(AtomicU64::new(START));
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let dir = tmp.path().to_owned();
            let secs = secs.clone();
            std::thread::spawn(move || {
                let clock_secs = secs.clone();
                let config = WriterConfig {
                    queue: 8,
                    rotation: RotationPolicy {
                        max_file_size: 4096,
                        max_files,
                    },
                    // The fake clock is a year behind the files' mtimes.
                    retention: RetentionLimits {
                        min_age: Duration::ZERO,
                        ..RetentionLimits::default()
                    },
                    clock: Arc::new(move || {
                        SystemTime::UNIX_EPOCH
                            + Duration::from_secs(clock_secs.load(Ordering::SeqCst))
                    }),
                    ..WriterConfig::default()
                };
                let writer = spawn_writer_with(SinkTarget::Dir(dir), config).unwrap();
                for k in 0..LINES {
                    secs.fetch_add(STEP_SECS, Ordering::SeqCst);
                    let line = format!("{{\"w\":{w},\"k\":{k},\"pad\":\"{}\"}}\n", "x".repeat(60));
                    writer.write(line.into_bytes());
                }
                writer.finish(Duration::from_secs(60)).unwrap()
            })
        })
        .collect();
    for t in threads {
        let report = t.join().unwrap();
        assert_eq!((report.lines_written, report.lines_lost), (LINES, 0));
    }
    tmp
}

/// Every file of the directory (by name), decompressed.
fn read_files(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with('.') {
            continue;
        }
        let raw = std::fs::read(dir.join(&name)).unwrap();
        let mut text = String::new();
        if name.ends_with(".gz") {
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .unwrap();
        } else {
            text = String::from_utf8(raw).unwrap();
        }
        files.insert(name, text);
    }
    files
}

/// Per writer, its `k`s in file-name then line order; every line whole.
fn lines_by_writer(files: &BTreeMap<String, String>) -> Vec<Vec<u64>> {
    let mut by_writer = vec![Vec::new(); WRITERS as usize];
    for (name, text) in files {
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{name} ends mid-line"
        );
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("split line in {name}: {line:?}: {e}"));
            by_writer[v["w"].as_u64().unwrap() as usize].push(v["k"].as_u64().unwrap());
        }
    }
    by_writer
}

#[test]
fn concurrent_writers_rotate_by_day_and_size_and_compress_without_losing_a_line() {
    let tmp = run_writers(0);
    let files = read_files(tmp.path());
    for (w, ks) in lines_by_writer(&files).iter().enumerate() {
        assert_eq!(ks, &(0..LINES).collect::<Vec<_>>(), "writer {w}");
    }
    let names: Vec<&String> = files.keys().collect();
    // 2026-01-01 22:00 + 1200 × 2 min crosses two midnights: three days,
    // each but the last fully rotated and compressed, several size parts each.
    for date in ["2026-01-01", "2026-01-02", "2026-01-03"] {
        assert!(
            names.iter().any(|n| n.contains(date)),
            "{date} in {names:?}"
        );
    }
    assert!(names.contains(&&"audit-2026-01-02.0002.jsonl.gz".to_string()));
    assert!(names.contains(&&"audit-2026-01-03.jsonl".to_string()));
    for name in &names {
        let parsed = rotate::parse_name(name).unwrap();
        assert_eq!(parsed.part.is_some(), parsed.gzipped, "{name}");
    }
    // `zcat` reads what flate2 reads.
    let gz = tmp.path().join("audit-2026-01-02.0001.jsonl.gz");
    let out = std::process::Command::new("zcat")
        .arg(&gz)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        files["audit-2026-01-02.0001.jsonl.gz"]
    );
}

#[test]
fn retention_keeps_exactly_the_newest_files_under_concurrent_writers() {
    let max_files = 5;
    let tmp = run_writers(max_files);
    let files = read_files(tmp.path());
    assert_eq!(files.len(), max_files, "{:?}", files.keys());
    // What survives is the newest: each writer keeps a suffix of its lines…
    let by_writer = lines_by_writer(&files);
    for (w, ks) in by_writer.iter().enumerate() {
        if let Some(first) = ks.first() {
            assert_eq!(ks, &(*first..LINES).collect::<Vec<_>>(), "writer {w}");
        }
    }
    assert!(by_writer.iter().any(|ks| !ks.is_empty()));
    // …and the surviving names are consecutive: after the oldest survivor,
    // every later day starts at part 1 and the newest day ends active.
    let parsed: Vec<_> = files
        .keys()
        .map(|n| rotate::parse_name(n).unwrap())
        .collect();
    for pair in parsed.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        match (a.part, b.part) {
            (Some(pa), Some(pb)) if a.date == b.date => assert_eq!(pb, pa + 1),
            (Some(_), Some(1)) | (Some(_), None) => assert!(a.date <= b.date),
            other => panic!("gap between {a:?} and {b:?}: {other:?}"),
        }
    }
    assert_eq!(parsed.last().unwrap().part, None);
}
