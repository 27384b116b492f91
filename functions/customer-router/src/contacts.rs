//! A customer's personal data has one home, their account in the registered
//! service: the VIP service keeps points and tiers only. The router shows each
//! VIP record it forwards with the email and name of its account, asked for in
//! one call per answer, so a profile change shows everywhere at once. A VIP
//! record whose account is gone shows neither.
//!
//! Reading the caller's own account here also checks their token version: a VIP
//! token from before a password change, or of a closed account, is refused (401)
//! here at once, as the registered service refuses it on its own routes.

use std::collections::HashMap;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::Claims;
use shared::error::{AppError, AppResult};

use crate::CustomerRouterState;
use crate::forward::call_json;

/// The VIP records in an answer of the VIP service: the answer itself, a page's
/// `results`, or a points change's `customer`.
fn records(answer: &mut Value) -> Vec<&mut serde_json::Map<String, Value>> {
    fn is_record(value: &Value) -> bool {
        value["customer_type"] == "vip" && value["id"].is_string()
    }
    if is_record(answer) {
        return answer.as_object_mut().into_iter().collect();
    }
    let Some(object) = answer.as_object_mut() else { return Vec::new() };
    let mut found = Vec::new();
    for (key, value) in object.iter_mut() {
        match (key.as_str(), value) {
            ("results", Value::Array(items)) => {
                found.extend(items.iter_mut().filter(|v| is_record(v)).filter_map(Value::as_object_mut))
            }
            ("customer", value) if is_record(value) => found.extend(value.as_object_mut()),
            _ => {}
        }
    }
    found
}

/// Adds `email` and `name` from the accounts to every VIP record in `answer`.
/// With `caller` a customer, their own record must belong to a live account at
/// the token's version.
pub async fn add_to(state: &CustomerRouterState, caller: Option<&Claims>, answer: &mut Value) -> AppResult<()> {
    let mut records = records(answer);
    let mut ids: Vec<String> =
        records.iter().filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string)).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let body = json!({ "ids": ids });
    let (status, found, _) =
        call_json(state, &state.functions.registered, Method::POST, "/internal/registered/contacts", &[], Some(&body))
            .await?;
    if status != StatusCode::OK {
        return Err(AppError::Unavailable {
            detail: format!("the accounts service could not give the members' contacts (it answered {status})"),
            retry_after_secs: 2,
        });
    }
    let contacts: HashMap<&str, &Value> =
        found["contacts"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str().map(|id| (id, c))).collect();
    if let Some(claims) = caller.filter(|c| !c.is_staff())
        && ids.contains(&claims.sub)
    {
        match contacts.get(claims.sub.as_str()) {
            None => return Err(AppError::Unauthorized("this account was closed".into())),
            Some(contact) if contact["token_version"].as_i64() != Some(claims.ver) => {
                return Err(AppError::Unauthorized(
                    "this token was issued before the account's password changed; log in again".into(),
                ));
            }
            Some(_) => {}
        }
    }
    for record in records.iter_mut() {
        let contact = record.get("id").and_then(Value::as_str).and_then(|id| contacts.get(id));
        let field = |name: &str| contact.map(|c| c[name].clone()).unwrap_or(Value::Null);
        let (email, name) = (field("email"), field("name"));
        record.insert("email".into(), email);
        record.insert("name".into(), name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_found_where_the_vip_service_puts_them() {
        let vip = |id: &str| json!({ "customer_type": "vip", "id": id });
        let mut one = vip("a");
        assert_eq!(records(&mut one).len(), 1);
        let mut page = json!({ "count": 2, "results": [vip("a"), vip("b")] });
        assert_eq!(records(&mut page).len(), 2);
        let mut change = json!({ "entry": { "id": "pts_1" }, "customer": vip("a") });
        assert_eq!(records(&mut change).len(), 1);
        let mut entry = json!({ "id": "pts_1", "kind": "redeem" });
        assert!(records(&mut entry).is_empty());
    }
}
