//! Users and accounts, as providers return them and callbacks receive them.

use serde::{Deserialize, Serialize};

/// The empty extension: no application-defined fields (like openidconnect's
/// `EmptyAdditionalClaims`). Serialises to nothing and accepts anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoFields {}

/// A signed-in user: what `authorize` (or an adapter, or an OAuth profile) returns.
///
/// `X` carries the application's own fields (a role, an API token…), flattened into the
/// user object; see [`Callbacks::UserFields`](crate::Callbacks::UserFields).
///
/// # Examples
/// ```
/// use portcullis::User;
/// #[derive(serde::Serialize, serde::Deserialize, Default)]
/// struct Extra { role: String }
/// let u = User::new("1")
///     .with_name("Alice")
///     .with_email("alice@example.com")
///     .with_fields(Extra { role: "admin".into() });
/// assert_eq!(u.fields.role, "admin");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "X: Serialize", deserialize = "X: Deserialize<'de>"))]
pub struct User<X = NoFields> {
    /// Stable user id (Auth.js stringifies it; an empty id is replaced by a random UUID).
    pub id: String,
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
    pub fields: X,
}

impl User<NoFields> {
    /// A user with an id and no application fields yet (add them with
    /// [`with_fields`](User::with_fields)).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            email: None,
            image: None,
            fields: NoFields {},
        }
    }
}

impl<X> User<X> {
    /// Sets the display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email address.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the avatar URL.
    pub fn with_image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Replaces the application fields (possibly with another type).
    pub fn with_fields<Y>(self, fields: Y) -> User<Y> {
        User {
            id: self.id,
            name: self.name,
            email: self.email,
            image: self.image,
            fields,
        }
    }
}

/// The kind of account a sign-in went through (Auth.js `account.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AccountType {
    /// A username/password (or other form) sign-in.
    Credentials,
    /// OAuth 2.0.
    OAuth,
    /// OpenID Connect.
    Oidc,
    /// Magic link.
    Email,
    /// Passkey.
    WebAuthn,
}

/// The account a sign-in went through: which provider, and the user's id there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Account {
    /// The provider id (`credentials`, `github`…).
    pub provider: String,
    /// The user's id at the provider (for credentials, the user id).
    pub provider_account_id: String,
    /// The account type.
    #[serde(rename = "type")]
    pub kind: AccountType,
    /// OAuth access token, when the provider issued one. Keep it server-side.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "access_token"
    )]
    pub access_token: Option<String>,
    /// OAuth refresh token.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "refresh_token"
    )]
    pub refresh_token: Option<String>,
    /// Access-token expiry, seconds since the epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "expires_at"
    )]
    pub expires_at: Option<i64>,
    /// OAuth token type (`Bearer`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "token_type"
    )]
    pub token_type: Option<String>,
    /// The granted scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The OIDC ID token.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "id_token")]
    pub id_token: Option<String>,
}

impl Account {
    /// The account of a credentials sign-in (`providerAccountId` = the user id).
    pub fn credentials(provider: impl Into<String>, user_id: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            provider_account_id: user_id.into(),
            kind: AccountType::Credentials,
            access_token: None,
            refresh_token: None,
            expires_at: None,
            token_type: None,
            scope: None,
            id_token: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Extra {
        role: String,
    }

    #[test]
    fn fields_flatten_into_the_user_object() {
        let u = User::new("1").with_name("Alice").with_fields(Extra {
            role: "admin".into(),
        });
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id":"1","name":"Alice","role":"admin"})
        );
        let back: User<Extra> = serde_json::from_value(json).unwrap();
        assert_eq!(back, u);
        let plain: User = serde_json::from_str(r#"{"id":"2","role":"x"}"#).unwrap();
        assert_eq!(plain.id, "2");
    }

    #[test]
    fn credentials_account_has_auth_js_shape() {
        let a = Account::credentials("credentials", "1");
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"provider":"credentials","providerAccountId":"1","type":"credentials"})
        );
    }
}
