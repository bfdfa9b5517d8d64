Feature: Persistence
  Data lives in the embedded SQLite database and survives a restart.

  Scenario: Users, workspaces and messages survive a restart of the server
    Given a running team-collab server
    And "alice" has signed up
    And "alice" has created workspace "acme"
    And "alice" has created channel "general" in workspace "acme"
    And "alice" has posted 2 messages to channel "general"
    When the server restarts
    And "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response status is 200
    And the response list "messages" has 2 items
    When "alice" logs in with password "correct-horse-1"
    Then the response status is 200
