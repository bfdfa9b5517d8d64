//! `spin:variables/variables@3.0.0` and `wasi:config/store` (the same
//! values): the component's declared variables, rendered once at start-up.
//!
//! # Parity with Spin
//!
//! Follows `crates/factor-variables/src/host.rs`: a name that breaks Spin's
//! rules is `invalid-name("\"name\": reason")`, a valid name the component
//! does not declare is `undefined("no variable for \"component\".\"name\"")`
//! (`no variable for component "component"` when it declares none). On
//! `wasi:config/store`, both are `none`, and `get-all` lists every variable
//! of the component.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::{Accessor, Linker};

use super::bindings::spin::variables::variables::{self as wit, Error};
use super::bindings::wasi::config::store as wasi_config;
use super::{AppContext, Capability, ComponentServices, HostState, Spin};
use crate::config::manifest::Component;
use crate::config::variables::validate_name;

/// The variables capability (`spin:variables`, `wasi:config/store`).
pub(crate) struct SpinVariables;

impl Capability for SpinVariables {
    /// Each component's variables, by component id.
    type App = HashMap<String, Arc<HashMap<String, String>>>;
    /// The component's variables, rendered from the app's.
    type Grant = Arc<HashMap<String, String>>;

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        super::bindings::spin::variables::variables::add_to_linker::<_, Spin>(linker, super::this)?;
        super::bindings::wasi::config::store::add_to_linker::<_, Spin>(linker, super::this)
    }

    fn configure(ctx: &AppContext) -> Result<Self::App, Vec<String>> {
        super::per_component(ctx, |component| {
            component
                .variables
                .iter()
                .map(|(name, template)| {
                    let value = ctx.variables.render(template).map_err(|m| format!("variable `{name}`: {m}"))?;
                    Ok((name.clone(), value))
                })
                .collect::<Result<_, String>>()
                .map(Arc::new)
        })
    }

    fn grant(app: &Self::App, component: &Component) -> Self::Grant {
        app[&component.id].clone()
    }
}

impl ComponentServices {
    /// The value of the component variable `name`, or Spin's error.
    fn variable(&self, name: &str) -> Result<String, Error> {
        validate_name(name).map_err(|reason| Error::InvalidName(format!("{name:?}: {reason}")))?;
        match self.variables.get(name) {
            Some(value) => Ok(value.clone()),
            None if self.variables.is_empty() => {
                Err(Error::Undefined(format!("no variable for component {:?}", self.id)))
            }
            None => Err(Error::Undefined(format!("no variable for {:?}.{name:?}", self.id))),
        }
    }
}

impl wit::Host for HostState {}

impl<T> wit::HostWithStore<T> for Spin {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> wasmtime::Result<Result<String, Error>> {
        Ok(accessor.with(|mut access| access.get().services.variable(&name)))
    }
}

impl wasi_config::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, wasi_config::Error>> {
        Ok(Ok(self.services.variable(&key).ok()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, wasi_config::Error>> {
        let mut all: Vec<(String, String)> =
            self.services.variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort();
        Ok(Ok(all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::services;

    #[test]
    fn errors_carry_spins_texts() {
        let services = services("web", &[("token_secret", "s3cret")]);
        let answer = |s: &ComponentServices, name: &str| format!("{:?}", s.variable(name));
        assert_eq!(answer(&services, "token_secret"), r#"Ok("s3cret")"#);
        for (name, expected) in [
            ("x_", r#"Error::InvalidName("\"x_\": must end with a lowercase ASCII letter or digit")"#),
            (
                "Token",
                r#"Error::InvalidName("\"Token\": invalid character 'T'. Variable names may contain only lower-case letters, numbers, and underscores.")"#,
            ),
            ("api_key", r#"Error::Undefined("no variable for \"web\".\"api_key\"")"#),
        ] {
            assert_eq!(answer(&services, name), format!("Err({expected})"), "{name}");
        }
        let bare = services_without_variables();
        assert_eq!(answer(&bare, "api_key"), r#"Err(Error::Undefined("no variable for component \"bare\""))"#);
    }

    fn services_without_variables() -> std::sync::Arc<ComponentServices> {
        services("bare", &[])
    }

    #[test]
    fn wasi_config_sees_the_same_variables() {
        let mut store = crate::host::tests::store(services("web", &[("b", "2"), ("a", "1")]));
        let state = store.data_mut();
        let get =
            |state: &mut HostState, key: &str| format!("{:?}", wasi_config::Host::get(state, key.into()).unwrap());
        assert_eq!(get(state, "a"), r#"Ok(Some("1"))"#);
        assert_eq!(get(state, "missing"), "Ok(None)");
        assert_eq!(get(state, "Bad"), "Ok(None)");
        assert_eq!(format!("{:?}", wasi_config::Host::get_all(state).unwrap()), r#"Ok([("a", "1"), ("b", "2")])"#);
    }
}
