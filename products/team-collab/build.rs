//! The HTTP contract is written in YAML (`openapi.yaml`); the product
//! serves it as JSON, converted here once per build (key order kept).

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=openapi.yaml");
    let source = std::fs::read_to_string("openapi.yaml").unwrap_or_else(|err| panic!("openapi.yaml: {err}"));
    let document: serde_yaml::Value = serde_yaml::from_str(&source).unwrap_or_else(|err| match err.location() {
        Some(at) => panic!("openapi.yaml:{}:{}: {err}", at.line(), at.column()),
        None => panic!("openapi.yaml: {err}"),
    });
    let json = serde_json::to_string(&document).unwrap_or_else(|err| panic!("openapi.yaml as JSON: {err}"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.json");
    std::fs::write(&out, json).unwrap_or_else(|err| panic!("{}: {err}", out.display()));
}
