//! Time and fresh ids: a leaf every module may use.

/// Milliseconds since the Unix epoch.
#[must_use]
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fresh id: `prefix-` and 10 base-36 characters from the clock and a random hash.
#[must_use]
pub(crate) fn new_id(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ms());
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut n = h.finish();
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = String::with_capacity(prefix.len() + 11);
    s.push_str(prefix);
    s.push('-');
    for _ in 0..10 {
        s.push(char::from(alphabet[usize::try_from(n % 36).unwrap_or(0)]));
        n /= 36;
    }
    s
}
