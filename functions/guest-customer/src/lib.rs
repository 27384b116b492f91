//! The guest customer service: anonymous shopping sessions with sliding expiry,
//! and what each guest viewed and searched for.
//!
//! A guest holds a token `<session id>.<secret>` sent as `X-Guest-Token`. Every
//! request it authenticates pushes the session's expiry forward, so an active
//! shopper is never logged out while an abandoned session ends on its own. When
//! a guest signs up, the customer router converts the session: its history moves
//! to the new account and the token stops working everywhere.

pub mod history;
pub mod openapi;
mod seed;
pub mod store;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::auth::{Caller, Claims, CustomerType, TokenKeys};
use shared::config::{ConfigError, Env};
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::{JsonObject, MAX_BODY_BYTES, QueryPairs};
use shared::http_app::{both_slashes, finish_documented};
use shared::ids::{has_prefix, mention, new_id, split_id};
use shared::invoke::Invoker;
use shared::pagination::{Page, PageRequest, RequestUrl};
use shared::sql::{now_secs, rfc3339};
use shared::store::StoreUrl;
use utoipa::ToSchema;

pub use history::{Activity, HistoryEntry, HistoryEntryView};
pub use seed::load_fixtures;
pub use store::{Conversion, DynamoGuests, GuestStore, NewSession, SessionRecord, SqliteGuests};
use token::{ID_PREFIX, ParsedToken};

/// The header a guest presents its token in.
pub const TOKEN_HEADER: &str = "x-guest-token";
pub const DEFAULT_TTL_DAYS: i64 = 30;
const SECS_PER_DAY: i64 = 24 * 60 * 60;

const EXPIRED: &str = "the guest session has expired";
const CONVERTED: &str = "the guest session was converted into a customer account";
const INVALID_TOKEN: &str = "the guest token is not valid";

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreUrl,
    /// How long a session lives after the last request it authenticated.
    pub session_ttl_secs: i64,
    pub max_connections: u32,
    /// Where a viewed item is looked up before it joins a history.
    pub items_router_function: String,
    pub invoke_timeout: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let store = StoreUrl::from_env(env, "GUEST_CUSTOMER_DATABASE_URL", "guest-customer")?;
        if !matches!(store, StoreUrl::Sqlite(_) | StoreUrl::DynamoDb { .. }) {
            return Err(ConfigError::Invalid {
                name: "GUEST_CUSTOMER_DATABASE_URL".into(),
                why: "the guest service stores sessions in sqlite:// or dynamodb:// only".into(),
            });
        }
        let days: i64 = env.parse_or("GUEST_SESSION_TTL_DAYS", DEFAULT_TTL_DAYS)?;
        if !(1..=365).contains(&days) {
            return Err(ConfigError::Invalid {
                name: "GUEST_SESSION_TTL_DAYS".into(),
                why: "use a number of days from 1 to 365".into(),
            });
        }
        Ok(Self {
            store,
            session_ttl_secs: days * SECS_PER_DAY,
            max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?,
            items_router_function: env.get("ITEMS_ROUTER_FUNCTION").unwrap_or("items-router").to_string(),
            invoke_timeout: Duration::from_millis(env.parse_or("INVOKE_TIMEOUT_MS", 3_000)?),
        })
    }
}

/// The items router, asked whether a viewed item exists.
#[derive(Clone)]
pub struct Items {
    pub invoker: Arc<dyn Invoker>,
    pub function: String,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct GuestState {
    store: Arc<dyn GuestStore>,
    keys: Arc<TokenKeys>,
    ttl_secs: i64,
    items: Items,
}

impl FromRef<GuestState> for Arc<TokenKeys> {
    fn from_ref(state: &GuestState) -> Self {
        state.keys.clone()
    }
}

impl GuestState {
    /// The store the configuration names; nothing connects until the first request.
    pub fn new(config: &Config, invoker: Arc<dyn Invoker>, keys: Arc<TokenKeys>) -> AppResult<Self> {
        let store = store::open(&config.store, config.max_connections)?;
        let items = Items { invoker, function: config.items_router_function.clone(), timeout: config.invoke_timeout };
        Ok(Self::with_store(store, items, keys, config.session_ttl_secs))
    }

