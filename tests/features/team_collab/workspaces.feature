Feature: Workspaces, roles and invitations
  A workspace is a tenant. Its creator owns it. People join only by
  invitation: owners and admins invite an email address with a role, and
  the holder of a verified account with that address accepts or declines.
  Only owners manage owners, and a workspace always keeps an owner.

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

  Scenario: Members are no longer added directly
    Given "alice" has created workspace "acme"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 405
    And the response header "allow" contains "GET"
    When "bob" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 0 items

  Scenario: An invited user accepts and then sees the workspace
    Given "alice" has created workspace "acme"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"Bob@Example.com","role":"member"}'
    Then the response status is 201
    And the response field "email" is "bob@example.com"
    And the response field "role" is "member"
    And the response field "workspace_name" is "acme"
    And I remember the response field "id" as "invitation"
    When "bob" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 0 items
    When "bob" sends GET "/v1/invitations"
    Then the response status is 200
    And the response list "invitations" has 1 item
    And the response field "invitations.0.id" is the remembered "invitation"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/invitations"
    Then the response list "invitations" has 1 item
    When "bob" accepts the invitation remembered as "invitation"
    Then the response status is 200
    And the response field "role" is "member"
    And the response field "email" is "bob@example.com"
    When "bob" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 1 item
    And the response field "workspaces.0.role" is "member"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/members"
    Then the response status is 200
    And the response list "members" has 2 items
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/invitations"
    Then the response list "invitations" has 0 items
    When "bob" accepts the invitation remembered as "invitation"
    Then the response status is 404

  Scenario: Inviting an address answers the same whether or not it has an account
    Given "alice" has created workspace "acme"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"nobody@example.com","role":"member"}'
    Then the response status is 201
    And the response field "email" is "nobody@example.com"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"carol@example.com","role":"member"}'
    Then the response status is 201
    And the response field "email" is "carol@example.com"

  Scenario: A future account with the invited address can accept once verified
    Given "alice" has created workspace "acme"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"dave@example.com","role":"admin"}'
    Then the response status is 201
    And I remember the response field "id" as "invitation"
    Given "dave" has signed up without confirming their email
    When "dave" accepts the invitation remembered as "invitation"
    Then the response status is 403
    And the error code is "forbidden"
    When "dave" sends GET "/v1/invitations"
    Then the response status is 403
    When "dave" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 0 items
    When I remember the token in the last email to "dave@example.com" as "dave's link"
    And a client sends POST "/v1/auth/verify-email" with body '{"token":"{dave's link}"}'
    Then the response status is 200
    When "dave" accepts the invitation remembered as "invitation"
    Then the response status is 200
    And the response field "role" is "admin"

  Scenario: Declined and revoked invitations cannot be accepted
    Given "alice" has created workspace "acme"
    Given "alice" has invited "bob" to workspace "acme" as "member"
    And "alice" has invited "carol" to workspace "acme" as "member"
    When "bob" sends POST "/v1/invitations/{invitation:bob}/decline"
    Then the response status is 204
    When "bob" sends POST "/v1/invitations/{invitation:bob}/accept"
    Then the response status is 404
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/invitations/{invitation:carol}"
    Then the response status is 204
    When "carol" sends POST "/v1/invitations/{invitation:carol}/accept"
    Then the response status is 404
    When "carol" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 0 items
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/members"
    Then the response list "members" has 1 item
    Given "alice" has invited "bob" to workspace "acme" as "member"

  Scenario: One pending invitation per address; members cannot be invited again
    Given "alice" has created workspace "acme"
    Given "alice" has invited "bob" to workspace "acme" as "member"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"bob@example.com","role":"admin"}'
    Then the response status is 409
    And the error code is "conflict"
    Given "alice" has added "carol" to workspace "acme" as "member"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"carol@example.com","role":"member"}'
    Then the response status is 409
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"not-an-email","role":"member"}'
    Then the response status is 400
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"dave@example.com","role":"emperor"}'
    Then the response status is 400

  Scenario: A plain member can neither invite nor see invitations
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"carol@example.com","role":"member"}'
    Then the response status is 403
    And the error code is "forbidden"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/invitations"
    Then the response status is 403
    When "carol" sends GET "/v1/invitations"
    Then the response list "invitations" has 0 items

  Scenario: An owner can invite another owner
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "owner"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}"
    Then the response field "role" is "owner"

  Scenario: An admin can invite members but not owners
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "admin"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"carol@example.com","role":"owner"}'
    Then the response status is 403
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"carol@example.com","role":"member"}'
    Then the response status is 201

  Scenario: Owners and admins change roles; only owners touch owners
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "admin"
    And "alice" has added "carol" to workspace "acme" as "member"
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:carol}" with body '{"role":"admin"}'
    Then the response status is 200
    And the response field "role" is "admin"
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:carol}" with body '{"role":"owner"}'
    Then the response status is 403
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:alice}" with body '{"role":"member"}'
    Then the response status is 403
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:carol}" with body '{"role":"owner"}'
    Then the response status is 200
    When "carol" sends GET "/v1/workspaces/{workspace:acme}"
    Then the response field "role" is "owner"
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:carol}" with body '{"role":"king"}'
    Then the response status is 400
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/members/usr_00000000000000000000000000000000" with body '{"role":"member"}'
    Then the response status is 404

  Scenario: The last owner can neither be demoted, nor removed, nor leave
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "admin"
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:alice}" with body '{"role":"admin"}'
    Then the response status is 409
    And the error code is "conflict"
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:alice}"
    Then the response status is 409
    When "bob" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:alice}"
    Then the response status is 403
    When "alice" sends GET "/v1/workspaces/{workspace:acme}"
    Then the response field "role" is "owner"
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/members/{user:bob}" with body '{"role":"owner"}'
    Then the response status is 200
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:alice}"
    Then the response status is 204
    When "alice" sends GET "/v1/workspaces/{workspace:acme}"
    Then the response status is 404
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/members"
    Then the response list "members" has 1 item

  Scenario: A removed member loses access; a member may leave
    Given "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has added "carol" to workspace "acme" as "member"
    When "bob" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:carol}"
    Then the response status is 403
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:bob}"
    Then the response status is 204
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response status is 404
    When "carol" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:carol}"
    Then the response status is 204
    When "carol" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 0 items
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/members"
    Then the response list "members" has 1 item

  Scenario: Two owners demoting each other at once leave one owner
    Given "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "owner"
    When "alice" and "bob" demote each other to "member" at once
    # The loser is refused by the repository's owner check under the
    # workspace lock (409), or, if the winner committed first, already by
    # its own lost permission (403); never both demoted.
    Then exactly one of the two demotions succeeded and the other was refused
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/members"
    Then the workspace has exactly 1 owner

  Scenario: Who may do what, role by role (one table of role → permissions in platform/security)
    Given "olga" has signed up
    And "adam" has signed up
    And "mia" has signed up
    And "dave" has signed up
    And "eve" has signed up
    Then each role gets these answers, each in a workspace of its own:
      | action                           | method | path                                              | body                                         | owner | admin | member | outsider |
      | read the workspace               | GET    | {ws}                                              |                                              | 200   | 200   | 200    | 404      |
      | list members                     | GET    | {ws}/members                                      |                                              | 200   | 200   | 200    | 404      |
      | invite a member                  | POST   | {ws}/invitations                                  | {"email":"new@example.com","role":"member"}  | 201   | 201   | 403    | 404      |
      | invite an owner                  | POST   | {ws}/invitations                                  | {"email":"new@example.com","role":"owner"}   | 201   | 403   | 403    | 404      |
      | list invitations                 | GET    | {ws}/invitations                                  |                                              | 200   | 200   | 403    | 404      |
      | make a member an admin           | PATCH  | {ws}/members/{dave}                               | {"role":"admin"}                             | 200   | 200   | 403    | 404      |
      | make a member an owner           | PATCH  | {ws}/members/{dave}                               | {"role":"owner"}                             | 200   | 403   | 403    | 404      |
      | remove a member                  | DELETE | {ws}/members/{dave}                               |                                              | 204   | 204   | 403    | 404      |
      | read the audit trail             | GET    | {ws}/audit                                        |                                              | 200   | 200   | 403    | 404      |
      | verify the audit trail           | GET    | {ws}/audit/verify                                 |                                              | 200   | 200   | 403    | 404      |
      | list feature flags               | GET    | {ws}/features                                     |                                              | 200   | 200   | 200    | 404      |
      | set a feature flag               | PUT    | {ws}/features/message_editing                     | {"variant":"off"}                            | 200   | 403   | 403    | 404      |
      | create a channel                 | POST   | {ws}/channels                                     | {"name":"new"}                               | 201   | 201   | 201    | 404      |
      | list channels                    | GET    | {ws}/channels                                     |                                              | 200   | 200   | 200    | 404      |
      | post a message                   | POST   | {ws}/channels/{channel}/messages                  | {"text":"hi"}                                | 201   | 201   | 201    | 404      |
      | read messages                    | GET    | {ws}/channels/{channel}/messages                  |                                              | 200   | 200   | 200    | 404      |
      | react to a message               | PUT    | {ws}/channels/{channel}/messages/{message}/reactions/:tada: |                                    | 200   | 200   | 200    | 404      |
      | edit someone else's message      | PATCH  | {ws}/channels/{channel}/messages/{message}        | {"text":"mine now"}                          | 403   | 403   | 403    | 404      |
      | delete someone else's message    | DELETE | {ws}/channels/{channel}/messages/{message}        |                                              | 204   | 204   | 403    | 404      |
