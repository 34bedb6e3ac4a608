//! The OpenAPI document against the real server: every `/api/v1` route
//! of the router is described with each of its methods, the document
//! validates with a real OpenAPI 3.1 validator (PyPI
//! `openapi-spec-validator`, installed by scripts/test.sh), the answers of
//! the API have the shapes it describes, and the documentation page and
//! its assets are served from the binary and work in Chromium without
//! the network.
//!
//! The router cannot be listed, so its routes are found two ways and
//! probed: every path the document names, and every `"/api/v1..."` string
//! in the HTTP crate's and the binary's source (where a route added with
//! `Router::route` is written). A request with a method no route uses
//! answers 405 with the route's methods in `Allow` (RFC 9110 section
//! 15.5.6), or 404 when no route has that path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

/// The served document.
async fn document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("GET /api/v1/openapi.json");
    assert_eq!(res.status(), 200);
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("application/json"), "{ctype}");
    res.json().await.expect("the document is JSON")
}

/// Every `"/api/v1..."` string literal in the non-test Rust source under
/// `dir`.
fn api_literals(dir: &Path, out: &mut BTreeSet<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "tests" {
                api_literals(&path, out);
            }
            continue;
        }
        if !name.ends_with(".rs") || name == "tests.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source file");
        // Unit tests sit at the end of a file, after `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("\"/api/v1") {
            let lit = &rest[at + 1..];
            let end = lit.find('"').unwrap_or(lit.len());
            out.insert(lit[..end].to_owned());
            rest = &lit[end..];
        }
    }
}

/// A concrete path for a template: every `{param}` becomes `x`.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in template.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push('x');
                }
                depth += 1;
            }
            '}' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The methods the router has for `path` (from `Allow` on a 405), or
