//! The component's `allowed_outbound_hosts` (Spin's
//! `factor-outbound-networking`): deny by default, templates rendered
//! with the app's variables at start-up. Outbound HTTP, PostgreSQL, MySQL
//! and Redis each check every address against it.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::Linker;

use super::{AppContext, Capability, HostState};
use crate::config::manifest::Component;
use crate::config::outbound::OutboundPolicy;

/// The outbound allow-list capability.
pub(crate) struct OutboundNetworking;

impl Capability for OutboundNetworking {
    /// Each component's allow list, by component id.
    type App = HashMap<String, Arc<OutboundPolicy>>;
    type Grant = Arc<OutboundPolicy>;

    fn link(_: &mut Linker<HostState>) -> wasmtime::Result<()> {
        Ok(())
    }

    fn configure(ctx: &AppContext) -> Result<Self::App, Vec<String>> {
        super::per_component(ctx, |component| {
            OutboundPolicy::new(&component.allowed_outbound_hosts, |template| ctx.variables.render(template))
                .map(Arc::new)
                .map_err(|m| format!("allowed_outbound_hosts {m}"))
        })
    }

    fn grant(app: &Self::App, component: &Component) -> Self::Grant {
        app[&component.id].clone()
    }
}
