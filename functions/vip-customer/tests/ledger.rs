//! The points ledger under concurrency and across tier boundaries, on every
//! relational store available here.

mod common;

use common::{app, app_with, earn, enroll, me, points, staff_points};
use http::StatusCode;
use shared::testing::relational_store_urls;
use vip_customer::domain::{Change, EntryKind};
use vip_customer::tiers::TierName;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_earns_never_lose_an_entry() {
    for url in relational_store_urls("vip_concurrent").await {
        let (app, _) = app(&url).await;
        enroll(&app, "c1").await;
        // Small amounts keep the member in bronze (1×), so the sum is exact.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 1..=20_i64 {
            let app = app.clone();
            tasks.spawn(async move { earn(&app, "c1", i, &format!("order-{i}")).await });
        }
        while let Some(done) = tasks.join_next().await {
            let (status, body) = done.expect("task");
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let summary = points(&app, "c1").await;
        assert_eq!(summary["balance"], (1..=20).sum::<i64>(), "{url:?}");
        assert_eq!(summary["lifetime_points"], 210);
        assert_eq!(summary["history"]["count"], 20);
        // Each entry's balance is its predecessor's plus its points: no two read the same balance.
        let page = common::points(&app, "c1").await;
        let entries = page["history"]["results"].as_array().unwrap();
        for pair in entries.windows(2) {
            let (newer, older) = (&pair[0], &pair[1]);
            assert_eq!(
                newer["balance_after"].as_i64().unwrap(),
                older["balance_after"].as_i64().unwrap() + newer["points"].as_i64().unwrap()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_one_request_apply_it_once() {
    for url in relational_store_urls("vip_concurrent_key").await {
        let (app, _) = app(&url).await;
        enroll(&app, "c1").await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let app = app.clone();
            tasks.spawn(async move { earn(&app, "c1", 40, "delivered-ord_7").await });
        }
        let mut statuses = Vec::new();
        let mut ids = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (status, body) = done.expect("task");
            statuses.push(status);
            ids.push(body["entry"]["id"].as_str().unwrap_or_default().to_string());
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 7, "{statuses:?}");
        ids.dedup();
        assert_eq!(ids.len(), 1, "every answer names the same entry");
        assert_eq!(points(&app, "c1").await["balance"], 40);
    }
}

#[tokio::test]
async fn a_refund_does_not_downgrade_within_the_year() {
    for url in relational_store_urls("vip_no_downgrade").await {
        let (app, state) = app(&url).await;
        enroll(&app, "c1").await;
        earn(&app, "c1", 5200, "big-order").await;
        assert_eq!(me(&app, "c1").await["tier"], "gold");

        let (status, result) = staff_points(&app, "c1", "adjust", -5200, "refund-big-order").await;
        assert_eq!(status, StatusCode::CREATED, "{result}");
        assert_eq!(result["entry"]["kind"], "adjust");
        assert_eq!(result["entry"]["points"], -5200);
        assert_eq!(result["customer"]["lifetime_points"], 0);
        assert_eq!(result["customer"]["points_balance"], 0);
        assert_eq!(result["customer"]["tier"], "gold", "a tier reached this year lasts the year");
        assert_eq!(result["customer"]["benefits"]["free_shipping"], true);

        // A negative adjustment never takes points below zero; the entry records what was applied.
        let (_, result) = staff_points(&app, "c1", "adjust", -10, "correction").await;
        assert_eq!(result["entry"]["points"], 0);
        assert_eq!(result["entry"]["requested_points"], -10);
        assert_eq!(result["customer"]["points_balance"], 0);

        // The first change in a new year settles the tier the points now earn.
        let current_year = i64::from(time::OffsetDateTime::now_utc().year());
        let next_year = time::Date::from_calendar_date(current_year as i32 + 1, time::Month::February, 1)
            .unwrap()
            .midnight()
            .assume_utc()
            .unix_timestamp();
        let change = Change::new(EntryKind::Adjust, 1200, "Goodwill", "goodwill-1").unwrap();
        let applied = state.store.apply("c1", &change, next_year).await.unwrap();
        assert_eq!(applied.customer.tier, TierName::Silver);
        assert_eq!(applied.customer.tier_year, current_year + 1);
        assert!(applied.created);
    }
}

#[tokio::test]
async fn a_refund_downgrades_at_once_when_configured() {
    for url in relational_store_urls("vip_downgrade").await {
        let (app, _) = app_with(&url, true).await;
        enroll(&app, "c1").await;
        earn(&app, "c1", 5200, "big-order").await;
        let (_, result) = staff_points(&app, "c1", "adjust", -4000, "refund-big-order").await;
        assert_eq!(result["customer"]["lifetime_points"], 1200);
        assert_eq!(result["customer"]["tier"], "silver");
        assert_eq!(result["customer"]["benefits"]["free_shipping"], false);
        assert_eq!(result["customer"]["next_tier"]["name"], "gold");
        assert_eq!(result["customer"]["next_tier"]["points_needed"], 3800);

        // Positive adjustments count towards the tier, without a multiplier.
        let (status, result) = staff_points(&app, "c1", "adjust", 3800, "goodwill").await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(result["entry"]["points"], 3800);
        assert_eq!(result["customer"]["tier"], "gold");
    }
}
