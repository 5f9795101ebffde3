//! The built-in HTML pages: sign-in, sign-out, error and verify-request, themed by
//! [`Theme`](crate::Theme) and worded by [`Messages`](crate::Messages). Every interpolated
//! value is HTML-escaped; theme values are validated when configured.

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

/// A whole page: theme CSS, optional logo, the body in a card.
pub(crate) fn page(ctx: &Ctx<'_>, title: &str, body: &str) -> String {
    let theme = &ctx.cfg.theme;
    let logo = theme.logo.as_deref().map_or_else(String::new, |src| {
        format!("<img class=\"logo\" src=\"{}\" alt=\"\">", escape(src))
    });
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{}</style></head><body><main>{logo}{}</main></body></html>",
        escape(&ctx.cfg.messages.lang),
        escape(title),
        theme.css(),
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
    let m = &ctx.cfg.messages;
    let mut body = format!("<h1>{}</h1>", escape(&m.sign_in_title));
    if let Some(e) = error {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(m.sign_in_error(e))
        );
    }
    for p in &ctx.cfg.providers {
        let fields = match &p.kind {
            ProviderKind::Credentials { fields, .. } => fields,
            #[cfg(feature = "oauth")]
            ProviderKind::OAuth(_) => {
                // A redirect provider: one button posting to `/signin/:id`.
                let _ = write!(
                    body,
                    "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrfToken\" value=\"{}\"><input type=\"hidden\" name=\"callbackUrl\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                    escape(&format!("{base}/signin/{}", p.id)),
                    escape(&ctx.csrf.token),
                    escape(callback),
                    escape(&m.sign_in_with.replace("{provider}", &p.name))
                );
                continue;
            }
            #[cfg(all(feature = "email", feature = "password"))]
            ProviderKind::Password(pw) => {
                // Email + password, with the reset and sign-up links when they exist.
                let _ = write!(
                    body,
                    "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrfToken\" value=\"{}\"><input type=\"hidden\" name=\"callbackUrl\" value=\"{}\"><label for=\"input-email-for-{id}-provider\">{}</label><input id=\"input-email-for-{id}-provider\" name=\"email\" type=\"email\" autocomplete=\"username\" required><label for=\"input-password-for-{id}-provider\">Password</label><input id=\"input-password-for-{id}-provider\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required><button type=\"submit\">{}</button></form>",
                    escape(&format!("{base}/callback/{}", p.id)),
                    escape(&ctx.csrf.token),
                    escape(callback),
                    escape(&m.email_label),
                    escape(&m.sign_in_with.replace("{provider}", &p.name)),
                    id = escape(&p.id)
                );
                if pw.sender.is_some() {
                    let _ = write!(
                        body,
                        "<p><a href=\"{}\">Forgot your password?</a></p>",
                        escape(&with_query(
                            &format!("{base}/forgot-password"),
                            &[("callbackUrl", callback)]
                        ))
                    );
                }
                if pw.sign_up && pw.sender.is_some() {
                    let _ = write!(
                        body,
                        "<p><a href=\"{}\">Create an account</a></p>",
                        escape(&with_query(
                            &format!("{base}/signup"),
                            &[("callbackUrl", callback)]
                        ))
                    );
                }
                continue;
            }
            #[cfg(feature = "email")]
            ProviderKind::Email(_) => {
                // An email provider: one address field posting to `/signin/:id`.
                let id = format!("input-email-for-{}-provider", p.id);
                let _ = write!(
                    body,
                    "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrfToken\" value=\"{}\"><input type=\"hidden\" name=\"callbackUrl\" value=\"{}\"><label for=\"{id}\">{}</label><input id=\"{id}\" name=\"email\" type=\"email\" autocomplete=\"email\" required><button type=\"submit\">{}</button></form>",
                    escape(&format!("{base}/signin/{}", p.id)),
                    escape(&ctx.csrf.token),
                    escape(callback),
                    escape(&m.email_label),
                    escape(&m.sign_in_with.replace("{provider}", &p.name)),
                    id = escape(&id)
                );
                continue;
            }
        };
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
            "<button type=\"submit\">{}</button></form>",
            escape(&m.sign_in_with.replace("{provider}", &p.name))
        );
    }
    Reply::html(StatusCode::OK, page(ctx, &m.sign_in_title, &body))
}

/// `GET /signout`: a confirmation form (a GET never signs out: SECURITY.md CSRF-10).
pub(crate) fn signout(ctx: &Ctx<'_>) -> Reply {
    if let Some(custom) = &ctx.cfg.pages.sign_out {
        return Reply::redirect(page_url(ctx, custom));
    }
    let m = &ctx.cfg.messages;
    let body = format!(
        "<h1>{}</h1><p>{}</p><form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrfToken\" value=\"{}\"><input type=\"hidden\" name=\"callbackUrl\" value=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(&m.sign_out_title),
        escape(&m.sign_out_question),
        escape(&format!("{}/signout", ctx.base_url())),
        escape(&ctx.csrf.token),
        escape(ctx.callback_url.as_str()),
        escape(&m.sign_out_button)
    );
    Reply::html(StatusCode::OK, page(ctx, &m.sign_out_title, &body))
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
    let m = &ctx.cfg.messages;
    let origin = ctx.origin.as_str();
    let signin = format!(
        "<p><a href=\"{}\">{}</a></p>",
        escape(&format!("{}/signin", ctx.base_url())),
        escape(&m.sign_in_link)
    );
    let (status, title, body) = match error {
        "Configuration" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            &m.server_error_title,
            format!("<p>{}</p>", escape(&m.server_error_body)),
        ),
        "AccessDenied" => (
            StatusCode::FORBIDDEN,
            &m.access_denied_title,
            format!("<p>{}</p>{signin}", escape(&m.access_denied_body)),
        ),
        "Verification" => (
            StatusCode::FORBIDDEN,
            &m.verification_title,
            format!("<p>{}</p>{signin}", escape(&m.verification_body)),
        ),
        _ => (
            StatusCode::OK,
            &m.error_title,
            format!(
                "<p><a href=\"{}\">{}</a></p>",
                escape(origin),
                escape(ctx.origin.host_str().unwrap_or_default())
            ),
        ),
    };
    Reply::html(
        status,
        page(ctx, title, &format!("<h1>{}</h1>{body}", escape(title))),
    )
}

/// `GET /verify-request`: "check your email".
pub(crate) fn verify_request(ctx: &Ctx<'_>) -> Reply {
    let m = &ctx.cfg.messages;
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><a href=\"{}\">{}</a></p>",
        escape(&m.verify_request_title),
        escape(&m.verify_request_body),
        escape(ctx.origin.as_str()),
        escape(ctx.origin.host_str().unwrap_or_default())
    );
    Reply::html(StatusCode::OK, page(ctx, &m.verify_request_title, &body))
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
