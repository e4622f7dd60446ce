//! Loads the official Mattermost OpenAPI spec and checks sandbox routes and answers against it.
//!
//! Routes are matched segment by segment: literal segments must be equal, a `{param}` must sit
//! where the spec has a `{param}` (names may differ: that is reported as a note, not a failure),
//! and a literal may stand where the spec has a parameter (`/users/me` is the `{user_id}` route).
//! Bodies are checked by the `jsonschema` crate: each OpenAPI 3.0 schema is turned into a JSON
//! Schema (draft 4, which OpenAPI 3.0 schemas extend) on first use and compiled once.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::{json, Map, Value};
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
    /// Compiled validators by the text of the OpenAPI schema they check, built on first use.
    validators: Mutex<HashMap<String, Arc<Result<Validator, String>>>>,
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
    /// repository (or the file named by `SHAREBOT_OPENAPI_SPEC`), loaded once per test binary.
    ///
    /// `None` when the default file is not there: the conformance layer is then skipped, said
    /// once on the terminal with how to enable it, so a plain clone's `cargo test` passes.
    /// With `SHAREBOT_REQUIRE_OPENAPI=1` (CI sets it), or when `SHAREBOT_OPENAPI_SPEC` names a
    /// file that cannot be read, that is a failure instead.
    pub fn get() -> Option<&'static Spec> {
        static SPEC: OnceLock<Option<Spec>> = OnceLock::new();
        SPEC.get_or_init(|| {
            let named = std::env::var("SHAREBOT_OPENAPI_SPEC").ok();
            let path = named.clone().unwrap_or_else(|| DEFAULT_SPEC.into());
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(err) if named.is_none() && !required() => {
                    notice_skipped(&path, &err);
                    return None;
                }
                Err(err) => panic!(
                    "cannot read the Mattermost OpenAPI spec at {path}: {err}. Clone the shared \
                     folder beside the repository or set SHAREBOT_OPENAPI_SPEC to the file."
                ),
            };
            Some(Spec::parse(&text).unwrap_or_else(|err| panic!("cannot parse {path}: {err}")))
        })
        .as_ref()
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
        Ok(Spec {
            doc,
            routes,
            validators: Mutex::default(),
        })
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
                    .any(|(m, route)| m.eq_ignore_ascii_case(&method) && *route == template)
                // Routes of the server's `web` package (`POST /hooks/{id}`) are outside the API.
                || sharebot::sandbox::web_routes()
                    .iter()
                    .any(|(m, route)| m.eq_ignore_ascii_case(&method) && *route == template);
            return match (&exchange.body, prose) {
                (_, false) => Err("route not in the spec".into()),
                (Some(body), true) if exchange.status >= 400 => {
                    let mut errors = self.check(&json!({ "$ref": APP_ERROR }), body);
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
            None if status >= 400 => Some(json!({ "$ref": APP_ERROR })),
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
        let mut errors = self.check(&schema, body);
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

    /// Validates `value` against an OpenAPI `schema`: (JSON pointer, message) mismatches.
    fn check(&self, schema: &Value, value: &Value) -> Vec<(String, String)> {
        let validator = {
            let mut validators = self.validators.lock().unwrap();
            validators
                .entry(schema.to_string())
                .or_insert_with(|| Arc::new(self.compile(schema)))
                .clone()
        };
        match validator.as_ref() {
            Ok(validator) => validator.iter_errors(value).flat_map(describe).collect(),
            Err(err) => vec![(String::new(), err.clone())],
        }
    }

    /// The JSON Schema of an OpenAPI schema, with every component it refers to (transitively)
    /// under `definitions`, compiled.
    fn compile(&self, schema: &Value) -> Result<Validator, String> {
        let mut pending = BTreeSet::new();
        let root = to_json_schema(schema, &mut pending)?;
        let mut definitions = Map::new();
        while let Some(name) = pending.pop_first() {
            if definitions.contains_key(&name) {
                continue;
            }
            let component = self
                .doc
                .pointer(&format!("/components/schemas/{}", escape(&name)))
                .ok_or_else(|| format!("unresolvable $ref {COMPONENTS}{name}"))?;
            definitions.insert(name, to_json_schema(component, &mut pending)?);
        }
        let document = json!({ "definitions": definitions, "allOf": [root] });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(&document)
            .map_err(|err| format!("the spec's schema does not compile: {err}"))
    }
}

const COMPONENTS: &str = "#/components/schemas/";

/// Escapes a name for a JSON pointer segment.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Turns an OpenAPI 3.0 schema into a draft 4 JSON Schema: `$ref`s to components point into
/// `definitions` (their names are added to `refs`) and drop their siblings, as OpenAPI 3.0
/// says; `nullable: true` admits `null`; OpenAPI-only keys are dropped. A schema without `type`
/// that describes properties, items or allowed values refuses `null` (JSON Schema alone would
/// let it through): a null where the spec describes a value is a mismatch.
fn to_json_schema(schema: &Value, refs: &mut BTreeSet<String>) -> Result<Value, String> {
    let Some(object) = schema.as_object() else {
        return Ok(schema.clone());
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix(COMPONENTS)
            .ok_or_else(|| format!("unresolvable $ref {reference}"))?;
        refs.insert(name.to_owned());
        return Ok(json!({ "$ref": format!("#/definitions/{}", escape(name)) }));
    }
    let mut out = Map::new();
    for (key, value) in object {
        let converted = match key.as_str() {
            "nullable" | "discriminator" | "readOnly" | "writeOnly" | "xml" | "externalDocs"
            | "example" | "deprecated" => continue,
            other if other.starts_with("x-") => continue,
            "properties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, sub)| Ok((name.clone(), to_json_schema(sub, refs)?)))
                    .collect::<Result<_, String>>()?,
            ),
            "items" | "additionalProperties" | "not" => to_json_schema(value, refs)?,
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|sub| to_json_schema(sub, refs))
                    .collect::<Result<_, String>>()?,
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if object.get("nullable").and_then(Value::as_bool) == Some(true) {
        let simple = ["allOf", "anyOf", "oneOf", "not"]
            .iter()
            .all(|k| !out.contains_key(*k));
        match out.get_mut("type") {
            Some(Value::String(name)) if simple => {
                let name = std::mem::take(name);
                out.insert("type".into(), json!([name, "null"]));
                if let Some(Value::Array(allowed)) = out.get_mut("enum") {
                    allowed.push(Value::Null);
                }
            }
            _ => return Ok(json!({ "anyOf": [{ "type": "null" }, out] })),
        }
    } else if !out.contains_key("type")
        && ["properties", "items", "additionalProperties", "enum"]
            .iter()
            .any(|k| out.contains_key(*k))
    {
        let not_null = json!({ "type": "null" });
        match out.remove("not") {
            Some(not) => {
                out.insert("allOf".into(), json!([{ "not": not }, { "not": not_null }]));
            }
            None => {
                out.insert("not".into(), not_null);
            }
        }
    }
    Ok(Value::Object(out))
}

/// A validation error as (JSON pointer, message); several for several unexpected properties.
fn describe(error: ValidationError<'_>) -> Vec<(String, String)> {
    let at = error.instance_path().to_string();
    let value = error.instance();
    let message = match error.kind() {
        ValidationErrorKind::Type { kind } => {
            format!("expected {}, got {}", expected(kind), type_name(value))
        }
        ValidationErrorKind::Required { property } => format!(
            "missing required property {:?}",
            property.as_str().unwrap_or_default()
        ),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            return unexpected
                .iter()
                .map(|name| {
                    (
                        format!("{at}/{}", escape(name)),
                        "property not allowed (additionalProperties: false)".into(),
                    )
                })
                .collect()
        }
        ValidationErrorKind::Enum { options } => format!("{value} is not one of {options}"),
        ValidationErrorKind::AnyOf { .. } => "matches none of anyOf".into(),
        ValidationErrorKind::OneOfNotValid { .. } => "matches none of oneOf".into(),
        // As Mattermost's clients read `oneOf`: matching one of the options is enough.
        ValidationErrorKind::OneOfMultipleValid { .. } => return Vec::new(),
        ValidationErrorKind::Not { .. } if value.is_null() => "expected a value, got null".into(),
        _ => error.to_string(),
    };
    vec![(at, message)]
}

/// The JSON types a `type` error expected, `null` left out (a nullable value that is not null
/// has the other type to blame).
fn expected(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(one) => one.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .filter(|t| t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
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

/// Whether a missing spec fails the run (`SHAREBOT_REQUIRE_OPENAPI=1`, set by `.ci/run`).
fn required() -> bool {
    std::env::var("SHAREBOT_REQUIRE_OPENAPI").is_ok_and(|v| v == "1" || v == "true")
}

/// Says once per test binary, on the real terminal (past the test harness's capture), that the
/// conformance checks were skipped and how to enable them.
fn notice_skipped(path: &str, err: &std::io::Error) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\nNOTICE: OpenAPI conformance checks SKIPPED: no spec at {path} ({err}); set SHAREBOT_OPENAPI_SPEC=<path to mattermost-openapi-v4.yaml> to enable them (SHAREBOT_REQUIRE_OPENAPI=1 makes a missing spec fail).\n"
    );
}

/// Panics listing every recorded answer that does not conform to the spec; does nothing when
/// the spec is absent and not required (see [`Spec::get`]).
pub fn assert_conforms(recorder: &Recorder) {
    let Some(spec) = Spec::get() else {
        return;
    };
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
