//! `GET /csrf` and `GET /providers`.

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::request::Ctx;
use crate::response::Reply;

/// `{"csrfToken": "<64 hex>"}`, no-cache; the cookie is set by the init step when missing.
pub(crate) fn csrf(ctx: &Ctx<'_>) -> Reply {
    let body = serde_json::to_vec(&json!({ "csrfToken": ctx.csrf.token })).unwrap_or_default();
    Reply::json(StatusCode::OK, body).no_cache()
}

/// `{ [id]: {id, name, type, signinUrl, callbackUrl} }`.
pub(crate) fn providers(ctx: &Ctx<'_>) -> Reply {
    let base = ctx.base_url();
    let mut map = Map::new();
    for p in &ctx.cfg.providers {
        map.insert(
            p.id.clone(),
            json!({
                "id": p.id,
                "name": p.name,
                "type": p.type_name(),
                "signinUrl": format!("{base}/signin/{}", p.id),
                "callbackUrl": format!("{base}/callback/{}", p.id),
            }),
        );
    }
    let body = serde_json::to_vec(&Value::Object(map)).unwrap_or_default();
    Reply::json(StatusCode::OK, body)
}
