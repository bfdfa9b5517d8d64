//! WASI 0.2 and 0.3 for guests (Spin's `factor-wasi`): standard output and
//! error go to Keel's, and the environment holds the component's
//! `environment` table and nothing of the host's.

use wasmtime::component::Linker;
use wasmtime_wasi::WasiCtx;

use super::{Capability, HostState};
use crate::config::manifest::Component;

/// The WASI capability.
pub(crate) struct Wasi;

impl Capability for Wasi {
    type App = ();
    /// The component's environment variables.
    type Grant = Vec<(String, String)>;

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)?;
        wasmtime_wasi::p3::add_to_linker(linker)
    }

    fn grant(_: &(), component: &Component) -> Self::Grant {
        component.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// The WASI context of one instance.
pub(super) fn context(environment: &[(String, String)]) -> WasiCtx {
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdout().inherit_stderr();
    for (k, v) in environment {
        wasi.env(k, v);
    }
    wasi.build()
}
