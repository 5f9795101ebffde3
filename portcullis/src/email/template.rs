//! The subject, plain-text body and HTML body of each message, after Auth.js's magic-link
//! email (`@auth/core/providers/nodemailer`: a heading naming the site, one big button, a
//! line saying the mail can be ignored).
//!
//! Only server values are interpolated: the site's host, the link portcullis built, the
//! link's lifetime and the validated theme colours. Nothing a client typed (not even the
//! address the mail goes to) appears in a message, so a crafted "email address" cannot
//! turn the site's own mailer into a phishing tool (CVE-2022-31127, SECURITY.md EML-10).
//! In the HTML every value is escaped for both text and double-quoted attribute context;
//! in the subject and text body control characters are removed from the host, so it can
//! never start a new header or line.
//!
//! Of the [`Theme`], the messages use the brand and button-text colours. The logo and the
//! colour scheme are left out: many mail clients block remote images, a logo given as a
//! path has no origin in a mail, and dark-mode styling in mail clients is unreliable, so
//! the messages are always light (as Auth.js's are).

use url::Url;

use super::EmailKind;
use crate::action::pages::escape;
use crate::theme::Theme;

/// Auth.js's default brand colour (buttons).
const DEFAULT_BRAND: &str = "#346df1";
/// Auth.js's default button text colour.
const DEFAULT_BUTTON_TEXT: &str = "#fff";
const FONT: &str = "Helvetica, Arial, sans-serif";
const TEXT_COLOR: &str = "#444";

/// A rendered message body.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

/// The fixed words of one kind of message.
struct Words {
    /// Heading and subject, before the host ("Sign in to").
    lead: &'static str,
    /// The button's label.
    button: &'static str,
    /// The closing line.
    ignore: &'static str,
}

fn words(kind: EmailKind) -> Words {
    match kind {
        EmailKind::SignIn => Words {
            lead: "Sign in to",
            button: "Sign in",
            ignore: "If you did not request this email you can safely ignore it.",
        },
        EmailKind::VerifyEmail => Words {
            lead: "Confirm your email address for",
            button: "Confirm email address",
            ignore: "If you did not request this email you can safely ignore it.",
        },
        EmailKind::PasswordReset => Words {
            lead: "Reset your password for",
            button: "Reset password",
            ignore: "If you did not request this email you can safely ignore it: \
                     your password stays unchanged.",
        },
    }
}

/// Renders the message of `kind` with its link.
///
/// `host` is the site's host (from the configured URL) and `valid_for` how long the link
/// works; `theme` supplies the button colours.
pub(crate) fn render(
    kind: EmailKind,
    url: &Url,
    host: &str,
    valid_for: time::Duration,
    theme: &Theme,
) -> Rendered {
    let w = words(kind);
    let host = strip_controls(host);
    let expiry = format!(
        "This link expires in {} and can be used once.",
        lifetime(valid_for)
    );
    let subject = format!("{} {host}", w.lead);
    let text = format!("{subject}\n\n{url}\n\n{expiry}\n{}\n", w.ignore);
    let html = html(&w, url, &host, &expiry, theme);
    Rendered {
        subject,
        text,
        html,
    }
}

