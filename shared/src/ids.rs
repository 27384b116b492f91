//! Ids are `<prefix>_<ULID>`: the prefix says which service owns the record, so a
//! router can route an id without a lookup, and the ULID sorts by creation time.

use std::sync::Mutex;

use ulid::{Generator, Ulid};

/// Monotonic within a process, so ids made in the same millisecond still sort
/// in the order they were made.
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

pub fn new_id(prefix: &str) -> String {
    // The generator only fails when one millisecond's random space is used up.
    let ulid = match GENERATOR.lock().ok().and_then(|mut g| g.generate().ok()) {
        Some(ulid) => ulid,
        None => Ulid::from_datetime(std::time::SystemTime::now()),
    };
    format!("{prefix}_{ulid}")
}

/// The prefix and ULID of a well-formed id.
pub fn split_id(id: &str) -> Option<(&str, Ulid)> {
    let (prefix, ulid) = id.rsplit_once('_')?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        return None;
    }
    Some((prefix, Ulid::from_string(ulid).ok()?))
}

/// True when `id` is well formed and carries `prefix`.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    matches!(split_id(id), Some((p, _)) if p == prefix)
}

/// How an answer names an id the client sent: quoted when it is a well-formed
/// id, else "with this id", so nothing else a client writes in a path (or
/// plants in it: slashes, markup, another route) is repeated back.
pub fn mention(id: &str) -> String {
    if split_id(id).is_some() { format!("`{id}`") } else { "with this id".to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_round_trip_and_sort_by_time() {
        let a = new_id("book");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("book");
        let (pa, ua) = split_id(&a).unwrap();
        let (_, ub) = split_id(&b).unwrap();
        assert_eq!(pa, "book");
        assert!(ub > ua);
        assert!(has_prefix(&a, "book"));
        assert!(!has_prefix(&a, "laptop"));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for id in [
            "",
            "book",
            "book_",
            "_01J0000000000000000000000",
            "Book_01J00000000000000000000000",
            "book_not-a-ulid",
            "../etc",
        ] {
            assert!(split_id(id).is_none(), "{id}");
            assert_eq!(mention(id), "with this id");
        }
        assert_eq!(mention("order_01JDQ0000000000000000000AA"), "`order_01JDQ0000000000000000000AA`");
    }
}
