//! The built-in HTML pages: sign-in, sign-out, error and verify-request. Deliberately plain;
//! every interpolated value is HTML-escaped. Themable pages come with the server.

use std::fmt::Write as _;

use http::StatusCode;

use crate::Compat;
use crate::provider::ProviderKind;
use crate::request::Ctx;
use crate::response::Reply;

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>body{{font-family:system-ui,sans-serif;display:flex;justify-content:center;padding:3rem 1rem;background:#f6f6f7}}main{{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;min-width:18rem;max-width:24rem}}label,input,button{{display:block;width:100%;box-sizing:border-box}}input{{margin:.25rem 0 1rem;padding:.5rem}}button{{padding:.6rem;cursor:pointer}}.error{{background:#fdecea;color:#611a15;padding:.75rem;border-radius:4px;margin-bottom:1rem}}</style></head><body><main>{}</main></body></html>",
        escape(title),
        body
    )
}

/// An absolute URL for a configured page path (`/login` → `{origin}/login`).
pub(crate) fn page_url(ctx: &Ctx<'_>, path: &str) -> String {
    if path.starts_with('/') {
        format!("{}{}", ctx.origin.as_str().trim_end_matches('/'), path)
    } else {
        path.to_owned()
    }
}

pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&crate::cookie::encode_value(v));
        sep = '&';
    }
    out
}

/// The message the sign-in page shows for `?error=`.
fn signin_message(error: &str) -> &'static str {
    match error {
        "OAuthAccountNotLinked" => {
            "To confirm your identity, sign in with the same account you used originally."
        }
        "CredentialsSignin" => "Sign in failed. Check the details you provided are correct.",
        "EmailSignin" => "The e-mail could not be sent.",
        "SessionRequired" => "Please sign in to access this page.",
        "Signin" | "OAuthSignin" | "OAuthCallbackError" | "OAuthCreateAccount"
        | "EmailCreateAccount" | "Callback" => "Try signing in with a different account.",
        _ => "Unable to sign in.",
    }
}

/// `GET /signin`.
pub(crate) fn signin(ctx: &Ctx<'_>) -> Reply {
    let callback = ctx.callback_url.as_str();
    let error = ctx.query_str("error");
    if let Some(custom) = &ctx.cfg.pages.sign_in {
        let mut q = vec![("callbackUrl", callback)];
        if let Some(e) = error {
            q.push(("error", e));
        }
        return Reply::redirect(with_query(&page_url(ctx, custom), &q));
    }
    let base = ctx.base_url();
    let mut body = String::from("<h1>Sign in</h1>");
    if let Some(e) = error {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(signin_message(e))
        );
    }
    for p in &ctx.cfg.providers {
        let ProviderKind::Credentials { fields, .. } = &p.kind;
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrfToken\" value=\"{}\"><input type=\"hidden\" name=\"callbackUrl\" value=\"{}\">",
            escape(&format!("{base}/callback/{}", p.id)),
            escape(&ctx.csrf.token),
            escape(callback)
        );
        for f in fields {
            let id = format!("input-{}-for-{}-provider", f.name, p.id);
            let _ = write!(
                body,
                "<label for=\"{id}\">{}</label><input id=\"{id}\" name=\"{}\" type=\"{}\" required>",
                escape(&f.label),
                escape(&f.name),
                escape(&f.input_type),
                id = escape(&id)
            );
        }
        let _ = write!(
            body,
            "<button type=\"submit\">Sign in with {}</button></form>",
            escape(&p.name)
        );
    }
    Reply::html(StatusCode::OK, page("Sign In", &body))
}

/// `GET /signout`: a confirmation form (a GET never signs out: SECURITY.md CSRF-10).
pub(crate) fn signout(ctx: &Ctx<'_>) -> Reply {
    if let Some(custom) = &ctx.cfg.pages.sign_out {
        return Reply::redirect(page_url(ctx, custom));
    }
    let body = format!(
        "<h1>Sign out</h1><p>Are you sure you want to sign out?</p><form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrfToken\" value=\"{}\"><input type=\"hidden\" name=\"callbackUrl\" value=\"{}\"><button type=\"submit\">Sign out</button></form>",
        escape(&format!("{}/signout", ctx.base_url())),
        escape(&ctx.csrf.token),
        escape(ctx.callback_url.as_str())
    );
    Reply::html(StatusCode::OK, page("Sign Out", &body))
}

/// next-auth v4 sends these error codes from `/error` on to the sign-in page.
const V4_SIGNIN_ERRORS: &[&str] = &[
    "Signin",
    "OAuthSignin",
    "OAuthCallback",
    "OAuthCreateAccount",
    "EmailCreateAccount",
    "Callback",
    "OAuthAccountNotLinked",
    "EmailSignin",
    "CredentialsSignin",
    "SessionRequired",
];

/// `GET /error?error=<type>`: status 500 / 403 / 403 / 200 by type.
pub(crate) fn error(ctx: &Ctx<'_>) -> Reply {
    let error = ctx.query_str("error").unwrap_or_default();
    if ctx.cfg.compat == Compat::V4 && V4_SIGNIN_ERRORS.contains(&error) {
        return Reply::redirect(with_query(
            &format!("{}/signin", ctx.base_url()),
            &[("error", error)],
        ));
    }
    if let Some(custom) = &ctx.cfg.pages.error {
        return Reply::redirect(with_query(&page_url(ctx, custom), &[("error", error)]));
    }
    error_page(ctx, error)
}

/// The built-in error page for an error type.
pub(crate) fn error_page(ctx: &Ctx<'_>, error: &str) -> Reply {
    let origin = ctx.origin.as_str();
    let signin = format!("{}/signin", ctx.base_url());
    let (status, title, body) = match error {
        "Configuration" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Server error",
            "<p>There is a problem with the server configuration.</p><p>Check the server logs for more information.</p>".to_owned(),
        ),
        "AccessDenied" => (
            StatusCode::FORBIDDEN,
            "Access Denied",
            format!("<p>You do not have permission to sign in.</p><p><a href=\"{}\">Sign in</a></p>", escape(&signin)),
        ),
        "Verification" => (
            StatusCode::FORBIDDEN,
            "Unable to sign in",
            format!("<p>The sign in link is no longer valid.</p><p>It may have been used already or it may have expired.</p><p><a href=\"{}\">Sign in</a></p>", escape(&signin)),
        ),
        _ => (
            StatusCode::OK,
            "Error",
            format!("<p><a href=\"{}\">{}</a></p>", escape(origin), escape(ctx.origin.host_str().unwrap_or_default())),
        ),
    };
    Reply::html(
        status,
        page(title, &format!("<h1>{}</h1>{body}", escape(title))),
    )
}

/// `GET /verify-request`: "check your email".
pub(crate) fn verify_request(ctx: &Ctx<'_>) -> Reply {
    let body = format!(
        "<h1>Check your email</h1><p>A sign in link has been sent to your email address.</p><p><a href=\"{}\">{}</a></p>",
        escape(ctx.origin.as_str()),
        escape(ctx.origin.host_str().unwrap_or_default())
    );
    Reply::html(StatusCode::OK, page("Verify Request", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_html_metacharacters() {
        assert_eq!(
            escape(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            with_query("https://a/e", &[("error", "a&b=c")]),
            "https://a/e?error=a%26b%3Dc"
        );
        assert_eq!(
            with_query("https://a/e?x=1", &[("error", "E")]),
            "https://a/e?x=1&error=E"
        );
    }
}