    pub fn with_store(store: Arc<dyn GuestStore>, items: Items, keys: Arc<TokenKeys>, session_ttl_secs: i64) -> Self {
        Self { store, keys, ttl_secs: session_ttl_secs.max(1), items }
    }

    pub fn store(&self) -> &Arc<dyn GuestStore> {
        &self.store
    }

    pub fn session_ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    async fn create_session(&self) -> AppResult<CreatedSession> {
        let id = new_id(ID_PREFIX);
        let issued = token::issue(&id);
        let now = now_secs();
        let session = NewSession {
            id: id.clone(),
            token_hash: issued.secret_hash,
            created_at: now,
            expires_at: now + self.ttl_secs,
        };
        if !self.store.insert(&session, &[]).await? {
            return Err(AppError::internal(format!("a new guest id was already taken: {id}")));
        }
        Ok(CreatedSession {
            id,
            token: issued.token,
            created_at: rfc3339(now),
            expires_at: rfc3339(session.expires_at),
        })
    }

    /// The session whose stored hash matches the token's secret, whatever its state.
    async fn session_matching(&self, token: &ParsedToken) -> AppResult<SessionRecord> {
        self.store
            .get(&token.session_id)
            .await?
            .filter(|s| token.matches(&s.token_hash))
            .ok_or_else(|| AppError::Unauthorized(INVALID_TOKEN.into()))
    }

    /// The live session a token opens. The secret is checked before the session's
    /// state, so without it nobody learns whether a session expired or converted.
    async fn authenticate(&self, token: &ParsedToken) -> AppResult<SessionRecord> {
        let session = self.session_matching(token).await?;
        match inactive_reason(&session, now_secs()) {
            Some(reason) => Err(AppError::Unauthorized(reason.into())),
            None => Ok(session),
        }
    }

    /// Pushes the expiry to now + TTL, but writes only when it moves by a step,
    /// so a burst of reads costs one write instead of one each.
    async fn slide(&self, mut session: SessionRecord) -> AppResult<SessionRecord> {
        let step = (self.ttl_secs / 2).clamp(1, 60);
        let now = now_secs();
        let target = now + self.ttl_secs;
        if target - session.expires_at < step {
            return Ok(session);
        }
        self.extend(&mut session, target, now).await?;
        Ok(session)
    }

    async fn extend(&self, session: &mut SessionRecord, target: i64, now: i64) -> AppResult<()> {
        if self.store.set_expiry(&session.id, target, now).await? {
            session.expires_at = target;
            return Ok(());
        }
        Err(self.gone(&session.id).await)
    }

    /// Why a session that was live a moment ago refused a write (a race with a
    /// DELETE, a conversion or the clock).
    async fn gone(&self, id: &str) -> AppError {
        match self.store.get(id).await {
            Ok(Some(session)) => {
                AppError::Unauthorized(inactive_reason(&session, now_secs()).unwrap_or(EXPIRED).into())
            }
            Ok(None) => AppError::Unauthorized(INVALID_TOKEN.into()),
            Err(e) => e,
        }
    }

    /// The live session named by the request's `X-Guest-Token`, slid forward.
    async fn current(&self, headers: &HeaderMap) -> AppResult<Option<SessionRecord>> {
        match guest_token(headers)? {
            None => Ok(None),
            Some(token) => {
                let session = self.authenticate(&token).await?;
                self.slide(session).await.map(Some)
            }
        }
    }

    async fn require_current(&self, headers: &HeaderMap) -> AppResult<SessionRecord> {
        self.current(headers).await?.ok_or_else(|| AppError::Unauthorized(NEEDS_TOKEN.into()))
    }

