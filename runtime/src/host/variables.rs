//! `spin:variables/variables@3.0.0`: the component's declared variables,
//! rendered once at start-up.

use wasmtime::component::Accessor;

use super::bindings::spin::variables::variables::{self as wit, Error};
use super::{HostState, Spin};

impl wit::Host for HostState {}

impl<T> wit::HostWithStore<T> for Spin {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> wasmtime::Result<Result<String, Error>> {
        accessor.with(|mut access| {
            let state = access.get();
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Ok(Err(Error::InvalidName(name)));
            }
            Ok(state.services.variables.get(&name).cloned().ok_or(Error::Undefined(name)))
        })
    }
}
