//! Loads the official Mattermost OpenAPI spec and checks sandbox routes and answers against it.
//!
//! Routes are matched segment by segment: literal segments must be equal, a `{param}` must sit
//! where the spec has a `{param}` (names may differ: that is reported as a note, not a failure),
//! and a literal may stand where the spec has a parameter (`/users/me` is the `{user_id}` route).
//! Bodies are checked with a focused OpenAPI 3.0 schema validator (`$ref`, `type`, `nullable`,
//! `properties`, `required`, `items`, `additionalProperties`, `enum`, `allOf`, `oneOf`, `anyOf`).

use std::sync::OnceLock;

use serde_json::Value;
use sharebot::sandbox::recorder::{Exchange, Recorder};

/// Places where the official spec itself is wrong about what the real server sends:
/// (method, spec route, JSON pointer with `*` for any array index, reason). Nothing else may be
/// excused.
/// `*` as method or route matches any; in the pointer `*` matches one segment and a leading
/// `**/` any prefix.
pub const KNOWN_DEVIATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "GET",
        "/api/v4/remotecluster/{remote_id}/sharedchannelremotes",
        "/*/last_post_create_at",
        "SharedChannelRemote.last_post_create_at is declared string, but the server's \
         model.SharedChannelRemote.LastPostCreateAt is an int64 sent as a JSON number \
         (SOURCE.md; @mattermost/types shared_channels.d.ts types it number)",
    ),
    (
        "*",
        "*",
        "**/timezone/useAutomaticTimezone",
        "Timezone.useAutomaticTimezone is declared boolean, but the server's User.Timezone is a \
         map of strings (model.DefaultUserTimezone: \"true\"); @mattermost/types users.d.ts \
         types it boolean | string",
    ),
    (
        "*",
        "*",
        "**/policy_id",
        "Team.policy_id (and Channel.policy_id) is a *string on the server, null when no data \
         retention policy applies; the spec's own description says null but omits nullable; \
         @mattermost/types teams.d.ts types it string | null",
    ),
];

/// Success statuses the spec gets wrong: (method, spec route, status the server sends,
/// reason). The body is checked against the spec's documented success answer instead.
pub const KNOWN_STATUS_DEVIATIONS: &[(&str, &str, u16, &str)] = &[
    (
        "POST",
        "/api/v4/users/login",
        200,
        "the spec documents 201, but the server's api4/user.go `login` writes the user with the \
         default status 200 (the web app's Client4.login accepts any 2xx)",
    ),
    (
        "POST",
        "/api/v4/users/logout",
        200,
        "the spec documents 201, but api4/user.go `logout` answers ReturnStatusOK, a 200",
    ),
    (
        "DELETE",
        "/api/v4/remotecluster/{remote_id}",
        200,
        "the spec documents 204, but api4/remote_cluster.go `deleteRemoteCluster` answers \
         ReturnStatusOK, a 200 with {\"status\": \"OK\"}",
    ),
    (
        "POST",
        "/api/v4/reactions",
        200,
        "the spec documents 201, but api4/reaction.go `saveReaction` encodes the reaction \
         without writing a status, a 200",
    ),
];

/// The id of the real server's catch-all answer for a path no route matches
/// (api4/api.go: `/api/v4/{anything:.*}` → Handle404).
const NOT_FOUND_ID: &str = "api.context.404.app_error";

/// Real routes the spec documents in prose rather than under `paths`: (method, route, where).
/// Their answers are only checked to be AppErrors when they fail.
pub const DOCUMENTED_OUTSIDE_PATHS: &[(&str, &str, &str)] = &[(
    "GET",
    "/api/v4/websocket",
    "the `WebSocket` tag's description (opening handshake to /api/v4/websocket)",
)];

/// Where the spec is looked for unless `SHAREBOT_OPENAPI_SPEC` says otherwise.
const DEFAULT_SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/mattermost-openapi/mattermost-openapi-v4.yaml"
);

const APP_ERROR: &str = "#/components/schemas/AppError";

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The official spec, loaded once per test binary.
pub struct Spec {
    doc: Value,
    routes: Vec<SpecRoute>,
}

