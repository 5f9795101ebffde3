//! The look and the words of the built-in pages: [`Theme`] (Auth.js `theme`) and
//! [`Messages`] (every sentence in one place, so a translation is one struct).

/// Light, dark, or following the browser (Auth.js `colorScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorScheme {
    /// Follow `prefers-color-scheme`.
    #[default]
    Auto,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// How the built-in pages look (Auth.js `theme`).
///
/// # Examples
/// ```
/// use portcullis::{ColorScheme, Theme};
/// let t = Theme::default()
///     .brand_color("#0f766e").unwrap()
///     .logo("/logo.svg").unwrap()
///     .color_scheme(ColorScheme::Dark);
/// assert!(Theme::default().brand_color("red;}body{display:none").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Theme {
    pub(crate) color_scheme: ColorScheme,
    pub(crate) brand_color: Option<String>,
    pub(crate) button_text: Option<String>,
    pub(crate) logo: Option<String>,
}

/// A theme value that could break out of its context (CSS or an attribute).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ThemeError(String);

fn hex_color(value: &str, what: &str) -> Result<String, ThemeError> {
    let digits = value.strip_prefix('#').unwrap_or_default();
    if matches!(digits.len(), 3 | 6) && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(ThemeError(format!(
            "theme {what}: `{value}` is not a #rgb or #rrggbb colour"
        )))
    }
}

impl Theme {
    /// Light, dark or auto.
    pub fn color_scheme(mut self, scheme: ColorScheme) -> Self {
        self.color_scheme = scheme;
        self
    }

    /// The accent colour (buttons, links), as `#rgb` or `#rrggbb`.
    ///
    /// # Errors
    /// Anything else, so no CSS can be injected through configuration.
    pub fn brand_color(mut self, color: &str) -> Result<Self, ThemeError> {
        self.brand_color = Some(hex_color(color, "brand colour")?);
        Ok(self)
    }

    /// The text colour on buttons, as `#rgb` or `#rrggbb`.
    ///
    /// # Errors
    /// As [`brand_color`](Self::brand_color).
    pub fn button_text(mut self, color: &str) -> Result<Self, ThemeError> {
        self.button_text = Some(hex_color(color, "button text colour")?);
        Ok(self)
    }

    /// A logo shown above each page: an `https://` URL or a path on this origin.
    ///
    /// # Errors
    /// Other schemes (`http:`, `javascript:`, `data:`…) or an unparseable URL.
    pub fn logo(mut self, url: &str) -> Result<Self, ThemeError> {
        let ok = if url.starts_with('/') && !url.starts_with("//") {
            true
        } else {
            url::Url::parse(url).is_ok_and(|u| u.scheme() == "https")
        };
        if !ok || url.len() > 2048 {
            return Err(ThemeError(format!(
                "theme logo: `{url}` must be an https URL or a path starting with `/`"
            )));
        }
        self.logo = Some(url.to_owned());
        Ok(self)
    }

    /// The page's `<style>`: light and dark palettes chosen by the scheme.
    pub(crate) fn css(&self) -> String {
        const LIGHT: &str = "--bg:#f6f6f7;--card:#fff;--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;--err-bg:#fdecea;--err-fg:#611a15;";
        const DARK: &str = "--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--muted:#9198a1;--border:#3d444d;--err-bg:#3c1618;--err-fg:#ffb3b0;";
        let brand = self.brand_color.as_deref().unwrap_or("#346df1");
        let button = self.button_text.as_deref().unwrap_or("#fff");
        let palette = match self.color_scheme {
            ColorScheme::Light => format!(":root{{color-scheme:light;{LIGHT}}}"),
            ColorScheme::Dark => format!(":root{{color-scheme:dark;{DARK}}}"),
            ColorScheme::Auto => format!(
                ":root{{color-scheme:light dark;{LIGHT}}}@media (prefers-color-scheme:dark){{:root{{{DARK}}}}}"
            ),
        };
        format!(
            "{palette}:root{{--brand:{brand};--button-text:{button}}}\
body{{font-family:system-ui,-apple-system,sans-serif;display:flex;justify-content:center;margin:0;padding:3rem 1rem;background:var(--bg);color:var(--fg)}}\
main{{background:var(--card);padding:2rem;border-radius:8px;border:1px solid var(--border);min-width:18rem;max-width:24rem;width:100%}}\
.logo{{display:block;max-height:4rem;max-width:12rem;margin:0 auto 1.5rem}}\
h1{{font-size:1.4rem;margin:0 0 1rem}}p{{color:var(--muted)}}a{{color:var(--brand)}}\
label,input,button{{display:block;width:100%;box-sizing:border-box}}label{{font-size:.9rem}}\
input{{margin:.25rem 0 1rem;padding:.55rem;border:1px solid var(--border);border-radius:4px;background:var(--bg);color:var(--fg)}}\
button{{padding:.65rem;cursor:pointer;border:0;border-radius:4px;background:var(--brand);color:var(--button-text);font-size:1rem}}\
form+form{{margin-top:1.5rem;padding-top:1.5rem;border-top:1px solid var(--border)}}\
.error{{background:var(--err-bg);color:var(--err-fg);padding:.75rem;border-radius:4px;margin-bottom:1rem}}"
        )
    }
}

