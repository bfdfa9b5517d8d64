Feature: Feature flags
  Flags are declared in the `feature_flags` variable with their variants,
  default and percentage rollout (platform/feature-flags); owners fix a
  flag for their workspace or for one member in it. Message editing is
  behind the flag `message_editing`. A member's override wins over the
  workspace's, which wins over the rollout, which falls back to the
  default; the same workspace always lands in the same rollout bucket.

  Scenario: Members see their flags as declared
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/features"
    Then the response status is 200
    And the response list "features" has 1 item
    And the response field "features.0.name" is "message_editing"
    And the response field "features.0.variant" is "on"
    And the response field "features.0.enabled" is true
    And the response field "features.0.reason" is "default"
    And the response field "features.0.variants" is '["on","off"]'
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/features"
    Then the response status is 404

  Scenario: An owner turns editing off for the workspace, and a refused edit changes nothing
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created workspace "globex"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"
    And "alice" has created channel "general2" in workspace "globex"
    And "bob" has posted "first draft" to channel "general" as "draft"
    And "alice" has posted "globex draft" to channel "general2" as "other"
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/features/message_editing" with body '{"variant":"off"}'
    Then the response status is 200
    And the response field "enabled" is false
    And the response field "reason" is "workspace_override"
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:draft}" with body '{"text":"second draft"}'
    Then the response status is 403
    And the error message mentions "editing is turned off"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:draft}"
    Then the response field "text" is "first draft"
    And the response field "edited_at" is null
    # Another workspace keeps the default.
    When "alice" sends PATCH "/v1/workspaces/{workspace:globex}/channels/{channel:general2}/messages/{message:other}" with body '{"text":"globex final"}'
    Then the response status is 200
    # Removing the override restores the default.
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/features/message_editing"
    Then the response status is 200
    And the response field "reason" is "default"
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:draft}" with body '{"text":"second draft"}'
    Then the response status is 200
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/audit"
    Then the response field "entries.0.action" is "message.edit"
    And the response field "entries.1.action" is "feature.override-remove"
    And the response field "entries.2.outcome" is "refused"
    And the response field "entries.3.action" is "feature.override"
    And the response field "entries.3.target" is "message_editing=off"

  Scenario: A member's override wins over the workspace's
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has added "carol" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"
    And "bob" has posted "bob's" to channel "general" as "by-bob"
    And "carol" has posted "carol's" to channel "general" as "by-carol"
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/features/message_editing" with body '{"variant":"off"}'
    And "alice" sends PUT "/v1/workspaces/{workspace:acme}/features/message_editing/members/{user:bob}" with body '{"variant":"on"}'
    Then the response status is 200
    And the response field "reason" is "user_override"
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:by-bob}" with body '{"text":"bob edited"}'
    Then the response status is 200
    When "carol" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:by-carol}" with body '{"text":"carol edited"}'
    Then the response status is 403
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/features"
    Then the response field "features.0.reason" is "user_override"
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/features"
    Then the response field "features.0.reason" is "workspace_override"

  Scenario Outline: Only owners set flags; a refused change leaves the flag as it was
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "<role>"
    When "bob" sends PUT "/v1/workspaces/{workspace:acme}/features/message_editing" with body '{"variant":"off"}'
    Then the response status is 403
    When "bob" sends PUT "/v1/workspaces/{workspace:acme}/features/message_editing/members/{user:bob}" with body '{"variant":"off"}'
    Then the response status is 403
    When "carol" sends PUT "/v1/workspaces/{workspace:acme}/features/message_editing" with body '{"variant":"off"}'
    Then the response status is 404
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/features"
    Then the response field "features.0.variant" is "on"
    And the response field "features.0.reason" is "default"

    Examples:
      | role   |
      | admin  |
      | member |

  Scenario: Unknown flags, unknown variants and non-members are refused
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/features/teleport" with body '{"variant":"on"}'
    Then the response status is 404
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/features/message_editing" with body '{"variant":"sometimes"}'
    Then the response status is 400
    And the error message mentions "no variant `sometimes`"
    When "alice" sends PUT "/v1/workspaces/{workspace:acme}/features/message_editing/members/{user:carol}" with body '{"variant":"off"}'
    Then the response status is 404
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/features"
    Then the response field "features.0.reason" is "default"

  Scenario: A flag rolled out to everyone or no one, and variants for an A/B test
    Given a running team-collab server whose feature flags are '{"message_editing":{"default":"on","rollout":{"off":100}},"composer":{"variants":["classic","compact"],"default":"classic","rollout":{"compact":100},"by":"user"}}'
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    And "alice" has posted "typo" to channel "general" as "typo"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/features"
    Then the response list "features" has 2 items
    And the response field "features.0.name" is "composer"
    And the response field "features.0.variant" is "compact"
    And the response field "features.0.enabled" is true
    And the response field "features.0.reason" is "rollout"
    And the response field "features.1.variant" is "off"
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:typo}" with body '{"text":"fixed"}'
    Then the response status is 403

  Scenario: A percentage rollout splits workspaces and gives each the same answer every time
    Given a running team-collab server whose feature flags are '{"message_editing":{"default":"off","rollout":{"on":50}}}'
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    When "alice" creates 30 workspaces
    Then between 5 and 25 of them have "message_editing" enabled
    And each of them gets the same answer when asked again

  Scenario: A malformed declaration is a server error that does not leak it
    Given a running team-collab server whose feature flags are '{"message_editing":{"default":"maybe"}}'
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/features"
    Then the response status is 500
    And the error code is "internal"
    And the response body does not mention "maybe"
