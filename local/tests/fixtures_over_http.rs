//! `load-fixtures --api URL`: the transaction scenarios played against a running
//! API over HTTP, with tokens from logging in as the fixture accounts.

use fixtures::customers::{CustomerStores, Passwords};
use fixtures::http::HttpApi;
use fixtures::transactions::{Api, Shop, Tokens};
use fixtures::{Mode, item_fixture_count};
use http::{Method, StatusCode};
use shared::config::Env;
use shared::testing::{send, staff_token};

#[tokio::test]
async fn the_scenarios_play_once_through_a_listening_server() {
    let dir = std::env::temp_dir().join(format!("shop-local-{}", shared::ids::new_id("t")));
    let functions = local::Functions::build(&Env::from_pairs([("LOCAL_DATA_DIR", dir.display().to_string())])).unwrap();
    // What the loader writes into the stores itself: catalog and customers.
    let passwords = Passwords::demo();
    functions.stores.load_all(Mode::Missing, |_| {}).await.unwrap();
    let customers = CustomerStores {
        guest: functions.guest.store().as_ref(),
        guest_session_ttl_secs: functions.guest.session_ttl_secs(),
        registered: &functions.registered.store,
        vip: &functions.vip.store,
    };
    customers.load_all(Mode::Missing, &passwords, |_| {}).await.unwrap();

    let app = functions.app().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app.clone()).into_future());

    let shop = Shop::new(Api::Http(Box::new(HttpApi::new(&base).unwrap())), Tokens::LogIn(&passwords));
    let mut steps = Vec::new();
    let loaded = shop.load_all(Mode::IntoEmpty, |s| steps.push((s.name.to_string(), s.outcome.to_string()))).await;
    let loaded = loaded.unwrap();
    assert_eq!(loaded[0].added, loaded[0].fixtures);
    assert_eq!(steps.len() as u64, loaded[0].fixtures);
    // Each order scenario ends in the status its name promises.
    assert!(steps.iter().any(|(name, outcome)| name.contains("refunded") && outcome == "refunded"), "{steps:?}");
    assert!(steps.iter().all(|(_, outcome)| outcome != "unexpected status"), "{steps:?}");

    let (status, _, orders) = send(&app, Method::GET, "/api/orders/?page_size=1", Some(&staff_token()), None).await;
    assert_eq!(status, StatusCode::OK);
    let placed = orders["count"].as_u64().unwrap();
    assert!(placed >= 13, "{orders}");
    let (_, _, items) = send(&app, Method::GET, "/api/items/", None, None).await;
    assert_eq!(items["count"], item_fixture_count());

    // A second run finds orders and plays nothing.
    let again = shop.load_all(Mode::IntoEmpty, |_| panic!("no scenario should run twice")).await.unwrap();
    assert_eq!(again[0].added, 0);
    let (_, _, orders) = send(&app, Method::GET, "/api/orders/?page_size=1", Some(&staff_token()), None).await;
    assert_eq!(orders["count"].as_u64(), Some(placed));
}

#[tokio::test]
async fn wrong_passwords_stop_the_loader_with_a_hint_and_place_no_order() {
    let dir = std::env::temp_dir().join(format!("shop-local-{}", shared::ids::new_id("t")));
    let functions = local::Functions::build(&Env::from_pairs([("LOCAL_DATA_DIR", dir.display().to_string())])).unwrap();
    let customers = CustomerStores {
        guest: functions.guest.store().as_ref(),
        guest_session_ttl_secs: functions.guest.session_ttl_secs(),
        registered: &functions.registered.store,
        vip: &functions.vip.store,
    };
    customers.load_all(Mode::Missing, &Passwords::demo(), |_| {}).await.unwrap();
    let app = functions.app().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app.clone()).into_future());

    let wrong = Passwords { customer: "not-the-password-1234".into(), staff: "not-the-password-5678".into() };
    let shop = Shop::new(Api::Http(Box::new(HttpApi::new(&base).unwrap())), Tokens::LogIn(&wrong));
    let err = shop.load_all(Mode::IntoEmpty, |_| {}).await.unwrap_err();
    let shared::error::AppError::Internal(cause) = err else { panic!("{err:?}") };
    assert!(cause.contains("401") && cause.contains("passwords"), "{cause}");
    let (_, _, orders) = send(&app, Method::GET, "/api/orders/?page_size=1", Some(&staff_token()), None).await;
    assert_eq!(orders["count"], 0);
}
