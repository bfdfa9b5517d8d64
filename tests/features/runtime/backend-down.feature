Feature: A database that cannot be reached
  When the product's database refuses every connection, requests that need
  it get a retryable 503 with Retry-After and no driver text; requests that
  do not need it are served as usual. (Runs on Keel and on any Spin.)

  Background:
    Given a running team-collab server whose PostgreSQL database does not exist

  Scenario: Sign-up answers 503 unavailable without driver detail
    When a client sends POST "/v1/auth/signup" with body '{"email":"ann@example.com","password":"correct-horse-1","display_name":"Ann"}'
    Then the response status is 503
    And the error code is "unavailable"
    And the response header "retry-after" contains "1"
    And the response body does not mention "does not exist"
    And the response body does not mention "keel_features"

  Scenario: The health check does not need the database
    When a client sends GET "/healthz"
    Then the response status is 200
