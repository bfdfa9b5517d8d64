Feature: Rate limits
  Sign-ups, logins and account mail are limited per client address and
  per target address (platform/rate-limiting, counted in the key-value
  store). Over a limit the answer is 429 with Retry-After and RateLimit
  fields, and the refused request does nothing. Windows are fixed (aligned
  to multiples of their length), so the scenarios use day-long windows:
  a scenario straddles a window's end only if it runs across midnight UTC.
  The service's budget of password hashes is shared by everyone: over it
  the answer is 503 with Retry-After.

  Scenario: Concurrent logins from one address are admitted exactly up to the limit
    Given a running team-collab server whose rate limit "login_per_address" is "3/86400"
    And "alice" has signed up
    When 8 clients send POST "/v1/auth/login" with body '{"email":"alice@example.com","password":"wrong-pass-00"}' at once
    Then 3 of the 8 responses have status 401
    And 5 of the 8 responses have status 429
    # Even the right password waits for the window: a refused login is not tried.
    When "alice" logs in with password "correct-horse-1"
    Then the response status is 429
    And the error code is "rate_limited"
    And the response header "ratelimit-limit" contains "3"
    And the response header "ratelimit-remaining" contains "0"
    And the response has a positive "retry-after" header no larger than 86400
    And the response has a positive "ratelimit-reset" header no larger than 86400

  Scenario: Guessing one account's password is limited whatever the address
    Given a running team-collab server whose rate limit "login_per_email" is "2/86400"
    And "alice" has signed up
    And "bob" has signed up
    When "alice" logs in with password "wrong-pass-00"
    And "alice" logs in with password "wrong-pass-01"
    Then the response status is 401
    When a client sends POST "/v1/auth/login" with body '{"email":"ALICE@example.com ","password":"correct-horse-1"}'
    Then the response status is 429
    When "bob" logs in with password "correct-horse-1"
    Then the response status is 200

  Scenario: A refused sign-up creates no account
    Given a running team-collab server whose rate limit "signup_per_address" is "2/86400"
    And "alice" has signed up
    And "bob" has signed up
    When "carol" signs up with email "carol@example.com" and password "correct-horse-1"
    Then the response status is 429
    And the error code is "rate_limited"
    And the address "carol@example.com" received 0 emails
    When a client sends POST "/v1/auth/login" with body '{"email":"carol@example.com","password":"correct-horse-1"}'
    Then the response status is 401

  Scenario: Reset mail to one address is limited, and a refused request sends none
    Given a running team-collab server whose rate limit "account_mail_per_recipient" is "1/86400"
    And "alice" has signed up
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"alice@example.com"}'
    Then the response status is 202
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"alice@example.com"}'
    Then the response status is 429
    And "alice" received 2 emails
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"bob@example.com"}'
    Then the response status is 202

  Scenario: A malformed limit is a server error that names the variable only in the log
    Given a running team-collab server whose rate limit "login_per_address" is "lots"
    And "alice" has signed up
    When "alice" logs in with password "correct-horse-1"
    Then the response status is 500
    And the error code is "internal"
    And the response body does not mention "rate_limit_login_per_address"

  Scenario: Writes per user are limited, and a refused message is not stored
    # Alice spends 3 of her 4 writes on the workspace, the channel and the invitation.
    Given a running team-collab server whose rate limit "writes_per_user" is "4/86400"
    And "alice" has signed up
    And "bob" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"one too many"}'
    Then the response status is 201
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"refused"}'
    Then the response status is 429
    And the error code is "rate_limited"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"bob has his own budget"}'
    Then the response status is 201
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response list "messages" has 2 items
    And the response body does not mention "refused"

  Scenario: Password hashes over the service's budget are shed with 503, and a shed sign-up creates nothing
    Given a running team-collab server whose rate limit "password_hashes" is "3/86400"
    And "alice" has signed up
    And "bob" has signed up
    When "alice" logs in with password "correct-horse-1"
    Then the response status is 200
    When "carol" signs up with email "carol@example.com" and password "correct-horse-1"
    Then the response status is 503
    And the error code is "unavailable"
    And the response has a positive "retry-after" header no larger than 86400
    And the address "carol@example.com" received 0 emails
    # Requests that hash no password are still served.
    When "alice" sends GET "/v1/me"
    Then the response status is 200
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"carol@example.com"}'
    Then the response status is 202
    And the address "carol@example.com" received 0 emails

  Scenario: Logins refused by their own client's limits do not spend the shared budget
    Given a running team-collab server with rate limits:
      | login_per_email | 1/86400 |
      | password_hashes | 4/86400 |
    And "alice" has signed up
    And "bob" has signed up
    When "alice" logs in with password "wrong-pass-00"
    Then the response status is 401
    When 6 clients send POST "/v1/auth/login" with body '{"email":"alice@example.com","password":"wrong-pass-01"}' at once
    Then 6 of the 6 responses have status 429
    When "bob" logs in with password "correct-horse-1"
    Then the response status is 200
    When "carol" signs up with email "carol@example.com" and password "correct-horse-1"
    Then the response status is 503

  Scenario: Attempts past a limit leave one audit entry per window, not one each
    Given a running team-collab server whose rate limit "login_per_email" is "1/86400"
    And "alice" has signed up
    When "alice" logs in with password "wrong-pass-00"
    Then the response status is 401
    When 6 clients send POST "/v1/auth/login" with body '{"email":"alice@example.com","password":"wrong-pass-01"}' at once
    Then 6 of the 6 responses have status 429
    # The wrong password, and the attempt that went over the limit; not its repeats.
    And the account trail holds 2 "account.login" entries refused
