Feature: A database the component may not reach
  A component reaches only the hosts its `allowed_outbound_hosts` names. When
  the database's address is not among them, the host refuses the connection
  before it is made: requests that need the database get a retryable 503
  without the refusal's text, and the database is never touched. (Runs on
  Keel and on any Spin.)

  Scenario: The allow list is enforced through the product
    Given a running team-collab server whose PostgreSQL address is not on its allow list
    When a client sends POST "/v1/auth/signup" with body '{"email":"ann@example.com","password":"correct-horse-1","display_name":"Ann"}'
    Then the response status is 503
    And the error code is "unavailable"
    And the response body does not mention "not permitted"
    And the response body does not mention "127.0.0.1"
    And the app's database has no tables
    When a client sends GET "/healthz"
    Then the response status is 200
