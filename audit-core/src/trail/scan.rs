//! Every file of a trail through a fold: each file read by one worker,
//! files spread over a few threads, the partial results returned in file
//! order for the caller to merge. A shared [`Progress`] counts what is
//! done, for a progress bar.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::filter::Filter;
use super::read::{for_each_line, Issue};
use super::view::EventView;
use super::TrailError;

/// What a scan has done so far.
#[derive(Debug, Default)]
pub struct Progress {
    pub events: AtomicU64,
    pub files_done: AtomicU64,
    pub files: AtomicU64,
}

/// Calls `per_file` on every file, on up to `workers` threads; returns its
/// results in the order of `files`. The first error (a file that cannot be
/// opened) is returned once every worker has stopped.
pub fn scan_files<A: Send>(
    files: &[PathBuf],
    workers: usize,
    progress: &Progress,
    per_file: &(dyn Fn(&Path) -> Result<A, TrailError> + Sync),
) -> Result<Vec<A>, TrailError> {
    progress.files.store(files.len() as u64, Ordering::Relaxed);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<A, TrailError>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = files.get(i) else { return };
        let r = per_file(path);
        progress.files_done.fetch_add(1, Ordering::Relaxed);
        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
    };
    let workers = workers.clamp(1, files.len().max(1));
    std::thread::scope(|s| {
        for _ in 1..workers {
            s.spawn(work);
        }
        work();
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// Calls `each` on every event of `path` that passes `filter`; lines that
/// are not events go to `issue`.
pub fn for_each_event(
    path: &Path,
    filter: &Filter,
    progress: &Progress,
    each: &mut dyn FnMut(&EventView<'_>, &[u8]),
    issue: &(dyn Fn(Issue) + Sync),
) -> Result<(), TrailError> {
    let mut counted = 0u64;
    let result = for_each_line(
        path,
        &mut |_, line| {
            let e = EventView::parse(line)?;
            counted += 1;
            if counted == 4096 {
                progress.events.fetch_add(counted, Ordering::Relaxed);
                counted = 0;
            }
            if filter.matches(&e, line) {
                each(&e, line);
            }
            Ok(())
        },
        &mut |i| issue(i),
    );
    progress.events.fetch_add(counted, Ordering::Relaxed);
    result
}

/// The number of worker threads for a scan: the CPUs this process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
