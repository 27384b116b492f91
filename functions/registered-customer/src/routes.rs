//! HTTP: the customer-facing routes (forwarded by the customer router) and the
//! router's internal steps.

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::auth::{Caller, Claims, CustomerType, Staff};
use shared::error::{AppError, AppResult, FieldErrors};
use shared::extract::{Json, JsonObject, QueryPairs, from_json_value};
use shared::http_app::{both_slashes, finish_documented};
use shared::ids::new_id;
use shared::pagination::{Page, PageRequest, RequestUrl};
use shared::sql::{now_secs, rfc3339};
use utoipa::ToSchema;

use crate::RegisteredState;
use crate::domain::{
    AddressInput, Email, Preferences, check_password, check_phone, decoy_hash, hash_password, verify_password,
};
use crate::login_limits::{Attempt, take_mail_slot, too_many_mails};
use crate::mailer::Mail;
use crate::store::{Account, Created, HistoryEntry, MAX_ADDRESSES, NewAccount, Refreshed};
use shared::history::Activity;

pub fn router(state: RegisteredState) -> Router {
    let mut router = Router::new();
    for path in both_slashes("/api/customers") {
        router = router.route(&path, get(me).delete(delete_account));
    }
    for (path, method) in [
        ("/api/customers/profile", get(profile).patch(update_profile)),
        ("/api/customers/addresses", get(list_addresses).post(create_address)),
        ("/api/customers/addresses/{id}", get(read_address).patch(update_address).delete(delete_address)),
        ("/api/customers/password", post(change_password)),
        ("/api/customers/history", get(history).post(add_history)),
        ("/api/customers/verify-email", get(verify_email_link).post(verify_email)),
        ("/api/customers/verify-email/resend", post(resend_verification)),
        ("/api/customers/accounts/{id}", get(staff_read_account)),
    ] {
        for path in both_slashes(path) {
            router = router.route(&path, method.clone());
        }
    }
    router = router
        .route("/internal/registered/accounts", post(sign_up))
        .route("/internal/registered/authenticate", post(authenticate))
        .route("/internal/registered/refresh", post(refresh))
        .route("/internal/registered/contacts", post(contacts))
        .route("/internal/registered/accounts/{id}", get(internal_read_account))
        .route("/internal/registered/accounts/{id}/customer-type", put(set_customer_type))
        .route("/internal/registered/accounts/{id}/token-version", get(token_version));
    finish_documented(router.with_state(state), &crate::openapi::openapi())
}

/// A caller with an account here: a registered or VIP customer, or staff.
struct Holder(Claims);

impl FromRequestParts<RegisteredState> for Holder {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &RegisteredState) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await?.0 {
            None => Err(AppError::Unauthorized("log in to use your account".into())),
            Some(claims) if claims.typ == CustomerType::Guest => {
                Err(AppError::Forbidden("guest sessions have no account; sign up first".into()))
            }
            Some(claims) => Ok(Holder(claims)),
        }
    }
}

fn closed_account() -> AppError {
    AppError::Unauthorized("this account was closed".into())
}

/// The caller's own account, if the token is still good for it: a token issued
/// before the last password change is refused here at once, as where money moves.
async fn own_account(state: &RegisteredState, claims: &Claims) -> AppResult<Account> {
    let Some(account) = state.store.account(&claims.sub).await? else {
        if state.store.is_closed(&claims.sub).await? {
            return Err(closed_account());
        }
        return Err(AppError::NotFound("there is no account for this token".into()));
    };
    if account.token_version != claims.ver {
        return Err(AppError::Unauthorized(
            "this token was issued before the account's password changed; log in again".into(),
        ));
    }
    Ok(account)
}

/// An account as its owner (or staff) sees it: never the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub customer_type: String,
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub preferences: Preferences,
    pub role: String,
    pub created_at: String,
}

fn view(account: &Account) -> AccountView {
    AccountView {
        customer_type: account.customer_type.clone(),
        id: account.id.clone(),
        email: account.email.clone(),
        email_verified: account.email_verified_at.is_some(),
        name: account.name.clone(),
        phone: account.phone.clone(),
        preferences: serde_json::from_str(&account.preferences).unwrap_or_default(),
        role: account.role.clone(),
        created_at: rfc3339(account.created_at),
    }
}

async fn me(State(state): State<RegisteredState>, Holder(claims): Holder) -> AppResult<axum::Json<AccountView>> {
    Ok(axum::Json(view(&own_account(&state, &claims).await?)))
}