    /// The session `id` for a caller who is staff (when `staff_may`) or holds its
    /// token. Ids that cannot be a guest's are a 404 before anything else.
    async fn authorize(
        &self,
        id: &str,
        headers: &HeaderMap,
        caller: Option<&Claims>,
        staff_may: bool,
    ) -> AppResult<Authorized> {
        if !has_prefix(id, ID_PREFIX) {
            return Err(not_found(id));
        }
        let token = guest_token(headers)?;
        if staff_may && caller.is_some_and(Claims::is_staff) {
            // A guest token sent along must still be valid: a bad credential is
            // refused, never ignored because another one is good.
            if let Some(token) = &token {
                self.session_matching(token).await?;
            }
            let session = self.store.get(id).await?.ok_or_else(|| not_found(id))?;
            return Ok(Authorized { session, by_staff: true });
        }
        let Some(token) = token else {
            return Err(match caller {
                Some(_) if staff_may => AppError::Forbidden("only staff or the session's own guest may do this".into()),
                _ => AppError::Unauthorized(NEEDS_TOKEN.into()),
            });
        };
        if token.session_id != id {
            return Err(AppError::Forbidden("this guest token belongs to another session".into()));
        }
        Ok(Authorized { session: self.authenticate(&token).await?, by_staff: false })
    }

    async fn add_entry(&self, session: &SessionRecord, body: Map<String, Value>) -> AppResult<HistoryEntryView> {
        let activity = history::parse_activity(&body)?;
        let items = &self.items;
        shared::history::check_viewed_item(&*items.invoker, &items.function, items.timeout, &activity).await?;
        let now = now_secs();
        let entry = HistoryEntry { activity, at: now };
        if !self.store.add_history(&session.id, &entry, now).await? {
            return Err(self.gone(&session.id).await);
        }
        Ok(HistoryEntryView::from(&entry))
    }

    async fn history_page(&self, id: &str, pairs: QueryPairs, url: &RequestUrl) -> AppResult<Page<HistoryEntryView>> {
        let mut params = pairs.into_params();
        let request = PageRequest::from_params(&mut params);
        params.finish()?;
        let request = request.ok_or_else(|| AppError::BadRequest("the paging parameters are not valid".into()))?;
        let (count, entries) = self.store.history_page(id, request.offset, request.limit).await?;
        Ok(Page::new(entries.iter().map(HistoryEntryView::from).collect(), count, &request, url))
    }

    async fn convert(&self, input: ConvertInput) -> AppResult<ConvertedGuest> {
        let token = token::parse(&input.token).ok_or_else(|| AppError::Unauthorized(INVALID_TOKEN.into()))?;
        let session = self.session_matching(&token).await?;
        // A retry (the router's call timed out after the conversion was made)
        // gets the same answer, whatever has happened to the clock since.
        let outcome = match session.converted_to {
            Some(customer) => Conversion::AlreadyConverted(customer),
            None => self.store.convert(&session.id, &input.customer_id, now_secs()).await?,
        };
        match outcome {
            Conversion::Converted => {}
            Conversion::AlreadyConverted(customer) if customer == input.customer_id => {}
            Conversion::AlreadyConverted(_) => {
                return Err(AppError::Conflict(
                    "this guest session was already converted into another customer account".into(),
                ));
            }
            Conversion::Expired => return Err(AppError::Unauthorized(EXPIRED.into())),
            Conversion::Missing => return Err(AppError::Unauthorized(INVALID_TOKEN.into())),
        }
        let history = self.store.history(&session.id).await?;
        Ok(ConvertedGuest {
            guest_id: session.id,
            customer_id: input.customer_id,
            history: history.iter().map(HistoryEntryView::from).collect(),
        })
    }
}

const NEEDS_TOKEN: &str = "this needs a guest session token in the X-Guest-Token header";

struct Authorized {
    session: SessionRecord,
    by_staff: bool,
}

fn inactive_reason(session: &SessionRecord, now: i64) -> Option<&'static str> {
    if session.converted_to.is_some() {
        Some(CONVERTED)
    } else if session.expires_at <= now {
        Some(EXPIRED)
    } else {
        None
    }
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("there is no guest session {}", mention(id)))
}

