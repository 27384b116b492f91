//! What a guest did: items viewed and searches made, checked by
//! [`parse_activity`] so every store and the fixtures hold only entries the API
//! would accept.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use shared::history::{Activity, parse_activity};

/// The most entries one session keeps; older ones make room for new ones.
pub const MAX_ENTRIES: usize = 200;

/// An entry as stored: `at` in unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    #[serde(flatten)]
    pub activity: Activity,
    pub at: i64,
}

/// An entry as the API shows it: `at` in RFC 3339.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntryView {
    #[serde(flatten)]
    pub activity: Activity,
    pub at: String,
}

impl From<&HistoryEntry> for HistoryEntryView {
    fn from(entry: &HistoryEntry) -> Self {
        Self { activity: entry.activity.clone(), at: shared::sql::rfc3339(entry.at) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_are_stored_in_seconds_and_shown_in_rfc3339() {
        let entry = HistoryEntry { activity: Activity::Search { query: "dune".into() }, at: 0 };
        assert_eq!(serde_json::to_value(&entry).unwrap(), json!({ "kind": "search", "query": "dune", "at": 0 }));
        let view = serde_json::to_value(HistoryEntryView::from(&entry)).unwrap();
        assert_eq!(view, json!({ "kind": "search", "query": "dune", "at": "1970-01-01T00:00:00Z" }));
    }
}
