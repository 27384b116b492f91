//! Guest sessions in one DynamoDB table keyed by `id`: one item per session,
//! its history a list inside the item (at most 200 small entries, far below the
//! 400 KB item limit), and `ttl` so DynamoDB deletes sessions a day after they end.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use shared::error::{AppError, AppResult};
use shared::sql::now_secs;
use tokio::sync::OnceCell;

use super::{Conversion, GuestStore, NewSession, SessionRecord, newest_first_window};
use crate::history::{Activity, HistoryEntry, MAX_ENTRIES};

type Item = HashMap<String, AttributeValue>;

/// How long DynamoDB keeps a session after it ends, so a late request still
/// learns that its session expired rather than that its token is unknown.
const TTL_GRACE_SECS: i64 = 24 * 60 * 60;
/// Read-modify-write attempts before a busy session is reported as such.
const HISTORY_ATTEMPTS: usize = 5;

// Every attribute goes through a placeholder, so none can collide with one of
// DynamoDB's reserved words.
const NAMES: [(&str, &str); 7] = [
    ("#id", "id"),
    ("#exp", "expires_at"),
    ("#ttl", "ttl"),
    ("#conv", "converted_to"),
    ("#convat", "converted_at"),
    ("#hist", "history"),
    ("#ver", "version"),
];
const LIVE: &str = "attribute_exists(#id) AND attribute_not_exists(#conv) AND #exp > :now";

/// The item that records the fixture sessions were loaded: no session id has
/// its form (they start `guest_`), and it has no `ttl`, so it stays.
const FIXTURE_MARKER: &str = "fixture_loads:guest-sessions";

pub struct DynamoGuests {
    client: OnceCell<Client>,
    table: String,
}

impl DynamoGuests {
    /// A store whose client is built from the AWS configuration on first use, not
    /// during init (the endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB` when set).
    pub fn new(table: &str) -> Self {
        Self { client: OnceCell::new(), table: table.to_string() }
    }

    /// A store using a client built by the caller (tests, a local endpoint).
    pub fn with_client(client: Client, table: &str) -> Self {
        Self { client: OnceCell::new_with(Some(client)), table: table.to_string() }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(shared::aws::https_client())
                    .load()
                    .await;
                Client::new(&config)
            })
            .await
    }

    fn key(id: &str) -> Item {
        HashMap::from([("id".to_string(), AttributeValue::S(id.to_string()))])
    }

    /// The names an expression uses, which DynamoDB insists on (an unused name is an error).
    fn names_for(expression: &str) -> Option<HashMap<String, String>> {
        Some(
            NAMES
                .iter()
                .filter(|(placeholder, _)| uses(expression, placeholder))
                .map(|(p, n)| (p.to_string(), n.to_string()))
                .collect(),
        )
    }

    async fn item(&self, id: &str) -> AppResult<Option<Item>> {
        let output = self
            .client()
            .await
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_error)?;
        Ok(output.item)
    }

    async fn session(&self, id: &str) -> AppResult<Option<(SessionRecord, Vec<HistoryEntry>, Option<i64>)>> {
        self.item(id).await?.map(|item| session_from_item(&item)).transpose()
    }

    /// An `UpdateItem` on `id` whose failed condition is `Ok(false)`.
    async fn update_if(&self, id: &str, update: &str, condition: &str, values: Item) -> AppResult<bool> {
        let result = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Self::names_for(&format!("{update} {condition}")))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(dynamo_error(e)),
        }
    }
}