/// Slow hashing and verifying run off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(AppError::internal)
}

async fn check_current_password(password: String, hash: String) -> AppResult<()> {
    if blocking(move || verify_password(&password, &hash)).await? {
        Ok(())
    } else {
        let mut errors = FieldErrors::new();
        errors.add("password", "is not your current password");
        Err(AppError::Validation(errors))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirm {
    password: String,
}

/// Closes the caller's account. Answered 204 again for an account already
/// closed, so the customer router can finish what follows a closure (the VIP
/// record, the cart) when the client retries.
async fn delete_account(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    Json(confirm): Json<Confirm>,
) -> AppResult<StatusCode> {
    let account = match own_account(&state, &claims).await {
        Ok(account) => account,
        Err(AppError::Unauthorized(_)) if state.store.is_closed(&claims.sub).await? => {
            return Ok(StatusCode::NO_CONTENT);
        }
        Err(e) => return Err(e),
    };
    check_current_password(confirm.password, account.password_hash).await?;
    state.store.close_account(&account.id).await?;
    tracing::info!(account = %account.id, "account closed at its owner's request");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: Option<String>,
    pub phone: Option<String>,
    #[serde(default)]
    pub preferences: Preferences,
}

fn profile_of(account: &Account) -> Profile {
    Profile {
        name: account.name.clone(),
        phone: account.phone.clone(),
        preferences: serde_json::from_str(&account.preferences).unwrap_or_default(),
    }
}

fn validate_profile(profile: &mut Profile) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if let Some(name) = &profile.name {
        let trimmed = name.trim();
        shared::catalog::check_required_text(&mut errors, "name", trimmed, 200);
        profile.name = Some(trimmed.to_string());
    }
    check_phone(&mut errors, "phone", profile.phone.as_deref());
    profile.preferences.validate(&mut errors);
    errors.into_result()
}

async fn profile(State(state): State<RegisteredState>, Holder(claims): Holder) -> AppResult<axum::Json<Profile>> {
    Ok(axum::Json(profile_of(&own_account(&state, &claims).await?)))
}

async fn update_profile(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    JsonObject(patch): JsonObject,
) -> AppResult<axum::Json<Profile>> {
    let account = own_account(&state, &claims).await?;
    let Value::Object(mut merged) = serde_json::to_value(profile_of(&account)).map_err(AppError::internal)? else {
        return Err(AppError::internal("profile is not an object"));
    };
    merged.extend(patch);
    let mut profile: Profile = from_json_value(Value::Object(merged))?;
    validate_profile(&mut profile)?;
    let preferences = serde_json::to_string(&profile.preferences).map_err(AppError::internal)?;
    state.store.update_profile(&account.id, profile.name.as_deref(), profile.phone.as_deref(), &preferences).await?;
    Ok(axum::Json(profile))
}

async fn list_addresses(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    url: RequestUrl,
) -> AppResult<Response> {
    let account = own_account(&state, &claims).await?;
    let addresses = state.store.addresses(&account.id).await?;
    let count = addresses.len() as u64;
    Ok(axum::Json(Page::new(addresses, count, &PageRequest::first(MAX_ADDRESSES as u64), &url)).into_response())
}

async fn create_address(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let account = own_account(&state, &claims).await?;
    let mut input: AddressInput = from_json_value(Value::Object(body))?;
    input.normalize_and_validate()?;
    let address = state.store.save_address(&account.id, &new_id("addr"), &input, true).await?;
    Ok((StatusCode::CREATED, axum::Json(address)).into_response())
}

async fn owned_address(
    state: &RegisteredState,
    claims: &Claims,
    id: &str,
) -> AppResult<(Account, crate::store::Address)> {
    let account = own_account(state, claims).await?;
    // Another customer's address is "not found", never "forbidden": its existence is not ours to tell.
    let address = state
        .store
        .address(&account.id, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("you have no address `{id}`")))?;
    Ok((account, address))
}

async fn read_address(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    Path(id): Path<String>,
) -> AppResult<axum::Json<crate::store::Address>> {
    owned_address(&state, &claims, &id).await.map(|(_, address)| axum::Json(address))
}

