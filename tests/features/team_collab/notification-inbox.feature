Feature: The in-app notification inbox
  The dispatcher turns new messages into inbox entries for the people they
  concern: the members a message mentions, and the author of the thread it
  replies in. Nobody is notified of their own doing; each person sees only
  their own inbox and marks entries read, one by one or all at once.

  Background:
    Given a running team-collab server with its dispatcher
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has added "carol" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"
    And "alice" has posted "who can ship on friday?" to channel "general" as "ask"

  Scenario: Mentions and replies reach the inbox once each, and are read
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:carol}> and <@{user:bob}> can"}'
    And "carol" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:ask}/replies" with body '{"text":"me!"}'
    And "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:ask}/replies" with body '{"text":"<@{user:alice}>, me too"}'
    And the dispatcher runs
    And the dispatcher runs
    And "carol" sends GET "/v1/me/notifications"
    Then the response status is 200
    And the response list "notifications" has 1 item
    And the response field "notifications.0.kind" is "mention"
    And the response field "notifications.0.actor_id" is the id of "bob"
    And the response field "notifications.0.read_at" is null
    And the response field "unread_count" is 1
    When "bob" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 0 items
    When "alice" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 2 items
    And the response field "notifications.0.kind" is "mention"
    And the response field "notifications.0.actor_id" is the id of "bob"
    And the response field "notifications.1.kind" is "reply"
    And the response field "notifications.1.actor_id" is the id of "carol"
    And the response field "unread_count" is 2
    And I remember the response field "notifications.1.id" as "carol-reply"
    When "alice" sends POST "/v1/me/notifications/{carol-reply}/read"
    Then the response status is 200
    And the response has a string field "read_at"
    When "alice" sends GET "/v1/me/notifications?unread=true"
    Then the response list "notifications" has 1 item
    And the response field "unread_count" is 1
    When "alice" sends POST "/v1/me/notifications/read"
    Then the response field "marked" is 1
    When "alice" sends GET "/v1/me/notifications?unread=true"
    Then the response list "notifications" has 0 items
    And the response field "unread_count" is 0

  Scenario: An edit that adds a mention notifies once; a deleted message notifies nobody
    Given "bob" has posted "draft" to channel "general" as "draft"
    And "bob" has posted "oops" to channel "general" as "oops"
    When "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:draft}" with body '{"text":"<@{user:carol}> please look"}'
    And "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:oops}" with body '{"text":"<@{user:alice}> ignore this"}'
    And "bob" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:oops}"
    And the dispatcher runs
    And "bob" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:draft}" with body '{"text":"<@{user:carol}> please look again"}'
    And the dispatcher runs
    And "carol" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 1 item
    And the response field "notifications.0.message_id" is "{message:draft}"
    When "alice" sends GET "/v1/me/notifications"
    Then the response list "notifications" has 0 items

  Scenario: Each person reaches only their own inbox
    When "bob" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages" with body '{"text":"<@{user:alice}> hello"}'
    And the dispatcher runs
    And "alice" sends GET "/v1/me/notifications"
    Then I remember the response field "notifications.0.id" as "hello"
    When "carol" sends POST "/v1/me/notifications/{hello}/read"
    Then the response status is 404
    When "carol" sends POST "/v1/me/notifications/read"
    Then the response field "marked" is 0
    When "alice" sends GET "/v1/me/notifications?unread=true"
    Then the response list "notifications" has 1 item
    When "alice" sends GET "/v1/me/notifications?unread=maybe"
    Then the response status is 400
    When a client sends GET "/v1/me/notifications"
    Then the response status is 401
