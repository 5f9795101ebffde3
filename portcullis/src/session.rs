//! The session object clients read from `GET /session`.

use serde::{Deserialize, Serialize};

use crate::user::NoFields;

/// The session JSON as Auth.js shapes it: `{"user":{…},"expires":"<ISO 8601>"}`.
///
/// `U` adds the application's fields to `user` (an `id`, a `role`…). The `session` callback
/// decides what goes here; whatever it leaves out (an access token, say) never reaches the
/// client.
///
/// # Examples
/// ```
/// use portcullis::Session;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Exposed { id: String, role: String }
/// let s = Session::default_for(Some("Alice".into()), None, None, "2030-01-01T00:00:00.000Z".into())
///     .with_user_fields(Exposed { id: "1".into(), role: "admin".into() });
/// assert_eq!(
///     serde_json::to_string(&s).unwrap(),
///     r#"{"user":{"name":"Alice","id":"1","role":"admin"},"expires":"2030-01-01T00:00:00.000Z"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "U: Serialize", deserialize = "U: Deserialize<'de>"))]
pub struct Session<U = NoFields> {
    /// What the client may know about the user.
    pub user: SessionUser<U>,
    /// When the session expires, as an ISO 8601 string with milliseconds (`…T12:00:00.000Z`).
    pub expires: String,
    /// Set by portcullis when the provider's access token could not be refreshed
    /// (`"RefreshTokenError"`, the marker Auth.js's rotation guide uses): the client should
    /// send the user through sign-in again. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `user` member of a [`Session`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "U: Serialize", deserialize = "U: Deserialize<'de>"))]
pub struct SessionUser<U = NoFields> {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The application's fields.
    #[serde(flatten)]
    pub fields: U,
}

impl Session<NoFields> {
    /// The default session Auth.js builds before the `session` callback runs.
    pub fn default_for(
        name: Option<String>,
        email: Option<String>,
        image: Option<String>,
        expires: String,
    ) -> Self {
        Self {
            user: SessionUser {
                name,
                email,
                image,
                fields: NoFields {},
            },
            expires,
            error: None,
        }
    }
}

impl<U> Session<U> {
    /// The same session with other application fields on `user`.
    pub fn with_user_fields<V>(self, fields: V) -> Session<V> {
        Session {
            user: SessionUser {
                name: self.user.name,
                email: self.user.email,
                image: self.user.image,
                fields,
            },
            expires: self.expires,
            error: self.error,
        }
    }
}

/// `Date.prototype.toISOString()`: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn iso_millis(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    // Written digit by digit: this runs for every session read.
    let mut out = String::with_capacity(24);
    push_year(&mut out, t.year());
    out.push('-');
    push_digits(&mut out, u32::from(u8::from(t.month())), 2);
    out.push('-');
    push_digits(&mut out, u32::from(t.day()), 2);
    out.push('T');
    push_digits(&mut out, u32::from(t.hour()), 2);
    out.push(':');
    push_digits(&mut out, u32::from(t.minute()), 2);
    out.push(':');
    push_digits(&mut out, u32::from(t.second()), 2);
    out.push('.');
    push_digits(&mut out, u32::from(t.millisecond()), 3);
    out.push('Z');
    out
}

/// Appends `n` in decimal, zero-padded to `width` digits (more digits if `n` needs them).
pub(crate) fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(buf.len().saturating_sub(width));
    for &b in &buf[start..] {
        out.push(char::from(b));
    }
}

/// Appends a year as `{:04}` does: zero-padded to four digits, `-` before negative years.
pub(crate) fn push_year(out: &mut String, year: i32) {
    if year < 0 {
        out.push('-');
    }
    push_digits(out, year.unsigned_abs(), 4);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_format_matches_javascript() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_445_412_480_123_456_789).unwrap();
        assert_eq!(iso_millis(t), "2015-10-21T07:28:00.123Z");
    }

    /// The digit-by-digit writers agree with `format!` over years 1..=9999 and every field
    /// width, including the single-digit and year-before-1000 cases.
    #[test]
    fn date_writers_match_format() {
        let mut t = time::OffsetDateTime::from_unix_timestamp(-62_135_596_800).unwrap(); // 0001-01-01
        let step = time::Duration::seconds(86_400 * 37 + 3_661) + time::Duration::milliseconds(7);
        loop {
            let iso = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            );
            assert_eq!(iso_millis(t), iso);
            let http = crate::cookie::http_date(t);
            let expected_tail = format!(
                "{:02} {} {:04} {:02}:{:02}:{:02} GMT",
                t.day(),
                &format!("{:?}", t.month())[..3],
                t.year(),
                t.hour(),
                t.minute(),
                t.second()
            );
            assert_eq!(&http[5..], expected_tail, "{t}");
            assert_eq!(&http[..3], &format!("{:?}", t.weekday())[..3]);
            match t.checked_add(step) {
                Some(next) => t = next,
                None => break,
            }
        }
        for (n, w, s) in [
            (0, 2, "00"),
            (7, 3, "007"),
            (123, 2, "123"),
            (4_294_967_295, 4, "4294967295"),
        ] {
            let mut out = String::new();
            push_digits(&mut out, n, w);
            assert_eq!(out, s);
        }
    }

    #[test]
    fn default_session_drops_missing_fields() {
        let s = Session::default_for(None, Some("a@b.c".into()), None, "x".into());
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"user":{"email":"a@b.c"},"expires":"x"}"#
        );
    }
}