/// Whether `placeholder` occurs as a whole name (`#conv` must not match `#convat`).
fn uses(expression: &str, placeholder: &str) -> bool {
    expression.match_indices(placeholder).any(|(at, _)| {
        !expression[at + placeholder.len()..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn entry_to_attribute(entry: &HistoryEntry) -> AttributeValue {
    let mut map = HashMap::from([("at".to_string(), n(entry.at))]);
    match &entry.activity {
        Activity::ViewedItem { item_type, item_id } => {
            map.insert("kind".into(), s("viewed_item"));
            map.insert("item_type".into(), s(item_type));
            map.insert("item_id".into(), s(item_id));
        }
        Activity::Search { query } => {
            map.insert("kind".into(), s("search"));
            map.insert("query".into(), s(query));
        }
    }
    AttributeValue::M(map)
}

fn entry_from_attribute(value: &AttributeValue) -> AppResult<HistoryEntry> {
    let bad = || AppError::internal("a stored history entry is malformed");
    let map = value.as_m().map_err(|_| bad())?;
    let owned = |name: &str| text(map, name).map(str::to_string);
    let activity = match text(map, "kind") {
        Some("viewed_item") => Activity::ViewedItem {
            item_type: owned("item_type").ok_or_else(bad)?,
            item_id: owned("item_id").ok_or_else(bad)?,
        },
        Some("search") => Activity::Search { query: owned("query").ok_or_else(bad)? },
        _ => return Err(bad()),
    };
    Ok(HistoryEntry { activity, at: number(map, "at").ok_or_else(bad)? })
}

fn history_attribute(entries: &[HistoryEntry]) -> AttributeValue {
    AttributeValue::L(entries.iter().map(entry_to_attribute).collect())
}

/// The session, its history (oldest first) and its version (none on an item
/// written by something other than this store).
fn session_from_item(item: &Item) -> AppResult<(SessionRecord, Vec<HistoryEntry>, Option<i64>)> {
    let missing = |name: &str| AppError::internal(format!("a stored guest session has no `{name}`"));
    let history = match item.get("history") {
        None => Vec::new(),
        Some(list) => list
            .as_l()
            .map_err(|_| missing("history"))?
            .iter()
            .map(entry_from_attribute)
            .collect::<AppResult<Vec<_>>>()?,
    };
    let record = SessionRecord {
        id: text(item, "id").ok_or_else(|| missing("id"))?.to_string(),
        token_hash: text(item, "token_hash").ok_or_else(|| missing("token_hash"))?.to_string(),
        created_at: number(item, "created_at").ok_or_else(|| missing("created_at"))?,
        expires_at: number(item, "expires_at").ok_or_else(|| missing("expires_at"))?,
        converted_to: text(item, "converted_to").map(str::to_string),
        history_count: history.len() as u64,
    };
    Ok((record, history, number(item, "version")))
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Throttling and an unreachable endpoint are a 503 the client may retry; the
/// rest is logged and answered as a 500.
fn dynamo_error<E, R>(error: SdkError<E, R>) -> AppError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let throttled = matches!(
        error.code(),
        Some("ProvisionedThroughputExceededException" | "RequestLimitExceeded" | "ThrottlingException")
    );
    if throttled {
        return AppError::Unavailable {
            detail: "the session store is busy; try again shortly".into(),
            retry_after_secs: 1,
        };
    }
    if matches!(error, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
        tracing::warn!(error = %DisplayErrorContext(&error), "DynamoDB is not reachable");
        return AppError::Unavailable {
            detail: "the session store is not reachable; try again shortly".into(),
            retry_after_secs: 2,
        };
    }
    AppError::internal(format!("DynamoDB: {}", DisplayErrorContext(&error)))
}

#[async_trait]
impl GuestStore for DynamoGuests {
    async fn insert(&self, session: &NewSession, history: &[HistoryEntry]) -> AppResult<bool> {
        let keep = history.len().saturating_sub(MAX_ENTRIES);
        let item = HashMap::from([
            ("id".to_string(), s(&session.id)),
            ("token_hash".to_string(), s(&session.token_hash)),
            ("created_at".to_string(), n(session.created_at)),
            ("expires_at".to_string(), n(session.expires_at)),
            ("ttl".to_string(), n(session.expires_at + TTL_GRACE_SECS)),
            ("history".to_string(), history_attribute(&history[keep..])),
            ("version".to_string(), n(0)),
        ]);
        let result = self
            .client()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", "id")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(dynamo_error(e)),
        }
    }

    async fn get(&self, id: &str) -> AppResult<Option<SessionRecord>> {
        Ok(self.session(id).await?.map(|(record, _, _)| record))
    }

    async fn set_expiry(&self, id: &str, expires_at: i64, now: i64) -> AppResult<bool> {
        let values = HashMap::from([
            (":exp".to_string(), n(expires_at)),
            (":ttl".to_string(), n(expires_at + TTL_GRACE_SECS)),
            (":now".to_string(), n(now)),
        ]);
        self.update_if(id, "SET #exp = :exp, #ttl = :ttl", LIVE, values).await
    }

    async fn add_history(&self, id: &str, entry: &HistoryEntry, now: i64) -> AppResult<bool> {
        for _ in 0..HISTORY_ATTEMPTS {
            let Some((record, mut history, version)) = self.session(id).await? else { return Ok(false) };
            if !record.is_live(now) {
                return Ok(false);
            }
            history.push(entry.clone());
            let keep = history.len().saturating_sub(MAX_ENTRIES);
            // The version guards against a concurrent append being overwritten;
            // the liveness test against an entry landing after a conversion.
            let mut values = HashMap::from([
                (":hist".to_string(), history_attribute(&history[keep..])),
                (":next".to_string(), n(version.map_or(1, |v| v + 1))),
                (":now".to_string(), n(now)),
            ]);
            let condition = match version {
                Some(version) => {
                    values.insert(":ver".into(), n(version));
                    format!("{LIVE} AND #ver = :ver")
                }
                None => format!("{LIVE} AND attribute_not_exists(#ver)"),
            };
            if self.update_if(id, "SET #hist = :hist, #ver = :next", &condition, values).await? {
                return Ok(true);
            }
        }
        Err(AppError::Unavailable {
            detail: "this guest session is being changed by other requests; try again".into(),
            retry_after_secs: 1,
        })
    }

    async fn history_page(&self, id: &str, offset: u64, limit: u64) -> AppResult<(u64, Vec<HistoryEntry>)> {
        let history = self.history(id).await?;
        Ok((history.len() as u64, newest_first_window(&history, offset, limit)))
    }

    async fn history(&self, id: &str) -> AppResult<Vec<HistoryEntry>> {
        Ok(self.session(id).await?.map(|(_, history, _)| history).unwrap_or_default())
    }

    async fn convert(&self, id: &str, customer_id: &str, now: i64) -> AppResult<Conversion> {
        let values = HashMap::from([(":customer".to_string(), s(customer_id)), (":now".to_string(), n(now))]);
        if self.update_if(id, "SET #conv = :customer, #convat = :now", LIVE, values).await? {
            return Ok(Conversion::Converted);
        }
        Ok(match self.get(id).await? {
            None => Conversion::Missing,
            Some(SessionRecord { converted_to: Some(customer), .. }) => Conversion::AlreadyConverted(customer),
            Some(_) => Conversion::Expired,
        })
    }

    async fn fixtures_loaded(&self) -> AppResult<bool> {
        Ok(self.item(FIXTURE_MARKER).await?.is_some())
    }

    async fn mark_fixtures_loaded(&self) -> AppResult<()> {
        let item = HashMap::from([("id".to_string(), s(FIXTURE_MARKER)), ("loaded_at".to_string(), n(now_secs()))]);
        let result = self.client().await.put_item().table_name(&self.table).set_item(Some(item)).send().await;
        result.map(|_| ()).map_err(dynamo_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_match_whole_names_only() {
        assert!(uses("SET #conv = :c", "#conv"));
        assert!(!uses("SET #convat = :now", "#conv"));
        assert!(uses("SET #conv = :c, #convat = :now", "#convat"));
        let names = DynamoGuests::names_for("SET #exp = :exp, #ttl = :ttl").unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(names["#ttl"], "ttl");
    }

    #[test]
    fn entries_round_trip_through_attributes() {
        for activity in [
            Activity::ViewedItem { item_type: "book".into(), item_id: "book_1".into() },
            Activity::Search { query: "dune".into() },
        ] {
            let entry = HistoryEntry { activity, at: 1_700_000_000 };
            assert_eq!(entry_from_attribute(&entry_to_attribute(&entry)).unwrap(), entry);
        }
        assert!(entry_from_attribute(&AttributeValue::S("x".into())).is_err());
    }
}
