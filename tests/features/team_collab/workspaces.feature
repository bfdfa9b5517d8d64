Feature: Workspaces and roles
  A workspace is a tenant. Its creator owns it; owners and admins add
  members; plain members cannot.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up

  Scenario: The creator of a workspace is its owner
    When "alice" sends POST "/v1/workspaces" with body '{"name":"Acme"}'
    Then the response status is 201
    And the response field "name" is "Acme"
    And the response field "role" is "owner"
    When "alice" sends GET "/v1/workspaces"
    Then the response status is 200
    And the response list "workspaces" has 1 item
    When "bob" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 0 items

  Scenario: An empty workspace name is refused
    When "alice" sends POST "/v1/workspaces" with body '{"name":"   "}'
    Then the response status is 400
    And the error code is "invalid_input"

  Scenario: The owner adds a member, who then sees the workspace
    Given "alice" has created workspace "acme"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    And the response field "role" is "member"
    And the response field "email" is "bob@example.com"
    When "bob" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 1 item
    And the response field "workspaces.0.role" is "member"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/members"
    Then the response status is 200
    And the response list "members" has 2 items

  Scenario: A plain member cannot add members
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"carol@example.com","role":"member"}'
    Then the response status is 403
    And the error code is "forbidden"

  Scenario: An owner can add another owner
    Given "alice" has created workspace "acme"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"owner"}'
    Then the response status is 201
    And the response field "role" is "owner"

  Scenario: An admin can add members but not owners
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "admin"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"carol@example.com","role":"owner"}'
    Then the response status is 403
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"carol@example.com","role":"member"}'
    Then the response status is 201

  Scenario: Adding an unknown email, an existing member or a bad role fails
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"nobody@example.com","role":"member"}'
    Then the response status is 404
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 409
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"carol@example.com","role":"emperor"}'
    Then the response status is 400
