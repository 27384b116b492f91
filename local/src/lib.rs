//! The local server: every function's Router mounted at the paths `template.yaml`
//! gives it, routers invoking functions in process, embedded stores under
//! `local/data/`, fixtures loaded into empty stores, the order sweep that a
//! schedule runs when deployed as a background task; CORS as API Gateway answers
//! it, and the API reference at `/api/docs`.

pub mod cors;
pub mod template;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{any_service, get};
use fixtures::transactions::{Api, Shop, Tokens};
use shared::auth::TokenKeys;
use shared::catalog::{self, CatalogState, ItemKind, ServiceConfig};
use shared::config::Env;
use shared::invoke::{InProcessInvoker, LateBoundInvoker};
use utoipa::openapi::OpenApi;

pub const TEMPLATE: &str = include_str!("../../template.yaml");

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every function's Router by binary name, built from one environment.
pub struct Functions {
    pub routers: HashMap<String, Router>,
    pub stores: fixtures::CatalogStores,
    pub guest: guest_customer::GuestState,
    pub registered: registered_customer::RegisteredState,
    pub vip: vip_customer::VipState,
    pub cart: cart::CartState,
    pub order: order::OrderState,
    pub paying: paying::PayingState,
    pub shipping: shipping::ShippingState,
    keys: Arc<TokenKeys>,
    cors: template::CorsConfiguration,
    /// What the routers invoke each other through; they reach it weakly, so it
    /// lives as long as these functions or an app made of them.
    table: Arc<InProcessInvoker>,
}

fn item_service<K: ItemKind>(env: &Env, keys: &Arc<TokenKeys>) -> Result<Router, BoxError> {
    let config = ServiceConfig::from_env::<K>(env)?;
    Ok(catalog::router::<K>(CatalogState::new::<K>(&config, keys.clone())?))
}

impl Functions {
    pub fn build(env: &Env) -> Result<Self, BoxError> {
        Self::build_with_clock(env, Arc::new(order::SystemClock))
    }

    /// The shop with the order service on `clock`, so a test can let an unpaid
    /// order's time run out.
    pub fn build_with_clock(env: &Env, clock: Arc<dyn order::Clock>) -> Result<Self, BoxError> {
        let keys = Arc::new(TokenKeys::from_env(env)?);
        let mut routers = HashMap::new();
        routers.insert("book".to_string(), item_service::<book::Book>(env, &keys)?);
        routers.insert("laptop".to_string(), item_service::<laptop::Laptop>(env, &keys)?);
        routers.insert("mobile".to_string(), item_service::<mobile::Mobile>(env, &keys)?);
        routers.insert("clothes".to_string(), item_service::<clothes::Clothes>(env, &keys)?);

        // Functions invoke each other in process, by the names Lambda would use. The
        // table is bound once every Router exists, since some call each other.
        let invoker = LateBoundInvoker::new();
        let shared_invoker = || Arc::new(invoker.clone());

        let guest =
            guest_customer::GuestState::new(&guest_customer::Config::from_env(env)?, shared_invoker(), keys.clone())?;
        let registered =
            registered_customer::RegisteredState::new(&registered_customer::Config::from_env(env)?, keys.clone())?;
        let vip = vip_customer::VipState::new(&vip_customer::Config::from_env(env)?, keys.clone())?;
        routers.insert("guest-customer".to_string(), guest_customer::router(guest.clone()));
        routers.insert("registered-customer".to_string(), registered_customer::router(registered.clone()));
        routers.insert("vip-customer".to_string(), vip_customer::router(vip.clone()));

        let items =
            items_router::RouterState::new(&items_router::Config::from_env(env)?, shared_invoker(), keys.clone())?;
        routers.insert("items-router".to_string(), items_router::router(items));
        let cart = cart::CartState::new(&cart::Config::from_env(env)?, shared_invoker(), keys.clone())?;
        routers.insert("cart".to_string(), cart::router(cart.clone()));
        let customers = customer_router::CustomerRouterState::new(
            &customer_router::Config::from_env(env)?,
            shared_invoker(),
            keys.clone(),
        );
        routers.insert("customer-router".to_string(), customer_router::router(customers));
        let order =
            order::OrderState::with_clock(&order::Config::from_env(env)?, shared_invoker(), keys.clone(), clock)?;
        routers.insert("order".to_string(), order::router(order.clone()));
        let paying = paying::PayingState::new(&paying::Config::from_env(env)?, shared_invoker(), keys.clone())?;
        routers.insert("paying".to_string(), paying::router(paying.clone()));
        let shipping = shipping::ShippingState::new(&shipping::Config::from_env(env)?, shared_invoker(), keys.clone())?;
        routers.insert("shipping".to_string(), shipping::router(shipping.clone()));
        let table =
            routers.iter().fold(InProcessInvoker::new(), |table, (name, router)| table.with(name, router.clone()));
        let table = Arc::new(table);
        if !invoker.bind(&table) {
            return Err("the function table was bound twice".into());
        }
        let mut cors = template::cors(TEMPLATE)?;
        // What the stack's `CorsAllowOrigins` parameter sets, for the local server.
        if let Some(origins) = env.get("CORS_ALLOW_ORIGINS") {
            cors.allow_origins = origins.split(',').map(|o| o.trim().to_string()).collect();
        }
        Ok(Self {
            routers,
            stores: fixtures::CatalogStores::from_env(env)?,
            guest,
            registered,
            vip,
            cart,
            order,
            paying,
            shipping,
            keys,
            cors,
            table,
        })
    }