/// The request's guest token, if any; one that is present but malformed is a
/// 401, never silently anonymous.
fn guest_token(headers: &HeaderMap) -> AppResult<Option<ParsedToken>> {
    let Some(value) = headers.get(TOKEN_HEADER) else { return Ok(None) };
    let parsed =
        value.to_str().ok().and_then(token::parse).ok_or_else(|| AppError::Unauthorized(INVALID_TOKEN.into()))?;
    Ok(Some(parsed))
}

/// A new session, with the only copy of its token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedSession {
    pub id: String,
    /// Send it as `X-Guest-Token`; it cannot be shown again.
    pub token: String,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// Always `guest`.
    pub customer_type: CustomerType,
    pub id: String,
    pub created_at: String,
    pub expires_at: String,
    pub history_count: u64,
}

impl From<&SessionRecord> for SessionView {
    fn from(session: &SessionRecord) -> Self {
        Self {
            customer_type: CustomerType::Guest,
            id: session.id.clone(),
            created_at: rfc3339(session.created_at),
            expires_at: rfc3339(session.expires_at),
            history_count: session.history_count,
        }
    }
}

/// `GET /api/customers/` for an anonymous caller.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CurrentGuest {
    pub customer_type: CustomerType,
    /// The session named by `X-Guest-Token`; null without one.
    pub session: Option<SessionView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertInput {
    pub token: String,
    pub customer_id: String,
}

impl ConvertInput {
    fn parse(body: &Map<String, Value>) -> AppResult<Self> {
        let mut errors = FieldErrors::new();
        let mut text = |name: &str| match body.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                errors.add(name, "is required");
                None
            }
            Some(_) => {
                errors.add(name, "must be a string");
                None
            }
        };
        let token = text("token");
        let customer_id = text("customer_id");
        if let Some(id) = &customer_id
            && (id.len() > 100 || split_id(id).is_none())
        {
            errors.add("customer_id", "must be a customer id such as `cust_01J...`");
        }
        for name in body.keys().filter(|k| *k != "token" && *k != "customer_id") {
            errors.add(name.as_str(), "unknown field");
        }
        errors.into_result()?;
        match (token, customer_id) {
            (Some(token), Some(customer_id)) => Ok(Self { token, customer_id }),
            _ => Err(AppError::internal("a valid conversion request was not built")),
        }
    }
}

/// What the customer router copies into the new account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConvertedGuest {
    pub guest_id: String,
    pub customer_id: String,
    /// Oldest first.
    pub history: Vec<HistoryEntryView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GuestSnapshot {
    pub guest_id: String,
    /// Oldest first.
    pub history: Vec<HistoryEntryView>,
}

pub fn router(state: GuestState) -> Router {
    let mut router = Router::new();
    for path in both_slashes("/api/guest-customer") {
        router = router.route(&path, post(create));
    }
    for path in both_slashes("/api/guest-customer/{id}") {
        router = router.route(&path, get(read).delete(expire));
    }
    for path in both_slashes("/api/guest-customer/{id}/touch") {
        router = router.route(&path, post(touch));
    }
    for path in both_slashes("/api/guest-customer/{id}/history") {
        router = router.route(&path, get(list_history).post(add_history));
    }
    for path in both_slashes("/api/customers") {
        router = router.route(&path, get(current).post(create));
    }
    for path in both_slashes("/api/customers/history") {
        router = router.route(&path, get(list_current_history).post(add_current_history));
    }
    for path in both_slashes("/internal/guest/convert") {
        router = router.route(&path, post(convert));
    }
    for path in both_slashes("/internal/guest/session") {
        router = router.route(&path, get(snapshot));
    }
    finish_documented(router.with_state(state), &openapi::openapi())
}

