//! The HTTP contract of team-collab (`products/team-collab/openapi.yaml`),
//! enforced on every response a product scenario gets: a documented status
//! must carry a body its schema accepts (or none, where none is
//! documented); any other status must be an error (4xx/5xx) in the
//! `Error` shape. A scenario therefore fails when the product answers
//! something its published contract does not say, even where the steps
//! assert nothing about that field.

use std::sync::OnceLock;

use serde_json::{Value, json};

/// What the document says one method of one path answers.
struct Operation {
    method: String,
    /// The path template's segments; `None` stands for a parameter.
    segments: Vec<Option<String>>,
    /// Status → the body's schema (`None`: no body).
    responses: Vec<(u16, Option<jsonschema::Validator>)>,
}

pub struct Contract {
    operations: Vec<Operation>,
    error: jsonschema::Validator,
}

/// A validator for `schema`, with the document's components reachable by `$ref`.
fn validator(document: &Value, schema: &Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": document["components"],
    });
    jsonschema::validator_for(&root).unwrap_or_else(|err| panic!("openapi.yaml: schema {schema}: {err}"))
}

impl Contract {
    /// The contract, read once per run.
    pub fn get() -> &'static Contract {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| {
            let path = super::repo_root().join("products/team-collab/openapi.yaml");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            let document: Value = serde_yaml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            Contract::new(&document)
        })
    }

    fn new(document: &Value) -> Contract {
        let mut operations = Vec::new();
        for (template, methods) in document["paths"].as_object().expect("openapi.yaml: paths") {
            let segments = template
                .split('/')
                .map(|segment| (!segment.starts_with('{')).then(|| segment.to_owned()))
                .collect::<Vec<_>>();
            for (method, operation) in methods.as_object().expect("openapi.yaml: a path's methods") {
                let responses = operation["responses"]
                    .as_object()
                    .expect("openapi.yaml: responses")
                    .iter()
                    .filter(|(status, _)| *status != "default")
                    .map(|(status, response)| {
                        let status = status.parse::<u16>().expect("openapi.yaml: a numeric status");
                        let schema = response.pointer("/content/application~1json/schema");
                        (status, schema.map(|schema| validator(document, schema)))
                    })
                    .collect();
                operations.push(Operation { method: method.to_uppercase(), segments: segments.clone(), responses });
            }
        }
        let error = validator(document, &json!({ "$ref": "#/components/schemas/Error" }));
        Contract { operations, error }
    }

    /// Whether `status` with `body` is what the contract lets `method`
    /// `path` answer; the error says what it broke.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        let matches = |operation: &&Operation| {
            operation.method == method
                && operation.segments.len() == segments.len()
                && operation.segments.iter().zip(&segments).all(|(expected, segment)| match expected {
                    Some(literal) => literal == segment,
                    None => !segment.is_empty(),
                })
        };
        let documented = self.operations.iter().find(matches).and_then(|operation| {
            operation.responses.iter().find(|(documented, _)| *documented == status).map(|(_, schema)| schema)
        });
        match documented {
            Some(Some(schema)) => describe(schema, body, &format!("{method} {path} → {status}")),
            Some(None) if body.is_null() => Ok(()),
            Some(None) => Err(format!("{method} {path} → {status} is documented without a body, got {body}")),
            None if status >= 400 => describe(&self.error, body, &format!("{method} {path} → {status} (an error)")),
            None => Err(format!("{method} {path} → {status} is not in openapi.yaml")),
        }
    }
}

fn describe(schema: &jsonschema::Validator, body: &Value, what: &str) -> Result<(), String> {
    let problems: Vec<String> =
        schema.iter_errors(body).map(|error| format!("{} at `{}`", error, error.instance_path())).collect();
    if problems.is_empty() { Ok(()) } else { Err(format!("{what}: {} (body {body})", problems.join("; "))) }
}
