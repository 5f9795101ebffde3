//! `GET {base}/audit`: the signed-in user's own audit events, newest first (beyond
//! Auth.js). `?limit=` 1–200 (default 50), `?before=` an ISO 8601 time for the next page.
//! Unauthenticated: 401. No audit adapter: 400 `Unsupported`. Store down: 503.

use http::StatusCode;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::manage::{json, require_session};
use crate::request::Ctx;
use crate::response::Reply;

fn bad_request(message: &str) -> Reply {
    json(
        StatusCode::BAD_REQUEST,
        &json!({ "error": "BadRequest", "message": message }),
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Reply {
    let me = match require_session(ctx).await {
        Ok(me) => me,
        Err(reply) => return reply,
    };
    let Some(adapter) = &ctx.cfg.audit.adapter else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "Unsupported", "message": "no audit log is configured" }),
        );
    };
    let limit = match ctx.query.get("limit").and_then(|v| v.as_str()) {
        None => 50,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => return bad_request("limit: a whole number from 1 to 200"),
        },
    };
    let before = match ctx.query.get("before").and_then(|v| v.as_str()) {
        None => None,
        Some(raw) => match OffsetDateTime::parse(raw, &Rfc3339) {
            Ok(t) => Some(t),
            Err(_) => return bad_request("before: an ISO 8601 time such as 2026-01-01T00:00:00Z"),
        },
    };
    match adapter.audit_events(&me.user_id, before, limit).await {
        Ok(events) => json(
            StatusCode::OK,
            &json!({ "events": events.iter().map(crate::audit::AuditEvent::to_json).collect::<Vec<_>>() }),
        ),
        Err(e) if e.is_unavailable() => super::database::store_unavailable(),
        Err(e) => {
            tracing::error!(target: "portcullis", error = %e, "[auth][error] AdapterError");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": "Configuration" }),
            )
        }
    }
}
