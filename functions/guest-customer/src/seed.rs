//! Fixture guest sessions: shopping history to look at locally, with a token
//! hash nobody can match, since fixture guests cannot log in.

use serde::Deserialize;
use serde_json::{Map, Value};
use shared::error::{AppError, AppResult};
use shared::ids::has_prefix;
use shared::sql::now_secs;

use crate::history::{HistoryEntry, parse_activity};
use crate::store::{GuestStore, NewSession};
use crate::token::{ID_PREFIX, unusable_hash};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureSession {
    id: String,
    created_at: i64,
    #[serde(default)]
    history: Vec<Map<String, Value>>,
}

/// Adds the fixture sessions whose ids are missing and returns how many it
/// added, so loading twice changes nothing. Each entry is checked exactly as a
/// request would be; fixture sessions expire `ttl_secs` from now.
pub async fn load_fixtures(store: &dyn GuestStore, json: &str, ttl_secs: i64) -> AppResult<u64> {
    let sessions: Vec<FixtureSession> =
        serde_json::from_str(json).map_err(|e| AppError::internal(format!("guest fixtures are not valid: {e}")))?;
    let now = now_secs();
    let mut added = 0;
    for fixture in sessions {
        let history = entries(&fixture)?;
        let session = NewSession {
            id: fixture.id,
            token_hash: unusable_hash(),
            created_at: fixture.created_at,
            expires_at: now + ttl_secs,
        };
        if store.insert(&session, &history).await? {
            added += 1;
        }
    }
    Ok(added)
}

/// The fixture's entries, oldest first.
fn entries(fixture: &FixtureSession) -> AppResult<Vec<HistoryEntry>> {
    let invalid = |why: String| AppError::internal(format!("guest fixture {} is invalid: {why}", fixture.id));
    if !has_prefix(&fixture.id, ID_PREFIX) {
        return Err(invalid("its id is not a guest id".into()));
    }
    let mut entries = fixture
        .history
        .iter()
        .map(|entry| {
            let mut entry = entry.clone();
            let at =
                entry.remove("at").and_then(|at| at.as_i64()).ok_or_else(|| invalid("an entry has no `at`".into()))?;
            let activity = parse_activity(&entry).map_err(|e| invalid(format!("{:?}", e.problem().errors)))?;
            Ok(HistoryEntry { activity, at })
        })
        .collect::<AppResult<Vec<_>>>()?;
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}