/// The body of a request that takes none: absent, or an empty JSON object.
async fn no_fields(request: Request) -> AppResult<()> {
    let (parts, body) = request.into_parts();
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(format!("the request body is larger than {MAX_BODY_BYTES} bytes"))
        } else {
            AppError::BadRequest(format!("could not read the request body: {rejection}"))
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let JsonObject(body) = JsonObject::from_request(Request::from_parts(parts, Body::from(bytes)), &()).await?;
    let mut errors = FieldErrors::new();
    for name in body.keys() {
        errors.add(name.as_str(), "unknown field; a guest session takes no fields");
    }
    errors.into_result()
}

async fn json_object(request: Request) -> AppResult<Map<String, Value>> {
    JsonObject::from_request(request, &()).await.map(|JsonObject(body)| body)
}

async fn create(State(state): State<GuestState>, request: Request) -> AppResult<Response> {
    no_fields(request).await?;
    let created = state.create_session().await?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

async fn read(
    State(state): State<GuestState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
) -> AppResult<axum::Json<SessionView>> {
    let Authorized { session, by_staff } = state.authorize(&id, &headers, caller.0.as_ref(), true).await?;
    // Staff looking at a session must not keep it alive.
    let session = if by_staff { session } else { state.slide(session).await? };
    Ok(axum::Json(SessionView::from(&session)))
}

async fn touch(
    State(state): State<GuestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<axum::Json<SessionView>> {
    let Authorized { mut session, .. } = state.authorize(&id, &headers, None, false).await?;
    let now = now_secs();
    let target = now + state.ttl_secs;
    if target > session.expires_at {
        state.extend(&mut session, target, now).await?;
    }
    Ok(axum::Json(SessionView::from(&session)))
}

async fn expire(
    State(state): State<GuestState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
) -> AppResult<StatusCode> {
    let Authorized { session, by_staff } = state.authorize(&id, &headers, caller.0.as_ref(), true).await?;
    let now = now_secs();
    // For staff, a session that has already ended is as good as ended now.
    if !state.store.set_expiry(&session.id, now, now).await? && !by_staff {
        return Err(state.gone(&session.id).await);
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_history(
    State(state): State<GuestState>,
    Path(id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    pairs: QueryPairs,
    url: RequestUrl,
) -> AppResult<axum::Json<Page<HistoryEntryView>>> {
    let Authorized { session, by_staff } = state.authorize(&id, &headers, caller.0.as_ref(), true).await?;
    if !by_staff {
        state.slide(session.clone()).await?;
    }
    state.history_page(&session.id, pairs, &url).await.map(axum::Json)
}

async fn add_history(State(state): State<GuestState>, Path(id): Path<String>, request: Request) -> AppResult<Response> {
    // Who is asking comes before what they sent: no token is a 401 whatever the body.
    let Authorized { session, .. } = state.authorize(&id, request.headers(), None, false).await?;
    let session = state.slide(session).await?;
    let entry = state.add_entry(&session, json_object(request).await?).await?;
    Ok((StatusCode::CREATED, axum::Json(entry)).into_response())
}

async fn current(State(state): State<GuestState>, headers: HeaderMap) -> AppResult<axum::Json<CurrentGuest>> {
    let session = state.current(&headers).await?;
    Ok(axum::Json(CurrentGuest {
        customer_type: CustomerType::Guest,
        session: session.as_ref().map(SessionView::from),
    }))
}

async fn list_current_history(
    State(state): State<GuestState>,
    headers: HeaderMap,
    pairs: QueryPairs,
    url: RequestUrl,
) -> AppResult<axum::Json<Page<HistoryEntryView>>> {
    let session = state.require_current(&headers).await?;
    state.history_page(&session.id, pairs, &url).await.map(axum::Json)
}

async fn add_current_history(State(state): State<GuestState>, request: Request) -> AppResult<Response> {
    let session = state.require_current(request.headers()).await?;
    let entry = state.add_entry(&session, json_object(request).await?).await?;
    Ok((StatusCode::CREATED, axum::Json(entry)).into_response())
}

async fn convert(
    State(state): State<GuestState>,
    JsonObject(body): JsonObject,
) -> AppResult<axum::Json<ConvertedGuest>> {
    let input = ConvertInput::parse(&body)?;
    state.convert(input).await.map(axum::Json)
}

async fn snapshot(State(state): State<GuestState>, headers: HeaderMap) -> AppResult<axum::Json<GuestSnapshot>> {
    let token = guest_token(&headers)?.ok_or_else(|| AppError::Unauthorized(NEEDS_TOKEN.into()))?;
    let session = state.authenticate(&token).await?;
    let history = state.store.history(&session.id).await?;
    Ok(axum::Json(GuestSnapshot {
        guest_id: session.id,
        history: history.iter().map(HistoryEntryView::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_ttl_days_and_rejects_bad_values() {
        let base = Env::from_pairs([("LOCAL_DATA_DIR", "/tmp/guest-config")]);
        let config = Config::from_env(&base).unwrap();
        assert_eq!(config.session_ttl_secs, 30 * SECS_PER_DAY);
        assert_eq!(config.max_connections, 2);
        assert_eq!(config.store, StoreUrl::Sqlite("sqlite:///tmp/guest-config/guest-customer.db".into()));
        let week = Config::from_env(&base.clone().with("GUEST_SESSION_TTL_DAYS", "7")).unwrap();
        assert_eq!(week.session_ttl_secs, 7 * SECS_PER_DAY);
        let dynamo =
            Config::from_env(&base.clone().with("GUEST_CUSTOMER_DATABASE_URL", "dynamodb://shop-guests")).unwrap();
        assert_eq!(dynamo.store, StoreUrl::DynamoDb { table: "shop-guests".into() });
        for (name, value) in [
            ("GUEST_SESSION_TTL_DAYS", "0"),
            ("GUEST_SESSION_TTL_DAYS", "366"),
            ("GUEST_SESSION_TTL_DAYS", "a month"),
            ("DATABASE_MAX_CONNECTIONS", "-1"),
            ("GUEST_CUSTOMER_DATABASE_URL", "mysql://db/guests"),
            ("GUEST_CUSTOMER_DATABASE_URL", "redis://x"),
        ] {
            assert!(Config::from_env(&base.clone().with(name, value)).is_err(), "{name}={value}");
        }
        assert!(Config::from_env(&Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "guest")])).is_err());
    }

    #[tokio::test]
    async fn building_the_state_connects_to_nothing() {
        let keys = Arc::new(TokenKeys::development());
        // Neither store is reachable from here; init must still succeed.
        let dynamo = Config {
            store: StoreUrl::DynamoDb { table: "no-such-table".into() },
            session_ttl_secs: 60,
            max_connections: 2,
            items_router_function: "items-router".into(),
            invoke_timeout: Duration::from_secs(1),
        };
        let invoker = || Arc::new(shared::invoke::InProcessInvoker::new());
        assert!(GuestState::new(&dynamo, invoker(), keys.clone()).is_ok());
        let sqlite = Config { store: StoreUrl::Sqlite("sqlite:///proc/no/such/dir/x.db".into()), ..dynamo };
        assert!(GuestState::new(&sqlite, invoker(), keys).is_err(), "a folder that cannot be made is a start-up error");
    }

    #[test]
    fn conversion_requests_name_their_bad_fields() {
        let parse = |v: Value| ConvertInput::parse(v.as_object().unwrap());
        let ok = parse(serde_json::json!({ "token": "t", "customer_id": "cust_01J0000000000000000000000A" }));
        assert_eq!(ok.unwrap().customer_id, "cust_01J0000000000000000000000A");
        match parse(serde_json::json!({ "customer_id": "nope", "extra": 1 })) {
            Err(AppError::Validation(errors)) => {
                assert_eq!(errors.fields().collect::<Vec<_>>(), ["customer_id", "extra", "token"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