async fn update_address(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    Path(id): Path<String>,
    JsonObject(patch): JsonObject,
) -> AppResult<axum::Json<crate::store::Address>> {
    let (account, existing) = owned_address(&state, &claims, &id).await?;
    let Value::Object(mut merged) = serde_json::to_value(&existing.fields).map_err(AppError::internal)? else {
        return Err(AppError::internal("address is not an object"));
    };
    merged.extend(patch);
    let mut input: AddressInput = from_json_value(Value::Object(merged))?;
    input.normalize_and_validate()?;
    Ok(axum::Json(state.store.save_address(&account.id, &id, &input, false).await?))
}

async fn delete_address(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let (account, _) = owned_address(&state, &claims, &id).await?;
    state.store.delete_address(&account.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    Json(change): Json<PasswordChange>,
) -> AppResult<StatusCode> {
    let account = own_account(&state, &claims).await?;
    let mut errors = FieldErrors::new();
    let email = Email::parse(&account.email).ok();
    check_password(&mut errors, "new_password", &change.new_password, email.as_ref());
    errors.into_result()?;
    check_current_password(change.current_password, account.password_hash.clone()).await.map_err(|_| {
        let mut errors = FieldErrors::new();
        errors.add("current_password", "is not your current password");
        AppError::Validation(errors)
    })?;
    let (new_password, current_hash) = (change.new_password.clone(), account.password_hash.clone());
    if blocking(move || verify_password(&new_password, &current_hash)).await? {
        let mut errors = FieldErrors::new();
        errors.add("new_password", "must differ from your current password");
        return Err(AppError::Validation(errors));
    }
    let new_password = change.new_password;
    let hash = blocking(move || hash_password(&new_password)).await?.map_err(AppError::internal)?;
    // Every token issued before, this one included, stops working: the customer logs in again.
    state.store.set_password(&account.id, &hash).await?;
    tracing::info!(account = %account.id, "password changed; earlier tokens revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    pub kind: String,
    pub item_type: Option<String>,
    pub item_id: Option<String>,
    pub query: Option<String>,
    pub at: String,
}

impl From<HistoryEntry> for HistoryView {
    fn from(e: HistoryEntry) -> Self {
        HistoryView { kind: e.kind, item_type: e.item_type, item_id: e.item_id, query: e.query, at: rfc3339(e.at) }
    }
}

async fn history(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    url: RequestUrl,
    query: QueryPairs,
) -> AppResult<Response> {
    let account = own_account(&state, &claims).await?;
    let mut params = query.into_params();
    let page = PageRequest::from_params(&mut params);
    params.finish()?;
    let page = page.ok_or_else(|| AppError::internal("page request missing without an error"))?;
    let (count, entries) = state.store.history(&account.id, page.offset, page.limit).await?;
    let results: Vec<HistoryView> = entries.into_iter().map(HistoryView::from).collect();
    Ok(axum::Json(Page::new(results, count, &page, &url)).into_response())
}

/// The most entries an account's history keeps, as a guest session's does.
pub const MAX_HISTORY_ENTRIES: u64 = 200;

/// `POST /api/customers/history`: an item viewed or a search made, as a guest
/// adds them. The customer router, the one way here, has checked that a viewed
/// item exists; its id and type are checked again here.
async fn add_history(
    State(state): State<RegisteredState>,
    Holder(claims): Holder,
    JsonObject(body): JsonObject,
) -> AppResult<Response> {
    let account = own_account(&state, &claims).await?;
    let activity = shared::history::parse_activity(&body)?;
    let entry = match activity {
        Activity::ViewedItem { item_type, item_id } => HistoryEntry {
            kind: "viewed_item".into(),
            item_type: Some(item_type),
            item_id: Some(item_id),
            query: None,
            at: now_secs(),
        },
        Activity::Search { query } => {
            HistoryEntry { kind: "search".into(), item_type: None, item_id: None, query: Some(query), at: now_secs() }
        }
    };
    state.store.add_history(&account.id, &entry, MAX_HISTORY_ENTRIES).await?;
    Ok((StatusCode::CREATED, axum::Json(HistoryView::from(entry))).into_response())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes, URL-safe: verification and refresh tokens, stored only as hashes.
fn new_secret() -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    URL_SAFE_NO_PAD.encode(secret)
}

async fn send_verification(state: &RegisteredState, account: &Account, token: &str) -> AppResult<()> {
    let link = format!("{}/api/customers/verify-email?token={token}", state.public_base_url);
    let body = format!(
        "Welcome to the shop.\n\nConfirm your email address by opening this link:\n{link}\n\n\
         or by sending {{\"token\": \"{token}\"}} to POST /api/customers/verify-email.\n\
         The link expires in {} hours.\n",
        state.verification_ttl_secs / 3600
    );
    state.mailer.send(Mail { to: account.email.clone(), subject: "Confirm your email address".into(), body }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyEmail {
    token: String,
}

async fn verify(state: &RegisteredState, token: &str) -> AppResult<axum::Json<Value>> {
    if token.is_empty() || token.len() > 100 {
        return Err(AppError::BadRequest("this verification link is not valid".into()));
    }
    match state.store.use_verification(&token_hash(token)).await? {
        Some(account_id) => Ok(axum::Json(json!({ "id": account_id, "email_verified": true }))),
        None => {
            Err(AppError::BadRequest("this verification link is not valid, was used already, or has expired".into()))
        }
    }
}

async fn verify_email(
    State(state): State<RegisteredState>,
    Json(body): Json<VerifyEmail>,
) -> AppResult<axum::Json<Value>> {
    verify(&state, &body.token).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyLink {
    token: String,
}

async fn verify_email_link(
    State(state): State<RegisteredState>,
    query: Result<Query<VerifyLink>, axum::extract::rejection::QueryRejection>,
) -> AppResult<axum::Json<Value>> {
    let Query(link) =
        query.map_err(|_| AppError::BadRequest("open the link from the email: it carries a token".into()))?;
    verify(&state, &link.token).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resend {
    email: String,
}

/// Always 202, whether or not the address has an account, so the answer tells
/// nobody which emails are customers (sign-up answers alike). Every address,
/// with an account or not, gets a few mails an hour (429 beyond).
async fn resend_verification(State(state): State<RegisteredState>, Json(body): Json<Resend>) -> AppResult<StatusCode> {
    let Ok(email) = Email::parse(&body.email) else {
        let mut errors = FieldErrors::new();
        errors.add("email", "is not an email address");
        return Err(AppError::Validation(errors));
    };
    if let Err(wait) = take_mail_slot(&state.store, &state.login_limits, email.as_str()).await? {
        return Err(too_many_mails(wait));
    }
    if let Some(account) = state.store.account_by_email(email.as_str()).await?
        && account.email_verified_at.is_none()
    {
        let token = new_secret();
        state
            .store
            .add_verification(&account.id, &token_hash(&token), now_secs() + state.verification_ttl_secs)
            .await?;
        send_verification(&state, &account, &token).await?;
    }
    Ok(StatusCode::ACCEPTED)
}

async fn staff_read_account(
    State(state): State<RegisteredState>,
    _staff: Staff,
    Path(id): Path<String>,
) -> AppResult<axum::Json<AccountView>> {
    let account = state
        .store
        .account(&id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no account {}", shared::ids::mention(&id))))?;
    Ok(axum::Json(view(&account)))
}

/// A guest's history entry as the guest service hands it over.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuestHistoryEntry {
    kind: String,
    #[serde(default)]
    item_type: Option<String>,
    #[serde(default)]
    item_id: Option<String>,
    #[serde(default)]
    query: Option<String>,
    at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUp {
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    preferences: Option<Preferences>,
    /// Set by the customer router when a guest signs up: the session the history comes from.
    #[serde(default)]
    guest_id: Option<String>,
    #[serde(default)]
    guest_history: Vec<GuestHistoryEntry>,
}

/// The customer router's sign-up step: 201 with the new account, or 200 with the
/// same account when this guest session already signed up with this email.
async fn sign_up(State(state): State<RegisteredState>, JsonObject(body): JsonObject) -> AppResult<Response> {
    let sign_up: SignUp = from_json_value(Value::Object(body))?;
    let mut errors = FieldErrors::new();
    let email = match Email::parse(&sign_up.email) {
        Ok(email) => Some(email),
        Err(why) => {
            errors.add("email", why);
            None
        }
    };
    check_password(&mut errors, "password", &sign_up.password, email.as_ref());
    let mut profile =
        Profile { name: sign_up.name, phone: sign_up.phone, preferences: sign_up.preferences.unwrap_or_default() };
    if let Err(AppError::Validation(e)) = validate_profile(&mut profile) {
        errors.extend(e);
    }
    let mut history = Vec::new();
    for (i, entry) in sign_up.guest_history.into_iter().take(200).enumerate() {
        let at = time::OffsetDateTime::parse(&entry.at, &time::format_description::well_known::Rfc3339);
        match at {
            Ok(at) => history.push(HistoryEntry {
                kind: entry.kind,
                item_type: entry.item_type,
                item_id: entry.item_id,
                query: entry.query,
                at: at.unix_timestamp(),
            }),
            Err(_) => errors.add(format!("guest_history[{i}].at"), "must be an RFC 3339 time"),
        }
    }
    errors.into_result()?;
    let email = email.ok_or_else(|| AppError::internal("email missing without an error"))?;

    let password = sign_up.password;
    let password_hash = blocking(move || hash_password(&password)).await?.map_err(AppError::internal)?;
    let token = new_secret();
    let new = NewAccount {
        id: new_id("cust"),
        email: email.as_str().to_string(),
        password_hash,
        role: "customer".into(),
        name: profile.name,
        phone: profile.phone,
        preferences: serde_json::to_string(&profile.preferences).map_err(AppError::internal)?,
        guest_id: sign_up.guest_id,
        email_verified: false,
    };
    let expires_at = now_secs() + state.verification_ttl_secs;
    match state.store.create_account(new, &history, Some((&token_hash(&token), expires_at))).await? {
        Created::New(account) => {
            if take_mail_slot(&state.store, &state.login_limits, &account.email).await?.is_ok() {
                send_verification(&state, &account, &token).await?;
            }
            Ok((StatusCode::CREATED, axum::Json(view(&account))).into_response())
        }
        Created::Existing(account) => Ok((StatusCode::OK, axum::Json(view(&account))).into_response()),
        // The address has an account: its owner hears of it by mail, and the
        // caller gets what a new sign-up gets from the customer router (202), so
        // the answer tells nobody which emails are customers.
        Created::Taken => {
            if take_mail_slot(&state.store, &state.login_limits, email.as_str()).await?.is_ok()
                && let Some(account) = state.store.account_by_email(email.as_str()).await?
            {
                mail_owner_of_taken_address(&state, &account).await?;
            }
            Ok((StatusCode::ACCEPTED, axum::Json(json!({ "email": email.as_str() }))).into_response())
        }
    }
}

/// Someone signed up with an address that has an account: an unconfirmed one
/// gets a fresh confirmation link, a confirmed one a note to log in instead.
async fn mail_owner_of_taken_address(state: &RegisteredState, account: &Account) -> AppResult<()> {
    if account.email_verified_at.is_none() {
        let token = new_secret();
        let expires_at = now_secs() + state.verification_ttl_secs;
        state.store.add_verification(&account.id, &token_hash(&token), expires_at).await?;
        return send_verification(state, account, &token).await;
    }
    let body = "Someone, perhaps you, tried to sign up at the shop with this address, which has an account \
                already.\n\nLog in with it instead. If it was not you, nothing has changed and you can ignore \
                this mail.\n"
        .to_string();
    state.mailer.send(Mail { to: account.email.clone(), subject: "You already have an account".into(), body }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
    /// The client's address as API Gateway saw it, added by the customer router.
    #[serde(default)]
    source: Option<String>,
}

/// The customer router's login step. Unknown emails and wrong passwords get the same
/// answer after the same amount of work, and count the same against the limits.
async fn authenticate(
    State(state): State<RegisteredState>,
    Json(credentials): Json<Credentials>,
) -> AppResult<axum::Json<Value>> {
    let attempt = Attempt::new(&credentials.email, credentials.source.as_deref());
    attempt.check(&state.store, &state.login_limits).await?;
    let account = match Email::parse(&credentials.email) {
        Ok(email) => state.store.account_by_email(email.as_str()).await?,
        Err(_) => None,
    };
    let hash = account.as_ref().map(|a| a.password_hash.clone()).unwrap_or_else(|| decoy_hash().to_string());
    let password = credentials.password;
    let matches = blocking(move || verify_password(&password, &hash)).await?;
    let Some(account) = account.filter(|_| matches) else {
        attempt.failed(&state.store, &state.login_limits).await?;
        return Err(AppError::Unauthorized("the email or the password is wrong".into()));
    };
    attempt.succeeded(&state.store).await?;
    if account.email_verified_at.is_none() {
        return Err(AppError::Forbidden("confirm your email address first; we sent you a link".into()));
    }
    let refresh_token = new_secret();
    let expires_at = now_secs() + state.refresh_token_ttl_secs;
    state.store.add_refresh_token(&account.id, &token_hash(&refresh_token), expires_at).await?;
    Ok(axum::Json(session_answer(&state, &account, &refresh_token)))
}

/// Who logged in or refreshed, for the customer router to sign an access token:
/// the account's type, role and token version, and the refresh token to come back with.
fn session_answer(state: &RegisteredState, account: &Account, refresh_token: &str) -> Value {
    json!({
        "customer_id": account.id,
        "customer_type": account.customer_type,
        "role": account.role,
        "token_version": account.token_version,
        "refresh_token": refresh_token,
        "refresh_expires_in": state.refresh_token_ttl_secs,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

/// The customer router's refresh step: a refresh token is used once and
/// answered with its successor, so a stolen copy used after the customer (or
/// the customer after the thief) revokes them all.
async fn refresh(
    State(state): State<RegisteredState>,
    Json(request): Json<RefreshRequest>,
) -> AppResult<axum::Json<Value>> {
    let refused =
        || AppError::Unauthorized("this refresh token is not valid (expired, used or revoked); log in".into());
    if request.refresh_token.is_empty() || request.refresh_token.len() > 100 {
        return Err(refused());
    }
    let next = new_secret();
    let now = now_secs();
    let outcome = state
        .store
        .rotate_refresh_token(
            &token_hash(&request.refresh_token),
            &token_hash(&next),
            now + state.refresh_token_ttl_secs,
            now,
        )
        .await?;
    match outcome {
        Refreshed::Rotated(account) => Ok(axum::Json(session_answer(&state, &account, &next))),
        Refreshed::Reused | Refreshed::Invalid => Err(refused()),
    }
}

/// The account's token version, for the functions that check accounts where
/// money moves (`shared::accounts`); 404 when there is no live account.
async fn token_version(State(state): State<RegisteredState>, Path(id): Path<String>) -> AppResult<axum::Json<Value>> {
    match state.store.token_version(&id).await? {
        Some(version) => Ok(axum::Json(json!({ "customer_id": id, "token_version": version }))),
        None if state.store.is_closed(&id).await? => Err(AppError::NotFound(format!("account `{id}` was closed"))),
        None => Err(AppError::NotFound(format!("there is no account `{id}`"))),
    }
}

/// The most ids one contacts request may name: a page of a list.
const MAX_CONTACT_IDS: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactsRequest {
    ids: Vec<String>,
}

/// Email and name of live accounts, for the customer router to show with VIP
/// records (the VIP service keeps no personal data). Ids without a live account
/// are left out of the answer.
async fn contacts(
    State(state): State<RegisteredState>,
    Json(request): Json<ContactsRequest>,
) -> AppResult<axum::Json<Value>> {
    if request.ids.len() > MAX_CONTACT_IDS {
        let mut errors = FieldErrors::new();
        errors.add("ids", format!("at most {MAX_CONTACT_IDS}"));
        return Err(AppError::Validation(errors));
    }
    Ok(axum::Json(json!({ "contacts": state.store.contacts(&request.ids).await? })))
}

/// An account for the customer router: the view, and the token version its
/// upgrade tokens carry.
#[derive(Serialize)]
struct InternalAccountView {
    #[serde(flatten)]
    account: AccountView,
    token_version: i64,
}

async fn internal_read_account(
    State(state): State<RegisteredState>,
    Path(id): Path<String>,
) -> AppResult<axum::Json<InternalAccountView>> {
    let account =
        state.store.account(&id).await?.ok_or_else(|| AppError::NotFound(format!("there is no account `{id}`")))?;
    Ok(axum::Json(InternalAccountView { account: view(&account), token_version: account.token_version }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerTypeChange {
    customer_type: String,
}

async fn set_customer_type(
    State(state): State<RegisteredState>,
    Path(id): Path<String>,
    Json(change): Json<CustomerTypeChange>,
) -> AppResult<axum::Json<InternalAccountView>> {
    if !["registered", "vip"].contains(&change.customer_type.as_str()) {
        let mut errors = FieldErrors::new();
        errors.add("customer_type", "must be registered or vip");
        return Err(AppError::Validation(errors));
    }
    if !state.store.set_customer_type(&id, &change.customer_type).await? {
        return Err(AppError::NotFound(format!("there is no account `{id}`")));
    }
    internal_read_account(State(state), Path(id)).await
}
