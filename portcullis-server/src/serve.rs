//! `portcullis serve`: the auth routes, health checks, the demo pages, the middleware.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use portcullis::{Auth, ClientIp};
use portcullis_axum::{AuthRouterExt, RequireAuthLayer, Session};
use serde_json::Value;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Cidr;
use crate::stores::Stores;

/// The largest request body accepted.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;
/// How long one request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole application.
pub(crate) fn app(auth: Auth, stores: Stores, proxies: Arc<Vec<Cidr>>) -> Router {
    let pages = Router::new()
        .route("/", get(home))
        .route(
            "/protected",
            get(protected).route_layer(RequireAuthLayer::redirect_to_sign_in()),
        )
        .with_auth(auth);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz).with_state(stores))
        .merge(pages)
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(proxies, forwarded))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
}

/// Serves `GET /metrics` (the Prometheus text format) on its own listener until the
/// process ends.
pub(crate) async fn metrics(listener: tokio::net::TcpListener, auth: Auth) {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let auth = auth.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    auth.metrics().render_prometheus(),
                )
            }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}

async fn readyz(State(stores): State<Stores>) -> Response {
    match stores.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %crate::stores::chain(&e), "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Security headers on every response that does not set its own (HTTP-11).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    res
}

/// `X-Forwarded-*` only from trusted proxies: from any other peer they are removed before
/// portcullis sees them (so `AUTH_TRUST_HOST=true` is safe: the host and scheme it trusts
/// came from a proxy). The client IP is the peer, or — from a trusted proxy — the
/// right-most `X-Forwarded-For` hop that is not itself a trusted proxy.
async fn forwarded(
    State(proxies): State<Arc<Vec<Cidr>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = |ip: IpAddr| proxies.iter().any(|c| c.contains(ip));
    let client = match peer {
        Some(p) if trusted(p) => {
            let hops: Vec<IpAddr> = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse().ok())
                .collect();
            Some(hops.into_iter().rev().find(|ip| !trusted(*ip)).unwrap_or(p))
        }
        other => {
            for name in [
                "x-forwarded-for",
                "x-forwarded-host",
                "x-forwarded-proto",
                "forwarded",
            ] {
                req.headers_mut().remove(name);
            }
            other
        }
    };
    if let Some(ip) = client {
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}\
         pre{{background:#f4f4f4;padding:1rem;overflow:auto}}</style></head><body>{body}</body></html>",
        escape(title)
    ))
}

async fn home(session: Option<Session<Value>>) -> Html<String> {
    let body = match session {
        Some(Session(s)) => {
            let who = s["user"]["email"]
                .as_str()
                .or_else(|| s["user"]["name"].as_str())
                .unwrap_or("?");
            let json = serde_json::to_string_pretty(&s).unwrap_or_default();
            format!(
                "<h1>portcullis</h1><p id=\"state\">Signed in as <strong>{}</strong>.</p>\
                 <h2>Session</h2><pre id=\"session\">{}</pre>\
                 <p><a href=\"/protected\">Protected page</a> · <a href=\"/api/auth/signout\">Sign out</a></p>",
                escape(who),
                escape(&json)
            )
        }
        None => "<h1>portcullis</h1><p id=\"state\">Not signed in.</p>\
                 <p><a href=\"/api/auth/signin\">Sign in</a> · <a href=\"/protected\">Protected page</a></p>\
                 <p>Add a user with <code>portcullis users add EMAIL</code>.</p>"
            .to_owned(),
    };
    page("portcullis", &body)
}

async fn protected(Session(s): Session<Value>) -> Html<String> {
    let json = serde_json::to_string_pretty(&s).unwrap_or_default();
    page(
        "Protected",
        &format!(
            "<h1>Protected page</h1><pre id=\"session\">{}</pre><p><a href=\"/\">Home</a></p>",
            escape(&json)
        ),
    )
}

/// Resolves on SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing open requests");
}

/// How long a client may take to send a complete request head (SECURITY.md HTTP-06).
pub(crate) const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long in-flight connections get to finish after SIGTERM/SIGINT.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Accepts connections until a shutdown signal, serving HTTP/1 and HTTP/2 with a
/// header-read timeout, the peer address as `ConnectInfo`, and a graceful drain.
pub(crate) async fn run(listener: tokio::net::TcpListener, app: axum::Router) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = app
            .clone()
            .map_request(move |mut req: axum::extract::Request<_>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            });
        let conn = builder.serve_connection_with_upgrades(
            TokioIo::new(stream),
            TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tracing::info!("shutting down: draining connections");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout");
    }
}
