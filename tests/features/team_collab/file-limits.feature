Feature: The file size limit
  A deployment bounds the size of a shared file (`max_document_bytes`); a
  larger upload is refused, whether or not it announced its length, and
  leaves nothing behind.

  Background:
    Given a running team-collab server whose variable "max_document_bytes" is "100000"
    And "alice" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"

  Scenario: A file at the limit is taken, one byte more is not
    When "alice" uploads a pdf file of 100000 bytes named "fits.pdf" to channel "general"
    Then the response status is 201
    When "alice" uploads a pdf file of 100001 bytes named "over.pdf" to channel "general"
    Then the response status is 413
    And the response field "error.code" is "payload_too_large"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/files"
    Then the response list "files" has 1 item
    And the response field "files.0.name" is "fits.pdf"

  Scenario: A file that grows past the limit without announcing its length is cut off
    When "alice" streams a pdf file of 300000 bytes named "stream.pdf" to channel "general" without a length
    Then the response status is 413
    And the response field "error.code" is "payload_too_large"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/files"
    Then the response list "files" has 0 items
