Feature: One deployable component
  The product is composed with its domains, repositories and adapters into
  one component that runs on any Spin host: it imports nothing but Spin
  and WASI interfaces.

  Scenario: The composed product imports only Spin and WASI interfaces
    Then the component "dist/team-collab.wasm" imports only "spin:" and "wasi:" interfaces
    And the component "dist/team-collab.wasm" imports "spin:sqlite/sqlite@3.1.0"
    And the component "dist/team-collab.wasm" imports "spin:variables/variables@3.0.0"
    And the component "dist/team-collab.wasm" exports "wasi:http/handler@0.3.0"

  Scenario: The conformance probes are composed the same way
    Then the component "dist/sql-conformance-sqlite.wasm" imports only "spin:" and "wasi:" interfaces
    And the component "dist/kv-conformance-spin.wasm" imports only "spin:" and "wasi:" interfaces
    And the component "dist/kv-conformance-spin.wasm" imports "spin:key-value/key-value@3.0.0"
