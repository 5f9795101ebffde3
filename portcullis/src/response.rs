//! What actions return, and how it becomes an `http::Response`.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::cookie::SetCookie;

/// The body of an action's answer.
#[derive(Debug)]
pub(crate) enum Body {
    /// JSON bytes.
    Json(Vec<u8>),
    /// An HTML page.
    Html(String),
    /// A redirect to this absolute URL (or `{url}` JSON when the client asks for it).
    Redirect(String),
}

/// An action's answer before it becomes a response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Body,
    pub(crate) cookies: Vec<SetCookie>,
    /// `Cache-Control: private, no-cache, no-store` + `Expires: 0` + `Pragma: no-cache`.
    pub(crate) no_cache: bool,
    /// Answer without the CSRF / callback-url cookies (Auth.js v5's error answers carry none).
    pub(crate) bare: bool,
    /// `Retry-After`, for 503 answers.
    pub(crate) retry_after: Option<HeaderValue>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Self {
        Self {
            status,
            body: Body::Json(body),
            cookies: Vec::new(),
            no_cache: false,
            bare: false,
            retry_after: None,
        }
    }

    pub(crate) fn html(status: StatusCode, page: String) -> Self {
        Self {
            status,
            body: Body::Html(page),
            cookies: Vec::new(),
            no_cache: true,
            bare: false,
            retry_after: None,
        }
    }

    pub(crate) fn redirect(url: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FOUND,
            body: Body::Redirect(url.into()),
            cookies: Vec::new(),
            no_cache: false,
            bare: false,
            retry_after: None,
        }
    }

    pub(crate) fn no_cache(mut self) -> Self {
        self.no_cache = true;
        self
    }

    pub(crate) fn bare(mut self) -> Self {
        self.bare = true;
        self
    }

    pub(crate) fn with_cookies(mut self, cookies: Vec<SetCookie>) -> Self {
        self.cookies.extend(cookies);
        self
    }
}

/// `"Bad request."` with 400, as Auth.js answers unknown paths.
pub(crate) fn bad_request() -> Response<Bytes> {
    plain_json(StatusCode::BAD_REQUEST, b"\"Bad request.\"".to_vec())
}

pub(crate) fn plain_json(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    let mut res = Response::new(Bytes::from(body));
    *res.status_mut() = status;
    set_common(res.headers_mut());
    res.headers_mut().insert(header::CONTENT_TYPE, JSON);
    res
}

const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");

/// Headers on every response: no sniffing, no referrer leaks from auth pages.
fn set_common(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Builds the final response. `json_redirect` turns a redirect into `{url}`:
/// with status 200 in v5, keeping the reply's status in v4.
pub(crate) fn render(reply: Reply, json_redirect: bool, v4: bool) -> Response<Bytes> {
    // Room for the common, content, cache and a few cookie headers without regrowing.
    let mut headers = HeaderMap::with_capacity(16);
    set_common(&mut headers);
    let v4_json_status = reply.status_for_v4_json();
    let (status, body) = match reply.body {
        Body::Json(b) => {
            headers.insert(header::CONTENT_TYPE, JSON);
            (reply.status, Bytes::from(b))
        }
        Body::Html(page) => {
            headers.insert(header::CONTENT_TYPE, HTML);
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            (reply.status, Bytes::from(page))
        }
        Body::Redirect(url) => {
            if let Ok(v) = HeaderValue::from_str(&url) {
                headers.insert(header::LOCATION, v);
            }
            if json_redirect {
                headers.insert(header::CONTENT_TYPE, JSON);
                let body = serde_json::to_vec(&serde_json::json!({ "url": url }))
                    .unwrap_or_else(|_| b"{}".to_vec());
                let status = if v4 { v4_json_status } else { StatusCode::OK };
                (status, Bytes::from(body))
            } else if reply.status.is_redirection() {
                (reply.status, Bytes::new())
            } else {
                (StatusCode::FOUND, Bytes::new())
            }
        }
    };
    if let Some(v) = reply.retry_after {
        headers.insert(header::RETRY_AFTER, v);
    }
    if reply.no_cache {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache, no-store"),
        );
        headers.insert(header::EXPIRES, HeaderValue::from_static("0"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    for c in &reply.cookies {
        // `try_from(String)` keeps the buffer (no copy of a 500-byte token).
        if let Ok(v) = HeaderValue::try_from(c.to_header_value()) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

impl Reply {
    /// next-auth v4 answers `{url}` with the handler's status: 200 for a plain redirect,
    /// the error status (401 for bad credentials) otherwise.
    fn status_for_v4_json(&self) -> StatusCode {
        if self.status.is_redirection() {
            StatusCode::OK
        } else {
            self.status
        }
    }
}
