//! The guest API on every store: sessions, sliding expiry, history, access
//! rules, the anonymous `/api/customers` routes and conversion at sign-up.

mod support;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::testing::{customer_token, staff_token};
use support::{Backend, TTL_SECS, backends, call, call_raw, new_session, now, unix};

fn detail(problem: &Value) -> &str {
    problem["detail"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn sessions_are_created_read_and_extended() {
    for backend in backends("lifecycle").await {
        let name = backend.name;
        let app = backend.app();
        let before = now();
        let (status, created) = call(&app, Method::POST, "/api/guest-customer/", None, None, None).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {created}");
        let id = created["id"].as_str().unwrap().to_string();
        let token = created["token"].as_str().unwrap().to_string();
        assert!(shared::ids::has_prefix(&id, "guest"), "{name}: {id}");
        assert!(token.starts_with(&format!("{id}.")), "{name}: {token}");
        let created_at = unix(&created["created_at"]);
        assert!((before..=now()).contains(&created_at), "{name}");
        assert_eq!(unix(&created["expires_at"]), created_at + TTL_SECS, "{name}");

        // Same answer with and without the trailing slash.
        for uri in [format!("/api/guest-customer/{id}/"), format!("/api/guest-customer/{id}")] {
            let (status, view) = call(&app, Method::GET, &uri, Some(&token), None, None).await;
            assert_eq!(status, StatusCode::OK, "{name}: {view}");
            assert_eq!(view["customer_type"], "guest");
            assert_eq!(view["id"], id.as_str());
            assert_eq!(view["created_at"], created["created_at"]);
            assert_eq!(view["history_count"], 0);
            assert_eq!(view.as_object().unwrap().len(), 5, "{name}: {view}");
        }

        // A session last seen a while ago is pushed forward by any request it makes.
        let store = backend.store.clone();
        assert!(store.set_expiry(&id, now() + 100, now()).await.unwrap(), "{name}");
        let (_, view) = call(&app, Method::GET, &format!("/api/guest-customer/{id}/"), Some(&token), None, None).await;
        assert!(unix(&view["expires_at"]) >= before + TTL_SECS, "{name}: {view}");
        assert!(store.get(&id).await.unwrap().unwrap().expires_at >= before + TTL_SECS, "{name}: stored");

        // And explicitly by touch.
        assert!(store.set_expiry(&id, now() + 100, now()).await.unwrap());
        let (status, touched) =
            call(&app, Method::POST, &format!("/api/guest-customer/{id}/touch"), Some(&token), None, None).await;
        assert_eq!(status, StatusCode::OK, "{name}: {touched}");
        assert!(unix(&touched["expires_at"]) >= before + TTL_SECS, "{name}: {touched}");
        assert_eq!(touched["id"], id.as_str());
        let (status, _) = call(&app, Method::POST, &format!("/api/guest-customer/{id}/touch/"), None, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");

        // Creating takes no fields: no body or `{}`, nothing else.
        let (status, _) = call(&app, Method::POST, "/api/guest-customer", None, None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::CREATED, "{name}");
        let (status, problem) =
            call(&app, Method::POST, "/api/guest-customer/", None, None, Some(json!({ "name": "x" }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {problem}");
        assert!(problem["errors"].get("name").is_some(), "{name}: {problem}");
        let (status, _) =
            call_raw(&app, Method::POST, "/api/guest-customer/", None, None, Some("text/plain"), "hello").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}");
        let (status, _) =
            call_raw(&app, Method::POST, "/api/guest-customer/", None, None, Some("application/json"), "{").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        let (status, _) = call(&app, Method::GET, "/api/guest-customer/", None, None, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{name}");
    }
}

#[tokio::test]
async fn history_is_recorded_listed_and_paged() {
    for backend in backends("history").await {
        let name = backend.name;
        let app = backend.app();
        let (id, token) = new_session(&app).await;
        let history = format!("/api/guest-customer/{id}/history");
        let bodies = [
            json!({ "kind": "viewed_item", "item_type": "book", "item_id": "book_01KE226VD8K7WF2X7HM5T2628T" }),
            json!({ "kind": "search", "query": "  dune  " }),
            json!({ "kind": "viewed_item", "item_type": "gift-card", "item_id": "gift-card_01KFH5JAJ8QDX3GCWDZZ5GSRSE" }),
        ];
        for body in &bodies {
            let (status, entry) = call(&app, Method::POST, &history, Some(&token), None, Some(body.clone())).await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {entry}");
            assert_eq!(entry["kind"], body["kind"]);
            assert!((now() - 5..=now()).contains(&unix(&entry["at"])), "{name}: {entry}");
        }
        let (status, page) = call(&app, Method::GET, &history, Some(&token), None, None).await;
        assert_eq!(status, StatusCode::OK, "{name}: {page}");
        assert_eq!(page["count"], 3);
        assert_eq!(page["next"], Value::Null);
        let results = page["results"].as_array().unwrap();
        assert_eq!(results[0]["item_id"], "gift-card_01KFH5JAJ8QDX3GCWDZZ5GSRSE", "{name}: newest first");
        assert_eq!(results[1], json!({ "kind": "search", "query": "dune", "at": results[1]["at"] }), "{name}");
        assert_eq!(results[2]["item_type"], "book");
        assert_eq!(results[2].as_object().unwrap().len(), 4, "{name}: {}", results[2]);

        let (_, view) = call(&app, Method::GET, &format!("/api/guest-customer/{id}/"), Some(&token), None, None).await;
        assert_eq!(view["history_count"], 3, "{name}");

        let (_, first) = call(&app, Method::GET, &format!("{history}?page_size=2"), Some(&token), None, None).await;
        assert_eq!(first["results"].as_array().unwrap().len(), 2, "{name}");
        assert_eq!(first["next"], format!("{history}?page_size=2&page=2"));
        let (_, second) =
            call(&app, Method::GET, &format!("{history}/?page_size=2&page=2"), Some(&token), None, None).await;
        assert_eq!(second["results"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(second["results"][0]["item_type"], "book", "{name}");
        // Paging is `page` and `page_size` only, capped at 100.
        for query in ["page=0", "page_size=101", "colour=red", "page=1&offset=1", "offset=1&limit=1", "limit=1000"] {
            let (status, problem) =
                call(&app, Method::GET, &format!("{history}?{query}"), Some(&token), None, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name} {query}: {problem}");
        }

        // Bad entries are a 422 naming the field, and are not recorded.
        for (body, field) in [
            (json!({ "kind": "bought", "item_id": "x" }), "kind"),
            (json!({ "query": "dune" }), "kind"),
            (json!({ "kind": "search" }), "query"),
            (json!({ "kind": "search", "query": "" }), "query"),
            (json!({ "kind": "search", "query": "q".repeat(201) }), "query"),
            (json!({ "kind": "search", "query": 42 }), "query"),
            (json!({ "kind": "viewed_item", "item_type": "Book", "item_id": "b" }), "item_type"),
            (json!({ "kind": "viewed_item", "item_type": "b".repeat(41), "item_id": "b" }), "item_type"),
            (json!({ "kind": "viewed_item", "item_type": "book", "item_id": "b".repeat(101) }), "item_id"),
            (json!({ "kind": "viewed_item", "item_type": "book" }), "item_id"),
            (json!({ "kind": "search", "query": "dune", "item_id": "b" }), "item_id"),
            (json!({ "kind": "search", "query": "dune", "at": "2020-01-01T00:00:00Z" }), "at"),
            (json!({ "kind": "search", "query": "dune", "bogus": true }), "bogus"),
        ] {
            let (status, problem) = call(&app, Method::POST, &history, Some(&token), None, Some(body.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name} {body}: {problem}");
            assert!(problem["errors"].get(field).is_some(), "{name} {body}: {problem}");
        }
        let (status, _) =
            call_raw(&app, Method::POST, &history, Some(&token), None, Some("application/json"), "{\"kind\": ").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        let (status, _) =
            call_raw(&app, Method::POST, &history, Some(&token), None, Some("application/json"), "[]").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        let body = json!({ "kind": "search", "query": "x" }).to_string();
        let (status, _) = call_raw(&app, Method::POST, &history, Some(&token), None, Some("text/plain"), &body).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}");
        let (status, _) = call_raw(&app, Method::POST, &history, Some(&token), None, None, &body).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}");
        // Who is asking is checked before what they sent.
        let (status, _) = call_raw(&app, Method::POST, &history, None, None, Some("text/plain"), "x").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (_, page) = call(&app, Method::GET, &history, Some(&token), None, None).await;
        assert_eq!(page["count"], 3, "{name}: nothing invalid was recorded");
    }
}

#[tokio::test]
async fn history_keeps_the_newest_200_entries() {
    for backend in backends("history_cap").await {
        let name = backend.name;
        let app = backend.app();
        let (id, token) = new_session(&app).await;
        let store = backend.store.clone();
        for n in 0..203 {
            let entry = guest_customer::HistoryEntry {
                activity: guest_customer::Activity::Search { query: format!("query {n}") },
                at: now(),
            };
            assert!(store.add_history(&id, &entry, now()).await.unwrap(), "{name}");
        }
        let history = store.history(&id).await.unwrap();
        assert_eq!(history.len(), 200, "{name}");
        assert_eq!(history[0].activity, guest_customer::Activity::Search { query: "query 3".into() }, "{name}");
        let (_, page) = call(
            &app,
            Method::GET,
            &format!("/api/guest-customer/{id}/history?page=10&page_size=20"),
            Some(&token),
            None,
            None,
        )
        .await;
        assert_eq!(page["count"], 200, "{name}");
        assert_eq!(page["results"][19]["query"], "query 3", "{name}");
        assert_eq!(page["next"], Value::Null, "{name}");
    }
}

#[tokio::test]
async fn concurrent_appends_are_all_kept() {
    for backend in backends("concurrent_history").await {
        let name = backend.name;
        let app = backend.app();
        let (id, token) = new_session(&app).await;
        let uri = format!("/api/guest-customer/{id}/history");
        let calls = (0..4).map(|n| {
            let (app, uri, token) = (app.clone(), uri.clone(), token.clone());
            tokio::spawn(async move {
                call(
                    &app,
                    Method::POST,
                    &uri,
                    Some(&token),
                    None,
                    Some(json!({ "kind": "search", "query": format!("q{n}") })),
                )
                .await
                .0
            })
        });
        for handle in calls.collect::<Vec<_>>() {
            assert_eq!(handle.await.unwrap(), StatusCode::CREATED, "{name}");
        }
        let (_, page) = call(&app, Method::GET, &uri, Some(&token), None, None).await;
        assert_eq!(page["count"], 4, "{name}: {page}");
    }
}

#[tokio::test]
async fn only_the_sessions_guest_and_staff_get_in() {
    for backend in backends("access").await {
        let name = backend.name;
        let app = backend.app();
        let (id, token) = new_session(&app).await;
        let (other_id, other_token) = new_session(&app).await;
        let session = format!("/api/guest-customer/{id}/");
        let history = format!("/api/guest-customer/{id}/history");
        let entry = json!({ "kind": "search", "query": "dune" });
        call(&app, Method::POST, &history, Some(&token), None, Some(entry.clone())).await;

        let (status, problem) = call(&app, Method::GET, &session, None, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {problem}");
        assert!(detail(&problem).contains("X-Guest-Token"), "{name}: {problem}");
        for (method, uri, body) in [
            (Method::GET, session.clone(), None),
            (Method::DELETE, session.clone(), None),
            (Method::POST, format!("{session}touch"), None),
            (Method::GET, history.clone(), None),
            (Method::POST, history.clone(), Some(entry.clone())),
        ] {
            let (status, problem) = call(&app, method.clone(), &uri, Some(&other_token), None, body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{name} {method} {uri}: {problem}");
            let (status, _) = call(&app, method.clone(), &uri, None, None, body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} {method} {uri}");
        }

        // Tokens that are malformed or carry the wrong secret open nothing.
        let wrong_secret = format!("{id}.{}", other_token.split_once('.').unwrap().1);
        for bad in [wrong_secret.as_str(), "nonsense", &format!("{id}.short"), &id] {
            let (status, problem) = call(&app, Method::GET, &session, Some(bad), None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} {bad}: {problem}");
            assert_eq!(detail(&problem), "the guest token is not valid", "{name}");
        }

        // Staff read any session and its history without keeping it alive; a
        // customer's token is not enough.
        let staff = staff_token();
        backend.store.set_expiry(&id, now() + 500, now()).await.unwrap();
        let (status, view) = call(&app, Method::GET, &session, None, Some(&staff), None).await;
        assert_eq!(status, StatusCode::OK, "{name}: {view}");
        assert_eq!(view["history_count"], 1);
        assert!(unix(&view["expires_at"]) <= now() + 500, "{name}: staff reads do not slide");
        let (status, page) = call(&app, Method::GET, &history, None, Some(&staff), None).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(page["results"][0]["query"], "dune");
        let (status, _) = call(&app, Method::GET, &session, None, Some(&customer_token("cust_x")), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        // A bad guest token sent along with a staff token is refused, not ignored.
        let (status, _) = call(&app, Method::GET, &session, Some(&wrong_secret), Some(&staff), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (status, _) = call(&app, Method::GET, &session, Some(&other_token), Some(&staff), None).await;
        assert_eq!(status, StatusCode::OK, "{name}: any valid guest token with staff's");
        let (status, _) = call(&app, Method::GET, &session, None, Some("not-a-jwt"), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (status, _) = call(&app, Method::POST, &history, None, Some(&staff), Some(entry.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: only the guest records history");

        // Ids that cannot be a session, or name no session, are a 404.
        for bad in ["nope", "book_01KE226VD8K7WF2X7HM5T2628T", "..%2F..%2Fetc", "guest_01KE226VD8K7WF2X7HM5T2628T"] {
            for uri in [format!("/api/guest-customer/{bad}/"), format!("/api/guest-customer/{bad}/history")] {
                let (status, problem) = call(&app, Method::GET, &uri, None, Some(&staff), None).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{name} {uri}: {problem}");
            }
        }
        for bad in ["nope", "..%2F..%2Fetc", "book_01KE226VD8K7WF2X7HM5T2628T"] {
            let (status, _) =
                call(&app, Method::GET, &format!("/api/guest-customer/{bad}/"), Some(&token), None, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{name} {bad}");
        }
        let (status, _) = call(&app, Method::GET, "/api/guest-customer/a/b/c", None, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");

        // Staff may end any session.
        let (status, _) =
            call(&app, Method::DELETE, &format!("/api/guest-customer/{other_id}/"), None, Some(&staff), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        let (status, problem) = call(&app, Method::GET, "/api/customers/", Some(&other_token), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(detail(&problem), "the guest session has expired", "{name}");
    }
}

#[tokio::test]
async fn expired_and_ended_sessions_no_longer_authenticate() {
    for backend in backends("expiry").await {
        let name = backend.name;
        let app = backend.app();

        // Expired by the clock.
        let (id, token) = new_session(&app).await;
        assert!(backend.store.set_expiry(&id, now() - 1, now()).await.unwrap(), "{name}");
        assert!(!backend.store.set_expiry(&id, now() + 1000, now()).await.unwrap(), "{name}: no resurrection");
        for (method, uri) in [
            (Method::GET, format!("/api/guest-customer/{id}/")),
            (Method::POST, format!("/api/guest-customer/{id}/touch")),
            (Method::GET, format!("/api/guest-customer/{id}/history")),
            (Method::GET, "/api/customers/".to_string()),
            (Method::GET, "/api/customers/history".to_string()),
            (Method::GET, "/internal/guest/session".to_string()),
        ] {
            let (status, problem) = call(&app, method.clone(), &uri, Some(&token), None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} {method} {uri}: {problem}");
            assert_eq!(detail(&problem), "the guest session has expired", "{name} {uri}");
        }

        // Expired by a short lifetime, without any help from the test. (No read
        // before the expiry: on a busy machine the second may be gone by then.)
        let short = guest_customer::router(backend.state(1));
        let (id, token) = new_session(&short).await;
        let uri = format!("/api/guest-customer/{id}/");
        tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
        let (status, problem) = call(&short, Method::GET, &uri, Some(&token), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {problem}");

        // Ended by DELETE.
        let (id, token) = new_session(&app).await;
        let uri = format!("/api/guest-customer/{id}/");
        let (status, body) = call(&app, Method::DELETE, &uri, Some(&token), None, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}: {body}");
        assert_eq!(body, Value::Null);
        let (status, problem) = call(&app, Method::GET, &uri, Some(&token), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(detail(&problem), "the guest session has expired");
        let (status, _) = call(&app, Method::DELETE, &uri, Some(&token), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (status, _) = call(
            &app,
            Method::POST,
            "/api/customers/history",
            Some(&token),
            None,
            Some(json!({ "kind": "search", "query": "x" })),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (status, _) = call(&app, Method::GET, &uri, None, Some(&staff_token()), None).await;
        assert_eq!(status, StatusCode::OK, "{name}: staff still see ended sessions");
    }
}

#[tokio::test]
async fn anonymous_customers_routes_serve_the_tokens_session() {
    for backend in backends("customers").await {
        let name = backend.name;
        let app = backend.app();
        for uri in ["/api/customers/", "/api/customers"] {
            let (status, body) = call(&app, Method::GET, uri, None, None, None).await;
            assert_eq!(status, StatusCode::OK, "{name}: {body}");
            assert_eq!(body, json!({ "customer_type": "guest", "session": null }), "{name}");
        }
        let (status, created) = call(&app, Method::POST, "/api/customers/", None, None, None).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {created}");
        let token = created["token"].as_str().unwrap();
        let (status, body) = call(&app, Method::GET, "/api/customers/", Some(token), None, None).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(body["customer_type"], "guest");
        assert_eq!(body["session"]["id"], created["id"], "{name}: {body}");
        assert_eq!(body["session"]["customer_type"], "guest");
        let (status, _) = call(&app, Method::GET, "/api/customers/", Some("guest_x.y"), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");

        let (status, entry) = call(
            &app,
            Method::POST,
            "/api/customers/history/",
            Some(token),
            None,
            Some(
                json!({ "kind": "viewed_item", "item_type": "laptop", "item_id": "laptop_01KFH5JAJ8QDX3GCWDZZ5GSRSD" }),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {entry}");
        let (status, page) = call(&app, Method::GET, "/api/customers/history", Some(token), None, None).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(page["count"], 1);
        assert_eq!(page["results"][0]["item_type"], "laptop");
        let direct = format!("/api/guest-customer/{}/history", created["id"].as_str().unwrap());
        let (_, same) = call(&app, Method::GET, &direct, Some(token), None, None).await;
        assert_eq!(same["results"], page["results"], "{name}");
        let (status, _) = call(&app, Method::GET, "/api/customers/history", None, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        let (status, problem) =
            call(&app, Method::POST, "/api/customers/history", Some(token), None, Some(json!({ "kind": "?" }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {problem}");
    }
}

#[tokio::test]
async fn conversion_hands_the_history_over_once() {
    for backend in backends("convert").await {
        let name = backend.name;
        let app = backend.app();
        let (id, token) = new_session(&app).await;
        for query in ["first", "second", "third"] {
            let (status, _) = call(
                &app,
                Method::POST,
                "/api/customers/history",
                Some(&token),
                None,
                Some(json!({ "kind": "search", "query": query })),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{name}");
        }

        // The router reads the session before creating the account.
        let (status, snapshot) = call(&app, Method::GET, "/internal/guest/session", Some(&token), None, None).await;
        assert_eq!(status, StatusCode::OK, "{name}: {snapshot}");
        assert_eq!(snapshot["guest_id"], id.as_str());
        let queries: Vec<&str> =
            snapshot["history"].as_array().unwrap().iter().map(|e| e["query"].as_str().unwrap()).collect();
        assert_eq!(queries, ["first", "second", "third"], "{name}: oldest first");
        let (status, _) = call(&app, Method::GET, "/internal/guest/session", None, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");

        let customer = "cust_01KE226VD8K7WF2X7HM5T2628T";
        let body = json!({ "token": token, "customer_id": customer });
        let (status, converted) =
            call(&app, Method::POST, "/internal/guest/convert", None, None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{name}: {converted}");
        assert_eq!(converted["guest_id"], id.as_str());
        assert_eq!(converted["customer_id"], customer);
        assert_eq!(converted["history"], snapshot["history"], "{name}");

        // A retry gets the same answer; another customer gets a conflict.
        let (status, again) = call(&app, Method::POST, "/internal/guest/convert/", None, None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {again}");
        assert_eq!(again, converted, "{name}");
        let (status, problem) = call(
            &app,
            Method::POST,
            "/internal/guest/convert",
            None,
            None,
            Some(json!({ "token": token, "customer_id": "cust_01KEND80Z03MDNKXNXAG2GDNXZ" })),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {problem}");

        // The token is dead everywhere else.
        for (method, uri, body) in [
            (Method::GET, format!("/api/guest-customer/{id}/"), None),
            (Method::POST, format!("/api/guest-customer/{id}/touch"), None),
            (Method::POST, "/api/customers/history".to_string(), Some(json!({ "kind": "search", "query": "late" }))),
            (Method::GET, "/api/customers/".to_string(), None),
            (Method::GET, "/internal/guest/session".to_string(), None),
        ] {
            let (status, problem) = call(&app, method.clone(), &uri, Some(&token), None, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} {method} {uri}");
            assert_eq!(detail(&problem), "the guest session was converted into a customer account", "{name}");
        }
        assert!(!backend.store.set_expiry(&id, now() + 1000, now()).await.unwrap(), "{name}");
        let (_, after) = call(
            &app,
            Method::POST,
            "/internal/guest/convert",
            None,
            None,
            Some(json!({ "token": token, "customer_id": customer })),
        )
        .await;
        assert_eq!(after["history"].as_array().unwrap().len(), 3, "{name}: nothing was added after conversion");

        // Bad conversion requests.
        let (_, other_token) = new_session(&app).await;
        let (expired_id, expired_token) = new_session(&app).await;
        backend.store.set_expiry(&expired_id, now() - 1, now()).await.unwrap();
        for (body, status) in [
            (json!({ "token": "guest_nope.x", "customer_id": customer }), StatusCode::UNAUTHORIZED),
            (
                json!({ "token": format!("{id}.{}", other_token.split_once('.').unwrap().1), "customer_id": customer }),
                StatusCode::UNAUTHORIZED,
            ),
            (json!({ "token": expired_token, "customer_id": customer }), StatusCode::UNAUTHORIZED),
            (json!({ "token": other_token, "customer_id": "not an id" }), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({ "token": other_token }), StatusCode::UNPROCESSABLE_ENTITY),
            (json!({ "token": other_token, "customer_id": customer, "extra": 1 }), StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (got, problem) =
                call(&app, Method::POST, "/internal/guest/convert", None, None, Some(body.clone())).await;
            assert_eq!(got, status, "{name} {body}: {problem}");
        }
        let (status, _) =
            call_raw(&app, Method::POST, "/internal/guest/convert", None, None, Some("application/json"), "{").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        let (status, _) = call(&app, Method::GET, "/api/customers/", Some(&other_token), None, None).await;
        assert_eq!(status, StatusCode::OK, "{name}: failed conversions leave the session alone");
    }
}

#[tokio::test]
async fn two_conversions_at_once_have_one_winner() {
    for backend in backends("convert_race").await {
        let name = backend.name;
        let app = backend.app();
        for _ in 0..3 {
            let (_, token) = new_session(&app).await;
            let attempts = ["cust_01KE226VD8K7WF2X7HM5T2628T", "cust_01KEND80Z03MDNKXNXAG2GDNXZ"].map(|customer| {
                let (app, body) = (app.clone(), json!({ "token": token, "customer_id": customer }));
                tokio::spawn(async move {
                    call(&app, Method::POST, "/internal/guest/convert", None, None, Some(body)).await.0
                })
            });
            let mut statuses = Vec::new();
            for attempt in attempts {
                statuses.push(attempt.await.unwrap());
            }
            statuses.sort();
            assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{name}");
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let backend: Backend = backends("paths").await.remove(0);
    let app = backend.app();
    let (status, _) = call(&app, Method::GET, "/api/guest-customer/x/y/z/w", None, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, Method::PUT, "/api/customers/", None, None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = call(&app, Method::GET, "/internal/guest/convert", None, None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
