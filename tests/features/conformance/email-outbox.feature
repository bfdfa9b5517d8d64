Feature: keel:infrastructure/email-outbox listing
  The outbox adapter keeps every accepted message in SQL and lists it back
  through `email-outbox`, newest first, field for field.

  Background:
    Given a running email-outbox implementation

  Scenario: Sent mail is listed newest first with every field
    When the email probe sends the full message
    Then the response status is 200
    And I remember the response field "id" as "first"
    When the email probe sends the full message with "subject" set to '"Second"'
    Then I remember the response field "id" as "second"
    When a client sends GET "/dev/outbox"
    Then the response status is 200
    And the response list "messages" has 2 items
    And the response field "messages.0.id" is the remembered "second"
    And the response field "messages.0.subject" is "Second"
    And the response field "messages.1.id" is the remembered "first"
    And the response field "messages.1.subject" is "Welcome to Keel"
    And the response field "messages.1.from" is '{"email":"noreply@example.com","name":"Keel"}'
    And the response field "messages.1.to" is '[{"email":"ada@example.com","name":"Ada Lovelace"}]'
    And the response field "messages.1.cc" is '[{"email":"grace@example.com","name":null}]'
    And the response field "messages.1.bcc" is '[{"email":"audit@example.com","name":null}]'
    And the response field "messages.1.reply_to" is '{"email":"support@example.com","name":"Keel Support"}'
    And the response field "messages.1.text_body" is "Hello Ada, welcome aboard."
    And the response field "messages.1.html_body" is "<p>Hello Ada, <b>welcome</b> aboard.</p>"
    And the response field "messages.1.tags" is '["welcome"]'

  Scenario: The limit caps the listing
    When the email probe sends the full message
    And the email probe sends the full message
    And the email probe sends the full message
    And a client sends GET "/dev/outbox?limit=2"
    Then the response list "messages" has 2 items

  Scenario: Refused mail is not stored
    When the email probe sends the full message with "subject" set to '""'
    Then the response status is 400
    When a client sends GET "/dev/outbox"
    Then the response list "messages" has 0 items

  Scenario: Stored mail survives a restart
    When the email probe sends the full message
    Then I remember the response field "id" as "sent"
    When the server restarts
    And a client sends GET "/dev/outbox"
    Then the response list "messages" has 1 item
    And the response field "messages.0.id" is the remembered "sent"
