//! Authentication and cross-site request checks, as axum middleware in front of everything (the
//! JSON API, the server functions and the pages). It resolves who is asking (an
//! `Authorization: Bearer` API key, else the session cookie) and puts an
//! [`Authenticated`] into the request's extensions; the engine then decides what that caller may
//! do. It never logs a token or a key.

use crate::api::ApiError;
use app::domain::AppError;
use app::engine::access::{Authenticated, ClientIp};
use app::engine::auth::{pin_request_language, session_token_in};
use app::engine::Engine;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Resolves the caller and records the client IP. Static assets (`/pkg/…`) are served without a
/// lookup.
///
/// Answers 401 `invalid_api_key` for an unknown or revoked Bearer key (an integration must hear
/// that its key is wrong, not be treated as anonymous), 503 when the database cannot say.
pub async fn authenticate(
    State(engine): State<Engine>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let ip = ClientIp(peer.ip());
        request.extensions_mut().insert(ip);
    }
    if request.uri().path().starts_with("/pkg/") {
        return next.run(request).await;
    }
    let headers = request.headers();
    let resolved = if headers.contains_key(header::AUTHORIZATION) {
        match bearer(headers) {
            Some(key) => match engine.api_key_caller(key).await {
                Ok(Some(caller)) => Ok(Some(Authenticated { caller, me: None })),
                Ok(None) => Err(AppError::Denied {
                    status: 401,
                    code: "invalid_api_key".into(),
                    message: "this API key is unknown or revoked; ask the owner for a new one"
                        .into(),
                    problem: None,
                }),
                Err(error) => Err(error),
            },
            None => Err(AppError::Denied {
                status: 401,
                code: "invalid_api_key".into(),
                message: "send the API key as 'Authorization: Bearer pe_…'".into(),
                problem: None,
            }),
        }
    } else {
        let token = session_token_in(headers);
        match token {
            Some(token) => engine.session_caller(&token).await.map(|found| {
                found.map(|(caller, me)| Authenticated {
                    caller,
                    me: Some(me),
                })
            }),
            None => Ok(None),
        }
    };
    match resolved {
        Ok(Some(authenticated)) => {
            let stored = authenticated.me.as_ref().and_then(|me| me.language);
            pin_request_language(request.headers_mut(), stored);
            request.extensions_mut().insert(authenticated);
            next.run(request).await
        }
        Ok(None) => {
            pin_request_language(request.headers_mut(), None);
            next.run(request).await
        }
        Err(error) => ApiError(error).into_response(),
    }
}

/// The `scheme://host[:port]` of an `Origin` or `Referer` value.
fn origin_of(value: &str) -> Option<String> {
    let url = url::Url::parse(value).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// Refuses cross-site requests that change data (CSRF): a POST, PUT, PATCH or DELETE whose
/// `Origin` (else `Referer`) is not this site. A request with neither header is refused when it
/// carries the session cookie (a browser always sends `Origin` on such requests; a cookie
/// without it is not a browser we can check). Requests authenticated by a Bearer API key are
/// exempt: browsers never attach that header on their own. Together with the session cookie's
/// `SameSite=Lax` this is OWASP's "verifying origin with standard headers" defence.
pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    if safe || headers.contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let same_site = match (claimed, host) {
        (Some(claimed), Some(host)) => origin_of(claimed).is_some_and(|origin| {
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }),
        (Some(_), None) => false,
        (None, _) => session_token_in(headers).is_none(),
    };
    if same_site {
        return next.run(request).await;
    }
    tracing::warn!(
        origin = claimed.unwrap_or("-"),
        host = host.unwrap_or("-"),
        path = request.uri().path(),
        "refused a cross-site request"
    );
    ApiError(AppError::Denied {
        status: 403,
        code: "csrf_rejected".into(),
        message: "this request came from another site and was refused; use the app itself".into(),
        problem: None,
    })
    .into_response()
}

/// Sends a browser that is not signed in from any page to `/login?next=<that page>` before the
/// page renders (303), so no page is ever rendered for nobody. The JSON API, the server functions
/// (`/api/…`, which answer 401 themselves), static files and `/login` itself pass through.
pub async fn require_sign_in_for_pages(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let is_page = request.method() == Method::GET
        && wants_html
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && path != "/healthz"
        && path != "/login";
    if is_page && request.extensions().get::<Authenticated>().is_none() {
        let target = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let next: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
        return axum::response::Redirect::to(&format!("/login?next={next}")).into_response();
    }
    next.run(request).await
}
