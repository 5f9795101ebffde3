//! Session data without Rust: users carry attributes (a JSON object); `expose` names the
//! ones the session shows beside `id`, `name`, `email`, `image`; `updatable` names the
//! fields a client `update()` may change. Everything else a client sends is ignored.

use std::sync::Arc;

use portcullis::adapter::{UserAdapter, UserUpdate};
use portcullis::{
    CallbackError, Callbacks, JwtParams, SessionParams, SignInDecision, SignInParams, Token,
    Trigger,
};
use serde_json::{Map, Value};

use crate::webhook::{UserInfo, Webhook};

/// Attributes, as stored in the user's `fields`.
pub(crate) type Attributes = Map<String, Value>;

/// The longest string a client `update()` may set.
const MAX_UPDATE_LEN: usize = 1024;

/// The server's callbacks.
pub(crate) struct ServerCallbacks {
    pub(crate) expose: Vec<String>,
    pub(crate) updatable: Vec<String>,
    /// Database strategy: where updates are persisted.
    pub(crate) users: Option<Arc<dyn UserAdapter>>,
    /// The enrichment webhook, when configured.
    pub(crate) webhook: Option<Arc<Webhook>>,
}

/// `extra` merged over `base`.
fn merged(base: &Attributes, extra: Attributes) -> Attributes {
    let mut out = base.clone();
    out.extend(extra);
    out
}

/// The allowed changes in an update's data: `(key, value)` for each updatable key the
/// client sent with a string, number, boolean or null value (bounded).
fn allowed_changes(updatable: &[String], data: Option<&Value>) -> Vec<(String, Value)> {
    let Some(Value::Object(data)) = data else {
        return Vec::new();
    };
    updatable
        .iter()
        .filter_map(|k| {
            let v = data.get(k)?;
            let ok = match v {
                Value::String(s) => s.len() <= MAX_UPDATE_LEN,
                Value::Number(_) | Value::Bool(_) | Value::Null => true,
                _ => false,
            };
            ok.then(|| (k.clone(), v.clone()))
        })
        .collect()
}

fn as_opt_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The session JSON: Auth.js's default session with `id` and the exposed attributes added
/// to `user`.
fn session_json(
    default: portcullis::Session,
    id: &str,
    expose: &[String],
    attrs: &Attributes,
) -> Value {
    let mut v = serde_json::to_value(default).unwrap_or(Value::Null);
    if let Some(Value::Object(user)) = v.get_mut("user") {
        user.insert("id".into(), Value::String(id.to_owned()));
        for k in expose {
            if let Some(val) = attrs.get(k) {
                user.insert(k.clone(), val.clone());
            }
        }
    }
    v
}

#[portcullis::async_trait]
impl Callbacks for ServerCallbacks {
    type UserFields = Attributes;
    type Claims = Attributes;
    type Session = Value;

    /// With a webhook: the `signIn` call, before any token or session exists. Its failure
    /// refuses the sign-in (`AccessDenied`: no cookie, no session row).
    async fn sign_in(
        &self,
        p: SignInParams<'_, Attributes>,
    ) -> Result<SignInDecision, CallbackError> {
        let Some(webhook) = &self.webhook else {
            return Ok(SignInDecision::Allow);
        };
        let user = p.user;
        let info = UserInfo {
            id: &user.id,
            email: user.email.as_deref(),
            name: user.name.as_deref(),
            attributes: &user.fields,
        };
        match webhook.on_sign_in(&info).await {
            Ok(_) => Ok(SignInDecision::Allow),
            Err(e) => {
                tracing::warn!(
                    user_id = %user.id,
                    error = %e,
                    "enrichment webhook failed: sign-in refused (AccessDenied)"
                );
                Ok(SignInDecision::Deny)
            }
        }
    }