/// `None` when no route has that path.
async fn routed_methods(app: &TestApp, path: &str) -> Option<BTreeSet<String>> {
    let probe = Method::from_bytes(b"PROPFIND").expect("method");
    let res = app
        .client
        .request(probe, app.url(path))
        .send()
        .await
        .expect("probe");
    match res.status().as_u16() {
        404 => None,
        405 => {
            let allow = res
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{path}: a 405 without Allow"))
                .to_str()
                .expect("Allow is text")
                .to_owned();
            Some(
                allow
                    .split(',')
                    .map(|m| m.trim().to_ascii_lowercase())
                    // HEAD comes with every GET; nobody documents it.
                    .filter(|m| !m.is_empty() && m != "head")
                    .collect(),
            )
        }
        other => panic!("{path}: the probe got {other}, not 404 or 405"),
    }
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// path template → documented methods.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_string())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_is_in_the_document_with_each_method() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    let documented = documented(&doc);
    // Paths as the router matches them: `{id}` and `x` alike.
    let by_concrete: BTreeMap<String, &String> =
        documented.keys().map(|t| (concrete(t), t)).collect();

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut literals = BTreeSet::new();
    api_literals(&root.join("crates/mailtrail-http/src"), &mut literals);
    api_literals(&root.join("src"), &mut literals);
    for needed in ["/api/v1/messages", "/api/v1/openapi.json"] {
        assert!(
            literals.contains(needed),
            "the source scan missed {needed}: {literals:?}"
        );
    }

    let mut candidates: BTreeSet<String> = documented.keys().map(|t| concrete(t)).collect();
    candidates.extend(literals.iter().map(|l| concrete(l)));
    let mut problems = Vec::new();
    let mut checked = 0;
    for path in &candidates {
        let Some(routed) = routed_methods(&app, path).await else {
            if let Some(t) = by_concrete.get(path) {
                problems.push(format!("{t} is documented but not routed"));
            }
            // A string that is no route (a link in a message, say).
            continue;
        };
        checked += 1;
        let Some(template) = by_concrete.get(path) else {
            if path.starts_with("/api/v1") {
                problems.push(format!(
                    "{path} is routed ({routed:?}) but not in the document"
                ));
            }
            continue;
        };
        let described = &documented[*template];
        for m in routed.difference(described) {
            problems.push(format!(
                "{} {template} is routed but not documented",
                m.to_uppercase()
            ));
        }
        for m in described.difference(&routed) {
            problems.push(format!(
                "{} {template} is documented but not routed",
                m.to_uppercase()
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(checked >= 8, "only {checked} routes probed: {candidates:?}");

    // Every operation of the API is secured by the API key and describes
    // its errors in the one error shape.
    for (template, methods) in &documented {
        for m in methods {
            let op = &doc["paths"][template][m];
            assert!(op["operationId"].is_string(), "{m} {template}");
            assert!(
                op["responses"]["default"]["content"]["application/json"]["schema"]["$ref"]
                    == "#/components/schemas/ErrorEnvelope",
                "{m} {template}: {op:#}"
            );
            if template.starts_with("/api/v1") && template != "/api/v1/openapi.json" {
                assert_eq!(op["security"], json!([{"api_key": []}]), "{m} {template}");
                assert!(op["responses"]["401"].is_object(), "{m} {template}");
            }
        }
    }
    app.stop().await;
}

/// The validator: `MAILTRAIL_OPENAPI_VALIDATOR` (scripts/test.sh sets
/// it), else the virtual environment scripts/test.sh makes.
fn validator() -> PathBuf {
    if let Ok(p) = std::env::var("MAILTRAIL_OPENAPI_VALIDATOR") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/openapi-venv/bin/openapi-spec-validator");
    assert!(
        venv.exists(),
        "openapi-spec-validator is not installed: run scripts/test.sh once, or set \
         MAILTRAIL_OPENAPI_VALIDATOR"
    );
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_validates_as_openapi_3_1() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let file = app.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = std::process::Command::new(validator())
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK"), "{text}");

    // And a broken copy does not: the validator is really validating.
    let mut broken = doc.clone();
    broken["paths"]["/api/v1/messages"]["get"]["responses"] = json!("none");
    std::fs::write(&file, serde_json::to_vec(&broken).unwrap()).unwrap();
    let out = std::process::Command::new(validator())
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(!out.status.success(), "a broken document validated");
    app.stop().await;
}

/// The schema `r` points to, resolved in `doc`.
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => s,
    }
}

/// Checks `value` against the object structure of `schema`: every key it
/// has is a described property, every required property is there, and
/// the same for nested objects and arrays of objects.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(alts) = schema["oneOf"].as_array() {
        if let Some(obj) = alts.iter().find(|a| resolve(doc, a)["type"] == "object")
            && !value.is_null()
        {
            conforms(doc, obj, value, at, problems);
        }
        return;
    }
    match value {
        Value::Object(map) if schema["properties"].is_object() => {
            let props = schema["properties"].as_object().unwrap();
            for (k, v) in map {
                match props.get(k) {
                    Some(p) => conforms(doc, p, v, &format!("{at}.{k}"), problems),
                    None => problems.push(format!("{at}.{k} is not in the schema")),
                }
            }
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                if !map.contains_key(r) {
                    problems.push(format!("{at}.{r} is required but absent"));
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (i, v) in items.iter().enumerate() {
                conforms(doc, &schema["items"], v, &format!("{at}[{i}]"), problems);
            }
        }
        Value::String(s) => {
            if let Some(values) = schema["enum"].as_array()
                && !values.iter().any(|v| v == s)
            {
                problems.push(format!("{at} = {s:?} is not one of {values:?}"));
            }
        }
        _ => {}
    }
}

/// The schema of the JSON answer `status` of `method path`.
fn answer_schema<'a>(doc: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let s =
        &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    assert!(s.is_object(), "{method} {path} {status} has no JSON schema");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_have_the_documented_shapes() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut problems = Vec::new();

    let (code, accepted) = app
        .post(
            "/api/v1/messages",
            &json!({"from": {"name": "Ann", "address": "ann@example.test"},
                    "to": "bob@example.test", "cc": [{"address": "cy@example.test"}],
                    "subject": "Shapes", "html": "<p>Hi <a href=\"https://example.com/\">x</a></p>",
                    "track": {"opens": true, "clicks": true}, "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(code, 202, "{accepted}");
    let schema = answer_schema(&doc, "/api/v1/messages", "post", "202");
    conforms(&doc, schema, &accepted, "accepted", &mut problems);
    let id = accepted["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, std::time::Duration::from_secs(10), |s| {
        s == "delivered"
    })
    .await;

    let (_, detail) = app.get(&format!("/api/v1/messages/{id}")).await;
    assert!(
        detail["recipients"][0]["events"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    let schema = answer_schema(&doc, "/api/v1/messages/{id}", "get", "200");
    conforms(&doc, schema, &detail, "detail", &mut problems);

    let (_, list) = app.get("/api/v1/messages?limit=1").await;
    let schema = answer_schema(&doc, "/api/v1/messages", "get", "200");
    conforms(&doc, schema, &list, "list", &mut problems);

    let (_, sandbox) = app.get("/api/v1/sandbox/messages").await;
    let schema = answer_schema(&doc, "/api/v1/sandbox/messages", "get", "200");
    conforms(&doc, schema, &sandbox, "sandbox", &mut problems);

    let (code, err) = app.post("/api/v1/messages", &json!({"to": "nope"})).await;
    assert_eq!(code, 400);
    let schema = answer_schema(&doc, "/api/v1/messages", "post", "400");
    conforms(&doc, schema, &err, "error", &mut problems);

    let (_, link) = app.post("/api/v1/tracking/self-link", &json!({})).await;
    let schema = answer_schema(&doc, "/api/v1/tracking/self-link", "post", "200");
    conforms(&doc, schema, &link, "self-link", &mut problems);

    assert!(problems.is_empty(), "{problems:#?}");

    // Fields that are always written, `null` or not, are required.
    let recipient = &doc["components"]["schemas"]["RecipientView"]["required"];
    for always in ["status_reason", "first_open_at"] {
        assert!(
            recipient.as_array().unwrap().iter().any(|r| r == always),
            "{always}: {recipient}"
        );
    }

    // The checker itself finds a key the schema does not have.
    let mut extra = detail.clone();
    extra["recipients"][0]["surprise"] = json!(1);
    let mut found = Vec::new();
    conforms(
        &doc,
        answer_schema(&doc, "/api/v1/messages/{id}", "get", "200"),
        &extra,
        "detail",
        &mut found,
    );
    assert_eq!(
        found,
        ["detail.recipients[0].surprise is not in the schema"]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_and_its_assets_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(app.url("/api/docs/"))
        .send()
        .await
        .expect("GET /api/docs/");
    assert_eq!(page.status(), 200);
    let ctype = page.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"),
        "the page loads something from elsewhere:\n{html}"
    );

    // Every asset the page names is served.
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html.as_str();
        while let Some(at) = rest.find(attr) {
            let v = &rest[at + attr.len()..];
            let end = v.find('"').unwrap();
            assets.push(v[..end].to_owned());
            rest = &v[end..];
        }
    }
    for needed in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        assert!(
            assets.iter().any(|a| a.ends_with(needed)),
            "{needed} not referenced: {assets:?}"
        );
    }
    for asset in &assets {
        let path = format!("/api/docs/{}", asset.trim_start_matches("./"));
        let res = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body = res.bytes().await.unwrap();
        assert!(body.len() > 100, "{path} is {} bytes", body.len());
    }

    // The page reads the served document.
    let init = app
        .client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");

    // `/api/docs` without its slash leads to the page.
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/api/docs"))
        .send()
        .await
        .unwrap();
    assert!(bare.status().is_redirection(), "{}", bare.status());
    assert_eq!(bare.headers()["location"], "/api/docs/");
    app.stop().await;
}

/// The page in a real browser (Debian's Chromium driven by playwright-core,
/// tests/browser/apidocs.mjs): every operation of the document is
/// rendered, "Try it out" reaches this server, nothing is loaded from
/// another origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_renders_every_operation_in_chromium() {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: install Debian's chromium package (scripts/test.sh does)"
    );
    assert!(
        Path::new(&format!(
            "{root}/tests/browser/node_modules/playwright-core"
        ))
        .exists(),
        "playwright-core is missing: run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let operations: usize = documented(&doc).values().map(BTreeSet::len).sum();
    let base = app.url("");
    let out = tokio::process::Command::new("node")
        .arg(format!("{root}/tests/browser/apidocs.mjs"))
        .arg(&base)
        .arg(operations.to_string())
        .output()
        .await
        .expect("node is missing: install Node.js (scripts/test.sh does)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("ok - {operations} operations rendered")),
        "{text}"
    );
    app.stop().await;
}
