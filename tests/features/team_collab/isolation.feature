Feature: Tenant isolation
  Nobody outside a workspace can see or change its data, and they cannot
  even tell it exists.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "eve" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "secret" in workspace "acme"
    And "alice" has posted 3 messages to channel "secret"
    And "eve" has created workspace "evil"
    And "eve" has created channel "lobby" in workspace "evil"
    And "bob" has signed up
    And "alice" has invited "bob" to workspace "acme" as "member"
    And "alice" has noted what workspace "acme" holds

  Scenario Outline: A non-member gets 404 for every route of another workspace, and changes nothing
    When "eve" sends <method> "<path>" with body '<body>'
    Then the response status is 404
    And the error code is "not_found"
    And workspace "acme" holds for "alice" exactly what it held before

    Examples:
      | method | path                                                                  | body                                      |
      | GET    | /v1/workspaces/{workspace:acme}                                        |                                           |
      | GET    | /v1/workspaces/{workspace:acme}/members                                |                                           |
      | PATCH  | /v1/workspaces/{workspace:acme}/members/{user:alice}                   | {"role":"member"}                         |
      | DELETE | /v1/workspaces/{workspace:acme}/members/{user:alice}                   |                                           |
      | GET    | /v1/workspaces/{workspace:acme}/invitations                            |                                           |
      | POST   | /v1/workspaces/{workspace:acme}/invitations                            | {"email":"eve@example.com","role":"owner"} |
      | DELETE | /v1/workspaces/{workspace:acme}/invitations/{invitation:bob}           |                                           |
      | GET    | /v1/workspaces/{workspace:acme}/audit                                  |                                           |
      | GET    | /v1/workspaces/{workspace:acme}/audit/verify                           |                                           |
      | GET    | /v1/workspaces/{workspace:acme}/channels                               |                                           |
      | POST   | /v1/workspaces/{workspace:acme}/channels                               | {"name":"backdoor"}                       |
      | GET    | /v1/workspaces/{workspace:acme}/channels/{channel:secret}/messages    |                                           |
      | POST   | /v1/workspaces/{workspace:acme}/channels/{channel:secret}/messages    | {"text":"hi"}                             |

  Scenario Outline: Another workspace's channel cannot be reached through one's own workspace
    When "eve" sends <method> "/v1/workspaces/{workspace:evil}/channels/{channel:secret}/messages" with body '<body>'
    Then the response status is 404
    And workspace "acme" holds for "alice" exactly what it held before

    Examples:
      | method | body          |
      | GET    |               |
      | POST   | {"text":"hi"} |

  Scenario: Workspace lists show only one's own workspaces
    When "eve" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 1 item
    And the response field "workspaces.0.name" is "evil"

  Scenario: The unknown-workspace and not-a-member answers are the same
    When "eve" sends GET "/v1/workspaces/wsp_00000000000000000000000000000000/channels"
    Then the response status is 404
    And I remember the response field "error.message" as "unknown workspace message"
    When "eve" sends GET "/v1/workspaces/{workspace:acme}/channels"
    Then the response field "error.message" is the remembered "unknown workspace message"

  Scenario: An invitation sent to someone else can be neither seen nor answered
    When "eve" sends GET "/v1/invitations"
    Then the response status is 200
    And the response list "invitations" has 0 items
    When "eve" sends POST "/v1/invitations/{invitation:bob}/accept"
    Then the response status is 404
    When "eve" sends POST "/v1/invitations/{invitation:bob}/decline"
    Then the response status is 404
    And workspace "acme" holds for "alice" exactly what it held before
    When "bob" sends POST "/v1/invitations/{invitation:bob}/accept"
    Then the response status is 200
