Feature: One deployable component
  Each product and probe is composed with its domains, repositories and
  adapters into one component that runs on any Spin host: it imports
  nothing but Spin and WASI interfaces. Variants differ only in the
  adapters swapped in.

  Scenario: The composed product imports only Spin and WASI interfaces
    Then the component "dist/team-collab.wasm" imports only "spin:" and "wasi:" interfaces
    And the component "dist/team-collab.wasm" imports "spin:sqlite/sqlite@3.1.0"
    And the component "dist/team-collab.wasm" imports "spin:variables/variables@3.0.0"
    And the component "dist/team-collab.wasm" exports "wasi:http/handler@0.3.0"
    And the component "dist/team-collab.wasm" exports "keel:triggers/inbound-cron@0.1.0"
    And the component "dist/kv-conformance-spin.wasm" imports "spin:key-value/key-value@3.0.0"

  Scenario: Only the guest-span build needs wasi:otel, which Spin links only on request
    Then the component "dist/team-collab-otel.wasm" imports "wasi:otel/tracing@0.2.0-rc.2"
    And the component "dist/team-collab.wasm" does not import "wasi:otel/tracing@0.2.0-rc.2"

  Scenario: Every composed component imports only Spin and WASI interfaces
    Then every component in "dist" imports only "spin:" and "wasi:" interfaces

  Scenario Outline: A variant embeds the very same components but for the swapped adapter
    Then "<variant>" embeds the components of "dist/team-collab.wasm" byte for byte, except 1

    Examples:
      | variant                        |
      | dist/team-collab-postgres.wasm |
      | dist/team-collab-mysql.wasm    |
      | dist/team-collab-sendgrid.wasm |
      | dist/team-collab-otel.wasm     |
      | dist/team-collab-s3.wasm       |
