Feature: keel:infrastructure/email conformance
  Every `email` implementation runs this suite through the email probe.
  Provider adapters send to an in-process mock of their provider, which
  checks each request against the provider's documented API and answers
  with the provider's documented payloads. Scenarios tagged @provider need
  that mock; adapters that send nothing (the outbox) skip them.

  Background:
    Given a running email implementation

  Scenario: A complete message is accepted and gets an id
    When the email probe sends the full message
    Then the response status is 200
    And the response has a string field "id"

  Scenario: A message with only an HTML body and only BCC recipients is accepted
    When the email probe sends the full message with "text_body" set to 'null'
    Then the response status is 200
    When the email probe sends the full message with "to" set to '[]'
    Then the response status is 200
    When the email probe sends the full message with "to" and "cc" set to '[]'
    Then the response status is 200

  @provider
  Scenario: BCC recipients of a message without To or CC each get a copy naming no other
    When the email probe sends the full message with "to" and "cc" set to '[]'
    Then the response status is 200
    And the provider was asked for a copy to each BCC recipient that names no other

  Scenario Outline: An incomplete message is an invalid message
    When the email probe sends the full message with "<field>" set to '<value>'
    Then the response status is 400
    And the error code is "invalid-message"

    Examples:
      | field     | value                                 |
      | subject   | "  "                                  |
      | tags      | [""]                                  |

  Scenario: Line breaks in header fields are refused
    When the email probe sends the full message with "subject" set to '"Hi\nBcc: eve@example.com"'
    Then the response status is 400
    And the error code is "invalid-message"
    When the email probe sends the full message with "bcc" set to '[{"email":"audit@example.com","name":"A\r\nBcc: eve@example.com"}]'
    Then the response status is 400
    And the error code is "invalid-address"

  Scenario: A message without any recipient is an invalid message
    When the email probe sends '{"from":{"email":"noreply@example.com"},"subject":"Hi","text_body":"Hello"}'
    Then the response status is 400
    And the error code is "invalid-message"

  Scenario: A message without a body is an invalid message
    When the email probe sends '{"from":{"email":"noreply@example.com"},"to":[{"email":"ada@example.com"}],"subject":"Hi","html_body":" "}'
    Then the response status is 400
    And the error code is "invalid-message"

  Scenario Outline: A malformed address is an invalid address
    When the email probe sends the full message with "<field>" set to '<value>'
    Then the response status is 400
    And the error code is "invalid-address"

    Examples:
      | field    | value                                       |
      | to       | [{"email":"ada.example.com"}]               |
      | cc       | [{"email":"grace@"}]                        |
      | from     | {"email":"no reply@example.com"}            |
      | reply_to | {"email":"@example.com"}                    |

  @provider
  Scenario: The provider receives exactly the request its API documents
    When the email probe sends the full message
    Then the response status is 200
    And the response field "id" is the id the provider assigned
    And the provider received the message as its API documents

  @provider
  Scenario: An invalid message never reaches the provider
    When the email probe sends the full message with "to" set to '[{"email":"not-an-address"}]'
    Then the response status is 400
    And the provider received 0 requests

  @provider
  Scenario: A rate limit with Retry-After is rate-limited with the delay
    Given the provider is rate limiting with Retry-After 30
    When the email probe sends the full message
    Then the response status is 429
    And the error code is "rate-limited"
    And the error is retryable after 30 seconds

  @provider
  Scenario: A rate limit without Retry-After is rate-limited without a delay
    Given the provider is rate limiting without Retry-After
    When the email probe sends the full message
    Then the response status is 429
    And the error code is "rate-limited"
    And the error gives no retry delay

  @provider
  Scenario: Rejected credentials are unauthorized
    Given the provider has revoked the credentials
    When the email probe sends the full message
    Then the response status is 401
    And the error code is "unauthorized"

  @provider
  Scenario: An address the provider rejects is an invalid address
    Given the provider rejects the recipient address
    When the email probe sends the full message
    Then the response status is 400
    And the error code is "invalid-address"

  @provider
  Scenario: Other content the provider rejects is an invalid message
    Given the provider rejects the message content
    When the email probe sends the full message
    Then the response status is 400
    And the error code is "invalid-message"

  @provider
  Scenario: A provider failure is unavailable
    Given the provider fails internally
    When the email probe sends the full message
    Then the response status is 503
    And the error code is "unavailable"

  @provider
  Scenario: An unreachable provider is unavailable
    Given the provider is unreachable
    When the email probe sends the full message
    Then the response status is 503
    And the error code is "unavailable"
