//! The registered customer service over HTTP, on SQLite and on MariaDB.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use http::{Method, StatusCode};
use registered_customer::login_limits::LoginLimits;
use registered_customer::mailer::{FileMailer, Mail, Mailer};
use registered_customer::{Config, RegisteredState, router};
use serde_json::{Value, json};
use shared::auth::{CustomerType, Role, TokenKeys};
use shared::error::AppResult;
use shared::store::StoreUrl;
use shared::testing::{relational_store_urls, send, send_raw, staff_token};

#[derive(Default)]
struct Outbox(Mutex<Vec<Mail>>);

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: Mail) -> AppResult<()> {
        self.0.lock().unwrap().push(mail);
        Ok(())
    }
}

impl Outbox {
    /// The token in the newest mail to `to`.
    fn token_for(&self, to: &str) -> String {
        let mails = self.0.lock().unwrap();
        let mail = mails.iter().rev().find(|m| m.to == to).expect("a mail to the customer");
        let start = mail.body.find("token=").expect("a link with a token") + "token=".len();
        mail.body[start..].split_whitespace().next().unwrap().to_string()
    }
}

struct Service {
    app: Router,
    outbox: Arc<Outbox>,
    store: Arc<registered_customer::store::Store>,
}

fn service(url: StoreUrl, verification_ttl_secs: i64) -> Service {
    service_with_limits(url, verification_ttl_secs, LoginLimits::default())
}

fn service_with_limits(url: StoreUrl, verification_ttl_secs: i64, login_limits: LoginLimits) -> Service {
    let config = Config {
        store: url,
        max_connections: 2,
        mail_dir: std::env::temp_dir(),
        verification_ttl_secs,
        public_base_url: "http://shop.test".into(),
        login_limits,
        refresh_token_ttl_secs: 3600,
    };
    let outbox = Arc::new(Outbox::default());
    let state = RegisteredState::with_mailer(&config, Arc::new(TokenKeys::development()), outbox.clone()).unwrap();
    Service { store: state.store.clone(), app: router(state), outbox }
}

fn token_for(id: &str, typ: CustomerType) -> String {
    TokenKeys::development().issue(id, typ, Role::Customer, 600)
}

fn token_at(id: &str, version: i64) -> String {
    TokenKeys::development().issue_at_version(id, CustomerType::Registered, Role::Customer, version, 600)
}

const PASSWORD: &str = "correct horse 9";