struct SpecRoute {
    path: String,
    segments: Vec<Segment>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A route of the spec matched by a sandbox route template.
#[derive(Debug)]
pub struct RouteMatch {
    /// The spec's path key, e.g. `/api/v4/users/{user_id}`.
    pub spec_path: String,
    /// Harmless differences (parameter names, literal for a parameter).
    pub notes: Vec<String>,
}

fn segments(path: &str) -> Vec<Segment> {
    path.trim_end_matches('/')
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(seg.to_owned()),
            },
        )
        .collect()
}

impl Spec {
    /// The spec at `../shared/mattermost-openapi/mattermost-openapi-v4.yaml` beside the
    /// repository (or `SHAREBOT_OPENAPI_SPEC`); panics with a clear message when missing.
    pub fn get() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| {
            let path =
                std::env::var("SHAREBOT_OPENAPI_SPEC").unwrap_or_else(|_| DEFAULT_SPEC.into());
            let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
                panic!(
                    "cannot read the Mattermost OpenAPI spec at {path}: {err}. Clone the shared \
                     folder beside the repository or set SHAREBOT_OPENAPI_SPEC to the file."
                )
            });
            Spec::parse(&text).unwrap_or_else(|err| panic!("cannot parse {path}: {err}"))
        })
    }

    /// Parses a spec document (YAML or JSON).
    pub fn parse(text: &str) -> Result<Spec, String> {
        // Straight into serde_json, keeping the last of duplicate keys as PyYAML does.
        let options = serde_saphyr::options! {
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
        };
        let doc: Value =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| e.to_string())?;
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the spec has no paths")?;
        let routes = paths
            .keys()
            .map(|path| SpecRoute {
                path: path.clone(),
                segments: segments(path),
            })
            .collect();
        Ok(Spec { doc, routes })
    }

    /// The whole spec document.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// Whether the spec has this method on this route template (`/api/v4/users/{user_id}`).
    pub fn has_route(&self, method: &str, template: &str) -> bool {
        self.find_route(method, template).is_some()
    }

    /// The spec route for this method and template, preferring the most literal match.
    pub fn find_route(&self, method: &str, template: &str) -> Option<RouteMatch> {
        let method = method.to_ascii_lowercase();
        let wanted = segments(template);
        let mut best: Option<(usize, RouteMatch)> = None;
        for route in &self.routes {
            if route.segments.len() != wanted.len()
                || self.operation(&route.path, &method).is_none()
            {
                continue;
            }
            let mut score = 0;
            let mut notes = Vec::new();
            let fits = route.segments.iter().zip(&wanted).all(|pair| match pair {
                (Segment::Literal(a), Segment::Literal(b)) => {
                    score += 1;
                    a == b
                }
                (Segment::Param(a), Segment::Param(b)) => {
                    if a != b {
                        notes.push(format!("parameter {{{b}}} is {{{a}}} in the spec"));
                    }
                    true
                }
                (Segment::Param(a), Segment::Literal(b)) => {
                    notes.push(format!("literal {b:?} stands for {{{a}}}"));
                    true
                }
                (Segment::Literal(_), Segment::Param(_)) => false,
            });
            if fits && !matches!(&best, Some((s, _)) if *s >= score) {
                best = Some((
                    score,
                    RouteMatch {
                        spec_path: route.path.clone(),
                        notes,
                    },
                ));
            }
        }
        best.map(|(_, m)| m)
    }

    /// Checks one recorded answer against the spec's response schema for its route and status.
    pub fn validate(&self, exchange: &Exchange) -> Result<(), String> {
        let method = exchange.method.to_ascii_lowercase();
        let Some(found) = self.find_route(&method, &exchange.route) else {
            let template = exchange.route.trim_end_matches('/');
            let catch_all = exchange.status == 404
                && exchange
                    .body
                    .as_ref()
                    .and_then(|b| b.get("id"))
                    .and_then(Value::as_str)
                    == Some(NOT_FOUND_ID);
            let prose = catch_all
                || DOCUMENTED_OUTSIDE_PATHS
                    .iter()
                    .any(|(m, route, _)| m.eq_ignore_ascii_case(&method) && *route == template)
                // Server-to-server routes (remote cluster ping, msg, confirm_invite) are not
                // part of the client API: only their errors are checked, as AppErrors.
                || sharebot::sandbox::server_to_server_routes()
                    .iter()
                    .any(|(m, route)| m.eq_ignore_ascii_case(&method) && *route == template);
            return match (&exchange.body, prose) {
                (_, false) => Err("route not in the spec".into()),
                (Some(body), true) if exchange.status >= 400 => {
                    let mut errors = Vec::new();
                    let schema = serde_json::json!({ "$ref": APP_ERROR });
                    self.check(&schema, body, "", &mut errors, 0);
                    check_app_error(body, exchange.status, &mut errors);
                    report(
                        errors
                            .into_iter()
                            .map(|(p, m)| format!("{p}: {m}"))
                            .collect(),
                    )
                }
                _ => Ok(()),
            };
        };
        let Some(operation) = self.operation(&found.spec_path, &method) else {
            return Err("route not in the spec".into());
        };
        let status = exchange.status;
        let keys = [
            status.to_string(),
            format!("{}XX", status / 100),
            format!("{}xx", status / 100),
            "default".to_owned(),
        ];
        let response = operation
            .get("responses")
            .and_then(|responses| keys.iter().find_map(|key| responses.get(key.as_str())));
        let schema = match response {
            Some(response) => self
                .resolve(response)
                .pointer("/content/application~1json/schema")
                .cloned(),
            None if status >= 400 => Some(serde_json::json!({ "$ref": APP_ERROR })),
            None if KNOWN_STATUS_DEVIATIONS.iter().any(|(m, route, code, _)| {
                m.eq_ignore_ascii_case(&method) && *route == found.spec_path && *code == status
            }) =>
            {
                let documented = operation.get("responses").and_then(|responses| {
                    ["200", "201", "2XX"]
                        .iter()
                        .find_map(|key| responses.get(*key))
                });
                documented.and_then(|r| {
                    self.resolve(r)
                        .pointer("/content/application~1json/schema")
                        .cloned()
                })
            }
            None => return Err(format!("status {status} is not documented for this route")),
        };
        let (Some(schema), Some(body)) = (schema, exchange.body.as_ref()) else {
            return Ok(());
        };
        let mut errors = Vec::new();
        self.check(&schema, body, "", &mut errors, 0);
        if status >= 400 && schema.get("$ref").and_then(Value::as_str) == Some(APP_ERROR) {
            check_app_error(body, status, &mut errors);
        }
        report(
            errors
                .into_iter()
                .filter(|(pointer, _)| !excused(&exchange.method, &found.spec_path, pointer))
                .map(|(pointer, message)| format!("{pointer}: {message}"))
                .collect(),
        )
    }

    fn operation(&self, path: &str, method: &str) -> Option<&Value> {
        if !METHODS.contains(&method) {
            return None;
        }
        self.doc.get("paths")?.get(path)?.get(method)
    }

    /// Follows a local `$ref` (`#/components/...`), repeatedly.
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            match reference
                .strip_prefix('#')
                .and_then(|p| self.doc.pointer(p))
            {
                Some(target) => value = target,
                None => return value,
            }
        }
        value
    }

    /// Validates `value` against `schema`, collecting (JSON pointer, message) mismatches.
    fn check(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<(String, String)>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let target = self.resolve(schema);
            if target.get("$ref").is_some() || std::ptr::eq(target, schema) {
                errors.push((at.to_owned(), format!("unresolvable $ref {reference}")));
                return;
            }
            return self.check(target, value, at, errors, depth + 1);
        }
        if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, value, at, errors, depth + 1);
            }
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
                let matches = options.iter().any(|sub| {
                    let mut sub_errors = Vec::new();
                    self.check(sub, value, at, &mut sub_errors, depth + 1);
                    sub_errors.is_empty()
                });
                if !matches {
                    errors.push((at.to_owned(), format!("matches none of {keyword}")));
                }
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                errors.push((
                    at.to_owned(),
                    format!("{value} is not one of {}", Value::Array(allowed.clone())),
                ));
            }
        }
        let declared = schema.get("type").and_then(Value::as_str);
        if let Some(expected) = declared {
            let ok = match expected {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                _ => true,
            };
            if !ok {
                errors.push((
                    at.to_owned(),
                    format!("expected {expected}, got {}", type_name(value)),
                ));
                return;
            }
        } else if value.is_null() && schema_constrains(schema) {
            errors.push((at.to_owned(), "expected a value, got null".into()));
            return;
        }
        if let Some(object) = value.as_object() {
            let properties = schema.get("properties").and_then(Value::as_object);
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(name) {
                        errors.push((at.to_owned(), format!("missing required property {name:?}")));
                    }
                }
            }
            for (key, item) in object {
                let child = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (
                    properties.and_then(|p| p.get(key)),
                    schema.get("additionalProperties"),
                ) {
                    (Some(sub), _) => self.check(sub, item, &child, errors, depth + 1),
                    (None, Some(Value::Bool(false))) => errors.push((
                        child,
                        "property not allowed (additionalProperties: false)".into(),
                    )),
                    (None, Some(sub)) if sub.is_object() => {
                        self.check(sub, item, &child, errors, depth + 1)
                    }
                    (None, _) => {}
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (index, item) in array.iter().enumerate() {
                self.check(items, item, &format!("{at}/{index}"), errors, depth + 1);
            }
        }
    }
}

