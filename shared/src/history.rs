//! What a customer did while shopping: items viewed and searches made. A guest
//! session and an account both keep such a history, under the same rules.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::split_id;
use crate::invoke::Invoker;

const MAX_ITEM_TYPE_CHARS: usize = 40;
const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activity {
    ViewedItem { item_type: String, item_id: String },
    Search { query: String },
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
            // The id's prefix says its type, as everywhere in the shop.
            let item_id = text(body, "item_id", &mut errors).filter(|id| match (split_id(id), &item_type) {
                (Some((prefix, _)), Some(item_type)) if prefix != item_type => {
                    errors.add("item_id", format!("is not an id of a {item_type} (`{item_type}_<ULID>`)"));
                    false
                }
                (Some(_), _) => true,
                (None, _) => {
                    errors.add("item_id", "is not an item id (`<type>_<ULID>`)");
                    false
                }
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
    activity.ok_or_else(|| AppError::internal("a valid history entry was not built"))
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

/// The API document's schema of what [`parse_activity`] accepts (`null` stands
/// for a field left out), `HistoryEntryInput` in the document.
pub fn entry_input_schema() -> RefOr<Schema> {
    use crate::openapi::{PLAIN_TEXT_PATTERN, closed, one_of_strings, string};
    let absent = || ObjectBuilder::new().schema_type(Type::Null);
    let viewed = closed(ObjectBuilder::new())
        .property("kind", one_of_strings(["viewed_item"]))
        .required("kind")
        .property(
            "item_type",
            string(1, MAX_ITEM_TYPE_CHARS, Some("^[a-z-]*[a-z][a-z-]*$"))
                .description(Some("Lowercase letters and hyphens")),
        )
        .required("item_type")
        .property(
            "item_id",
            string(1, 100, Some(ITEM_ID_PATTERN))
                .description(Some("An existing item's id, `<item_type>_<ULID>`: its prefix is its type")),
        )
        .required("item_id")
        .property("query", absent());
    let search = closed(ObjectBuilder::new())
        .property("kind", one_of_strings(["search"]))
        .required("kind")
        .property("query", string(1, MAX_QUERY_CHARS, Some(PLAIN_TEXT_PATTERN)))
        .required("query")
        .property("item_type", absent())
        .property("item_id", absent());
    OneOfBuilder::new().item(viewed).item(search).into()
}

/// `<type>_<ULID>`: lowercase letters and hyphens, then a ULID (whose first
/// character is 0 to 7, since it holds 128 bits).
const ITEM_ID_PATTERN: &str = "^[a-z-]*[a-z][a-z-]*_[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$";

/// A viewed item must exist: asked of the items router (`GET /api/items/{id}/`)
/// under `timeout`. An item that is not there is a 422 on `item_id`; a router
/// that does not answer is a 503, and nothing is recorded either way.
pub async fn check_viewed_item(
    invoker: &dyn Invoker,
    items_router: &str,
    timeout: Duration,
    activity: &Activity,
) -> AppResult<()> {
    let Activity::ViewedItem { item_id, .. } = activity else { return Ok(()) };
    let unavailable = |why: String| AppError::Unavailable {
        detail: format!("the items service is unavailable: {why}"),
        retry_after_secs: 2,
    };
    // A well-formed id (checked by `parse_activity`) is safe in a path.
    let request =
        http::Request::get(format!("/api/items/{item_id}/")).body(Bytes::new()).map_err(AppError::internal)?;
    let response = match tokio::time::timeout(timeout, invoker.invoke(items_router, request)).await {
        Err(_) => return Err(unavailable(format!("no answer within {} ms", timeout.as_millis()))),
        Ok(Err(e)) => return Err(unavailable(e.to_string())),
        Ok(Ok(response)) => response,
    };
    match response.status() {
        StatusCode::OK => Ok(()),
        StatusCode::NOT_FOUND => {
            let mut errors = FieldErrors::new();
            errors.add("item_id", "there is no item with this id");
            Err(AppError::Validation(errors))
        }
        status => Err(unavailable(format!("it answered {status}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOOK: &str = "book_01KFXW2DBGK01S4V8421D3PSC7";

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
            parse(json!({ "kind": "viewed_item", "item_type": "book", "item_id": format!(" {BOOK} ") })).unwrap(),
            Activity::ViewedItem { item_type: "book".into(), item_id: BOOK.into() }
        );
        assert_eq!(
            parse(json!({ "kind": "search", "query": "dune", "item_id": null })).unwrap(),
            Activity::Search { query: "dune".into() }
        );
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
        assert_eq!(failing_fields(json!({ "kind": "viewed_item", "item_type": "-", "item_id": BOOK })), ["item_type"]);
        assert_eq!(
            failing_fields(json!({ "kind": "viewed_item", "item_type": "x".repeat(41), "item_id": BOOK })),
            ["item_type"]
        );
        assert_eq!(failing_fields(json!({ "kind": "viewed_item", "item_type": "gift-card" })), ["item_id"]);
        assert_eq!(
            failing_fields(json!({ "kind": "viewed_item", "item_type": "book", "item_id": 5, "query": "x" })),
            ["item_id", "query"]
        );
    }

    #[test]
    fn a_viewed_items_id_is_of_its_type() {
        assert_eq!(
            failing_fields(json!({ "kind": "viewed_item", "item_type": "laptop", "item_id": BOOK })),
            ["item_id"]
        );
        assert_eq!(
            failing_fields(json!({ "kind": "viewed_item", "item_type": "book", "item_id": "book_1" })),
            ["item_id"]
        );
        assert_eq!(
            failing_fields(json!({ "kind": "viewed_item", "item_type": "book", "item_id": "../internal" })),
            ["item_id"]
        );
    }
}