fn html(w: &Words, url: &Url, host: &str, expiry: &str, theme: &Theme) -> String {
    let brand = escape(theme.brand_color.as_deref().unwrap_or(DEFAULT_BRAND));
    let button_text = escape(theme.button_text.as_deref().unwrap_or(DEFAULT_BUTTON_TEXT));
    let title = escape(&format!("{} {host}", w.lead));
    // A zero-width space before each dot stops mail clients from turning the host into a
    // link of their own (as Auth.js does); the host is escaped first, so this adds no markup.
    let shown_host = escape(host).replace('.', "&#8203;.");
    let href = escape(url.as_str());
    let lead = escape(w.lead);
    let button = escape(w.button);
    let expiry = escape(expiry);
    let ignore = escape(w.ignore);
    format!(
        "<!DOCTYPE html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<meta name=\"color-scheme\" content=\"light\">
<title>{title}</title>
</head>
<body style=\"margin: 0; padding: 20px 0; background: #f9f9f9;\">
<table role=\"presentation\" width=\"100%\" border=\"0\" cellspacing=\"20\" cellpadding=\"0\" style=\"background: #fff; max-width: 600px; margin: auto; border-radius: 10px;\">
<tr>
<td align=\"center\" style=\"padding: 10px 0px; font-size: 22px; font-family: {FONT}; color: {TEXT_COLOR};\">{lead} <strong>{shown_host}</strong></td>
</tr>
<tr>
<td align=\"center\" style=\"padding: 20px 0;\">
<table role=\"presentation\" border=\"0\" cellspacing=\"0\" cellpadding=\"0\">
<tr>
<td align=\"center\" style=\"border-radius: 5px;\" bgcolor=\"{brand}\"><a href=\"{href}\" target=\"_blank\" style=\"font-size: 18px; font-family: {FONT}; color: {button_text}; text-decoration: none; border-radius: 5px; padding: 10px 20px; border: 1px solid {brand}; display: inline-block; font-weight: bold;\">{button}</a></td>
</tr>
</table>
</td>
</tr>
<tr>
<td align=\"center\" style=\"padding: 0px 0px 10px 0px; font-size: 16px; line-height: 22px; font-family: {FONT}; color: {TEXT_COLOR};\">{expiry}<br>{ignore}</td>
</tr>
</table>
</body>
</html>
"
    )
}

/// `host` without control characters (CR, LF, NUL, …), so it cannot break a header or a line.
fn strip_controls(host: &str) -> String {
    host.chars().filter(|c| !c.is_control()).collect()
}

/// How long a link works, in words, never more than it really has: whole days or hours
/// when exact, else whole minutes rounded down.
fn lifetime(valid_for: time::Duration) -> String {
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    let secs = valid_for.whole_seconds();
    if secs > DAY && secs % DAY == 0 {
        count(secs / DAY, "day")
    } else if secs >= HOUR && secs % HOUR == 0 {
        count(secs / HOUR, "hour")
    } else if secs >= 60 {
        count(secs / 60, "minute")
    } else {
        "less than a minute".to_owned()
    }
}