    /// Every store of this shop, for the invariant checker, on the order
    /// service's own clock.
    pub fn checker(&self) -> checker::Shop {
        checker::Shop {
            items: vec![
                ("book", self.stores.book.items.clone()),
                ("laptop", self.stores.laptop.items.clone()),
                ("mobile", self.stores.mobile.items.clone()),
                ("clothes", self.stores.clothes.items.clone()),
            ],
            cart: Some(self.cart.store.clone()),
            order: Some(self.order.store.clone()),
            paying: Some(self.paying.store.clone()),
            shipping: Some(self.shipping.store.clone()),
            vip: Some(self.vip.store.clone()),
            registered: Some(self.registered.store.clone()),
            clock: self.order.clock.clone(),
            unpaid_expiry_secs: self.order.unpaid_expiry_secs(),
            sources: Vec::new(),
        }
    }

    /// Runs the order sweep every `interval`, as the schedule of a deployed shop
    /// does: `POST /internal/orders/sweep` through the order function's Router,
    /// the same handler the scheduled event reaches. Never returns.
    pub async fn sweep_every(&self, interval: Duration) {
        let Some(order) = self.routers.get("order").cloned() else { return };
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let request = http::Request::post("/internal/orders/sweep").body(axum::body::Body::empty());
            let Ok(request) = request else { continue };
            match tower::ServiceExt::oneshot(order.clone(), request).await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => tracing::warn!(status = %response.status(), "the order sweep failed"),
                Err(never) => match never {},
            }
        }
    }

    /// Fills empty stores with the fixtures; accounts get `passwords`.
    pub async fn load_fixtures(&self, passwords: &fixtures::customers::Passwords) -> Result<u64, BoxError> {
        let mode = fixtures::Mode::IntoEmpty;
        let catalog = self.stores.load_all(mode, |_| {}).await?;
        let customers = fixtures::customers::CustomerStores {
            guest: self.guest.store().as_ref(),
            guest_session_ttl_secs: self.guest.session_ttl_secs(),
            registered: &self.registered.store,
            vip: &self.vip.store,
        };
        let customers = customers.load_all(mode, passwords, |_| {}).await?;
        // Orders, payments and shipments go through the API itself, so they need
        // the catalog and the customers above.
        let app = self.app()?;
        let shop = Shop::new(Api::InProcess(&app), Tokens::Signed(&self.keys));
        let transactions = shop.load_all(mode, |_| {}).await?;
        Ok(catalog.iter().chain(&customers).chain(&transactions).map(|l| l.added).sum())
    }

    /// One Router serving every template route, plus the combined API document.
    pub fn app(&self) -> Result<Router, BoxError> {
        let mut app = Router::new();
        for route in template::api_routes(TEMPLATE)? {
            let router = self.routers.get(&route.binary).ok_or_else(|| {
                format!(
                    "template.yaml routes {} to `{}`, which the local server does not run",
                    route.path, route.binary
                )
            })?;
            if route.method != "ANY" {
                return Err(format!("{} {}: the local server mounts ANY routes only", route.method, route.path).into());
            }
            for path in template::axum_paths(&route.path) {
                app = app.route_service(&path, any_service(as_gateway_would_send(router.clone())));
            }
        }
        let document = Arc::new(openapi().to_json()?);
        app = app.route(
            "/api/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], document.as_str().to_owned()) }
            }),
        );
        app = app.merge(reference_page());
        let cors = cors::Cors::new(self.cors.clone());
        let table = self.table.clone();
        Ok(shared::http_app::finish(app).layer(axum::middleware::from_fn(move |request, next| {
            // The app holds the table, so it serves after these functions are dropped.
            let _serving = &table;
            cors.clone().layer(request, next)
        })))
    }
}

