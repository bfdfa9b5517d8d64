Feature: Live events
  Members follow a channel, or a whole workspace, as Server-Sent Events:
  messages, edits, deletions, reactions, shared files and people joining
  or leaving arrive as they happen, each with an id a client resumes from after a
  reconnect. Only members can follow a workspace, and a member who leaves
  stops receiving its events.

  Background:
    Given a running team-collab server
    And "alice" has signed up
    And "bob" has signed up
    And "carol" has signed up
    And "alice" has created workspace "acme"
    And "alice" has added "bob" to workspace "acme" as "member"
    And "alice" has created channel "general" in workspace "acme"
    And "alice" has created channel "random" in workspace "acme"

  Scenario: A member sees a channel's messages, edits, reactions and deletions as they happen, in order
    When "bob" opens the event stream of channel "general"
    Given "alice" has posted "shall we ship on friday?" to channel "general" as "plan"
    Then within 5 seconds "bob" receives "message.created" with "message.text" = "shall we ship on friday?"
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}" with body '{"text":"ship on thursday?"}'
    And "bob" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/reactions/%F0%9F%91%8D"
    And "alice" sends POST "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}/replies" with body '{"text":"or friday"}'
    And "alice" sends DELETE "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:plan}"
    Then "bob" then receives, in order, "message.updated", "reaction.added", "message.created", "message.deleted"
    And "bob" has received no other event within 1 second

  Scenario: An event recorded by one server reaches a stream served by another on the same database
    Given a second team-collab server on the same databases
    When "bob" opens the event stream of channel "general" on the second server
    Given "alice" has posted "across processes" to channel "general" as "across"
    Then within 5 seconds "bob" receives "message.created" with "message.text" = "across processes"
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:bob}"
    Then within 5 seconds "bob"'s stream ends with reason "membership"

  Scenario: Events carry the message as the API shows it
    When "bob" opens the event stream of channel "general"
    Given "alice" has posted "hello <@{user:bob}>" to channel "general" as "hello"
    Then within 5 seconds "bob" receives "message.created" with "message.id" = "{message:hello}"
    And "bob" has received no other event within 1 second
    When "bob" sends PUT "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:hello}/reactions/%F0%9F%8E%89"
    Then the response status is 200
    And within 5 seconds "bob" receives "reaction.added" with "message.reactions.0.emoji" = "🎉"
    When "alice" sends PATCH "/v1/workspaces/{workspace:acme}/channels/{channel:general}/messages/{message:hello}" with body '{"text":"hello all"}'
    Then within 5 seconds "bob" receives "message.updated" with "actor_id" = "{user:alice}"

  Scenario: A channel's stream has no other channel's messages; the workspace's stream has them all
    When "bob" opens the event stream of channel "general"
    And "alice" opens the event stream of workspace "acme"
    Given "alice" has posted "off topic" to channel "random" as "aside"
    Given "alice" has posted "on topic" to channel "general" as "point"
    Then within 5 seconds "bob" receives "message.created" with "message.text" = "on topic"
    And "bob" has received no other event within 1 second
    And within 5 seconds "alice" receives "message.created" with "channel_id" = "{channel:random}"
    And within 5 seconds "alice" receives "message.created" with "channel_id" = "{channel:general}"

  Scenario: A client that leaves does not hold up the other streams of the server, and one that comes back is served
    When "bob" opens the event stream of channel "general"
    And "alice" opens the event stream of channel "general"
    And "bob" closes their event stream
    Given "alice" has posted "still here" to channel "general" as "still"
    Then within 5 seconds "alice" receives "message.created" with "message.text" = "still here"
    When "bob" opens the event stream of channel "general"
    Given "alice" has posted "welcome back" to channel "general" as "back"
    Then within 5 seconds "bob" receives "message.created" with "message.text" = "welcome back"
    And within 5 seconds "alice" receives "message.created" with "message.text" = "welcome back"
    And "bob" has received no other event within 1 second

  Scenario: Files shared, updated and deleted in a channel arrive with the file
    When "bob" opens the event stream of channel "general"
    And "alice" uploads a pdf file of 4000 bytes named "plan.pdf" to channel "general"
    Then within 5 seconds "bob" receives "file.shared" with "file.id" = "{file:plan.pdf}"
    When "alice" uploads a new version of "plan.pdf" as a pdf file of 5000 bytes
    Then within 5 seconds "bob" receives "file.updated" with "file.version" = "2"
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/files/{file:plan.pdf}"
    Then within 5 seconds "bob" receives "file.deleted" with "file_id" = "{file:plan.pdf}"
    And "bob" has received no other event within 1 second

  Scenario: People joining and leaving reach every stream of the workspace
    When "bob" opens the event stream of channel "general"
    Given "alice" has added "carol" to workspace "acme" as "member"
    Then within 5 seconds "bob" receives "member.joined" with "user_id" = "{user:carol}"
    When "alice" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:carol}"
    Then within 5 seconds "bob" receives "member.removed" with "user_id" = "{user:carol}"

  Scenario: A member who is removed gets the removal, then the stream ends, and nothing after it
    When "bob" opens the event stream of channel "general"
    And "alice" sends DELETE "/v1/workspaces/{workspace:acme}/members/{user:bob}"
    Then within 5 seconds "bob" receives "member.removed" with "user_id" = "{user:bob}"
    And within 5 seconds "bob"'s stream ends with reason "membership"
    Given "alice" has posted "bob is gone" to channel "general" as "after"
    Then "bob" has received no other event within 1 second
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/events"
    Then the response status is 404
    And the error code is "not_found"

  Scenario: A client that reconnects with Last-Event-ID gets exactly what it missed
    When "bob" opens the event stream of channel "general"
    Given "alice" has posted "one" to channel "general" as "one"
    Then within 5 seconds "bob" receives "message.created" with "message.text" = "one"
    When I remember the id of "bob"'s last event as "seen"
    And "bob" closes their event stream
    Given "alice" has posted "two" to channel "general" as "two"
    Given "alice" has posted "elsewhere" to channel "random" as "elsewhere"
    Given "alice" has posted "three" to channel "general" as "three"
    When "bob" opens the event stream of channel "general" after the event remembered as "seen"
    Then within 5 seconds "bob" receives "message.created" with "message.text" = "two"
    And within 5 seconds "bob" receives "message.created" with "message.text" = "three"
    And "bob" has received no other event within 1 second

  Scenario: Only members can follow a workspace, with a valid token, a known channel and a well-formed event id
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/events"
    Then the response status is 404
    And the error code is "not_found"
    When "carol" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/events"
    Then the response status is 404
    When a client sends GET "/v1/workspaces/{workspace:acme}/events"
    Then the response status is 401
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/chn_000000/events"
    Then the response status is 404
    And the error code is "not_found"
    When "bob" sends GET "/v1/workspaces/{workspace:acme}/channels/{channel:general}/events" with header "Last-Event-ID" set to "yesterday"
    Then the response status is 400
    And the error code is "invalid_input"
