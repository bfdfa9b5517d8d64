Feature: Accounts
  People sign up with an email and a password, log in, and use the bearer
  token they get for every other call.

  Background:
    Given a running team-collab server

  Scenario: Signing up returns the new user and a working token
    When "alice" signs up with email "Alice@Example.com" and password "correct-horse-1"
    Then the response status is 201
    And the response field "user.email" is "alice@example.com"
    And the response field "user.display_name" is "alice"
    And the response field "user.email_verified" is false
    And the response has a string field "token"
    When "alice" sends GET "/v1/me"
    Then the response status is 200
    And the response field "email" is "alice@example.com"

  Scenario: An email can be registered only once, whatever its case
    Given "alice" has signed up
    When "mallory" signs up with email "ALICE@example.com" and password "another-pass-1"
    Then the response status is 409
    And the error code is "conflict"

  Scenario Outline: Invalid sign-ups are refused with 400
    When a client sends POST "/v1/auth/signup" with body '<body>'
    Then the response status is 400
    And the error code is "<code>"

    Examples:
      | body                                                                       | code          |
      | {"email":"not-an-email","password":"long-enough-1","display_name":"Ann"}  | invalid_input |
      | {"email":"ann@example.com","password":"short","display_name":"Ann"}       | invalid_input |
      | {"email":"ann@example.com","password":"long-enough-1","display_name":" "} | invalid_input |
      | {"email":"ann@example.com"                                                 | invalid_json  |

  Scenario: A sign-up with missing fields is refused
    When a client sends POST "/v1/auth/signup" with body '{"email":"ann@example.com"}'
    Then the response status is 400

  Scenario: Logging in with the right password returns a token
    Given "alice" has signed up
    When "alice" logs in with password "correct-horse-1"
    Then the response status is 200
    And the response field "user.email" is "alice@example.com"
    And the response has a string field "token"

  Scenario: Wrong credentials are refused without telling which part was wrong
    Given "alice" has signed up
    When "alice" logs in with password "wrong-password-9"
    Then the response status is 401
    And I remember the response field "error.message" as "wrong password message"
    When a client sends POST "/v1/auth/login" with body '{"email":"nobody@example.com","password":"correct-horse-1"}'
    Then the response status is 401
    And the response field "error.message" is the remembered "wrong password message"

  Scenario Outline: Protected routes need a valid bearer token
    Given "alice" has signed up
    When a client sends GET "/v1/me" with header "Authorization" set to "<authorization>"
    Then the response status is 401
    And the error code is "unauthenticated"

    Examples:
      | authorization          |
      |                        |
      | Bearer                 |
      | Bearer not-a-token     |
      | Basic YWxpY2U6c2VjcmV0 |

  Scenario Outline: Every /v1 route answers 401 without a token
    When a client sends <method> "<path>" with body '<body>'
    Then the response status is 401
    And the error code is "unauthenticated"

    Examples:
      | method | path                                                              | body               |
      | GET    | /v1/me                                                            |                    |
      | PATCH  | /v1/me                                                            | {"display_name":"x"} |
      | GET    | /v1/workspaces                                                    |                    |
      | POST   | /v1/workspaces                                                    | {"name":"x"}       |
      | GET    | /v1/workspaces/wsp_00000000000000000000000000000000               |                    |
      | GET    | /v1/workspaces/wsp_00000000000000000000000000000000/members       |                    |
      | PATCH  | /v1/workspaces/wsp_00000000000000000000000000000000/members/usr_00000000000000000000000000000000 | {"role":"member"} |
      | DELETE | /v1/workspaces/wsp_00000000000000000000000000000000/members/usr_00000000000000000000000000000000 | |
      | GET    | /v1/workspaces/wsp_00000000000000000000000000000000/invitations   |                    |
      | POST   | /v1/workspaces/wsp_00000000000000000000000000000000/invitations   | {"email":"a@example.com","role":"member"} |
      | DELETE | /v1/workspaces/wsp_00000000000000000000000000000000/invitations/inv_00000000000000000000000000000000 | |
      | GET    | /v1/invitations                                                   |                    |
      | GET    | /v1/workspaces/wsp_00000000000000000000000000000000/audit         |                    |
      | GET    | /v1/workspaces/wsp_00000000000000000000000000000000/audit/verify  |                    |
      | POST   | /v1/invitations/inv_00000000000000000000000000000000/accept       |                    |
      | POST   | /v1/invitations/inv_00000000000000000000000000000000/decline      |                    |
      | POST   | /v1/auth/logout                                                   |                    |
      | POST   | /v1/me/verification                                               |                    |
      | PUT    | /v1/me/password                                                   | {"current_password":"correct-horse-1","new_password":"another-pass-2"} |
      | GET    | /v1/workspaces/wsp_00000000000000000000000000000000/channels      |                    |
      | POST   | /v1/workspaces/wsp_00000000000000000000000000000000/channels      | {"name":"x"}       |
      | GET    | /v1/workspaces/wsp_00000000000000000000000000000000/channels/chn_00000000000000000000000000000000/messages | |
      | POST   | /v1/workspaces/wsp_00000000000000000000000000000000/channels/chn_00000000000000000000000000000000/messages | {"text":"x"} |

  Scenario: A token whose payload was altered is refused
    Given "alice" has signed up
    When "alice" sends GET "/v1/me" with a tampered token
    Then the response status is 401

  Scenario: A user can change their display name
    Given "alice" has signed up
    When "alice" sends PATCH "/v1/me" with body '{"display_name":"Alice Liddell"}'
    Then the response status is 200
    And the response field "display_name" is "Alice Liddell"
    When "alice" sends GET "/v1/me"
    Then the response field "display_name" is "Alice Liddell"
