Feature: HTTP behaviour
  Errors are JSON, and the server stays healthy whatever it is sent.

  Background:
    Given a running team-collab server
    And "alice" has signed up

  Scenario: The health check answers without authentication
    When a client sends GET "/healthz"
    Then the response status is 200
    And the response field "status" is "ok"

  Scenario: The API's OpenAPI document is served where tools look for it, without authentication
    When a client sends GET "/openapi.json"
    Then the response status is 200
    And the response field "openapi" is "3.1.0"
    And the response field "paths./v1/workspaces/{workspace_id}/channels/{channel_id}/events.get.operationId" is "streamChannelEvents"
    When a client sends GET "/v1/openapi.json"
    Then the response status is 200
    And the response field "openapi" is "3.1.0"

  Scenario: A body just under the 1 MiB limit is read and answered on its merits
    When "alice" sends POST "/v1/workspaces" with a body of 1048500 bytes
    Then the response status is 400
    And the error code is "invalid_input"
    And the error message mentions "at most 100 characters"

  Scenario: Unknown routes get 404 with a JSON error
    When "alice" sends GET "/v1/nothing-here"
    Then the response status is 404
    And the error code is "not_found"
    And the response header "content-type" contains "application/json"

  Scenario: A wrong method gets 405 and the allowed methods
    When "alice" sends DELETE "/v1/workspaces"
    Then the response status is 405
    And the error code is "method_not_allowed"
    And the response header "allow" contains "GET"

  Scenario: Malformed JSON gets 400
    When "alice" sends POST "/v1/workspaces" with body '{"name": '
    Then the response status is 400
    And the error code is "invalid_json"

  Scenario Outline: A body over the limit gets 413 and the server keeps serving
    When "alice" sends POST "/v1/workspaces" with a body of <bytes> bytes
    Then the response status is 413
    And the error code is "payload_too_large"
    When a client sends GET "/healthz"
    Then the response status is 200

    # The server reads an oversized body to the end before answering, so
    # the client gets the 413 rather than a connection reset mid-upload.
    Examples:
      | bytes    |
      | 2000000  |
      | 16000000 |

  Scenario: A slow upload over the limit gets 413, not a reset connection
    When "alice" uploads 4000000 bytes to POST "/v1/workspaces", pausing halfway
    Then the response status is 413
    And the error code is "payload_too_large"
    When a client sends GET "/healthz"
    Then the response status is 200

  Scenario: Concurrent requests are all served
    When 40 clients send GET "/healthz" at once
    Then all 40 responses have status 200