/// Signs up, verifies the email and returns the account id and a customer token.
async fn verified_customer(s: &Service, email: &str) -> (String, String) {
    let (status, _, created) = send(
        &s.app,
        Method::POST,
        "/internal/registered/accounts",
        None,
        Some(json!({ "email": email, "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = s.outbox.token_for(&email.to_lowercase());
    let (status, _, _) =
        send(&s.app, Method::POST, "/api/customers/verify-email", None, Some(json!({ "token": token }))).await;
    assert_eq!(status, StatusCode::OK);
    let id = created["id"].as_str().unwrap().to_string();
    let token = token_for(&id, CustomerType::Registered);
    (id, token)
}

#[tokio::test]
async fn sign_up_verify_and_log_in() {
    for url in relational_store_urls("registered_signup").await {
        let s = service(url, 3600);
        let body = json!({ "email": "  Ada@Example.com ", "password": PASSWORD, "name": "Ada Lovelace" });
        let (status, _, created) =
            send(&s.app, Method::POST, "/internal/registered/accounts", None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["email"], "ada@example.com");
        assert_eq!(created["email_verified"], false);
        assert!(created.get("password_hash").is_none());

        // A taken address creates nothing and says only "accepted"; its owner gets a new link.
        let (status, _, taken) = send(&s.app, Method::POST, "/internal/registered/accounts", None, Some(body)).await;
        assert_eq!((status, &taken), (StatusCode::ACCEPTED, &json!({ "email": "ada@example.com" })));

        let login = json!({ "email": "ADA@example.com", "password": PASSWORD });
        let (status, _, _) =
            send(&s.app, Method::POST, "/internal/registered/authenticate", None, Some(login.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "unverified accounts cannot log in");

        let token = s.outbox.token_for("ada@example.com");
        let (status, _, _) =
            send(&s.app, Method::GET, &format!("/api/customers/verify-email?token={token}"), None, None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) =
            send(&s.app, Method::POST, "/api/customers/verify-email", None, Some(json!({ "token": token }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "tokens are single-use");

        let (status, _, who) = send(&s.app, Method::POST, "/internal/registered/authenticate", None, Some(login)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(who["customer_id"], created["id"]);
        assert_eq!(who["customer_type"], "registered");
        assert_eq!(who["role"], "customer");
        for wrong in [
            json!({ "email": "ada@example.com", "password": "wrong horse 9" }),
            json!({ "email": "nobody@example.com", "password": PASSWORD }),
        ] {
            let (status, _, problem) =
                send(&s.app, Method::POST, "/internal/registered/authenticate", None, Some(wrong)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(problem["detail"], "the email or the password is wrong");
        }

        for (bad, field) in [
            (json!({ "email": "not-an-email", "password": PASSWORD }), "email"),
            (json!({ "email": "b@example.com", "password": "short" }), "password"),
            (json!({ "email": "b@example.com", "password": "onlyletterslong" }), "password"),
            (json!({ "email": "b@example.com", "password": PASSWORD, "phone": "call me" }), "phone"),
            (json!({ "email": "b@example.com", "password": PASSWORD, "is_admin": true }), "is_admin"),
            (json!({ "email": 5, "password": PASSWORD }), "email"),
        ] {
            let (status, _, problem) =
                send(&s.app, Method::POST, "/internal/registered/accounts", None, Some(bad.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            assert!(problem["errors"].get(field).is_some(), "{bad} -> {problem}");
        }
    }
}

#[tokio::test]
async fn expired_verification_links_do_not_verify() {
    for url in relational_store_urls("registered_expired").await {
        let s = service(url, -1);
        send(
            &s.app,
            Method::POST,
            "/internal/registered/accounts",
            None,
            Some(json!({ "email": "late@example.com", "password": PASSWORD })),
        )
        .await;
        let token = s.outbox.token_for("late@example.com");
        let (status, _, _) =
            send(&s.app, Method::POST, "/api/customers/verify-email", None, Some(json!({ "token": token }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _, _) = send(
            &s.app,
            Method::POST,
            "/api/customers/verify-email/resend",
            None,
            Some(json!({ "email": "late@example.com" })),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, _, _) = send(
            &s.app,
            Method::POST,
            "/api/customers/verify-email/resend",
            None,
            Some(json!({ "email": "nobody@example.com" })),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "no answer tells which emails have accounts");
    }
}

#[tokio::test]
async fn profiles_and_addresses_belong_to_their_owner() {
    for url in relational_store_urls("registered_profile").await {
        let s = service(url, 3600);
        let (ada, ada_token) = verified_customer(&s, "ada@example.com").await;
        let (_, bob_token) = verified_customer(&s, "bob@example.com").await;

        let (status, _, me) = send(&s.app, Method::GET, "/api/customers/", Some(&ada_token), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["id"], ada);
        assert_eq!(me["email_verified"], true);
        assert_eq!(me["customer_type"], "registered");
        let (status, _, _) = send(&s.app, Method::GET, "/api/customers/", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) =
            send(&s.app, Method::GET, "/api/customers/", Some(&token_for("guest_x", CustomerType::Guest)), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let patch = json!({ "name": "Ada Lovelace", "phone": "+44 20 7946 0000", "preferences": { "favourite_categories": ["book"], "newsletter": true } });
        let (status, _, profile) =
            send(&s.app, Method::PATCH, "/api/customers/profile", Some(&ada_token), Some(patch)).await;
        assert_eq!(status, StatusCode::OK, "{profile}");
        assert_eq!(profile["preferences"]["newsletter"], true);
        let (_, _, profile) =
            send(&s.app, Method::PATCH, "/api/customers/profile", Some(&ada_token), Some(json!({ "phone": null })))
                .await;
        assert_eq!(profile["name"], "Ada Lovelace", "a patch keeps what it does not name");
        assert_eq!(profile["phone"], Value::Null);
        for (bad, field) in [
            (json!({ "preferences": { "favourite_colour": "red" } }), "preferences"),
            (json!({ "preferences": { "currency": "dollars" } }), "preferences.currency"),
            (json!({ "name": "" }), "name"),
            (json!({ "email": "x@example.com" }), "email"),
        ] {
            let (status, _, problem) =
                send(&s.app, Method::PATCH, "/api/customers/profile", Some(&ada_token), Some(bad.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} -> {problem}");
            assert!(problem["errors"].as_object().unwrap().keys().any(|k| k.starts_with(field)), "{bad} -> {problem}");
        }

        let home = json!({ "label": "Home", "recipient": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "gb" });
        let (status, _, first) =
            send(&s.app, Method::POST, "/api/customers/addresses", Some(&ada_token), Some(home)).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first["country"], "GB");
        assert_eq!(first["is_default_shipping"], true, "the first address is the default");
        assert_eq!(first["is_default_billing"], true);
        let office = json!({ "recipient": "Ada", "line1": "1 Analytical Way", "city": "London", "postal_code": "EC1", "country": "GB", "is_default_shipping": true });
        let (_, _, second) =
            send(&s.app, Method::POST, "/api/customers/addresses", Some(&ada_token), Some(office)).await;
        let (_, _, list) = send(&s.app, Method::GET, "/api/customers/addresses", Some(&ada_token), None).await;
        assert_eq!(list["count"], 2);
        let shipping: Vec<&Value> =
            list["results"].as_array().unwrap().iter().filter(|a| a["is_default_shipping"] == true).collect();
        assert_eq!(shipping.len(), 1, "one default shipping address");
        assert_eq!(shipping[0]["id"], second["id"]);
        assert_eq!(list["results"][0]["is_default_billing"], true, "billing default unchanged");

        let first_path = format!("/api/customers/addresses/{}/", first["id"].as_str().unwrap());
        let (status, _, updated) =
            send(&s.app, Method::PATCH, &first_path, Some(&ada_token), Some(json!({ "city": "Cambridge" }))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(updated["city"], "Cambridge");
        assert_eq!(updated["line1"], "12 St James's Square");
        let (status, _, _) =
            send(&s.app, Method::PATCH, &first_path, Some(&ada_token), Some(json!({ "country": "Britain" }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // Bob sees none of it and can change none of it.
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({ "city": "Paris" }));
            let (status, _, _) = send(&s.app, method.clone(), &first_path, Some(&bob_token), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        }
        let (_, _, bobs) = send(&s.app, Method::GET, "/api/customers/addresses", Some(&bob_token), None).await;
        assert_eq!(bobs["count"], 0);
        let (_, _, still) = send(&s.app, Method::GET, &first_path, Some(&ada_token), None).await;
        assert_eq!(still["city"], "Cambridge");

        let (status, _, _) = send(&s.app, Method::DELETE, &first_path, Some(&ada_token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, _) = send(&s.app, Method::GET, &first_path, Some(&ada_token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, _) = send_raw(
            &s.app,
            Method::POST,
            "/api/customers/addresses",
            Some(&ada_token),
            "application/json",
            "{\"city\":",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, _, account) =
            send(&s.app, Method::GET, &format!("/api/customers/accounts/{ada}"), Some(&staff_token()), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(account["email"], "ada@example.com");
        let (status, _, _) =
            send(&s.app, Method::GET, &format!("/api/customers/accounts/{ada}"), Some(&bob_token), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_password_change_revokes_every_earlier_token_and_needs_a_new_password() {
    for url in relational_store_urls("registered_password").await {
        let s = service(url, 3600);
        let (id, token) = verified_customer(&s, "ada@example.com").await;
        let change = |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
        let (status, _, problem) = send(
            &s.app,
            Method::POST,
            "/api/customers/password",
            Some(&token),
            Some(change("wrong one 1", "new horse 10")),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(problem["errors"].get("current_password").is_some());
        let (status, _, problem) =
            send(&s.app, Method::POST, "/api/customers/password", Some(&token), Some(change(PASSWORD, "weak"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(problem["errors"].get("new_password").is_some());
        let (status, _, problem) =
            send(&s.app, Method::POST, "/api/customers/password", Some(&token), Some(change(PASSWORD, PASSWORD))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the same password again is no change: {problem}");
        assert_eq!(problem["errors"]["new_password"][0], "must differ from your current password");
        assert_eq!(s.store.token_version(&id).await.unwrap(), Some(0), "a refused change revokes nothing");

        let login = |p: &str| json!({ "email": "ada@example.com", "password": p });
        let (_, _, before) =
            send(&s.app, Method::POST, "/internal/registered/authenticate", None, Some(login(PASSWORD))).await;
        let (status, _, _) =
            send(&s.app, Method::POST, "/api/customers/password", Some(&token), Some(change(PASSWORD, "new horse 10")))
                .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, problem) = send(&s.app, Method::GET, "/api/customers/profile", Some(&token), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the token from before the change is refused at once: {problem}");
        let (status, _, _) = send(
            &s.app,
            Method::POST,
            "/internal/registered/refresh",
            None,
            Some(json!({ "refresh_token": before["refresh_token"] })),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "and so is the refresh token from before it");
        let (status, _, version) =
            send(&s.app, Method::GET, &format!("/internal/registered/accounts/{id}/token-version"), None, None).await;
        assert_eq!((status, version["token_version"].as_i64()), (StatusCode::OK, Some(1)));

        let (status, _, _) =
            send(&s.app, Method::POST, "/internal/registered/authenticate", None, Some(login(PASSWORD))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, who) =
            send(&s.app, Method::POST, "/internal/registered/authenticate", None, Some(login("new horse 10"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(who["token_version"], 1, "new logins carry the new version");
        let (status, _, _) = send(&s.app, Method::GET, "/api/customers/profile", Some(&token_at(&id, 1)), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn closing_an_account_keeps_only_its_id_and_can_be_retried() {
    for url in relational_store_urls("registered_close").await {
        let s = service(url, 3600);
        let (id, token) = verified_customer(&s, "ada@example.com").await;
        let (other, _) = verified_customer(&s, "bob@example.com").await;
        let address = json!({ "recipient": "Ada", "line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US" });
        send(&s.app, Method::POST, "/api/customers/addresses", Some(&token), Some(address)).await;
        send(
            &s.app,
            Method::POST,
            "/internal/registered/authenticate",
            None,
            Some(json!({ "email": "ada@example.com", "password": PASSWORD })),
        )
        .await;
        assert!(s.store.personal_data_rows(&id).await.unwrap() >= 3, "account, address, refresh token");

        let (status, _, _) =
            send(&s.app, Method::DELETE, "/api/customers/", Some(&token), Some(json!({ "password": "wrong 123" })))
                .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the password confirms the closure");
        for _ in 0..2 {
            let (status, _, _) =
                send(&s.app, Method::DELETE, "/api/customers/", Some(&token), Some(json!({ "password": PASSWORD })))
                    .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "closing again answers the same");
        }
        assert_eq!(s.store.personal_data_rows(&id).await.unwrap(), 0, "no personal data is left");
        let subjects = s.store.subjects().await.unwrap();
        assert_eq!(subjects.live, vec![other.clone()]);
        assert_eq!(subjects.closed.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), [id.as_str()]);

        let (status, _, problem) = send(&s.app, Method::GET, "/api/customers/", Some(&token), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
        assert_eq!(problem["detail"], "this account was closed");
        let (status, _, problem) =
            send(&s.app, Method::GET, &format!("/internal/registered/accounts/{id}/token-version"), None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(problem["detail"].as_str().unwrap().contains("closed"), "{problem}");
        let (status, _, _) = send(
            &s.app,
            Method::POST,
            "/internal/registered/authenticate",
            None,
            Some(json!({ "email": "ada@example.com", "password": PASSWORD })),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = send(
            &s.app,
            Method::POST,
            "/internal/registered/accounts",
            None,
            Some(json!({ "email": "ada@example.com", "password": PASSWORD })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "the email is free for a new account, with a new id");
    }
}

#[tokio::test]
async fn refresh_tokens_are_used_once_and_a_used_one_coming_back_revokes_them_all() {
    for url in relational_store_urls("registered_refresh").await {
        let s = service(url, 3600);
        let (id, _) = verified_customer(&s, "ada@example.com").await;
        let refresh = |token: &Value| json!({ "refresh_token": token });
        let (status, _, login) = send(
            &s.app,
            Method::POST,
            "/internal/registered/authenticate",
            None,
            Some(json!({ "email": "ada@example.com", "password": PASSWORD })),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((login["customer_id"].as_str(), login["token_version"].as_i64()), (Some(id.as_str()), Some(0)));
        assert_eq!(login["refresh_expires_in"], 3600);
        let first = login["refresh_token"].clone();

        let (status, _, second) =
            send(&s.app, Method::POST, "/internal/registered/refresh", None, Some(refresh(&first))).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        assert_eq!(second["customer_id"], id);
        assert_ne!(second["refresh_token"], first, "a new refresh token each time");
        let (status, _, third) =
            send(&s.app, Method::POST, "/internal/registered/refresh", None, Some(refresh(&second["refresh_token"])))
                .await;
        assert_eq!(status, StatusCode::OK);

        // The first one again: someone kept a copy. Everything is revoked, the newest too.
        let (status, _, _) =
            send(&s.app, Method::POST, "/internal/registered/refresh", None, Some(refresh(&first))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) =
            send(&s.app, Method::POST, "/internal/registered/refresh", None, Some(refresh(&third["refresh_token"])))
                .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a reuse revokes the account's every refresh token");

        for bad in [json!({ "refresh_token": "made-up" }), json!({ "refresh_token": "" })] {
            let (status, _, _) = send(&s.app, Method::POST, "/internal/registered/refresh", None, Some(bad)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, _, _) =
            send(&s.app, Method::POST, "/internal/registered/refresh", None, Some(json!({ "token": "x" }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused() {
    for url in relational_store_urls("registered_refresh_expiry").await {
        let s = service(url, 3600);
        let (id, _) = verified_customer(&s, "ada@example.com").await;
        s.store
            .add_refresh_token(
                &id,
                &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"old")),
                shared::sql::now_secs() - 1,
            )
            .await
            .unwrap();
        let (status, _, _) =
            send(&s.app, Method::POST, "/internal/registered/refresh", None, Some(json!({ "refresh_token": "old" })))
                .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn contacts_name_live_accounts_only() {
    for url in relational_store_urls("registered_contacts").await {
        let s = service(url, 3600);
        let (ada, token) = verified_customer(&s, "ada@example.com").await;
        send(&s.app, Method::PATCH, "/api/customers/profile", Some(&token), Some(json!({ "name": "Ada L." }))).await;
        let (bob, _) = verified_customer(&s, "bob@example.com").await;
        let ids = json!({ "ids": [ada, bob, "cust_nobody"] });
        let (status, _, answer) = send(&s.app, Method::POST, "/internal/registered/contacts", None, Some(ids)).await;
        assert_eq!(status, StatusCode::OK);
        let mut contacts = answer["contacts"].as_array().unwrap().clone();
        contacts.sort_by_key(|c| c["email"].as_str().unwrap().to_string());
        assert_eq!(contacts.len(), 2, "{answer}");
        assert_eq!(
            (contacts[0]["email"].as_str(), contacts[0]["name"].as_str()),
            (Some("ada@example.com"), Some("Ada L."))
        );
        assert_eq!(contacts[1]["name"], Value::Null);
        let many = json!({ "ids": vec!["x"; 101] });
        let (status, _, _) = send(&s.app, Method::POST, "/internal/registered/contacts", None, Some(many)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn guest_sign_up_carries_history_and_is_safe_to_retry() {
    for url in relational_store_urls("registered_guest").await {
        let s = service(url, 3600);
        let body = json!({
            "email": "gus@example.com", "password": PASSWORD, "guest_id": "guest_01JDQ00000000000000000000A",
            "guest_history": [
                { "kind": "viewed_item", "item_type": "book", "item_id": "book_01JDQ0000000000000000000AA", "at": "2026-11-01T10:00:00Z" },
                { "kind": "search", "query": "dune", "at": "2026-11-01T10:05:00Z" },
            ]
        });
        let (status, _, first) =
            send(&s.app, Method::POST, "/internal/registered/accounts", None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let (status, _, again) =
            send(&s.app, Method::POST, "/internal/registered/accounts", None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "a retried sign-up finds the first account");
        assert_eq!(again["id"], first["id"]);
        let mut other = body.clone();
        other["email"] = json!("someone-else@example.com");
        let (status, _, _) = send(&s.app, Method::POST, "/internal/registered/accounts", None, Some(other)).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let token = token_for(first["id"].as_str().unwrap(), CustomerType::Registered);
        let (status, _, history) = send(&s.app, Method::GET, "/api/customers/history", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(history["count"], 2, "retrying did not copy the history twice");
        assert_eq!(history["results"][0]["query"], "dune", "newest first");
        assert_eq!(history["results"][1]["item_id"], "book_01JDQ0000000000000000000AA");

        let mut bad = body.clone();
        bad["guest_id"] = json!("guest_other");
        bad["email"] = json!("third@example.com");
        bad["guest_history"][0]["at"] = json!("yesterday");
        let (status, _, problem) = send(&s.app, Method::POST, "/internal/registered/accounts", None, Some(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(problem["errors"].get("guest_history[0].at").is_some(), "{problem}");
    }
}

#[tokio::test]
async fn upgrades_change_the_type_logins_report() {
    for url in relational_store_urls("registered_upgrade").await {
        let s = service(url, 3600);
        let (id, _) = verified_customer(&s, "vera@example.com").await;
        let path = format!("/internal/registered/accounts/{id}/customer-type");
        for _ in 0..2 {
            let (status, _, account) =
                send(&s.app, Method::PUT, &path, None, Some(json!({ "customer_type": "vip" }))).await;
            assert_eq!(status, StatusCode::OK, "setting the type twice is fine");
            assert_eq!(account["customer_type"], "vip");
        }
        let (_, _, who) = send(
            &s.app,
            Method::POST,
            "/internal/registered/authenticate",
            None,
            Some(json!({ "email": "vera@example.com", "password": PASSWORD })),
        )
        .await;
        assert_eq!(who["customer_type"], "vip");
        let (status, _, _) = send(&s.app, Method::PUT, &path, None, Some(json!({ "customer_type": "emperor" }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _, _) = send(
            &s.app,
            Method::PUT,
            "/internal/registered/accounts/cust_nobody/customer-type",
            None,
            Some(json!({ "customer_type": "vip" })),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_file_mailer_writes_one_file_per_message() {
    let dir = std::env::temp_dir().join(format!("shop-mail-{}", shared::ids::new_id("t")));
    FileMailer::new(dir.clone())
        .send(Mail { to: "ada@example.com".into(), subject: "Hi".into(), body: "token=abc".into() })
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(text.contains("To: ada@example.com") && text.contains("token=abc"));
}

/// One login attempt as the customer router sends it; the status and the Retry-After.
async fn authenticate(s: &Service, email: &str, password: &str, source: &str) -> (StatusCode, Option<u64>) {
    let body = json!({ "email": email, "password": password, "source": source });
    let request = http::Request::builder()
        .method(Method::POST)
        .uri("/internal/registered/authenticate")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(s.app.clone(), request).await.unwrap();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    (response.status(), retry_after)
}

#[tokio::test]
async fn failed_logins_lock_the_email_and_the_source_until_the_window_passes() {
    for url in relational_store_urls("registered_login_limits").await {
        // A long window, so that no failure leaves it while the test runs however slow
        // the machine; expiry is shown with a second service on the same store below.
        let limits = LoginLimits { per_account: 3, per_source: 5, window_secs: 3600, ..LoginLimits::default() };
        let s = service_with_limits(url.clone(), 3600, limits);
        verified_customer(&s, "ada@example.com").await;
        verified_customer(&s, "bob@example.com").await;
        let home = "198.51.100.7";

        // A right password forgets earlier failures of the account.
        for _ in 0..2 {
            assert_eq!(authenticate(&s, "ada@example.com", "wrong horse 1", home).await.0, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(authenticate(&s, "ada@example.com", PASSWORD, home).await.0, StatusCode::OK);
        for _ in 0..3 {
            assert_eq!(authenticate(&s, "ADA@example.com", "wrong horse 1", home).await.0, StatusCode::UNAUTHORIZED);
        }
        // Locked: even the right password is refused, from anywhere, with a Retry-After.
        let (status, retry_after) = authenticate(&s, "ada@example.com", PASSWORD, "192.0.2.1").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(matches!(retry_after, Some(3500..=3600)), "{retry_after:?}");
        // Other accounts are not locked; an unknown email locks like a known one.
        assert_eq!(authenticate(&s, "bob@example.com", PASSWORD, "192.0.2.1").await.0, StatusCode::OK);
        for _ in 0..3 {
            assert_eq!(authenticate(&s, "nobody@example.com", "x", "192.0.2.2").await.0, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(authenticate(&s, "nobody@example.com", "x", "192.0.2.3").await.0, StatusCode::TOO_MANY_REQUESTS);

        // The home address has 5 failures now (2 + 3): every email from it is refused.
        let (status, retry_after) = authenticate(&s, "bob@example.com", PASSWORD, home).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(retry_after.is_some());
        assert_eq!(authenticate(&s, "bob@example.com", PASSWORD, "192.0.2.9").await.0, StatusCode::OK);

        // The lockouts expire once the failures are older than the window.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let s = service_with_limits(url, 3600, LoginLimits { window_secs: 1, ..limits });
        assert_eq!(authenticate(&s, "ada@example.com", PASSWORD, home).await.0, StatusCode::OK);
        assert_eq!(authenticate(&s, "bob@example.com", PASSWORD, home).await.0, StatusCode::OK);
    }
}

/// Address writes read first (how many there are, which is the default) and then
/// write; at once, on SQLite, such a transaction used to lose its snapshot to
/// another writer and answer 503. Each now waits for the write lock instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_address_changes_all_land_with_one_default() {
    for url in relational_store_urls("registered_address_race").await {
        let s = service(url, 3600);
        let (_, token) = verified_customer(&s, "race@example.com").await;
        let saves = (0..8).map(|n| {
            let (app, token) = (s.app.clone(), token.clone());
            let body = json!({ "recipient": format!("R{n}"), "line1": format!("{n} Main St"), "city": "Springfield",
                "postal_code": "12345", "country": "US", "is_default_shipping": n % 2 == 0 });
            tokio::spawn(
                async move { send(&app, Method::POST, "/api/customers/addresses", Some(&token), Some(body)).await },
            )
        });
        for saved in futures::future::join_all(saves).await {
            let (status, _, body) = saved.unwrap();
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (_, _, page) = send(&s.app, Method::GET, "/api/customers/addresses", Some(&token), None).await;
        let addresses = page["results"].as_array().unwrap();
        assert_eq!(addresses.len(), 8, "{page}");
        let defaults = |flag: &str| addresses.iter().filter(|a| a[flag] == true).count();
        assert_eq!((defaults("is_default_shipping"), defaults("is_default_billing")), (1, 1), "{page}");
    }
}
