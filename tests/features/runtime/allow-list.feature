Feature: Hosts a component may not reach
  A component reaches only the hosts its `allowed_outbound_hosts` names; the
  host refuses any other before a connection is made. A database off the list
  means a retryable 503 without the refusal's text, and the database is never
  touched; a mail provider off the list is never contacted, and the request
  that wanted to send mail still succeeds. (Runs on Keel and on any Spin.)

  Scenario: A database off the allow list is never touched
    Given a running team-collab server whose PostgreSQL address is not on its allow list
    When a client sends POST "/v1/auth/signup" with body '{"email":"ann@example.com","password":"correct-horse-1","display_name":"Ann"}'
    Then the response status is 503
    And the error code is "unavailable"
    And the response body does not mention "not permitted"
    And the response body does not mention "127.0.0.1"
    And the app's database has no tables
    When a client sends GET "/healthz"
    Then the response status is 200

  Scenario: A mail provider off the allow list is never contacted
    Given a running team-collab server whose SendGrid API is not on its allow list
    When a client sends POST "/v1/auth/signup" with body '{"email":"bea@example.com","password":"correct-horse-1","display_name":"Bea"}'
    Then the response status is 201
    And the provider received 0 requests
    And the response field "user.email_verified" is false