/// `env` with `PUBLIC_BASE_URL` (the base of links in mails) naming the server
/// that listens on `host:port`, unless it is set.
pub fn with_public_base_url(env: Env, host: &str, port: u16) -> Env {
    if env.get("PUBLIC_BASE_URL").is_some() {
        return env;
    }
    let host = if host == "0.0.0.0" || host == "::" { "localhost" } else { host };
    env.with("PUBLIC_BASE_URL", format!("http://{host}:{port}"))
}

/// `/api/docs`: Swagger UI over `/api/openapi.json`, its files served from the
/// binary. Nothing is fetched from elsewhere: the validator badge, which would
/// call out to a public validator, is off.
fn reference_page() -> Router {
    let config = utoipa_swagger_ui::Config::from("/api/openapi.json")
        .validator_url("none")
        .try_it_out_enabled(true)
        .persist_authorization(true)
        .display_request_duration(true)
        .filter(true);
    utoipa_swagger_ui::SwaggerUi::new("/api/docs").config(config).into()
}

/// The function's Router behind a fresh request holding only what API Gateway
/// passes on (method, URI, headers, body, and a request context with the
/// client's address): the local server's own routing state (its path
/// parameters) must not reach the function's extractors.
fn as_gateway_would_send(
    router: Router,
) -> impl tower::Service<
    axum::extract::Request,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |request: axum::extract::Request| {
        let router = router.clone();
        async move {
            let (parts, body) = request.into_parts();
            let mut fresh = axum::extract::Request::new(body);
            *fresh.method_mut() = parts.method;
            *fresh.uri_mut() = parts.uri;
            *fresh.version_mut() = parts.version;
            *fresh.headers_mut() = parts.headers;
            if let Some(context) = gateway_context(&parts.extensions) {
                fresh.extensions_mut().insert(context);
            }
            tower::ServiceExt::oneshot(router, fresh).await
        }
    })
}

/// The request context API Gateway gives a function, with the connection's peer
/// address (served with `into_make_service_with_connect_info`) as `sourceIp`.
fn gateway_context(extensions: &http::Extensions) -> Option<lambda_http::request::RequestContext> {
    let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
    let mut context = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(peer.ip().to_string());
    Some(lambda_http::request::RequestContext::ApiGatewayV2(context))
}

/// The API document of every function, merged. `/api/customers/` and
/// `/api/customers/history` are served by a different function per customer
/// type, so their descriptions are combined into one operation each that lists
/// every outcome; the customer router then adds what it answers itself.
pub fn openapi() -> OpenApi {
    let mut doc = items_router::openapi::openapi();
    doc.info.title = "Shop API".into();
    doc.info.description =
        Some("Every function of the shop behind one API Gateway. Errors are RFC 9457 problem details.".into());
    for part in [
        catalog::openapi::<book::Book>(),
        catalog::openapi::<laptop::Laptop>(),
        catalog::openapi::<mobile::Mobile>(),
        catalog::openapi::<clothes::Clothes>(),
        customer_router::openapi::openapi(),
        guest_customer::openapi::openapi(),
        registered_customer::openapi::openapi(),
        vip_customer::openapi(),
        cart::openapi(),
        order::openapi(),
        paying::openapi(),
        shipping::openapi(),
    ] {
        shared::openapi::merge_alternatives(&mut doc, part);
    }
    customer_router::openapi::describe_forwarding(&mut doc);
    doc
}
