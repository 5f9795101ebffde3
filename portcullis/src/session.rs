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
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_format_matches_javascript() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_445_412_480_123_456_789).unwrap();
        assert_eq!(iso_millis(t), "2015-10-21T07:28:00.123Z");
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
