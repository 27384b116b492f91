//! The HTTP client the AWS SDK clients here use (Lambda Invoke, DynamoDB).
//!
//! The SDKs' default client speaks HTTP/1.1 and HTTP/2 over aws-lc; these
//! functions only ever send small, whole request bodies to one endpoint, so
//! this one is hyper's HTTP/1.1 client over rustls on ring, the crypto library
//! every binary already has for TLS and tokens. That keeps h2 and a second
//! crypto library out of each zip (the routers' budget is 4 MB).
//!
//! - TCP_NODELAY is on: without it every Invoke could wait ~40 ms on delayed ACKs.
//! - Connect and read timeouts come from the SDK client's timeout settings.
//! - Only failures to connect are reported as retryable I/O errors. A request
//!   that may have reached the service is not retried by the SDK: an Invoke
//!   sent twice runs the function twice.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response as SmithyResponse;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

type Hyper = Client<HttpsConnector<TcpConnector>, Full<Bytes>>;

/// An HTTP client for an SDK client's config (`.http_client(...)`); each SDK
/// client should get its own, built once and reused.
pub fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(Http1Client::default())
}

#[derive(Debug, Default)]
struct Http1Client {
    /// Built on first use with the SDK client's connect timeout, then shared by every call.
    hyper: OnceLock<Arc<Result<Hyper, String>>>,
}

impl HttpClient for Http1Client {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        let hyper = self.hyper.get_or_init(|| Arc::new(build(settings.connect_timeout()))).clone();
        SharedHttpConnector::new(Http1Connector { hyper, read_timeout: settings.read_timeout() })
    }
}

fn build(connect_timeout: Option<Duration>) -> Result<Hyper, String> {
    let mut tcp = TcpConnector::new();
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(connect_timeout);
    tcp.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("no TLS root certificates could be loaded: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new()).timer(TokioTimer::new()).build(https))
}

#[derive(Debug)]
struct Http1Connector {
    hyper: Arc<Result<Hyper, String>>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (hyper, read_timeout) = (self.hyper.clone(), self.read_timeout);
        HttpConnectorFuture::new(async move {
            let hyper = hyper.as_ref().as_ref().map_err(|why| ConnectorError::other(why.clone().into(), None))?;
            let request = request.try_into_http1x().map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            // The SDK's bodies here are in memory (Invoke payloads, DynamoDB JSON).
            let body = body
                .bytes()
                .map(Bytes::copy_from_slice)
                .ok_or_else(|| ConnectorError::user("streaming request bodies are not supported".into()))?;
            let exchange = async {
                let response = hyper.request(http::Request::from_parts(parts, Full::new(body))).await.map_err(|e| {
                    if e.is_connect() { ConnectorError::io(e.into()) } else { ConnectorError::other(e.into(), None) }
                })?;
                let (parts, body) = response.into_parts();
                let bytes = body.collect().await.map_err(|e| ConnectorError::other(e.into(), None))?.to_bytes();
                Ok::<_, ConnectorError>(http::Response::from_parts(parts, SdkBody::from(bytes)))
            };
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, exchange)
                    .await
                    .map_err(|_| ConnectorError::timeout(format!("no response within {limit:?}").into()))??,
                None => exchange.await?,
            };
            SmithyResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}