fn count(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const KINDS: [EmailKind; 3] = [
        EmailKind::SignIn,
        EmailKind::VerifyEmail,
        EmailKind::PasswordReset,
    ];

    fn link() -> Url {
        Url::parse("https://auth.example.com/api/auth/callback/email?token=abc123&email=a%40b.c")
            .unwrap()
    }

    fn ten_minutes(kind: EmailKind, url: &Url, host: &str) -> Rendered {
        render(
            kind,
            url,
            host,
            time::Duration::minutes(10),
            &Theme::default(),
        )
    }

    #[test]
    fn each_kind_has_the_link_once_in_text_and_escaped_in_the_href() {
        let url = link();
        for kind in KINDS {
            let r = ten_minutes(kind, &url, "auth.example.com");
            assert_eq!(r.text.matches(url.as_str()).count(), 1, "{kind:?}");
            let href = format!("href=\"{}\"", escape(url.as_str()));
            assert!(href.contains("&amp;email="), "{href}");
            assert_eq!(r.html.matches(&href).count(), 1, "{kind:?}");
            // The raw (unescaped) link never appears in the HTML.
            assert!(!r.html.contains(url.as_str()), "{kind:?}");
            assert!(r.html.starts_with("<!DOCTYPE html>"));
            assert!(r.html.contains("<html lang=\"en\">"));
            assert!(r.html.contains("and can be used once."));
            assert!(r.text.contains("and can be used once."));
        }
    }

    #[test]
    fn subjects_and_headings_name_the_host() {
        let url = link();
        let cases = [
            (EmailKind::SignIn, "Sign in to example.com", "Sign in</a>"),
            (
                EmailKind::VerifyEmail,
                "Confirm your email address for example.com",
                "Confirm email address</a>",
            ),
            (
                EmailKind::PasswordReset,
                "Reset your password for example.com",
                "Reset password</a>",
            ),
        ];
        for (kind, subject, button) in cases {
            let r = ten_minutes(kind, &url, "example.com");
            assert_eq!(r.subject, subject);
            assert!(r.text.starts_with(&format!("{subject}\n")), "{}", r.text);
            assert!(r.html.contains(button), "{kind:?}");
            assert!(
                r.html.contains("<strong>example&#8203;.com</strong>"),
                "{kind:?}"
            );
            assert!(r.text.contains("If you did not request this email"));
            assert!(r.html.contains("If you did not request this email"));
        }
        let reset = ten_minutes(EmailKind::PasswordReset, &url, "example.com");
        assert!(reset.text.contains("your password stays unchanged"));
        assert!(reset.html.contains("your password stays unchanged"));
    }

    #[test]
    fn html_metacharacters_in_the_url_are_escaped() {
        // `'` is legal in a URL path and stays raw in its serialisation; `"` and `<` are
        // percent-encoded by the URL parser but are checked for all the same.
        let url = Url::parse("https://a.example/x'y\"<z>?a=1&b=2").unwrap();
        assert!(url.as_str().contains('\''), "{url}");
        for kind in KINDS {
            let r = ten_minutes(kind, &url, "a.example");
            assert!(
                r.html.contains("x&#39;y%22%3Cz%3E?a=1&amp;b=2\""),
                "{}",
                r.html
            );
            assert!(!r.html.contains("x'y"));
            assert!(!r.html.contains("a=1&b"));
            assert_eq!(r.text.matches(url.as_str()).count(), 1);
        }
    }

    #[test]
    fn a_hostile_host_is_escaped_and_cannot_break_lines() {
        let url = link();
        let host = "<script>alert('x')</script>\r\nBcc: evil@example.com";
        for kind in KINDS {
            let r = ten_minutes(kind, &url, host);
            assert!(!r.html.contains("<script>"), "{kind:?}");
            assert!(
                r.html
                    .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
            );
            assert!(!r.subject.contains('\r') && !r.subject.contains('\n'));
            assert!(r.subject.ends_with("</script>Bcc: evil@example.com"));
            assert!(!r.text.contains('\r'));
            assert_eq!(r.text.lines().next(), Some(r.subject.as_str()));
        }
    }

    #[test]
    fn theme_colours_style_the_button() {
        let url = link();
        let plain = ten_minutes(EmailKind::SignIn, &url, "example.com");
        assert!(plain.html.contains("bgcolor=\"#346df1\""));
        assert!(plain.html.contains("color: #fff;"));
        let theme = Theme::default()
            .brand_color("#0F766E")
            .unwrap()
            .button_text("#111")
            .unwrap();
        let r = render(
            EmailKind::SignIn,
            &url,
            "example.com",
            time::Duration::minutes(10),
            &theme,
        );
        assert!(r.html.contains("bgcolor=\"#0f766e\""));
        assert!(r.html.contains("border: 1px solid #0f766e;"));
        assert!(r.html.contains("color: #111;"));
        assert!(!r.html.contains("#346df1"));
    }

    #[test]
    fn the_lifetime_is_stated_exactly_or_rounded_down() {
        let cases = [
            (time::Duration::minutes(10), "10 minutes"),
            (time::Duration::minutes(1), "1 minute"),
            (time::Duration::seconds(119), "1 minute"),
            (time::Duration::seconds(30), "less than a minute"),
            (time::Duration::minutes(90), "90 minutes"),
            (time::Duration::hours(1), "1 hour"),
            (time::Duration::hours(24), "24 hours"),
            (time::Duration::days(2), "2 days"),
            (time::Duration::hours(25), "25 hours"),
        ];
        for (d, words) in cases {
            assert_eq!(lifetime(d), words, "{d}");
            let r = render(EmailKind::SignIn, &link(), "h", d, &Theme::default());
            let line = format!("This link expires in {words} and can be used once.");
            assert!(r.text.contains(&line), "{}", r.text);
            assert!(r.html.contains(&line), "{d}");
        }
    }
}
