//! A store a test can take away mid-flow, to show that a function answers 503
//! with `Retry-After` and leaves nothing half-written.
//!
//! - MySQL and PostgreSQL are reached through a TCP proxy in the test. Cutting
//!   it drops every open connection and closes new ones at once, as when the
//!   server or the network goes away; restoring lets connections through again.
//! - An SQLite file cannot go away, but it can be held: cutting takes its write
//!   lock from another connection, so writers wait out their busy timeout and
//!   fail as they would behind a stuck writer; restoring lets go of the lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};

use crate::store::StoreUrl;

pub struct StoreFault {
    kind: Kind,
}

enum Kind {
    Proxy(CutProxy),
    Sqlite { url: String, holder: Mutex<Option<sqlx::SqliteConnection>> },
}

impl StoreFault {
    /// The fault and the URL the function under test must be given instead of `url`.
    pub async fn new(url: &StoreUrl) -> (Self, StoreUrl) {
        match url {
            StoreUrl::MySql(u) | StoreUrl::Postgres(u) => {
                let (scheme, rest) = u.split_once("://").expect("a server URL");
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let (credentials, upstream) = match authority.rsplit_once('@') {
                    Some((credentials, host)) => (format!("{credentials}@"), host),
                    None => (String::new(), authority),
                };
                let proxy = CutProxy::start(upstream).await;
                let proxied = format!("{scheme}://{credentials}127.0.0.1:{}/{path}", proxy.port);
                let proxied = if matches!(url, StoreUrl::MySql(_)) {
                    StoreUrl::MySql(proxied)
                } else {
                    StoreUrl::Postgres(proxied)
                };
                (Self { kind: Kind::Proxy(proxy) }, proxied)
            }
            StoreUrl::Sqlite(u) => {
                (Self { kind: Kind::Sqlite { url: u.clone(), holder: Mutex::new(None) } }, url.clone())
            }
            other => panic!("no fault for {}", other.redacted()),
        }
    }

    /// Takes the store away until [`StoreFault::restore`].
    pub async fn cut(&self) {
        match &self.kind {
            Kind::Proxy(proxy) => proxy.cut(),
            Kind::Sqlite { url, holder } => {
                let mut holder = holder.lock().await;
                if holder.is_none() {
                    let options = url.parse::<SqliteConnectOptions>().expect("an SQLite URL").create_if_missing(true);
                    let mut conn = options.connect().await.expect("a second SQLite connection");
                    sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await.expect("the write lock");
                    *holder = Some(conn);
                }
            }
        }
    }

    pub async fn restore(&self) {
        match &self.kind {
            Kind::Proxy(proxy) => proxy.restore(),
            Kind::Sqlite { holder, .. } => {
                if let Some(mut conn) = holder.lock().await.take() {
                    sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.expect("the lock is let go");
                }
            }
        }
    }
}

/// Forwards 127.0.0.1:[`CutProxy::port`] to `upstream` (`host:port`) until cut.
pub struct CutProxy {
    port: u16,
    cut: Arc<AtomicBool>,
    /// Bumped on every cut: connections opened before it end.
    generation: Arc<watch::Sender<u64>>,
}

impl CutProxy {
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let generation = Arc::new(watch::channel(0u64).0);
        let proxy = Self { port, cut: Arc::new(AtomicBool::new(false)), generation };
        let (cut, generation, upstream) = (proxy.cut.clone(), proxy.generation.clone(), upstream.to_string());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (mut ended, upstream) = (generation.subscribe(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = ended.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}
