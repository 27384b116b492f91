//! The portable-SQL rules the relational stores rely on, checked on every engine
//! available here: text, nullable text, integers, sums, unique violations, and
//! migrations that run once.

use shared::sql::{Database, Migrations, is_unique_violation};
use shared::testing::relational_store_urls;
use sqlx::Row;

static MYSQL: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations/mysql");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations/postgres");
const MIGRATIONS: Migrations = Migrations { mysql: Some(&MYSQL), postgres: Some(&POSTGRES), sqlite: &SQLITE };

#[tokio::test]
async fn portable_queries_behave_the_same_on_every_engine() {
    for url in relational_store_urls("sql_probe").await {
        let db = Database::connect_lazy(&url, 2, &MIGRATIONS).unwrap();
        let pool = db.pool().await.unwrap();
        for (id, notes, amount) in [("a", Some("long text"), 150_i64), ("b", None, -50)] {
            sqlx::query("INSERT INTO probe (id, label, notes, amount) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(format!("label {id}"))
                .bind(notes)
                .bind(amount)
                .execute(pool)
                .await
                .unwrap();
        }
        let duplicate = sqlx::query("INSERT INTO probe (id, label, amount) VALUES ('a', 'x', 1)").execute(pool).await;
        assert!(is_unique_violation(&duplicate.unwrap_err()));
        let ignored = format!("{} INTO probe (id, label, amount) VALUES ('a', 'x', 1)", db.engine().insert_ignore());
        let done = sqlx::query(sqlx::AssertSqlSafe(ignored)).execute(pool).await.unwrap();
        assert_eq!(done.rows_affected(), 0);

        let row = sqlx::query("SELECT id, label, notes, amount, flag FROM probe WHERE id = ?")
            .bind("a")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(row.try_get::<String, _>("label").unwrap(), "label a");
        assert_eq!(row.try_get::<Option<String>, _>("notes").unwrap().as_deref(), Some("long text"));
        assert_eq!(row.try_get::<i64, _>("amount").unwrap(), 150);
        assert_eq!(row.try_get::<i64, _>("flag").unwrap(), 0);
        let row = sqlx::query("SELECT notes FROM probe WHERE id = 'b'").fetch_one(pool).await.unwrap();
        assert_eq!(row.try_get::<Option<String>, _>("notes").unwrap(), None);
        let row =
            sqlx::query("SELECT CAST(COALESCE(SUM(amount), 0) AS SIGNED INTEGER) AS total, COUNT(*) AS n FROM probe")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(row.try_get::<i64, _>("total").unwrap(), 100);
        assert_eq!(row.try_get::<i64, _>("n").unwrap(), 2);

        // A second handle on the same database finds the migrations done.
        let again = Database::connect_lazy(&url, 1, &MIGRATIONS).unwrap();
        again.pool().await.unwrap();
    }
}

/// PostgreSQL and SQLite both take numbered `$N` placeholders, so the transaction
/// services share one set of queries between them (MySQL needs `?` instead).
#[tokio::test]
async fn numbered_placeholders_work_on_postgres_and_sqlite() {
    for url in shared::testing::transaction_store_urls("sql_numbered").await {
        // In a schema of its own on PostgreSQL, as each transaction service is.
        let db = Database::connect_lazy_in_schema(&url, 2, &MIGRATIONS, "probe_service").unwrap();
        let pool = db.pool().await.unwrap();
        sqlx::query("INSERT INTO probe (id, label, notes, amount) VALUES ($1, $2, $3, $4)")
            .bind("a")
            .bind("label a")
            .bind(Option::<String>::None)
            .bind(7_i64)
            .execute(pool)
            .await
            .unwrap();
        let duplicate =
            sqlx::query("INSERT INTO probe (id, label, amount) VALUES ($1, 'x', 1)").bind("a").execute(pool).await;
        assert!(is_unique_violation(&duplicate.unwrap_err()));
        let row = sqlx::query("SELECT label, notes, CAST(amount * $2 AS BIGINT) AS doubled FROM probe WHERE id = $1")
            .bind("a")
            .bind(2_i64)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(row.try_get::<String, _>("label").unwrap(), "label a");
        assert_eq!(row.try_get::<Option<String>, _>("notes").unwrap(), None);
        assert_eq!(row.try_get::<i64, _>("doubled").unwrap(), 14);
        let row = sqlx::query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM probe")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64, _>("total").unwrap(), 7);
        if db.engine() == shared::sql::Engine::Postgres {
            let row = sqlx::query("SELECT CAST(current_schema() AS TEXT) AS s").fetch_one(pool).await.unwrap();
            assert_eq!(row.try_get::<String, _>("s").unwrap(), "probe_service");
        }
    }
}
