Feature: Audit trail
  Security-relevant actions are recorded append-only, one hash chain per
  workspace: owners and admins page through it and verify it; editing a
  stored entry breaks the chain from that entry on.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "alice" has created workspace "acme"

  Scenario: The trail lists what happened, newest first, with who, what, outcome and request
    Given "alice" has added "bob" to workspace "acme" as "member"
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:bob}" with body '{"role":"admin"}'
    Then the response status is 200
    When a client sends POST "/v1/workspaces/{workspace:acme}/channels" with header "x-request-id" set to "trace-42"
    Then the response status is 401
    And the response header "x-request-id" contains "trace-42"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/audit"
    Then the response status is 200
    And the response list "entries" has 4 items
    And the response field "entries.0.action" is "member.role-change"
    And the response field "entries.0.target" is "{user:bob} as admin"
    And the response field "entries.0.actor" is "{user:alice}"
    And the response field "entries.0.outcome" is "success"
    And the response field "entries.0.client_address" is "127.0.0.1"
    And the response field "entries.0.sequence" is 4
    And the response field "entries.1.action" is "member.join"
    And the response field "entries.1.actor" is "{user:bob}"
    And the response field "entries.2.action" is "member.invite"
    And the response field "entries.2.target" is "bob@example.com"
    And the response field "entries.3.action" is "workspace.create"
    And the response field "next_before" is null

  Scenario: Refused attempts by members are recorded; outsiders leave no trace
    Given "alice" has added "bob" to workspace "acme" as "member"
    And "carol" has signed up
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"eve@example.com","role":"owner"}'
    Then the response status is 403
    When "carol" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"eve@example.com","role":"owner"}'
    Then the response status is 404
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/audit"
    Then the response list "entries" has 4 items
    And the response field "entries.0.action" is "member.invite"
    And the response field "entries.0.outcome" is "refused"
    And the response field "entries.0.actor" is "{user:bob}"

  Scenario: Only owners and admins read the trail
    Given "alice" has added "bob" to workspace "acme" as "member"
    And "carol" has signed up
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/audit"
    Then the response status is 403
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/audit/verify"
    Then the response status is 403
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/audit"
    Then the response status is 404
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:bob}" with body '{"role":"admin"}'
    And "bob" sends GET "/v1/workspaces/{workspace:acme}/audit"
    Then the response status is 200

  Scenario: The trail pages with a cursor
    Given "alice" has created channel "one" in workspace "acme"
    And "alice" has created channel "two" in workspace "acme"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/audit?limit=2"
    Then the response list "entries" has 2 items
    And the response field "entries.0.target" is "two"
    And the response field "next_before" is 2
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/audit?limit=2&before=2"
    Then the response list "entries" has 1 item
    And the response field "entries.0.action" is "workspace.create"
    And the response field "next_before" is null
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/audit?limit=0"
    Then the response status is 400

  Scenario: Editing a stored entry breaks the chain from that entry on
    Given "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/audit/verify"
    Then the response status is 200
    And the response field "intact" is true
    And the response field "entries" is 4
    When someone with access to the database changes the target of audit entry 2 of workspace "acme" to "mallory@example.com"
    And "alice" sends GET "/v1/workspaces/{workspace:acme}/audit/verify"
    Then the response field "intact" is false
    And the response field "first_broken" is 2
