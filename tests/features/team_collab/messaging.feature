Feature: Channels and messages
  Members create channels and post messages; messages are listed newest
  first, a page at a time.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"

  Scenario: Members create and list channels
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels" with body '{"name":"General"}'
    Then the response status is 201
    And the response field "name" is "general"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels"
    Then the response status is 200
    And the response list "channels" has 1 item

  Scenario: A channel name taken in one workspace is free in another
    Given "alice" has created channel "general" in workspace "acme"
    And "bob" has created workspace "bobs"
    When "bob" sends POST "/v1/workspaces/{workspace:bobs}/channels" with body '{"name":"general"}'
    Then the response status is 201

  Scenario: Channel names are unique in a workspace and well-formed
    Given "alice" has created channel "general" in workspace "acme"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/channels" with body '{"name":"general"}'
    Then the response status is 409
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/channels" with body '{"name":"no spaces allowed"}'
    Then the response status is 400

  Scenario: A posted message is listed with its author
    Given "alice" has created channel "general" in workspace "acme"
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"hello, team"}'
    Then the response status is 201
    And the response field "text" is "hello, team"
    And the response field "author_id" is the id of "bob"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages"
    Then the response status is 200
    And the response list "messages" has 1 item
    And the response field "messages.0.text" is "hello, team"
    And the response field "next_cursor" is null

  Scenario: Messages are paged newest first with a cursor
    Given "alice" has created channel "general" in workspace "acme"
    And "alice" has posted 120 messages to channel "general"
    When "alice" pages through channel "general" with limit 50
    Then the pages had 50, 50 and 20 messages
    And every message was seen once, newest first

  Scenario Outline: The page size defaults to 50 and may be 1 to 200
    Given "alice" has created channel "general" in workspace "acme"
    And "alice" has posted 201 messages to channel "general"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages<query>"
    Then the response status is 200
    And the response list "messages" has <count> items

    Examples:
      | query      | count |
      |            | 50    |
      | ?limit=1   | 1     |
      | ?limit=200 | 200   |

  Scenario Outline: Bad paging parameters are refused
    Given "alice" has created channel "general" in workspace "acme"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages?<query>"
    Then the response status is 400

    Examples:
      | query           |
      | limit=0         |
      | limit=201       |
      | limit=ten       |
      | before=garbage! |

  Scenario: Only a channel of the workspace has messages to list; an empty one lists none
    Given "alice" has created channel "general" in workspace "acme"
    And "alice" has created channel "quiet" in workspace "acme"
    And "bob" has created workspace "bobs"
    And "alice" has posted 2 messages to channel "general"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:quiet}/messages"
    Then the response status is 200
    And the response list "messages" has 0 items
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/chn_00000000000000000000000000000000/messages"
    Then the response status is 404
    And the error code is "not_found"
    When "alice" sends GET "/v1/workspaces/{workspace:acme}/channels/chn_00000000000000000000000000000000/messages?before=garbage!"
    Then the response status is 404
    When "bob" sends GET "/v1/workspaces/{workspace:bobs}/channels/{channel:general}/messages"
    Then the response status is 404
    And the error code is "not_found"

  Scenario: Empty and oversized messages are refused
    Given "alice" has created channel "general" in workspace "acme"
    When "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":""}'
    Then the response status is 400
    When "alice" posts a message of 4001 characters to channel "general"
    Then the response status is 400
