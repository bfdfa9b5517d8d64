Feature: Email notifications
  People hear by email when they sign up (a link that confirms their
  address), ask for a password reset, or are invited to a workspace (mail
  about mentions and replies: notification-mail.feature).
  Development deployments keep the mail in the outbox, listed at
  GET /dev/outbox; the SendGrid deployment hands it to SendGrid and serves
  no outbox.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "alice" has created workspace "acme"

  Scenario: A new account gets one link to confirm its address
    When "carol" signs up with email "carol@example.com" and password "correct-horse-1"
    Then the response status is 201
    And "carol" received 1 email
    And the last email to "carol" has subject "Confirm your email address"
    And the last email to "carol" says 'Hi carol,'
    And the last email to "carol" says '/verify-email?token=vfy_'
    And the last email to "carol" says 'The link works once and expires in 48 hours.'

  Scenario: An invited address is emailed about the workspace and the role
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"bob@example.com","role":"admin"}'
    Then the response status is 201
    And I remember the response field "id" as "invitation"
    And "bob" received 2 emails
    And the last email to "bob" has subject "alice invited you to acme"
    And the last email to "bob" says 'alice invited you to join the workspace "acme" as an admin.'
    And the last email to "bob" says 'The invitation expires in 7 days.'
    And the HTML of the last email to "bob" contains '<strong>acme</strong> as an admin'
    And "alice" received 1 email

  Scenario: An address without an account is invited by mail too
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"dave@example.com","role":"member"}'
    Then the response status is 201
    And the address "dave@example.com" received 1 email
    And the last email to the address "dave@example.com" has subject "alice invited you to acme"

  Scenario: Invitations that are refused send no mail
    Given "carol" has signed up
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"carol@example.com","role":"member"}'
    Then the response status is 404
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"carol@example.com","role":"emperor"}'
    Then the response status is 400
    Given "alice" has invited "bob" to workspace "acme" as "member"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 409
    And "bob" received 2 emails
    And "carol" received 1 email

  Scenario: Names in the mail cannot inject HTML
    Given "alice" has created workspace "<script>alert(1)</script> & Co"
    When "alice" sends POST "/v1/workspaces/{workspace:<script>alert(1)</script> & Co}/invitations" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    And the last email to "bob" has subject "alice invited you to <script>alert(1)</script> & Co"
    And the HTML of the last email to "bob" contains '<strong>&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</strong>'

  @outbox
  Scenario: The development outbox lists mail newest first, one message or by recipient
    Given "carol" has signed up
    And "alice" has invited "bob" to workspace "acme" as "member"
    And "alice" has invited "carol" to workspace "acme" as "member"
    When a client sends GET "/dev/outbox"
    Then the response status is 200
    And the response list "messages" has 5 items
    And the response field "messages.0.to" is '[{"email":"carol@example.com","name":null}]'
    And the response field "messages.0.from" is '{"email":"no-reply@keel.localhost","name":"Keel"}'
    And the response field "messages.0.tags" is '["invitation"]'
    And the response field "messages.1.to.0.email" is "bob@example.com"
    And the response field "messages.2.tags" is '["verify-email"]'
    And the response field "messages.2.to" is '[{"email":"carol@example.com","name":"carol"}]'
    And I remember the response field "messages.1.id" as "bob's mail"
    When a client sends GET "/dev/outbox?to=CAROL%40example.com"
    Then the response list "messages" has 2 items
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
    And the response field "subject" is "alice invited you to acme"
    When a client sends GET "/dev/outbox/eml_00000000000000000000000000000000"
    Then the response status is 404
    And the error code is "not_found"

  @outbox
  Scenario: Outbox mail survives a restart
    Given "alice" has invited "bob" to workspace "acme" as "member"
    When the server restarts
    Then "bob" received 2 emails

  @provider
  Scenario: The mail goes to SendGrid from the configured sender, with links to the public URL
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    And the provider received 3 requests
    And the last email to "bob" is from "Keel <team@keel.example>"
    And the last email to "bob" says 'https://collab.keel.example/invitations/inv_'

  @provider
  Scenario: An invitation stands even when the mail provider fails
    Given the provider fails internally
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    And the provider received 3 requests
    And "bob" received 1 email
    When "bob" sends GET "/v1/invitations"
    Then the response list "invitations" has 1 item

  @provider
  Scenario: A mail provider that never answers does not hold up the invitation
    Given the provider takes the request but never answers
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/invitations" with body '{"email":"bob@example.com","role":"member"}'
    Then the response status is 201
    # The README's bound: a provider that takes over 3 s is given up on.
    And the response came within 4500 milliseconds
    And the provider received 3 requests
    When "bob" sends GET "/v1/invitations"
    Then the response list "invitations" has 1 item

  @provider
  Scenario: A sign-up succeeds even when the mail provider never answers
    Given the provider takes the request but never answers
    When "carol" signs up with email "carol@example.com" and password "correct-horse-1"
    Then the response status is 201
    And the response came within 4500 milliseconds
    And the response field "user.email_verified" is false

  @provider
  Scenario: A deployment that sends mail serves no development outbox
    When a client sends GET "/dev/outbox"
    Then the response status is 404
