//! What a guest did: items viewed and searches made, checked here so every store
//! and the fixtures hold only entries the API would accept.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::FieldErrors;
use shared::error::AppResult;
use utoipa::ToSchema;

/// The most entries one session keeps; older ones make room for new ones.
pub const MAX_ENTRIES: usize = 200;
const MAX_ITEM_TYPE_CHARS: usize = 40;
const MAX_ITEM_ID_CHARS: usize = 100;
const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activity {
    ViewedItem { item_type: String, item_id: String },
    Search { query: String },
}

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

/// Types and checks a request body (or a fixture entry without its `at`),
/// collecting a message for every bad field, unknown ones included.
pub fn parse_activity(body: &Map<String, Value>) -> AppResult<Activity> {
    let mut errors = FieldErrors::new();
    let kind = match body.get("kind") {
        None | Some(Value::Null) => {
            errors.add("kind", "is required");
            None
        }
        Some(Value::String(kind)) if kind == "viewed_item" || kind == "search" => Some(kind.as_str()),
        Some(_) => {
            errors.add("kind", "must be `viewed_item` or `search`");
            None
        }
    };
    let allowed: &[&str] = match kind {
        Some("viewed_item") => &["kind", "item_type", "item_id"],
        Some("search") => &["kind", "query"],
        _ => &["kind", "item_type", "item_id", "query"],
    };
    for (name, value) in body {
        if allowed.contains(&name.as_str()) {
            continue;
        }
        if ["item_type", "item_id", "query"].contains(&name.as_str()) {
            // `null` for a field another kind uses is as good as leaving it out.
            if !value.is_null() {
                errors.add(name.as_str(), format!("not allowed for kind `{}`", kind.unwrap_or_default()));
            }
        } else {
            errors.add(name.as_str(), "unknown field");
        }
    }
    let activity = match kind {
        Some("viewed_item") => {
            let item_type = text(body, "item_type", &mut errors).filter(|t| {
                let ok = t.chars().count() <= MAX_ITEM_TYPE_CHARS
                    && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                    && t.bytes().any(|b| b.is_ascii_lowercase());
                if !ok {
                    errors.add(
                        "item_type",
                        format!("use lowercase letters and hyphens, at most {MAX_ITEM_TYPE_CHARS} characters"),
                    );
                }
                ok
            });
            let item_id = text(body, "item_id", &mut errors).filter(|id| {
                let ok = id.chars().count() <= MAX_ITEM_ID_CHARS && !id.chars().any(char::is_control);
                if !ok {
                    errors
                        .add("item_id", format!("at most {MAX_ITEM_ID_CHARS} characters, without control characters"));
                }
                ok
            });
            item_type.zip(item_id).map(|(item_type, item_id)| Activity::ViewedItem { item_type, item_id })
        }
        Some("search") => text(body, "query", &mut errors)
            .filter(|q| {
                let ok = q.chars().count() <= MAX_QUERY_CHARS && !q.chars().any(char::is_control);
                if !ok {
                    errors.add("query", format!("1 to {MAX_QUERY_CHARS} characters, without control characters"));
                }
                ok
            })
            .map(|query| Activity::Search { query }),
        _ => None,
    };
    errors.into_result()?;
    activity.ok_or_else(|| shared::AppError::internal("a valid history entry was not built"))
}

/// A required, non-blank string field, trimmed.
fn text(body: &Map<String, Value>, name: &str, errors: &mut FieldErrors) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => {
            errors.add(name, "is required");
            None
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::String(_)) => {
            errors.add(name, "must not be blank");
            None
        }
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::AppError;

    fn parse(value: Value) -> AppResult<Activity> {
        match value {
            Value::Object(map) => parse_activity(&map),
            _ => unreachable!(),
        }
    }

    fn failing_fields(value: Value) -> Vec<String> {
        match parse(value.clone()) {
            Err(AppError::Validation(errors)) => errors.fields().map(str::to_string).collect(),
            other => panic!("{value} -> {other:?}"),
        }
    }

    #[test]
    fn valid_entries_are_typed_and_trimmed() {
        assert_eq!(
            parse(json!({ "kind": "viewed_item", "item_type": "book", "item_id": " book_1 " })).unwrap(),
            Activity::ViewedItem { item_type: "book".into(), item_id: "book_1".into() }
        );
        assert_eq!(
            parse(json!({ "kind": "search", "query": "dune", "item_id": null })).unwrap(),
            Activity::Search { query: "dune".into() }
        );
        let entry = HistoryEntry { activity: Activity::Search { query: "dune".into() }, at: 0 };
        assert_eq!(serde_json::to_value(&entry).unwrap(), json!({ "kind": "search", "query": "dune", "at": 0 }));
        let view = serde_json::to_value(HistoryEntryView::from(&entry)).unwrap();
        assert_eq!(view, json!({ "kind": "search", "query": "dune", "at": "1970-01-01T00:00:00Z" }));
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(failing_fields(json!({})), ["kind"]);
        assert_eq!(failing_fields(json!({ "kind": "bought" })), ["kind"]);
        assert_eq!(failing_fields(json!({ "kind": 3 })), ["kind"]);
        assert_eq!(failing_fields(json!({ "kind": "search" })), ["query"]);
        assert_eq!(failing_fields(json!({ "kind": "search", "query": "  " })), ["query"]);
        assert_eq!(failing_fields(json!({ "kind": "search", "query": "q".repeat(201) })), ["query"]);
        assert!(parse(json!({ "kind": "search", "query": "é".repeat(200) })).is_ok());
        assert_eq!(failing_fields(json!({ "kind": "search", "query": "x", "item_id": "b" })), ["item_id"]);
        assert_eq!(failing_fields(json!({ "kind": "search", "query": "x", "colour": "red" })), ["colour"]);
        assert_eq!(
            failing_fields(json!({ "kind": "viewed_item", "item_type": "Book", "item_id": "x".repeat(101) })),
            ["item_id", "item_type"]
        );
        assert_eq!(failing_fields(json!({ "kind": "viewed_item", "item_type": "-", "item_id": "b" })), ["item_type"]);
        assert_eq!(
            failing_fields(json!({ "kind": "viewed_item", "item_type": "x".repeat(41), "item_id": "b" })),
            ["item_type"]
        );
        assert_eq!(failing_fields(json!({ "kind": "viewed_item", "item_type": "gift-card" })), ["item_id"]);
        assert_eq!(
            failing_fields(json!({ "kind": "viewed_item", "item_type": "book", "item_id": 5, "query": "x" })),
            ["item_id", "query"]
        );
    }
}
