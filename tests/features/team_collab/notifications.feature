Feature: Email notifications
  People hear by email when they are added to a workspace. Development
  deployments keep the mail in the outbox, listed at GET /dev/outbox; the
  SendGrid deployment hands it to SendGrid and serves no outbox.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "alice" has created workspace "acme"

  Scenario: A new member is emailed about the workspace and their role
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"admin"}'
    Then the response status is 201
    And "bob" received 1 email
    And the last email to "bob" has subject "alice added you to acme"
    And the last email to "bob" says 'Hi bob,'
    And the last email to "bob" says 'alice added you to the workspace "acme" as an admin.'
    And the HTML of the last email to "bob" contains '<strong>acme</strong> as an admin'
    And "alice" received 0 emails

  Scenario: Additions that are refused send no mail
    Given "carol" has signed up
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"carol@example.com","role":"member"}'
    Then the response status is 404
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"carol@example.com","role":"emperor"}'
    Then the response status is 400
    Given "alice" has added "bob" to workspace "acme" as "member"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 409
    And "bob" received 1 email
    And "carol" received 0 emails

  Scenario: Names in the mail cannot inject HTML
    Given "alice" has created workspace "<script>alert(1)</script> & Co"
    When "alice" sends POST "/v1/workspaces/{workspace:<script>alert(1)</script> & Co}/members" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    And the last email to "bob" has subject "alice added you to <script>alert(1)</script> & Co"
    And the HTML of the last email to "bob" contains '<strong>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</strong>'

  @outbox
  Scenario: The development outbox lists mail newest first, one message or by recipient
    Given "carol" has signed up
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has added "carol" to workspace "acme" as "member"
    When a client sends GET "/dev/outbox"
    Then the response status is 200
    And the response list "messages" has 2 items
    And the response field "messages.0.to" is '[{"email":"carol@example.com","name":"carol"}]'
    And the response field "messages.0.from" is '{"email":"no-reply@keel.localhost","name":"Keel"}'
    And the response field "messages.0.tags" is '["member-added"]'
    And the response field "messages.1.to.0.email" is "bob@example.com"
    And I remember the response field "messages.1.id" as "bob's mail"
    When a client sends GET "/dev/outbox?to=CAROL%40example.com"
    Then the response list "messages" has 1 item
    When a client sends GET "/dev/outbox?limit=1"
    Then the response list "messages" has 1 item
    And the response field "messages.0.to.0.email" is "carol@example.com"
    When a client sends GET "/dev/outbox?limit=0"
    Then the response status is 400
    And the error code is "invalid_input"
    When a client sends POST "/dev/outbox"
    Then the response status is 405
    When a client fetches the outbox message remembered as "bob's mail"
    Then the response status is 200
    And the response field "to.0.email" is "bob@example.com"
    And the response field "subject" is "alice added you to acme"
    When a client sends GET "/dev/outbox/eml_00000000000000000000000000000000"
    Then the response status is 404
    And the error code is "not_found"

  @outbox
  Scenario: Outbox mail survives a restart
    Given "alice" has added "bob" to workspace "acme" as "member"
    When the server restarts
    Then "bob" received 1 email

  @provider
  Scenario: The mail goes to SendGrid from the configured sender
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    And the provider received 1 request
    And the last email to "bob" is from "Keel <team@keel.example>"

  @provider
  Scenario: A member is added even when the mail provider fails
    Given the provider fails internally
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    And the provider received 1 request
    And "bob" received 0 emails
    When "bob" sends GET "/v1/workspaces/{workspace:acme}"
    Then the response status is 200

  @provider
  Scenario: A mail provider that never answers does not hold up the addition
    Given the provider takes the request but never answers
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/members" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    # The README's bound: a provider that takes over 3 s is given up on.
    And the response came within 4500 milliseconds
    And the provider received 1 request
    When "bob" sends GET "/v1/workspaces/{workspace:acme}"
    Then the response status is 200

  @provider
  Scenario: A deployment that sends mail serves no development outbox
    When a client sends GET "/dev/outbox"
    Then the response status is 404
