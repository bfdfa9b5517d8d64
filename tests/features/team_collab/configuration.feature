Feature: Configuration
  Settings are Spin variables, read through keel:platform/configuration,
  which checks each against its kind (a number within bounds, an email
  address, an http(s) URL, JSON) the first time it is used. A bad value
  fails what needs it, names the variable only in the log, and leaves the
  rest of the service working.

  Scenario: A base URL that is not an http(s) URL stops the mail that needs it, not the sign-up
    Given a running team-collab server whose variable "app_base_url" is "ftp://collab.example"
    When "alice" signs up with email "alice@example.com" and password "correct-horse-1"
    Then the response status is 201
    And the address "alice@example.com" received 0 emails
    When "alice" logs in with password "correct-horse-1"
    Then the response status is 200

  Scenario: A sender that is not an email address stops mail, and the answer does not leak it
    Given a running team-collab server whose variable "mail_from" is "keel at example"
    And "alice" has signed up without confirming their email
    When a client sends POST "/v1/auth/password-reset" with body '{"email":"alice@example.com"}'
    Then the response status is 202
    And the response body does not mention "keel at example"
    And the address "alice@example.com" received 0 emails

  Scenario: Settings given as valid values are used, in their canonical form
    Given a running team-collab server whose variable "app_base_url" is "https://collab.keel.example/"
    And "alice" has signed up without confirming their email
    Then "alice" received 1 email
    And the last email to "alice" says 'https://collab.keel.example/verify-email?token='

  Scenario: A token lifetime out of bounds is the operator's error: a 500 naming it only in the log, no mail
    Given a running team-collab server whose variable "token_ttl_seconds" is "15"
    When "alice" signs up with email "alice@example.com" and password "correct-horse-1"
    Then the response status is 500
    And the response body does not mention "token_ttl_seconds"
    And the address "alice@example.com" received 0 emails
