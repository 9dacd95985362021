//! A writer whose retention budget is exceeded by young files keeps them,
//! says so once per episode, and hands the excess to its caller.

use super::*;
use std::time::Duration;

#[test]
fn a_budget_exceeded_by_young_files_is_handed_over_once() {
    let tmp = tempfile::tempdir().unwrap();
    let config = WriterConfig {
        rotation: RotationPolicy {
            max_file_size: 100,
            max_files: 2,
        },
        // Each batch its own append: every one after the first rotates.
        fsync: FsyncPolicy::Always,
        ..WriterConfig::default()
    };
    let writer = spawn_writer_with(SinkTarget::Dir(tmp.path().to_owned()), config).unwrap();
    for n in 0..6 {
        writer.write(format!("{{\"n\":{n},\"pad\":\"{}\"}}\n", "x".repeat(70)).into_bytes());
    }
    writer.settle();
    let over = writer
        .take_retention_flood()
        .expect("the excess is handed over");
    assert!(over.files > 2, "{over:?}");
    assert_eq!(writer.take_retention_flood(), None, "once per episode");
    let report = writer.finish(Duration::from_secs(60)).unwrap();
    assert_eq!(report.retention_floods, 1);
    assert_eq!(report.lines_written, 6);
    let files = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_str().unwrap().starts_with("audit-")
        })
        .count();
    assert_eq!(files, 6, "no young file deleted");
}