/// Every sentence of the built-in pages. [`Messages::default`] is English; a translation
/// replaces the fields (`{provider}` in `sign_in_with` is replaced by the provider name).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // each field's name says which sentence it is
pub struct Messages {
    pub lang: String,
    pub sign_in_title: String,
    pub sign_in_with: String,
    pub email_label: String,
    pub sign_out_title: String,
    pub sign_out_question: String,
    pub sign_out_button: String,
    pub server_error_title: String,
    pub server_error_body: String,
    pub access_denied_title: String,
    pub access_denied_body: String,
    pub verification_title: String,
    pub verification_body: String,
    pub error_title: String,
    pub sign_in_link: String,
    pub verify_request_title: String,
    pub verify_request_body: String,
    pub error_account_not_linked: String,
    pub error_credentials: String,
    pub error_email_send: String,
    pub error_session_required: String,
    pub error_try_other_account: String,
    pub error_default: String,
}

impl Default for Messages {
    fn default() -> Self {
        let s = str::to_owned;
        Self {
            lang: s("en"),
            sign_in_title: s("Sign in"),
            sign_in_with: s("Sign in with {provider}"),
            email_label: s("Email"),
            sign_out_title: s("Sign out"),
            sign_out_question: s("Are you sure you want to sign out?"),
            sign_out_button: s("Sign out"),
            server_error_title: s("Server error"),
            server_error_body: s(
                "There is a problem with the server configuration. Check the server logs for more information.",
            ),
            access_denied_title: s("Access Denied"),
            access_denied_body: s("You do not have permission to sign in."),
            verification_title: s("Unable to sign in"),
            verification_body: s(
                "The sign in link is no longer valid. It may have been used already or it may have expired.",
            ),
            error_title: s("Error"),
            sign_in_link: s("Sign in"),
            verify_request_title: s("Check your email"),
            verify_request_body: s("A sign in link has been sent to your email address."),
            error_account_not_linked: s(
                "To confirm your identity, sign in with the same account you used originally.",
            ),
            error_credentials: s("Sign in failed. Check the details you provided are correct."),
            error_email_send: s("The e-mail could not be sent."),
            error_session_required: s("Please sign in to access this page."),
            error_try_other_account: s("Try signing in with a different account."),
            error_default: s("Unable to sign in."),
        }
    }
}

impl Messages {
    /// The sign-in page's message for `?error=` (Auth.js's table).
    pub(crate) fn sign_in_error(&self, error: &str) -> &str {
        match error {
            "OAuthAccountNotLinked" => &self.error_account_not_linked,
            "CredentialsSignin" => &self.error_credentials,
            "EmailSignin" => &self.error_email_send,
            "SessionRequired" => &self.error_session_required,
            "Signin" | "OAuthSignin" | "OAuthCallbackError" | "OAuthCreateAccount"
            | "EmailCreateAccount" | "Callback" => &self.error_try_other_account,
            _ => &self.error_default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_must_be_hex() {
        for ok in ["#fff", "#0F766E", "#123456"] {
            assert!(Theme::default().brand_color(ok).is_ok(), "{ok}");
        }
        for bad in [
            "red",
            "#ff",
            "#1234567",
            "#ggg",
            "#fff;}",
            "",
            "rgb(1,2,3)",
            "#fff\"><script>",
        ] {
            assert!(Theme::default().brand_color(bad).is_err(), "{bad}");
            assert!(Theme::default().button_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logos_must_be_https_or_local() {
        for ok in ["/logo.svg", "https://cdn.example/logo.png"] {
            assert!(Theme::default().logo(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://x/logo.png",
            "javascript:alert(1)",
            "data:image/png;base64,AA",
            "//evil.example/x.png",
            "logo.png",
        ] {
            assert!(Theme::default().logo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schemes_pick_palettes() {
        let auto = Theme::default().css();
        assert!(auto.contains("prefers-color-scheme:dark"));
        let dark = Theme::default().color_scheme(ColorScheme::Dark).css();
        assert!(!dark.contains("prefers-color-scheme") && dark.contains("color-scheme:dark"));
        let brand = Theme::default().brand_color("#0f766e").unwrap().css();
        assert!(brand.contains("--brand:#0f766e"));
    }

    #[test]
    fn sign_in_errors_follow_auth_js() {
        let m = Messages::default();
        assert_eq!(
            m.sign_in_error("CredentialsSignin"),
            "Sign in failed. Check the details you provided are correct."
        );
        assert_eq!(
            m.sign_in_error("OAuthCallbackError"),
            "Try signing in with a different account."
        );
        assert_eq!(m.sign_in_error("<script>"), "Unable to sign in.");
    }
}