fn report(failures: Vec<String>) -> Result<(), String> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// An error answer must be a real AppError: `id`, `message` and `status_code` equal to the status.
fn check_app_error(body: &Value, status: u16, errors: &mut Vec<(String, String)>) {
    for field in ["id", "message"] {
        if !body.get(field).is_some_and(Value::is_string) {
            errors.push((format!("/{field}"), "an AppError needs this string".into()));
        }
    }
    if body.get("status_code").and_then(Value::as_u64) != Some(u64::from(status)) {
        errors.push((
            "/status_code".into(),
            format!("an AppError must repeat the status {status}"),
        ));
    }
}

/// Whether a schema without `type` still says something a `null` cannot be.
fn schema_constrains(schema: &Value) -> bool {
    ["properties", "items", "additionalProperties", "enum"]
        .iter()
        .any(|k| schema.get(k).is_some())
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn excused(method: &str, spec_path: &str, pointer: &str) -> bool {
    KNOWN_DEVIATIONS.iter().any(|(m, route, pattern, _)| {
        (*m == "*" || m.eq_ignore_ascii_case(method))
            && (*route == "*" || *route == spec_path)
            && pointer_matches(pattern, pointer)
    })
}

/// `*` in a deviation's pointer stands for one segment (an array index); a leading `**/` for
/// any number of leading segments.
fn pointer_matches(pattern: &str, pointer: &str) -> bool {
    let (anywhere, pattern) = match pattern.strip_prefix("**/") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let pattern: Vec<&str> = pattern.split('/').collect();
    let pointer: Vec<&str> = pointer.split('/').collect();
    // Both keep their leading empty segment unless the pattern started with `**/`.
    if pointer.len() < pattern.len() || (!anywhere && pointer.len() != pattern.len()) {
        return false;
    }
    let tail = &pointer[pointer.len() - pattern.len()..];
    pattern.iter().zip(tail).all(|(p, s)| *p == "*" || p == s)
}

/// Panics listing every recorded answer that does not conform to the spec.
pub fn assert_conforms(recorder: &Recorder) {
    let spec = Spec::get();
    let mut failures = Vec::new();
    let mut notes = std::collections::BTreeSet::new();
    for exchange in recorder.exchanges() {
        if let Some(found) = spec.find_route(&exchange.method, &exchange.route) {
            for note in found.notes {
                notes.insert(format!("{} {}: {note}", exchange.method, exchange.route));
            }
        }
        if let Err(err) = spec.validate(&exchange) {
            failures.push(format!(
                "{} {} -> {}: {err}",
                exchange.method, exchange.route, exchange.status
            ));
        }
    }
    for note in notes {
        eprintln!("openapi note: {note}");
    }
    if !failures.is_empty() {
        panic!(
            "{} answer(s) do not conform to the Mattermost OpenAPI spec:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
}
