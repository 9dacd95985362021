//! Retention: which audit files to delete. A pure function of the names.

/// The files to delete so that the newest `max_files` of `logical` remain.
///
/// `logical` holds one name per logical file (without `.gz`); names sort in
/// write order (see [`super::rotate`]), so the oldest are the first ones.
/// `max_files == 0` keeps everything.
pub fn files_to_delete(logical: &[String], max_files: usize) -> Vec<String> {
    if max_files == 0 || logical.len() <= max_files {
        return Vec::new();
    }
    let mut sorted = logical.to_vec();
    sorted.sort();
    sorted.truncate(logical.len() - max_files);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_the_newest() {
        let n = names(&["c", "a", "d", "b"]);
        assert_eq!(files_to_delete(&n, 2), names(&["a", "b"]));
        assert_eq!(files_to_delete(&n, 4), Vec::<String>::new());
        assert_eq!(files_to_delete(&n, 0), Vec::<String>::new());
        assert_eq!(files_to_delete(&n, 1), names(&["a", "b", "c"]));
    }
}