    async fn jwt(
        &self,
        p: JwtParams<'_, Attributes, Attributes>,
    ) -> Result<Option<Token<Attributes>>, CallbackError> {
        let mut token = p.token;
        if let Some(user) = p.user {
            // Sign-in: the id and the exposed (and updatable) attributes go into the token.
            let mut claims = Map::new();
            claims.insert("id".into(), Value::String(user.id.clone()));
            // The attributes `sign_in` fetched from the webhook, merged over the user's.
            let fields = match self.webhook.as_ref().and_then(|w| w.last(&user.id)) {
                Some(extra) => merged(&user.fields, extra),
                None => user.fields.clone(),
            };
            for k in self.expose.iter().chain(&self.updatable) {
                if let Some(v) = fields.get(k)
                    && !crate::config::RESERVED.contains(&k.as_str())
                {
                    claims.insert(k.clone(), v.clone());
                }
            }
            token.claims = claims;
        }
        if p.trigger == Some(Trigger::Update) {
            for (k, v) in allowed_changes(&self.updatable, p.session.as_ref()) {
                match k.as_str() {
                    "name" => token.name = as_opt_string(&v),
                    "image" => token.picture = as_opt_string(&v),
                    _ => {
                        token.claims.insert(k, v);
                    }
                }
            }
        }
        Ok(Some(token))
    }

    async fn session(
        &self,
        p: SessionParams<'_, Attributes, Attributes>,
    ) -> Result<Value, CallbackError> {
        let mut default = p.session;
        match p.user {
            // Database strategy: the stored user; an update is persisted.
            Some(user) => {
                let mut attrs = user.fields.clone();
                if p.trigger == Some(Trigger::Update) {
                    let changes = allowed_changes(&self.updatable, p.new_session.as_ref());
                    if !changes.is_empty() {
                        let mut update = UserUpdate::default();
                        for (k, v) in changes {
                            match k.as_str() {
                                "name" => {
                                    default.user.name = as_opt_string(&v);
                                    update = update.with_name(as_opt_string(&v));
                                }
                                "image" => {
                                    default.user.image = as_opt_string(&v);
                                    update = update.with_image(as_opt_string(&v));
                                }
                                _ => {
                                    attrs.insert(k, v);
                                }
                            }
                        }
                        if attrs != user.fields {
                            update = update.with_fields(attrs.clone());
                        }
                        if let Some(users) = &self.users {
                            users.update_user(&user.id, &update).await.map_err(|e| {
                                CallbackError::from_source("could not save the update", e)
                            })?;
                        }
                    }
                }
                // Enrichment is shown, never persisted.
                if let Some(w) = &self.webhook {
                    let info = UserInfo {
                        id: &user.id,
                        email: user.email.as_deref(),
                        name: user.name.as_deref(),
                        attributes: &attrs,
                    };
                    let extra = w.on_session(&info).await;
                    attrs = merged(&attrs, extra);
                }
                Ok(session_json(default, &user.id, &self.expose, &attrs))
            }
            // JWT strategy: what the jwt callback kept in the token.
            None => {
                let claims = &p.token.claims;
                let id = claims
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| p.token.sub.clone())
                    .unwrap_or_default();
                if let Some(w) = &self.webhook {
                    let mut attributes = claims.clone();
                    attributes.remove("id");
                    let info = UserInfo {
                        id: &id,
                        email: p.token.email.as_deref(),
                        name: p.token.name.as_deref(),
                        attributes: &attributes,
                    };
                    let extra = w.on_session(&info).await;
                    return Ok(session_json(
                        default,
                        &id,
                        &self.expose,
                        &merged(claims, extra),
                    ));
                }
                Ok(session_json(default, &id, &self.expose, claims))
            }
        }
    }
}

/// The canonical form of an address (`portcullis::email::normalize_identifier`: NFKC,
/// lowercase, IDNA domain), the one every sign-in path looks users up by.
pub(crate) fn normalize_email(raw: &str) -> Result<String, String> {
    portcullis::email::normalize_identifier(raw)
        .map_err(|e| format!("EMAIL: `{}` is not an address: {e}", raw.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_updatable_keys_with_scalar_values() {
        let up = vec!["name".to_owned(), "theme".to_owned()];
        let data = json!({"name": "N", "theme": {"x": 1}, "role": "admin", "id": "x"});
        assert_eq!(
            allowed_changes(&up, Some(&data)),
            vec![("name".to_owned(), json!("N"))]
        );
        assert!(allowed_changes(&up, Some(&json!("name"))).is_empty());
        assert!(allowed_changes(&up, None).is_empty());
    }

    #[test]
    fn session_shows_exposed_only() {
        let d = portcullis::Session::default_for(Some("A".into()), None, None, "e".into());
        let mut attrs = Map::new();
        attrs.insert("role".into(), json!("admin"));
        attrs.insert("secret".into(), json!("x"));
        let v = session_json(d, "1", &["role".to_owned()], &attrs);
        assert_eq!(v["user"], json!({"name": "A", "id": "1", "role": "admin"}));
    }
}
