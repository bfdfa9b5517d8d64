Feature: Account security
  An address belongs to whoever can read its mail: signing up sends a
  single-use link that confirms it, and a password reset goes to it too.
  Sessions are kept on the server, so signing out, changing the password or
  resetting it ends them at once.

  Background:
    Given a running team-collab server

  Scenario: The link in the sign-up mail confirms the address, once
    Given "alice" has signed up without confirming their email
    When "alice" sends GET "/v1/me"
    Then the response field "email_verified" is false
    When I remember the token in the last email to "alice@example.com" as "link"
    And a client sends POST "/v1/auth/verify-email" with body '{"token":"{link}"}'
    Then the response status is 200
    And the response field "user.email_verified" is true
    When "alice" sends GET "/v1/me"
    Then the response field "email_verified" is true
    When a client sends POST "/v1/auth/verify-email" with body '{"token":"{link}"}'
    Then the response status is 400
    And the error code is "invalid_input"

  Scenario Outline: A forged or malformed verification token is refused
    When a client sends POST "/v1/auth/verify-email" with body '<body>'
    Then the response status is 400

    Examples:
      | body                                                                             |
      | {"token":"vfy_0000000000000000000000000000000000000000000000000000000000000000"} |
      | {"token":""}                                                                     |
      | {}                                                                               |

  Scenario: A new verification link replaces the old one
    Given "alice" has signed up without confirming their email
    When I remember the token in the last email to "alice@example.com" as "old link"
    And "alice" sends POST "/v1/me/verification"
    Then the response status is 202
    And "alice" received 2 emails
    When a client sends POST "/v1/auth/verify-email" with body '{"token":"{old link}"}'
    Then the response status is 400
    When I remember the token in the last email to "alice@example.com" as "new link"
    And a client sends POST "/v1/auth/verify-email" with body '{"token":"{new link}"}'
    Then the response status is 200
    When "alice" sends POST "/v1/me/verification"
    Then the response status is 409

  Scenario: Signing up with someone else's address gets the impostor nothing
    Given "alice" has signed up
    And "alice" has created workspace "acme"
    When "mallory" signs up with email "bob@example.com" and password "mallory-pass-1"
    Then the response status is 201
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"bob@example.com","role":"admin"}'
    Then the response status is 201
    And I remember the response field "id" as "invitation"
    When "mallory" accepts the invitation remembered as "invitation"
    Then the response status is 403
    When "mallory" sends GET "/v1/workspaces"
    Then the response list "workspaces" has 0 items
    # The real owner of the address takes the account back by mail.
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"bob@example.com"}'
    Then the response status is 202
    When I remember the token in the last email to "bob@example.com" as "reset"
    And a client sends POST "/v1/auth/password-reset/confirm" with body '{"token":"{reset}","password":"bobs-own-pass-1"}'
    Then the response status is 204
    When "mallory" sends GET "/v1/me"
    Then the response status is 401
    When a client sends POST "/v1/auth/login" with body '{"email":"bob@example.com","password":"mallory-pass-1"}'
    Then the response status is 401
    When a client sends POST "/v1/auth/login" with body '{"email":"bob@example.com","password":"bobs-own-pass-1"}'
    Then the response status is 200
    And the response field "user.email_verified" is true

  Scenario: Signing out ends that session only
    Given "alice" has signed up
    When "alice" keeps their current token as "first"
    And "alice" logs in with password "correct-horse-1"
    Then the response status is 200
    When "alice" takes the token of the last response
    And "alice" sends POST "/v1/auth/logout"
    Then the response status is 204
    When "alice" sends GET "/v1/me"
    Then the response status is 401
    And the error code is "unauthenticated"
    When a client sends GET "/v1/me" with the token remembered as "first"
    Then the response status is 200

  Scenario: A password reset is single-use, expires older links and ends every session
    Given "alice" has signed up
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"ALICE@example.com"}'
    Then the response status is 202
    When I remember the token in the last email to "alice@example.com" as "first reset"
    And a client sends POST "/v1/auth/password-reset" with body '{"email":"alice@example.com"}'
    And I remember the token in the last email to "alice@example.com" as "second reset"
    And a client sends POST "/v1/auth/password-reset/confirm" with body '{"token":"{first reset}","password":"brand-new-pass-1"}'
    Then the response status is 400
    When a client sends POST "/v1/auth/password-reset/confirm" with body '{"token":"{second reset}","password":"short"}'
    Then the response status is 400
    When a client sends POST "/v1/auth/password-reset/confirm" with body '{"token":"{second reset}","password":"brand-new-pass-1"}'
    Then the response status is 204
    When "alice" sends GET "/v1/me"
    Then the response status is 401
    When a client sends POST "/v1/auth/password-reset/confirm" with body '{"token":"{second reset}","password":"another-new-pass-2"}'
    Then the response status is 400
    When "alice" logs in with password "correct-horse-1"
    Then the response status is 401
    When "alice" logs in with password "brand-new-pass-1"
    Then the response status is 200

  Scenario: Asking to reset an unknown address looks the same and sends nothing
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"nobody@example.com"}'
    Then the response status is 202
    And I remember the response field "status" as "answer"
    Given "alice" has signed up
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"alice@example.com"}'
    Then the response status is 202
    And the response field "status" is the remembered "answer"
    And the address "nobody@example.com" received 0 emails

  Scenario: Changing the password needs the current one and ends the other sessions
    Given "alice" has signed up
    When "alice" sends PUT "/v1/me/password" with body '{"current_password":"wrong-pass-00","new_password":"brand-new-pass-1"}'
    Then the response status is 401
    When "alice" sends PUT "/v1/me/password" with body '{"current_password":"correct-horse-1","new_password":"short"}'
    Then the response status is 400
    When "alice" keeps their current token as "old"
    And "alice" sends PUT "/v1/me/password" with body '{"current_password":"correct-horse-1","new_password":"brand-new-pass-1"}'
    Then the response status is 200
    And the response has a string field "token"
    When "alice" takes the token of the last response
    And "alice" sends GET "/v1/me"
    Then the response status is 200
    When a client sends GET "/v1/me" with the token remembered as "old"
    Then the response status is 401
    When "alice" logs in with password "brand-new-pass-1"
    Then the response status is 200
