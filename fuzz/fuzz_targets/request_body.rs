//! The body and query parsers of the POST actions: `application/json`,
//! `application/x-www-form-urlencoded` (strict), anything else (ignored), and the lenient
//! query-string parser.
//!
//! Input: a `Content-Type` selector (or a fuzzer-written one), then the body.
//!
//! Checks:
//! - nothing panics;
//! - the result does not depend on the media type's case (`Application/JSON`);
//! - a JSON media type accepts exactly an empty body or a JSON object, and returns that
//!   object; a form media type gives exactly `parse_form`'s answer; any other type (including
//!   `text/plain; charset=application/json`) parses nothing;
//! - `parse_form` refuses repeated keys, and its result, serialised again as a form,
//!   parses back to itself;
//! - `parse_query` keeps at most 64 parameters, and is stable under re-serialisation.

#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use portcullis::fuzzing::{parse_body, parse_form, parse_query};
use portcullis_fuzz::Reader;
use serde_json::{Map, Value};

const TYPES: [&str; 7] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/json; charset=utf-8",
    "text/plain; charset=application/json",
    "multipart/form-data; boundary=x",
    "",
];

fn serialise(map: &Map<String, Value>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in map {
        s.append_pair(k, v.as_str().unwrap_or_default());
    }
    s.finish()
}

fn headers(content_type: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let choice = r.choose(TYPES.len() + 1);
    let content_type: Vec<u8> = match TYPES.get(choice) {
        Some(t) => t.as_bytes().to_vec(),
        None => r.bytes().to_vec(),
    };
    let body = r.rest();

    let h = headers(&content_type);
    let parsed = parse_body(&h, body);
    let upper = headers(&content_type.to_ascii_uppercase());
    assert_eq!(
        parse_body(&upper, body),
        parsed,
        "media type case changed the parse"
    );

    let essence = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => {
            let expected = if body.is_empty() {
                Some(Map::new())
            } else {
                match serde_json::from_slice::<Value>(body) {
                    Ok(Value::Object(m)) => Some(m),
                    _ => None,
                }
            };
            assert_eq!(parsed, expected);
        }
        "application/x-www-form-urlencoded" => assert_eq!(parsed, parse_form(body)),
        _ => assert_eq!(parsed, Some(Map::new())),
    }

    if let Some(form) = parse_form(body) {
        assert!(form.values().all(Value::is_string));
        let again = serialise(&form);
        assert_eq!(parse_form(again.as_bytes()).as_ref(), Some(&form));
    }

    let query = std::str::from_utf8(body).ok();
    let q = parse_query(query);
    assert!(q.len() <= 64);
    let again = serialise(&q);
    assert_eq!(
        parse_query(Some(&again)),
        q,
        "query re-serialisation changed it"
    );
});
