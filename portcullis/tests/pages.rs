//! The built-in pages: theme, words and headers (issue: built-in pages; SECURITY.md HTTP-11).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use portcullis::{
    Auth, AuthConfig, ColorScheme, Credentials, DefaultCallbacks, Messages, Theme, User,
};

fn auth(theme: Theme, messages: Messages) -> Auth {
    Auth::new(
        AuthConfig::builder(DefaultCallbacks)
            .secret("0123456789abcdef0123456789abcdef-pages")
            .url("https://app.example")
            .theme(theme)
            .messages(messages)
            .credentials(
                Credentials::new(|_f, _r| async { Ok(None::<User>) })
                    .field("username", "Email", "text")
                    .field("password", "Password", "password"),
            )
            .build()
            .unwrap(),
    )
}

async fn get(auth: &Auth, path: &str) -> (u16, http::HeaderMap, String) {
    let res = auth
        .handle(
            http::Request::get(format!("https://app.example/api/auth/{path}"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    let (parts, body) = res.into_parts();
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn theme_colours_logo_and_scheme_reach_every_page() {
    let theme = Theme::default()
        .brand_color("#0f766e")
        .unwrap()
        .button_text("#ffffff")
        .unwrap()
        .logo("/brand/logo.svg?v=\"1\"")
        .unwrap()
        .color_scheme(ColorScheme::Dark);
    let auth = auth(theme, Messages::default());
    for path in [
        "signin",
        "signout",
        "error?error=AccessDenied",
        "verify-request",
    ] {
        let (status, headers, body) = get(&auth, path).await;
        assert!(status < 500, "{path}");
        assert!(body.contains("--brand:#0f766e"), "{path}");
        assert!(body.contains("--button-text:#ffffff"), "{path}");
        assert!(body.contains("color-scheme:dark"), "{path}");
        assert!(
            !body.contains("prefers-color-scheme"),
            "{path}: dark, not auto"
        );
        assert!(
            body.contains("<img class=\"logo\" src=\"/brand/logo.svg?v=&quot;1&quot;\" alt=\"\">"),
            "{path}: the logo, escaped"
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(
            csp.contains("img-src 'self' https:"),
            "{path}: the logo may load"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    }
}

#[tokio::test]
async fn default_scheme_follows_the_browser() {
    let auth = auth(Theme::default(), Messages::default());
    let (_, _, body) = get(&auth, "signin").await;
    assert!(body.contains("@media (prefers-color-scheme:dark)"));
    assert!(body.contains("<html lang=\"en\">"));
    assert!(!body.contains("<img"), "no logo configured");
}

#[tokio::test]
async fn messages_translate_every_page() {
    let mut m = Messages::default();
    m.lang = "fr".into();
    m.sign_in_title = "Connexion".into();
    m.sign_in_with = "Se connecter avec {provider}".into();
    m.sign_out_question = "Voulez-vous vraiment vous déconnecter ?".into();
    m.access_denied_title = "Accès refusé".into();
    m.error_credentials = "Échec de la connexion <b>".into();
    let auth = auth(Theme::default(), m);
    let (_, _, body) = get(&auth, "signin?error=CredentialsSignin").await;
    assert!(body.contains("<html lang=\"fr\">"));
    assert!(body.contains("<h1>Connexion</h1>"));
    assert!(body.contains("Se connecter avec Credentials"));
    assert!(
        body.contains("Échec de la connexion &lt;b&gt;"),
        "messages are escaped too"
    );
    let (_, _, body) = get(&auth, "signout").await;
    assert!(body.contains("Voulez-vous vraiment vous déconnecter ?"));
    let (status, _, body) = get(&auth, "error?error=AccessDenied").await;
    assert_eq!(status, 403);
    assert!(body.contains("Accès refusé"));
}

#[tokio::test]
async fn sign_in_page_escapes_hostile_query_values() {
    let auth = auth(Theme::default(), Messages::default());
    let (status, _, body) = get(
        &auth,
        "signin?error=%3Cscript%3Ealert(1)%3C/script%3E&callbackUrl=%2F%22%3E%3Cscript%3E",
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body.contains("<script>"), "{body}");
    assert!(
        body.contains("Unable to sign in."),
        "unknown errors get the generic text"
    );
    // The form carries the CSRF token and the (escaped, same-origin) callback URL.
    assert!(body.contains("name=\"csrfToken\" value=\""));
    assert!(body.contains("name=\"callbackUrl\" value=\"https://app.example/%22%3E%3Cscript%3E\""));
}
